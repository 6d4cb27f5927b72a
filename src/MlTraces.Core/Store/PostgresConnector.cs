using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using Npgsql;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Opens PostgreSQL connections the Npgsql way (pooled per connection string, returned to the pool on Dispose)
    /// and turns Npgsql's errors into ones that name the server and database, never the password.
    /// </summary>
    internal static class PostgresConnector
    {
        /// <summary>Passwords the session was given (URI or credential) and that the server accepted, by login, so
        /// that a URI shown without its password (on output objects, piped to the next command) still connects. A
        /// password the server refused is never kept, and a kept one it refuses later is dropped.</summary>
        private static readonly ConcurrentDictionary<string, string> Remembered = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);

        private static string LoginKey(PostgresTarget t) => (t.UserName ?? "") + "@" + t.Location;

        public static string ConnectionString(PostgresTarget target, StoreAccess access)
        {
            var b = new NpgsqlConnectionStringBuilder
            {
                Host = target.Host ?? "localhost",
                Port = target.Port ?? 5432,
                Database = target.Database,
                // Shown in pg_stat_activity, so a DBA can tell MlTraces' sessions from the MLflow server's.
                ApplicationName = "MlTraces",
            };
            if (target.UserName != null) b.Username = target.UserName;
            string? password = target.Password;
            if (password == null && Remembered.TryGetValue(LoginKey(target), out var known)) password = known;
            // Otherwise Npgsql reads PGPASSWORD, then the passfile (PGPASSFILE or ~/.pgpass), as libpq does.
            if (password != null) b.Password = password;
            foreach (var kv in target.Options)
            {
                switch (kv.Key)
                {
                    case "sslmode": b.SslMode = ParseSslMode(target, kv.Value); break;
                    case "sslrootcert": b.RootCertificate = kv.Value; break;
                    case "sslcert": b.SslCertificate = kv.Value; break;
                    case "sslkey": b.SslKey = kv.Value; break;
                    case "sslpassword": b.SslPassword = kv.Value; break;
                    case "connect_timeout": b.Timeout = ParseSeconds(target, kv.Key, kv.Value); break;
                    case "application_name": b.ApplicationName = kv.Value; break;
                    case "options": b.Options = kv.Value; break;
                    case "target_session_attrs": b.TargetSessionAttributes = kv.Value; break;
                    case "client_encoding": b.ClientEncoding = kv.Value; break;
                    case "keepalives_idle": b.KeepAlive = ParseSeconds(target, kv.Key, kv.Value); break;
                    case "passfile": b.Passfile = kv.Value; break;
                }
            }
            if (access == StoreAccess.ReadOnly)
                // Reads run in read-only transactions, so a bug can never write to the user's store.
                b.Options = ((b.Options ?? "") + " -c default_transaction_read_only=on").Trim();
            return b.ConnectionString;
        }

        private static SslMode ParseSslMode(PostgresTarget t, string value)
        {
            switch (value)
            {
                case "disable": return SslMode.Disable;
                case "allow": return SslMode.Allow;
                case "prefer": return SslMode.Prefer;
                case "require": return SslMode.Require;
                case "verify-ca": return SslMode.VerifyCA;
                case "verify-full": return SslMode.VerifyFull;
                default:
                    throw new ArgumentException($"The PostgreSQL tracking URI '{t.Display}' has sslmode={value}; libpq takes disable, allow, prefer, require, verify-ca or verify-full.");
            }
        }

        private static int ParseSeconds(PostgresTarget t, string key, string value) =>
            int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int s)
                ? s : throw new ArgumentException($"The PostgreSQL tracking URI '{t.Display}' has {key}={value}, which is not a number of seconds.");

        public static NpgsqlConnection Open(TrackingUri uri, StoreAccess access)
        {
            var target = uri.Postgres!;
            bool remembered = target.Password == null && Remembered.ContainsKey(LoginKey(target));
            try
            {
                var connection = OpenOnce(uri, access);
                if (target.Password != null) Remembered[LoginKey(target)] = target.Password;
                return connection;
            }
            catch (MlTracesException ex) when (remembered && ex.Kind == ErrorKind.AuthenticationFailed)
            {
                // The remembered password is stale (mistyped before, or changed since): forget it, and let
                // PGPASSWORD or the .pgpass file answer as they would have without it.
                Remembered.TryRemove(LoginKey(target), out _);
                return OpenOnce(uri, access);
            }
        }

        private static NpgsqlConnection OpenOnce(TrackingUri uri, StoreAccess access)
        {
            var target = uri.Postgres!;
            var connection = new NpgsqlConnection(ConnectionString(target, access));
            try
            {
                TraceStore.Translate(uri, () => { connection.Open(); return 0; });
                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        /// <summary>Closes the idle pooled connections to this store (before its database is dropped, say).</summary>
        public static void ClearPool(TrackingUri uri)
        {
            foreach (var access in new[] { StoreAccess.ReadOnly, StoreAccess.ReadWrite })
                using (var c = new NpgsqlConnection(ConnectionString(uri.Postgres!, access)))
                    NpgsqlConnection.ClearPool(c);
        }

        public static Exception? TranslateError(TrackingUri uri, Exception ex)
        {
            var t = uri.Postgres!;
            string Echo(string text) => Scrub(text, t);
            string where = $"the PostgreSQL database '{t.Database}' on {t.Host ?? "localhost"}:{t.Port ?? 5432}";
            if (ex is PostgresException pg)
            {
                switch (pg.SqlState)
                {
                    case "28P01": // invalid_password
                    case "28000": // invalid_authorization_specification (no pg_hba entry, no password given)
                        return new MlTracesException(ErrorKind.AuthenticationFailed, "StoreLoginFailed",
                            $"The login as '{t.UserName}' to {where} was refused: {Echo(pg.MessageText)}. Give the password in the URI, with -Credential, in PGPASSWORD or in a .pgpass file.", ex);
                    case "3D000": // invalid_catalog_name
                        return new MlTracesException(ErrorKind.StoreNotFound, "StoreNotFound",
                            $"There is no database '{t.Database}' on {t.Host ?? "localhost"}:{t.Port ?? 5432}. Check the database name of the store '{uri.Original}'; New-TraceStore creates a store in an empty database that exists.", ex);
                    case "25006": // read_only_sql_transaction
                    case "42501": // insufficient_privilege
                        return new MlTracesException(ErrorKind.StoreReadOnly, "StoreReadOnly",
                            $"{Capital(where)} cannot be written by '{t.UserName}': {Echo(pg.MessageText)}.", ex);
                    case "55P03": // lock_not_available
                    case "57014": // query_canceled (statement or lock timeout)
                    case "40P01": // deadlock_detected
                    case "40001": // serialization_failure
                        return new MlTracesException(ErrorKind.StoreLocked, "StoreLocked",
                            $"{Capital(where)} could not give the rows this command needs: {Echo(pg.MessageText)}. Another session (an MLflow server or another command) holds them; try again.", ex);
                    case "57P01": case "57P02": case "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
                        return new MlTracesException(ErrorKind.StoreUnavailable, "StoreUnavailable",
                            $"{Capital(where)} is not available: {Echo(pg.MessageText)}.", ex);
                    default:
                        return new MlTracesException(ErrorKind.IOError, "StoreError",
                            $"{Capital(where)} (store '{uri.Original}') reported an error: {Echo(pg.MessageText)} (SQLSTATE {pg.SqlState}).", ex);
                }
            }
            if (ex is System.IO.FileNotFoundException missing)
                return new MlTracesException(ErrorKind.StoreNotFound, "PasswordFileNotFound",
                    $"The password file for {where} does not exist: {Echo(missing.FileName ?? missing.Message)}. Check PGPASSFILE or the passfile option.", ex);
            if (ex is NpgsqlException || ex is SocketException || ex is TimeoutException)
            {
                var socket = FindInner<SocketException>(ex);
                if (socket == null && ex is NpgsqlException && ex.Message.IndexOf("password", StringComparison.OrdinalIgnoreCase) >= 0)
                    return new MlTracesException(ErrorKind.AuthenticationFailed, "StoreLoginFailed",
                        $"{Capital(where)} asks '{t.UserName}' for a password and none was given. Give it in the URI, with -Credential, in PGPASSWORD or in a .pgpass file.", ex);
                string reason = Echo(socket != null ? socket.Message : ex.Message);
                return new MlTracesException(ErrorKind.StoreUnavailable, "StoreUnreachable",
                    $"The PostgreSQL server for {where} cannot be reached: {reason}. Check that the server is running, that host and port are right, and that it accepts connections from this machine.", ex);
            }
            return null;
        }

        /// <summary>Text from the server or the driver, before it is echoed: never the password, should it hold one
        /// (a server's message may quote what it was sent), and never longer than a message should be.</summary>
        private static string Scrub(string text, PostgresTarget t)
        {
            foreach (var secret in new[] { t.Password, Remembered.TryGetValue(LoginKey(t), out var known) ? known : null })
                if (secret != null && secret.Length >= 4) text = text.Replace(secret, "***");
            return UserText.Shorten(text, 500);
        }

        private static string Capital(string s) => char.ToUpperInvariant(s[0]) + s.Substring(1);

        private static T? FindInner<T>(Exception? ex) where T : Exception
        {
            for (; ex != null; ex = ex.InnerException) if (ex is T t) return t;
            return null;
        }
    }
}
