using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Data.Common;
using System.IO;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace MlTraces.Core.Store
{
    public enum StoreAccess
    {
        /// <summary>Read-only; a missing file is an error and is never created.</summary>
        ReadOnly,
        /// <summary>Read and write an existing store.</summary>
        ReadWrite,
        /// <summary>Create the file if missing (New-TraceStore).</summary>
        Create,
    }

    /// <summary>An open MLflow tracking store: one connection with MLflow's session settings, and its layout.</summary>
    public sealed class TraceStore : IDisposable
    {
        /// <summary>MLflow's own busy timeout. MLTRACES_BUSY_TIMEOUT_MS overrides it (tests of lock errors use it).</summary>
        public const int DefaultBusyTimeoutMs = 20000;

        public TrackingUri Uri { get; }
        public StoreLayout Layout { get; private set; }
        public DbConnection Connection { get; }
        public StoreKind Kind => Uri.Kind;
        public SqlDialect Dialect => Kind == StoreKind.Postgres ? (SqlDialect)PostgresDialect.Instance : SqliteDialect.Instance;
        public StoreAccess Access { get; }

        private TraceStore(TrackingUri uri, DbConnection connection, StoreLayout layout, StoreAccess access)
        {
            Uri = uri; Connection = connection; Layout = layout; Access = access;
        }

        public string Name => Uri.Original;

        public static TraceStore Open(TrackingUri uri, StoreAccess access = StoreAccess.ReadOnly)
        {
            var connection = OpenConnection(uri, access);
            try
            {
                var layout = Translate(uri, () => StoreLayout.Detect(connection, uri));
                return new TraceStore(uri, connection, layout, access);
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        /// <summary>Creates a store with MLflow's current schema in a new or empty file or database and opens it.</summary>
        /// <summary>
        /// Creates a new store as `mlflow server` does on first start: MLflow's schema and experiment 0 'Default',
        /// whose artifact location is the root + "/0". Default root: the folder 'mlruns' beside a SQLite file, as a
        /// file URI; for PostgreSQL, mlflow-artifacts: (the tracking server's proxied artifact store, MLflow's default).
        /// A SQLite store's folder must exist.
        /// </summary>
        public static TraceStore CreateNew(TrackingUri uri, string? artifactRoot)
        {
            string root;
            if (uri.Kind == StoreKind.Postgres) root = artifactRoot ?? "mlflow-artifacts:";
            else
            {
                string folder = System.IO.Path.GetDirectoryName(uri.FilePath!)!;
                if (!System.IO.Directory.Exists(folder))
                    throw new MlTracesException(ErrorKind.StoreNotFound, "StoreFolderNotFound",
                        $"The folder '{folder}' for the new store '{uri.Original}' does not exist. Create it first.");
                root = artifactRoot ?? new Uri(System.IO.Path.Combine(folder, "mlruns") + System.IO.Path.DirectorySeparatorChar).AbsoluteUri;
            }
            return Create(uri, root.TrimEnd('/', '\\') + "/0");
        }

        public static TraceStore Create(TrackingUri uri, string defaultArtifactLocation)
        {
            using (var connection = OpenConnection(uri, StoreAccess.Create))
                StoreSchema.Create(connection, uri, defaultArtifactLocation);
            return Open(uri, StoreAccess.ReadWrite);
        }

        /// <summary>Opens a connection with MLflow's session settings but does not look for MLflow's tables.</summary>
        public static DbConnection OpenConnection(TrackingUri uri, StoreAccess access) =>
            uri.Kind == StoreKind.Postgres ? PostgresConnector.Open(uri, access) : OpenSqlite(uri, access);

        /// <summary>Lets go of pooled connections to this store (SQLite pools are off; PostgreSQL's are Npgsql's).</summary>
        public static void ReleasePooledConnections(TrackingUri uri)
        {
            if (uri.Kind == StoreKind.Postgres) PostgresConnector.ClearPool(uri);
        }

        private static SqliteConnection OpenSqlite(TrackingUri uri, StoreAccess access)
        {
            SqliteRuntime.EnsureInitialized();
            string path = uri.FilePath ?? throw new MlTracesException(ErrorKind.UnsupportedStore, "UnsupportedTrackingUri",
                $"The tracking URI '{uri.Original}' does not name a SQLite file.");
            if (access != StoreAccess.Create && !File.Exists(path))
                throw new MlTracesException(ErrorKind.StoreNotFound, "StoreNotFound",
                    Directory.Exists(path)
                        ? $"The store '{uri.Original}' is a folder ('{path}'), not an MLflow SQLite database. Name the .db file inside it."
                        : $"The store '{uri.Original}' does not exist: there is no file at '{path}'. Check the path or $env:MLFLOW_TRACKING_URI; New-TraceStore creates an empty store.");
            var builder = new SqliteConnectionStringBuilder
            {
                DataSource = path,
                Mode = access == StoreAccess.ReadOnly ? SqliteOpenMode.ReadOnly
                    : access == StoreAccess.ReadWrite ? SqliteOpenMode.ReadWrite : SqliteOpenMode.ReadWriteCreate,
                // Pooling keeps files open after Dispose; a long-lived console must not hold the user's store.
                Pooling = false,
                ForeignKeys = true,
                // Microsoft.Data.Sqlite retries a busy database until its own command timeout; keep it in step
                // with busy_timeout so a locked store fails when MLflow's sessions would (0 would mean "forever").
                DefaultTimeout = Math.Max(1, (BusyTimeoutMs() + 999) / 1000),
            };
            var connection = new SqliteConnection(builder.ToString());
            try
            {
                Translate(uri, () =>
                {
                    connection.Open();
                    using var cmd = connection.CreateCommand();
                    cmd.CommandText = $"PRAGMA busy_timeout = {BusyTimeoutMs()}; PRAGMA case_sensitive_like = true; PRAGMA foreign_keys = ON;";
                    cmd.ExecuteNonQuery();
                    // Touch the file so that "not a database" shows here, with the store's name, not later.
                    cmd.CommandText = "SELECT count(*) FROM sqlite_master";
                    cmd.ExecuteScalar();
                    return 0;
                });
                RegisterFunctions(connection);
                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        /// <summary>How long a statement waits for a lock another connection holds: MLflow's 20 s, or MLTRACES_BUSY_TIMEOUT_MS.</summary>
        public static int BusyTimeoutMs()
        {
            string? env = Environment.GetEnvironmentVariable("MLTRACES_BUSY_TIMEOUT_MS");
            return int.TryParse(env, out int ms) && ms >= 0 ? ms : DefaultBusyTimeoutMs;
        }

        private static readonly ConcurrentDictionary<string, Regex> RegexCache = new ConcurrentDictionary<string, Regex>();

        private static void RegisterFunctions(SqliteConnection connection)
        {
            // MLflow registers regexp(pattern, string) built on Python's re.search: unanchored and case-sensitive.
            connection.CreateFunction("regexp", (string? pattern, string? input) =>
            {
                if (pattern == null || input == null) return (bool?)null;
                var regex = RegexCache.GetOrAdd(pattern, p => new Regex(p, RegexOptions.CultureInvariant));
                return regex.IsMatch(input);
            }, isDeterministic: true);
        }

        /// <summary>Runs store work and turns SQLite's errors into ones that name the store and say what to do.</summary>
        public static T Translate<T>(TrackingUri uri, Func<T> work)
        {
            try
            {
                return work();
            }
            catch (SqliteException ex)
            {
                throw TranslateError(uri, ex);
            }
            catch (Exception ex) when (uri.Kind == StoreKind.Postgres && !(ex is MlTracesException) && PostgresConnector.TranslateError(uri, ex) is Exception translated)
            {
                throw translated;
            }
        }

        public T Translate<T>(Func<T> work) => Translate(Uri, work);

        public static Exception TranslateError(TrackingUri uri, SqliteException ex)
        {
            switch (ex.SqliteErrorCode)
            {
                case 26: // SQLITE_NOTADB
                    return new MlTracesException(ErrorKind.NotSqlite, "NotASqliteDatabase",
                        $"The file '{uri.FilePath}' named by the store '{uri.Original}' is not a SQLite database. Name the SQLite file of an MLflow tracking store.", ex);
                case 5: // SQLITE_BUSY
                case 6: // SQLITE_LOCKED
                    return new MlTracesException(ErrorKind.StoreLocked, "StoreLocked",
                        $"The store '{uri.Original}' is locked by another writer and stayed locked for the whole busy timeout. Try again when the writing process (an MLflow server or another command) has finished its transaction.", ex);
                case 8: // SQLITE_READONLY
                    return new MlTracesException(ErrorKind.StoreReadOnly, "StoreReadOnly",
                        $"The store '{uri.Original}' cannot be written: {ex.Message} Check the file's permissions.", ex);
                case 14: // SQLITE_CANTOPEN
                    return new MlTracesException(ErrorKind.StoreNotFound, "StoreCannotOpen",
                        $"The store '{uri.Original}' cannot be opened ('{uri.FilePath}'): {ex.Message} Check that the file and its folder exist and can be read.", ex);
                case 11: // SQLITE_CORRUPT
                    return new MlTracesException(ErrorKind.InvalidData, "StoreCorrupt",
                        $"The store '{uri.Original}' is damaged: {ex.Message}", ex);
                default:
                    return new MlTracesException(ErrorKind.IOError, "StoreError",
                        $"The store '{uri.Original}' reported an error: {ex.Message}", ex);
            }
        }

        /// <summary>
        /// Fails fast, changing nothing, when this store cannot take writes now: a read-only file, folder, database
        /// or role, or a SQLite write lock held past the busy timeout. A command that writes files before it writes
        /// the store (an archival pass) asks first, so it never leaves payloads no trace points to. SQLite: BEGIN
        /// IMMEDIATE takes the write lock, and rewriting one row in place makes SQLite create its journal beside
        /// the file; PostgreSQL checks a read-only transaction and the privileges even for statements on no rows.
        /// Everything is rolled back.
        /// </summary>
        public void EnsureWritable()
        {
            Translate(() =>
            {
                using var tx = BeginTransaction(deferred: false);
                string sql = Kind == StoreKind.Sqlite
                    ? "UPDATE trace_info SET status = status WHERE request_id = (SELECT request_id FROM trace_info LIMIT 1)"
                    : "UPDATE trace_info SET status = status WHERE false; UPDATE trace_tags SET value = value WHERE false" +
                      (Layout.HasSpans ? "; UPDATE spans SET content = content WHERE false" : "");
                using (var cmd = Command(sql)) cmd.ExecuteNonQuery();
                tx.Rollback();
                return 0;
            });
        }

        private DbTransaction? _transaction;

        /// <summary>Begins a transaction that every command from <see cref="Command"/> joins until it ends
        /// (Microsoft.Data.Sqlite refuses commands outside the connection's pending transaction).</summary>
        /// <param name="deferred">False takes SQLite's write lock at once (BEGIN IMMEDIATE), so a check made inside
        /// the transaction still holds when its writes commit. PostgreSQL locks rows as statements touch them
        /// (and FOR UPDATE where a check must hold), so the flag does not apply there.</param>
        public DbTransaction BeginTransaction(bool deferred = false) =>
            _transaction = Translate(() => Connection is SqliteConnection sqlite
                ? sqlite.BeginTransaction(deferred)
                : Connection.BeginTransaction());

        /// <summary>The transaction commands join now, if any: begun, and neither committed, rolled back nor disposed
        /// (Microsoft.Data.Sqlite then says Connection is null; Npgsql throws once it is disposed).</summary>
        public DbTransaction? CurrentTransaction
        {
            get
            {
                try { if (_transaction?.Connection != null) return _transaction; }
                catch (ObjectDisposedException) { }
                _transaction = null;
                return null;
            }
        }

        public DbCommand Command(string sql, SqlParameters? parameters = null)
        {
            var cmd = Connection.CreateCommand();
            var transaction = CurrentTransaction;
            if (transaction != null) cmd.Transaction = transaction;
            cmd.CommandText = sql;
            // No command timeout on PostgreSQL (as psycopg2 has none): a large delete or archival batch is bounded
            // by its size, not cut off at Npgsql's 30 s default. SQLite's is its busy timeout, set on the connection.
            if (Kind == StoreKind.Postgres) cmd.CommandTimeout = 0;
            Bind(cmd, parameters);
            return cmd;
        }

        private void Bind(DbCommand cmd, SqlParameters? parameters)
        {
            if (parameters == null) return;
            foreach (var p in parameters.Values)
            {
                var added = AddParameter(cmd, p.Key, p.Value);
                // psycopg2 writes values into MLflow's SQL as quoted literals, whose type PostgreSQL infers from
                // the column ('5000' compares with a BIGINT as a number). Text sent untyped behaves the same.
                if (Kind == StoreKind.Postgres && p.Value is string) ((Npgsql.NpgsqlParameter)added).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Unknown;
            }
        }

        public static DbParameter AddParameter(DbCommand cmd, string name, object? value)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            cmd.Parameters.Add(p);
            return p;
        }

        /// <summary>
        /// The rows of a query, read lazily, while other commands run on this store between rows (hydrating a batch,
        /// say). SQLite reads them with an open reader on this connection. A PostgreSQL connection runs one statement
        /// at a time, so there the rows come from a cursor on a second connection of the pool, fetched in batches:
        /// the first rows arrive at once, and stopping early costs nothing.
        /// </summary>
        /// <param name="atMost">How many rows the query can return at most (its LIMIT), when known. On PostgreSQL a
        /// page that small is read whole on this connection in one round trip, instead of through a cursor.</param>
        public IEnumerable<T> Stream<T>(string sql, SqlParameters? parameters, Func<DbDataReader, T> map, long? atMost = null, int fetchSize = 500)
        {
            if (Kind == StoreKind.Postgres && atMost.HasValue && atMost.Value <= fetchSize && CurrentTransaction == null)
            {
                // One round trip on this connection, still planned as a cursor is: for the first rows (a LIMIT with a
                // selective filter can otherwise get a plan that reads a whole table) and without parallel workers
                // (which read far past a LIMIT). The page is read whole.
                var page = new List<T>();
                using (var cmd = Command("BEGIN READ ONLY; DECLARE mltraces_page NO SCROLL CURSOR FOR " + sql + "; FETCH ALL FROM mltraces_page; COMMIT", parameters))
                    Translate(() =>
                    {
                        try
                        {
                            using var r = cmd.ExecuteReader();
                            while (r.FieldCount == 0 && r.NextResult()) { }
                            while (r.Read()) page.Add(map(r));
                            while (r.NextResult()) { }
                        }
                        catch (Npgsql.PostgresException)
                        {
                            // The batch's own transaction is left aborted: end it, so the connection stays usable.
                            using (var rollback = Command("ROLLBACK")) rollback.ExecuteNonQuery();
                            throw;
                        }
                        return 0;
                    });
                foreach (var row in page) yield return row;
                yield break;
            }
            if (Kind != StoreKind.Postgres)
            {
                using var cmd = Command(sql, parameters);
                using var r = Translate(() => cmd.ExecuteReader());
                while (Translate(() => r.Read())) yield return map(r);
                yield break;
            }
            using var connection = OpenConnection(Uri, StoreAccess.ReadOnly);
            using var tx = Translate(() => connection.BeginTransaction());
            using (var declare = connection.CreateCommand())
            {
                declare.Transaction = tx;
                declare.CommandTimeout = 0;
                declare.CommandText = "DECLARE mltraces_stream NO SCROLL CURSOR FOR " + sql;
                Bind(declare, parameters);
                Translate(() => declare.ExecuteNonQuery());
            }
            using var fetch = connection.CreateCommand();
            fetch.Transaction = tx;
            fetch.CommandTimeout = 0;
            fetch.CommandText = "FETCH FORWARD " + fetchSize.ToString(System.Globalization.CultureInfo.InvariantCulture) + " FROM mltraces_stream";
            var batch = new List<T>(fetchSize);
            while (true)
            {
                batch.Clear();
                Translate(() =>
                {
                    using var r = fetch.ExecuteReader();
                    while (r.Read()) batch.Add(map(r));
                    return 0;
                });
                foreach (var row in batch) yield return row;
                if (batch.Count < fetchSize) yield break;
            }
        }

        public void Dispose() => Connection.Dispose();
    }
}
