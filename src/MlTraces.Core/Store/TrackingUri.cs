using System;
using System.IO;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// A store named the way MLflow names it: sqlite:///relative.db, sqlite:////abs/path.db, or a plain file path.
    /// Relative paths resolve against the caller's current directory (the PowerShell location, not the process's).
    /// </summary>
    public sealed class TrackingUri
    {
        public const string DefaultUri = "sqlite:///mlflow.db";
        public const string EnvironmentVariable = "MLFLOW_TRACKING_URI";

        /// <summary>What the user wrote (or the default), used in messages and on output objects.</summary>
        public string Original { get; }
        public string Scheme { get; }
        /// <summary>For SQLite: the full path of the database file.</summary>
        public string? FilePath { get; }

        private TrackingUri(string original, string scheme, string? filePath)
        {
            Original = original; Scheme = scheme; FilePath = filePath;
        }

        public bool IsSqlite => Scheme == "sqlite";

        /// <summary>The store to use when none is named: $env:MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.</summary>
        public static string DefaultFromEnvironment()
        {
            string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return string.IsNullOrWhiteSpace(env) ? DefaultUri : env!.Trim();
        }

        public static TrackingUri Parse(string? uri, string currentDirectory)
        {
            string text = string.IsNullOrWhiteSpace(uri) ? DefaultFromEnvironment() : uri!.Trim();
            int colon = text.IndexOf("://", StringComparison.Ordinal);
            string scheme = colon > 0 ? text.Substring(0, colon).ToLowerInvariant() : "";
            if (colon > 1)
            {
                // Dialect+driver forms (sqlite+pysqlite://) are accepted as MLflow (SQLAlchemy) accepts them.
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
                    return new TrackingUri(text, "sqlite", Resolve(path, currentDirectory));
                }
                if (baseScheme == "file")
                    return new TrackingUri(text, "sqlite", Resolve(new Uri(text).LocalPath, currentDirectory));
                if (baseScheme == "postgresql" || baseScheme == "postgres" || baseScheme == "mysql" || baseScheme == "mssql"
                    || baseScheme == "http" || baseScheme == "https" || baseScheme == "databricks")
                    throw new NotSupportedException(
                        $"The tracking URI '{Redact(text)}' uses '{baseScheme}', which MlTraces does not support yet; it reads SQLite stores (sqlite:///path.db or a file path).");
            }
            // A plain path (absolute, relative, or a Windows drive path like C:\x.db).
            return new TrackingUri(text, "sqlite", Resolve(text, currentDirectory));
        }

        private static string Resolve(string path, string currentDirectory) =>
            Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(currentDirectory, path));

        /// <summary>Removes a password from a URI before it is shown anywhere.</summary>
        public static string Redact(string uri)
        {
            int scheme = uri.IndexOf("://", StringComparison.Ordinal);
            int at = uri.IndexOf('@');
            if (scheme < 0 || at < 0) return uri;
            int colon = uri.IndexOf(':', scheme + 3);
            if (colon < 0 || colon > at) return uri;
            return uri.Substring(0, colon + 1) + "***" + uri.Substring(at);
        }

        public override string ToString() => Original;
    }
}
