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
        /// objects, and still a working URI (the password is found again as <see cref="PostgresTarget"/> says).</summary>
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
        public static TrackingUri Parse(string? uri, Func<string> currentDirectory)
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
                            $"The tracking URI '{text}' is not a valid SQLite URI: write sqlite:///relative/path.db or sqlite:////absolute/path.db.");
                    string path = rest.Substring(1);
                    int query = path.IndexOf('?');
                    if (query >= 0) path = path.Substring(0, query);
                    path = Uri.UnescapeDataString(path);
                    if (path.Length == 0 || path == ":memory:")
                        throw new ArgumentException($"The tracking URI '{text}' names an in-memory database, which holds no traces.");
                    return new TrackingUri(text, StoreKind.Sqlite, Resolve(path, currentDirectory), null);
                }
                if (baseScheme == "file")
                    return new TrackingUri(text, StoreKind.Sqlite, Resolve(new Uri(text).LocalPath, currentDirectory), null);
                if (baseScheme == "postgresql")
                {
                    var target = PostgresTarget.Parse(text, colon);
                    return new TrackingUri(target.Display, StoreKind.Postgres, null, target);
                }
                if (baseScheme == "postgres")
                    throw new ArgumentException(
                        $"The tracking URI '{Redact(text)}' uses 'postgres://', which MLflow (SQLAlchemy) does not accept: write postgresql://{text.Substring(colon + 3).Split('@').Last()}.");
                if (baseScheme == "mysql" || baseScheme == "mssql" || baseScheme == "http" || baseScheme == "https" || baseScheme == "databricks")
                    throw new NotSupportedException(
                        $"The tracking URI '{Redact(text)}' uses '{baseScheme}', which MlTraces does not support; it reads SQLite stores (sqlite:///path.db or a file path) and PostgreSQL stores (postgresql://user@host:port/database).");
            }
            // A plain path (absolute, relative, or a Windows drive path like C:\x.db).
            return new TrackingUri(text, StoreKind.Sqlite, Resolve(text, currentDirectory), null);
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

        /// <summary>Removes a password from a URI text before it is shown anywhere.</summary>
        public static string Redact(string uri)
        {
            int scheme = uri.IndexOf("://", StringComparison.Ordinal);
            int at = uri.LastIndexOf('@');
            if (scheme < 0 || at < 0) return uri;
            int colon = uri.IndexOf(':', scheme + 3);
            if (colon < 0 || colon > at) return uri;
            return uri.Substring(0, colon + 1) + "***" + uri.Substring(at);
        }

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
        public string? Host { get; private set; }
        public int? Port { get; private set; }
        public string? Database { get; private set; }
        public string? UserName { get; private set; }
        internal string? Password { get; private set; }
        /// <summary>libpq connection options from the query string (sslmode, connect_timeout, ...), as given.</summary>
        public IReadOnlyDictionary<string, string> Options => _options;
        private Dictionary<string, string> _options = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>The query options MlTraces passes on to the server connection (libpq's names).</summary>
        public static readonly IReadOnlyList<string> SupportedOptions = new[]
        {
            "sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "connect_timeout", "application_name",
            "options", "host", "port", "user", "password", "dbname", "target_session_attrs", "client_encoding",
            "keepalives_idle", "passfile",
        };
        private static readonly HashSet<string> SecretOptions = new HashSet<string>(StringComparer.Ordinal) { "password", "sslpassword" };

        /// <summary>"host:port/database": what errors name.</summary>
        public string Location =>
            (Host ?? "localhost") + ":" + (Port ?? 5432).ToString(CultureInfo.InvariantCulture) + "/" + (Database ?? UserName ?? "");

        /// <summary>The URL without its password.</summary>
        public string Display
        {
            get
            {
                var s = new System.Text.StringBuilder(Driver).Append("://");
                if (UserName != null) s.Append(Uri.EscapeDataString(UserName)).Append('@');
                if (Host != null) s.Append(Host.Contains(":") && !Host.StartsWith("/", StringComparison.Ordinal) ? "[" + Host + "]" : Host);
                if (Port != null) s.Append(':').Append(Port.Value.ToString(CultureInfo.InvariantCulture));
                if (Database != null) s.Append('/').Append(Uri.EscapeDataString(Database));
                var shown = _options.Where(kv => !SecretOptions.Contains(kv.Key)).ToList();
                for (int i = 0; i < shown.Count; i++)
                    s.Append(i == 0 ? '?' : '&').Append(shown[i].Key).Append('=').Append(Uri.EscapeDataString(shown[i].Value));
                return s.ToString();
            }
        }

        internal static PostgresTarget Parse(string text, int schemeEnd)
        {
            var t = new PostgresTarget { Driver = text.Substring(0, schemeEnd).ToLowerInvariant() };
            string rest = text.Substring(schemeEnd + 3);
            string? query = null;
            int q = rest.IndexOf('?');
            if (q >= 0) { query = rest.Substring(q + 1); rest = rest.Substring(0, q); }
            int slash = rest.IndexOf('/');
            string authority = slash >= 0 ? rest.Substring(0, slash) : rest;
            if (slash >= 0 && slash + 1 < rest.Length) t.Database = Uri.UnescapeDataString(rest.Substring(slash + 1));
            int at = authority.LastIndexOf('@');
            if (at >= 0)
            {
                string userInfo = authority.Substring(0, at);
                authority = authority.Substring(at + 1);
                int colon = userInfo.IndexOf(':');
                string user = colon >= 0 ? userInfo.Substring(0, colon) : userInfo;
                if (user.Length > 0) t.UserName = Uri.UnescapeDataString(user);
                if (colon >= 0) t.Password = Uri.UnescapeDataString(userInfo.Substring(colon + 1));
            }
            string host = authority;
            if (host.StartsWith("[", StringComparison.Ordinal))
            {
                int close = host.IndexOf(']');
                if (close < 0) throw Bad(t, "an IPv6 host without its closing ']'");
                string after = host.Substring(close + 1);
                host = host.Substring(1, close - 1);
                if (after.StartsWith(":", StringComparison.Ordinal)) t.Port = ParsePort(t, after.Substring(1));
            }
            else
            {
                int colon = host.LastIndexOf(':');
                if (colon >= 0) { t.Port = ParsePort(t, host.Substring(colon + 1)); host = host.Substring(0, colon); }
            }
            if (host.Length > 0) t.Host = Uri.UnescapeDataString(host);
            if (query != null)
            {
                foreach (var pair in query.Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    int eq = pair.IndexOf('=');
                    string key = Uri.UnescapeDataString(eq >= 0 ? pair.Substring(0, eq) : pair).Trim();
                    string value = eq >= 0 ? Uri.UnescapeDataString(pair.Substring(eq + 1).Replace('+', ' ')) : "";
                    if (!SupportedOptions.Contains(key))
                        throw Bad(t, $"the option '{key}', which MlTraces does not pass on to PostgreSQL (it takes: {string.Join(", ", SupportedOptions)})");
                    switch (key)
                    {
                        // libpq lets the query name what the authority left out.
                        case "host": t.Host = value; break;
                        case "port": t.Port = ParsePort(t, value); break;
                        case "user": t.UserName = value; break;
                        case "password": t.Password = value; break;
                        case "dbname": t.Database = value; break;
                        default: t._options[key] = value; break;
                    }
                }
            }
            if (string.IsNullOrEmpty(t.Database))
                throw Bad(t, "no database name; write postgresql://user@host:port/database");
            return t;
        }

        private static int ParsePort(PostgresTarget t, string text)
        {
            if (text.Length == 0) return 5432;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port > 0 && port < 65536) return port;
            throw Bad(t, $"the port '{text}', which is not a number from 1 to 65535");
        }

        private static ArgumentException Bad(PostgresTarget t, string what) =>
            new ArgumentException($"The PostgreSQL tracking URI '{t.Display}' has {what}.");

        internal PostgresTarget WithLogin(string? userName, string? password)
        {
            var copy = (PostgresTarget)MemberwiseClone();
            copy._options = new Dictionary<string, string>(_options, StringComparer.Ordinal);
            if (!string.IsNullOrEmpty(userName)) copy.UserName = userName;
            copy.Password = password;
            return copy;
        }
    }
}
