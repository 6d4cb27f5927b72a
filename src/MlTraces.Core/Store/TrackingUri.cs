using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace MlTraces.Core.Store
{
    public enum StoreKind
    {
        Sqlite,
        Postgres,
    }

    /// <summary>
    /// A store named the way MLflow (SQLAlchemy) names it: sqlite:///relative.db, sqlite:////abs/path.db, a plain
    /// file path, or postgresql[+driver]://user:password@host:port/database?options. Relative paths resolve against
    /// the caller's current directory (the PowerShell location, not the process's).
    /// </summary>
    public sealed class TrackingUri
    {
        public const string DefaultUri = "sqlite:///mlflow.db";
        public const string EnvironmentVariable = "MLFLOW_TRACKING_URI";

        /// <summary>What the user wrote (or the default) without any password: safe for messages and output
        /// objects, and still a working URI (the password is found again as <see cref="PostgresTarget"/> says).
        /// A relative SQLite path is made absolute here, so an object that carries it names the same file after
        /// Set-Location, in another session, or in a scheduled task's log.</summary>
        public string Original { get; }
        public StoreKind Kind { get; }
        /// <summary>For SQLite: the full path of the database file.</summary>
        public string? FilePath { get; }
        /// <summary>For PostgreSQL: where to connect; holds the password, if one was given, out of sight.</summary>
        public PostgresTarget? Postgres { get; }

        private TrackingUri(string original, StoreKind kind, string? filePath, PostgresTarget? postgres)
        {
            Original = original; Kind = kind; FilePath = filePath; Postgres = postgres;
        }

        public bool IsSqlite => Kind == StoreKind.Sqlite;

        /// <summary>The server and database for PostgreSQL ("host:port/db"), the file for SQLite: what an error
        /// about reaching the store names.</summary>
        public string Location => Postgres != null ? Postgres.Location : FilePath ?? Original;

        /// <summary>The store to use when none is named: $env:MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.</summary>
        public static string DefaultFromEnvironment()
        {
            string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return string.IsNullOrWhiteSpace(env) ? DefaultUri : env!.Trim();
        }

        public static TrackingUri Parse(string? uri, string currentDirectory) => Parse(uri, () => currentDirectory);

        /// <param name="currentDirectory">Asked only for a relative SQLite path (PowerShell's location is not free).</param>
        public static TrackingUri Parse(string? uri, Func<string> currentDirectory) =>
            Parse(uri, path => Resolve(path, currentDirectory));

        /// <param name="fullPath">Turns the path a plain-path or sqlite:/// URI names into the full path of the file:
        /// the caller's reading of paths (PowerShell's, at the cmdlets: its location, ~, drives, '\' on every OS).
        /// A file: URI is exact and absolute, and is not passed to it.</param>
        public static TrackingUri Parse(string? uri, Func<string, string> fullPath)
        {
            string text = string.IsNullOrWhiteSpace(uri) ? DefaultFromEnvironment() : uri!.Trim();
            int colon = text.IndexOf("://", StringComparison.Ordinal);
            string scheme = colon > 0 ? text.Substring(0, colon).ToLowerInvariant() : "";
            if (colon > 1)
            {
                // Dialect+driver forms (sqlite+pysqlite://, postgresql+psycopg2://) as MLflow (SQLAlchemy) takes them.
                string baseScheme = scheme.Split('+')[0];
                if (baseScheme == "sqlite")
                {
                    // sqlite:///relative.db -> "relative.db"; sqlite:////abs.db -> "/abs.db"; sqlite:///C:/x.db -> "C:/x.db"
                    string rest = text.Substring(colon + 3);
                    if (!rest.StartsWith("/", StringComparison.Ordinal))
                        throw new ArgumentException(
                            $"The tracking URI '{UserText.Shorten(text)}' is not a valid SQLite URI: write sqlite:///relative/path.db or sqlite:////absolute/path.db.");
                    string path = rest.Substring(1);
                    int query = path.IndexOf('?');
                    if (query >= 0) path = path.Substring(0, query);
                    path = Uri.UnescapeDataString(path);
                    if (path.Length == 0 || path == ":memory:")
                        throw new ArgumentException($"The tracking URI '{UserText.Shorten(text)}' names an in-memory database, which holds no traces.");
                    string file = fullPath(path);
                    string absolute = IsAbsolute(path) ? text
                        : text.Substring(0, colon + 3) + "/" + file.Replace('\\', '/') + (query >= 0 ? rest.Substring(1 + query) : "");
                    return new TrackingUri(absolute, StoreKind.Sqlite, file, null);
                }
                if (baseScheme == "file")
                    return new TrackingUri(text, StoreKind.Sqlite, FileUriPath(text), null);
                if (baseScheme == "postgresql")
                {
                    var target = PostgresTarget.Parse(text, colon);
                    return new TrackingUri(target.Display, StoreKind.Postgres, null, target);
                }
                if (baseScheme == "postgres")
                    throw new ArgumentException(
                        $"The tracking URI '{Redact(text)}' uses 'postgres://', which MLflow (SQLAlchemy) does not accept: write postgresql:// instead.");
                if (baseScheme == "mysql" || baseScheme == "mssql" || baseScheme == "http" || baseScheme == "https" || baseScheme == "databricks")
                    throw new NotSupportedException(
                        $"The tracking URI '{UserText.Shorten(Redact(text))}' uses '{UserText.Shorten(baseScheme, 40)}', which MlTraces does not support; it reads SQLite stores (sqlite:///path.db or a file path) and PostgreSQL stores (postgresql://user@host:port/database).");
            }
            // A plain path (absolute, relative, or a Windows drive path like C:\x.db).
            string full = fullPath(text);
            return new TrackingUri(IsAbsolute(text) ? text : full, StoreKind.Sqlite, full, null);
        }

        /// <summary>A path that names the same file from any current directory: rooted, with a drive on Windows.</summary>
        private static bool IsAbsolute(string path) =>
            Path.IsPathRooted(path) && !(Path.DirectorySeparatorChar == '\\' && (path.Length < 2 || path[1] != ':') && !path.StartsWith("\\\\", StringComparison.Ordinal))
            && !path.Contains("..") && !path.Contains("/./") && !path.Contains("\\.\\");

        private static string FileUriPath(string text)
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var u)
                || !u.IsAbsoluteUri || !u.IsFile || !Path.IsPathRooted(u.LocalPath))
                throw new ArgumentException($"The tracking URI '{UserText.Shorten(text)}' is not an absolute file URI: write file:///absolute/path.db, or the path itself.");
            return Path.GetFullPath(u.LocalPath);
        }

        /// <summary>The same store reached with other login details (a -Credential parameter).</summary>
        public TrackingUri WithCredential(string? userName, string? password)
        {
            if (Postgres == null) return this;
            var target = Postgres.WithLogin(userName, password);
            return new TrackingUri(target.Display, StoreKind.Postgres, null, target);
        }

        private static string Resolve(string path, Func<string> currentDirectory) =>
            Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(currentDirectory(), path));

        /// <summary>Removes a password from a URI text before it is shown anywhere: the URI is read as SQLAlchemy reads
        /// it (<see cref="SqlAlchemyUrl"/>), the password replaced by ***; when an unencoded '@' in the password made
        /// part of it look like a host or port, everything up to the last '@' of the authority is masked as well.</summary>
        public static string Redact(string uri)
        {
            var m = SqlAlchemyUrl.Parse(uri);
            if (m == null) return uri;
            string redacted = uri;
            if (m.Query.Success)
                redacted = redacted.Substring(0, m.Query.Index)
                    + SecretInQuery.Replace(m.Query.Value, x => x.Groups[1].Value + "***");
            var (end, hostHasAt) = SqlAlchemyUrl.AuthorityEnd(m);
            if (hostHasAt)
            {
                int start = m.Password.Success ? m.Password.Index : uri.IndexOf("://", StringComparison.Ordinal) + 3;
                return redacted.Substring(0, start) + "***" + redacted.Substring(uri.LastIndexOf('@', end - 1));
            }
            if (!m.Password.Success) return redacted;
            return redacted.Substring(0, m.Password.Index) + "***" + redacted.Substring(m.Password.Index + m.Password.Length);
        }

        private static readonly System.Text.RegularExpressions.Regex SecretInQuery =
            new System.Text.RegularExpressions.Regex(@"((?:^|&)(?:ssl)?password=)[^&]*", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

        public override string ToString() => Original;
    }

    /// <summary>
    /// A PostgreSQL server, database and login from a SQLAlchemy URL. The password never appears in
    /// <see cref="Display"/>; it comes from the URL, a credential, or (when neither has one) a password the session
    /// was given before for the same login, then PGPASSWORD and the .pgpass file as libpq would use them.
    /// </summary>
    public sealed class PostgresTarget
    {
        public string Driver { get; private set; } = "postgresql";
        // What the URL's authority and path said; the query's libpq keywords (host, port, user, dbname) win, as
        // they do when SQLAlchemy's psycopg2 dialect passes both on to libpq.
        private string? _host, _database, _userName;
        private int? _port;
        /// <summary>The query as given (without the password), in order: it is shown again as it was written.</summary>
        private List<KeyValuePair<string, string>> _query = new List<KeyValuePair<string, string>>();

        public string? Host => QueryValue("host") ?? _host;
        public int? Port => QueryValue("port") is string p ? int.Parse(p.Trim(), CultureInfo.InvariantCulture) : _port;
        public string? Database => QueryValue("dbname") ?? _database;
        public string? UserName => QueryValue("user") ?? _userName;
        internal string? Password { get; private set; }
        /// <summary>libpq connection options from the query string (sslmode, connect_timeout, ...), as given.</summary>
        public IReadOnlyDictionary<string, string> Options =>
            _query.Where(kv => !ConnectionKeys.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

        private string? QueryValue(string key)
        {
            foreach (var kv in _query) if (kv.Key == key) return kv.Value;
            return null;
        }

        /// <summary>The query options MlTraces passes on to the server connection (libpq's names).</summary>
        public static readonly IReadOnlyList<string> SupportedOptions = new[]
        {
            "sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "connect_timeout", "application_name",
            "options", "host", "port", "user", "password", "dbname", "target_session_attrs", "client_encoding",
            "keepalives_idle", "passfile",
        };
        private static readonly HashSet<string> ConnectionKeys = new HashSet<string>(StringComparer.Ordinal) { "host", "port", "user", "password", "dbname" };
        private static readonly HashSet<string> SecretOptions = new HashSet<string>(StringComparer.Ordinal) { "password", "sslpassword" };

        /// <summary>"host:port/database": what errors name.</summary>
        public string Location =>
            (Host ?? "localhost") + ":" + (Port ?? 5432).ToString(CultureInfo.InvariantCulture) + "/" + (Database ?? UserName ?? "");

        /// <summary>The URL without its password, as SQLAlchemy renders one (user quoted, host and database as given),
        /// so that it still reads back to the same server, database and login.</summary>
        public string Display
        {
            get
            {
                var s = new System.Text.StringBuilder(Driver).Append("://");
                if (_userName != null) s.Append(Uri.EscapeDataString(_userName)).Append('@');
                if (_host != null) s.Append(_host.Contains(":") ? "[" + _host + "]" : _host);
                if (_port != null) s.Append(':').Append(_port.Value.ToString(CultureInfo.InvariantCulture));
                if (_database != null) s.Append('/').Append(_database);
                var shown = _query.Where(kv => !SecretOptions.Contains(kv.Key)).ToList();
                for (int i = 0; i < shown.Count; i++)
                    s.Append(i == 0 ? '?' : '&').Append(Uri.EscapeDataString(shown[i].Key)).Append('=').Append(Uri.EscapeDataString(shown[i].Value));
                return s.ToString();
            }
        }

        /// <summary>Reads the URL exactly as SQLAlchemy's make_url does (the password runs to the first '@' and may hold
        /// '/', '?', ':' and '#'; user and password are percent-decoded, host and database are not; the query is
        /// parse_qsl's), then takes the query's libpq keywords the way SQLAlchemy's psycopg2 dialect passes them on.</summary>
        internal static PostgresTarget Parse(string text, int schemeEnd)
        {
            var t = new PostgresTarget { Driver = text.Substring(0, schemeEnd).ToLowerInvariant() };
            var m = SqlAlchemyUrl.Parse(text) ?? throw new ArgumentException($"The PostgreSQL tracking URI '{UserText.Shorten(TrackingUri.Redact(text))}' cannot be read as a SQLAlchemy URL.");
            if (SqlAlchemyUrl.AuthorityEnd(m).HostHasAt)
                // SQLAlchemy would take the rest of such a password for the host, and every error would show it.
                throw new ArgumentException(
                    $"The PostgreSQL tracking URI '{UserText.Shorten(TrackingUri.Redact(text))}' has an '@' in its password or user name: write it as %40 (and '%' as %25).");
            if (m.UserName.Success && m.UserName.Length > 0) t._userName = SqlAlchemyUrl.Unquote(m.UserName.Value);
            if (m.Password.Success) t.Password = SqlAlchemyUrl.Unquote(m.Password.Value);
            string host = m.Ipv6Host.Success ? m.Ipv6Host.Value : m.Ipv4Host.Success ? m.Ipv4Host.Value : "";
            if (host.Length > 0) t._host = host;
            if (m.Port.Success && m.Port.Length > 0) t._port = ParsePort(t, m.Port.Value);
            if (m.Database.Success && m.Database.Length > 0) t._database = m.Database.Value;
            if (m.Query.Success)
            {
                foreach (var (key, value) in SqlAlchemyUrl.ParseQsl(m.Query.Value))
                {
                    if (!SupportedOptions.Contains(key))
                        throw Bad(t, $"the option '{UserText.Shorten(key, 60)}', which MlTraces does not pass on to PostgreSQL (it takes: {string.Join(", ", SupportedOptions)})");
                    if (t._query.Exists(kv => kv.Key == key))
                        throw Bad(t, $"the option '{key}' more than once");
                    if (key == "port") ParsePort(t, value);
                    if (key == "password") t.Password = value;
                    else t._query.Add(new KeyValuePair<string, string>(key, value));
                }
            }
            if (string.IsNullOrEmpty(t.Database))
                throw Bad(t, "no database name; write postgresql://user@host:port/database");
            return t;
        }

        /// <summary>Python's int() of the port text, as SQLAlchemy takes it (surrounding spaces allowed).</summary>
        private static int ParsePort(PostgresTarget t, string text)
        {
            if (int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port > 0 && port < 65536) return port;
            throw Bad(t, $"the port '{UserText.Shorten(text, 60)}', which is not a number from 1 to 65535");
        }

        private static ArgumentException Bad(PostgresTarget t, string what) =>
            new ArgumentException($"The PostgreSQL tracking URI '{t.Display}' has {what}.");

        internal PostgresTarget WithLogin(string? userName, string? password)
        {
            var copy = (PostgresTarget)MemberwiseClone();
            copy._query = new List<KeyValuePair<string, string>>(_query);
            if (!string.IsNullOrEmpty(userName))
            {
                copy._userName = userName;
                copy._query.RemoveAll(kv => kv.Key == "user");
            }
            copy.Password = password;
            return copy;
        }
    }
}
