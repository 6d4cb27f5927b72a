using System;
using System.Collections.Generic;
using System.IO;
using MlTraces.Core.Store;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// A real MLflow-schema store, deleted when the test ends: a SQLite file in a temporary folder, or a database of
    /// its own on the test PostgreSQL server (with a temporary folder too, for artifacts and archives).
    /// </summary>
    public sealed class TestStore : IDisposable
    {
        public string Folder { get; }
        /// <summary>The SQLite file; for PostgreSQL, the database name.</summary>
        public string Path { get; }
        public TrackingUri Uri { get; }
        public StoreKind Kind => Uri.Kind;
        /// <summary>The URI a command takes: the SQLite path, or the PostgreSQL URI with its password.</summary>
        public string UriText { get; }
        private readonly string? _database;

        private TestStore(string folder, string path)
        {
            Folder = folder; Path = path; UriText = path;
            Uri = TrackingUri.Parse(path, folder);
        }

        private TestStore(string folder, string database, string uri)
        {
            Folder = folder; Path = database; UriText = uri; _database = database;
            Uri = TrackingUri.Parse(uri, folder);
        }

        /// <summary>An empty store of this kind in MLflow's current schema, with experiment 0 "Default".</summary>
        public static TestStore CreateEmpty(StoreKind kind)
        {
            if (kind == StoreKind.Sqlite) return CreateEmpty();
            string folder = NewFolder();
            string database = PgServer.NewStoreDatabase();
            var ts = new TestStore(folder, database, PgServer.UriFor(database));
            // The template's experiment 0 points elsewhere: give it this store's own artifact folder.
            using var store = ts.Open();
            var p = new SqlParameters();
            using var cmd = store.Command($"UPDATE experiments SET artifact_location = {p.Add(new Uri(System.IO.Path.Combine(folder, "mlruns", "0")).AbsoluteUri)} WHERE experiment_id = 0", p);
            cmd.ExecuteNonQuery();
            return ts;
        }

        /// <summary>A copy of one of the real MLflow stores in ../shared/fixtures/mlflow-dbs, of this kind (for
        /// PostgreSQL: its own schema generation, translated, and every row).</summary>
        public static TestStore CopyOfFixture(string fileName, StoreKind kind) =>
            kind == StoreKind.Sqlite ? CopyOfFixture(fileName) : OnPostgres(FixturePath(fileName), NewFolder());

        /// <summary>A store of one MLflow schema generation that the test builds itself (see
        /// <see cref="GeneratedStores"/>), of this kind; its artifacts are in the store's folder.</summary>
        public static TestStore Generated(string revision, StoreKind kind = StoreKind.Sqlite)
        {
            string folder = NewFolder();
            string path = System.IO.Path.Combine(folder, "mlflow-" + revision + ".db");
            GeneratedStores.Build(revision, path, folder);
            if (kind == StoreKind.Sqlite) return new TestStore(folder, path);
            var ts = OnPostgres(path, folder);
            File.Delete(path);
            return ts;
        }

        /// <summary>A new database on the test server holding the SQLite store's schema generation and rows.</summary>
        private static TestStore OnPostgres(string sqliteFile, string folder)
        {
            string database = PgServer.NewEmptyDatabase();
            var ts = new TestStore(folder, database, PgServer.UriFor(database));
            StoreCopy.SqliteToPostgres(sqliteFile, ts.Uri);
            return ts;
        }

        public static string NewFolder()
        {
            string folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mltraces-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            return folder;
        }

        /// <summary>An empty store in MLflow's current schema, with experiment 0 "Default".</summary>
        public static TestStore CreateEmpty()
        {
            string folder = NewFolder();
            string path = System.IO.Path.Combine(folder, "mlflow.db");
            var ts = new TestStore(folder, path);
            using var store = TraceStore.Create(ts.Uri, new Uri(System.IO.Path.Combine(folder, "mlruns", "0")).AbsoluteUri);
            return ts;
        }

        /// <summary>A copy of one of the real MLflow stores in ../shared/fixtures/mlflow-dbs.</summary>
        public static TestStore CopyOfFixture(string fileName)
        {
            string folder = NewFolder();
            string path = System.IO.Path.Combine(folder, fileName);
            File.Copy(FixturePath(fileName), path);
            File.SetAttributes(path, FileAttributes.Normal);
            return new TestStore(folder, path);
        }

        /// <summary>The folder of real MLflow stores; a test that calls this is marked [RealStoreFact] or
        /// [RealStoreTheory], so it is skipped (not failed) where the folder is missing.</summary>
        public static string FixturesFolder() =>
            RealStores.Folder ?? throw new DirectoryNotFoundException(RealStores.MissingReason + " Mark the test [RealStoreFact] or [RealStoreTheory].");

        public static string FixturePath(string fileName) => System.IO.Path.Combine(FixturesFolder(), fileName);

        public TraceStore Open(StoreAccess access = StoreAccess.ReadWrite) => TraceStore.Open(Uri, access);

        /// <summary>Adds an experiment and returns its id (as MLflow assigns them: the next integer).</summary>
        public string AddExperiment(string name, string lifecycleStage = "active")
        {
            using var store = Open();
            // MLflow's shape: <artifact root>/<experiment id>, here under the store's own folder.
            long id = Experiments.Create(store, name, n => new Uri(System.IO.Path.Combine(Folder, "mlruns", n.ToString(System.Globalization.CultureInfo.InvariantCulture))).AbsoluteUri);
            var p = new SqlParameters();
            using var cmd = store.Command($"UPDATE experiments SET lifecycle_stage = {p.Add(lifecycleStage)}, creation_time = 0, last_update_time = 0 WHERE experiment_id = {p.Add(id)}", p);
            cmd.ExecuteNonQuery();
            return id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        public void AddTraces(IEnumerable<Trace> traces)
        {
            using var store = Open();
            using var tx = store.BeginTransaction();
            using (var writer = new TraceWriter(store, tx))
                foreach (var t in traces) writer.Write(t);
            tx.Commit();
        }

        /// <summary>A trace the way MLflow's tests make one with _create_trace.</summary>
        public static Trace MakeTrace(string id, string experimentId, long requestTime = 0, long? executionDuration = 0,
            string state = "OK", IDictionary<string, string>? tags = null, IDictionary<string, string>? metadata = null,
            string? clientRequestId = null)
        {
            var t = new Trace { TraceId = id, ExperimentId = experimentId, TimestampMs = requestTime, ExecutionTimeMs = executionDuration, State = state, ClientRequestId = clientRequestId };
            if (tags != null) foreach (var kv in tags) t.Tags[kv.Key] = kv.Value;
            if (metadata != null) foreach (var kv in metadata) t.Metadata[kv.Key] = kv.Value;
            return t;
        }

        /// <summary>What the store holds, as one string that changes when anything in it changes: the file's
        /// SHA-256 for SQLite; for PostgreSQL an md5 of every row of every table.</summary>
        public string Fingerprint()
        {
            if (Kind == StoreKind.Sqlite)
            {
                using var sha = System.Security.Cryptography.SHA256.Create();
                using var f = File.OpenRead(Path);
                return Convert.ToHexString(sha.ComputeHash(f));
            }
            using var store = Open(StoreAccess.ReadOnly);
            var tables = new List<string>();
            using (var cmd = store.Command("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"))
            using (var r = cmd.ExecuteReader()) while (r.Read()) tables.Add(r.GetString(0));
            var parts = new List<string>();
            foreach (var t in tables)
            {
                using var cmd = store.Command($"SELECT '{t}:' || count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM \"{t}\" x");
                parts.Add((string)cmd.ExecuteScalar()!);
            }
            return string.Join("\n", parts);
        }

        public long Scalar(string sql)
        {
            using var store = Open(StoreAccess.ReadOnly);
            using var cmd = store.Command(sql);
            return Convert.ToInt64(cmd.ExecuteScalar());
        }

        public void Dispose()
        {
            if (_database != null) { try { PgServer.DropDatabase(_database); } catch (Exception) { } }
            else Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
