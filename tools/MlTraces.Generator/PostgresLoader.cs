using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Store;
using Npgsql;
using NpgsqlTypes;

namespace MlTraces.Generator
{
    /// <summary>
    /// Copies a benchmark SQLite store into a fresh PostgreSQL database: drops and creates the database, creates
    /// New-TraceStore's tables (StoreSchema's PostgreSQL statements, so the schema is the one New-TraceStore makes),
    /// streams every row with binary COPY ... FREEZE in the transaction that created the tables (no hint-bit or
    /// visibility work later), creates the secondary indexes after the rows are in, then VACUUM ANALYZE.
    /// Foreign-key triggers are off for the load (session_replication_role = replica; the source is a consistent
    /// MLflow store); primary keys are built as rows arrive. The source file is only read.
    /// </summary>
    public static class PostgresLoader
    {
        public static int Run(string from, string to)
        {
            var total = Stopwatch.StartNew();
            var target = TrackingUri.Parse(to, "/");
            if (target.Kind != StoreKind.Postgres) throw new ArgumentException($"--to must be a postgresql:// URI, not '{TrackingUri.Redact(to)}'.");
            string database = target.Postgres!.Database ?? throw new ArgumentException("--to must name a database.");
            if (database == "postgres" || database.StartsWith("template", StringComparison.Ordinal))
                throw new ArgumentException($"--to names '{database}': name a database of its own (it is dropped and created again).");

            using var source = (SqliteConnection)TraceStore.OpenConnection(TrackingUri.Parse(from, Environment.CurrentDirectory), StoreAccess.ReadOnly);
            string revision = Convert.ToString(Scalar(source, "SELECT version_num FROM alembic_version"), CultureInfo.InvariantCulture) ?? "";
            if (revision != StoreSchema.AlembicRevision)
                throw new ArgumentException($"{from} is at alembic revision {revision}, not {StoreSchema.AlembicRevision}: copy-to-postgres only copies stores in the schema New-TraceStore creates.");

            string quoted = "\"" + database.Replace("\"", "\"\"") + "\"";
            TraceStore.ReleasePooledConnections(target);
            using (var admin = (NpgsqlConnection)TraceStore.OpenConnection(TrackingUri.Parse(WithDatabase(to, "postgres"), "/"), StoreAccess.ReadWrite))
            {
                Exec(admin, $"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)");
                Exec(admin, $"CREATE DATABASE {quoted} TEMPLATE template0");
            }

            var statements = StoreSchema.Statements(StoreKind.Postgres);
            var tables = statements.Where(IsTable).ToList();
            var later = statements.Where(s => !IsTable(s)).ToList();
            Console.WriteLine($"Copying {from} into {target.Postgres.Display}: {tables.Count} tables, then {later.Count} indexes and triggers");

            using var pg = (NpgsqlConnection)TraceStore.OpenConnection(target, StoreAccess.ReadWrite);
            Exec(pg, "SET maintenance_work_mem = '1GB'");
            Exec(pg, "SET synchronous_commit = off");
            var load = Stopwatch.StartNew();
            long rows = 0;
            using (var tx = pg.BeginTransaction())
            {
                Exec(pg, "SET LOCAL session_replication_role = replica", tx);
                foreach (var sql in tables) Exec(pg, sql, tx);
                foreach (var name in tables.Select(TableName))
                {
                    var sw = Stopwatch.StartNew();
                    long n = CopyTable(source, pg, tx, name, freeze: true, progress: c => Console.WriteLine($"    {name}: {c:N0} rows"));
                    rows += n;
                    if (n > 0) Console.WriteLine($"  {name}: {n:N0} rows, {sw.Elapsed.TotalSeconds:F1} s");
                }
                // experiment_id is a SERIAL: the next experiment continues after the copied ids, as MLflow's would.
                Exec(pg, "SELECT setval('experiments_experiment_id_seq', (SELECT coalesce(max(experiment_id), 0) + 1 FROM experiments), false)", tx);
                tx.Commit();
            }
            var loadTime = load.Elapsed;
            var index = Stopwatch.StartNew();
            foreach (var sql in later) Exec(pg, sql);
            var indexTime = index.Elapsed;
            var analyze = Stopwatch.StartNew();
            Exec(pg, "VACUUM (ANALYZE)");
            var analyzeTime = analyze.Elapsed;
            long bytes = Convert.ToInt64(Scalar(pg, "SELECT pg_database_size(current_database())"), CultureInfo.InvariantCulture);
            Console.WriteLine($"Loaded {rows:N0} rows into {target.Postgres.Display} ({bytes / 1048576.0:N0} MiB): copy {loadTime.TotalSeconds:F1} s, " +
                              $"indexes {indexTime.TotalSeconds:F1} s, vacuum analyze {analyzeTime.TotalSeconds:F1} s, total {total.Elapsed.TotalSeconds:F1} s");
            TraceStore.ReleasePooledConnections(target);
            return 0;
        }

        /// <summary>The URI with another database name (the server's maintenance database, to create the target).</summary>
        public static string WithDatabase(string uri, string database)
        {
            int slash = uri.IndexOf('/', uri.IndexOf("://", StringComparison.Ordinal) + 3);
            int query = uri.IndexOf('?');
            return (slash < 0 ? (query >= 0 ? uri.Substring(0, query) : uri) : uri.Substring(0, slash)) + "/" + database + (query >= 0 ? uri.Substring(query) : "");
        }

        private static bool IsTable(string sql) => sql.TrimStart().StartsWith("CREATE TABLE", StringComparison.OrdinalIgnoreCase);

        private static string TableName(string createTable) =>
            System.Text.RegularExpressions.Regex.Match(createTable, @"^\s*CREATE TABLE\s+""?(\w+)""?", System.Text.RegularExpressions.RegexOptions.IgnoreCase).Groups[1].Value;

        /// <summary>
        /// Streams every row of a SQLite table into the PostgreSQL table of the same name (lower case) with binary
        /// COPY, each value written as the PostgreSQL column's type. The tests' fixture copies use it too.
        /// </summary>
        /// <param name="freeze">COPY ... FREEZE: only for a table created in this transaction.</param>
        /// <param name="progress">Called every million rows.</param>
        public static long CopyTable(SqliteConnection source, NpgsqlConnection pg, NpgsqlTransaction tx, string table,
            bool freeze = false, Action<long>? progress = null)
        {
            table = table.Trim('"');
            if (Convert.ToInt64(Scalar(source, $"SELECT count(*) FROM (SELECT 1 FROM \"{table}\" LIMIT 1)"), CultureInfo.InvariantCulture) == 0) return 0;
            var columns = new List<(string Name, string Type)>();
            using (var c = pg.CreateCommand())
            {
                c.Transaction = tx;
                c.CommandText = "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = @t AND is_generated = 'NEVER' ORDER BY ordinal_position";
                c.Parameters.AddWithValue("@t", table.ToLowerInvariant());
                using var r = c.ExecuteReader();
                while (r.Read()) columns.Add((r.GetString(0), r.GetString(1)));
            }
            string list = string.Join(", ", columns.Select(c => "\"" + c.Name + "\""));
            var write = columns.Select(c => Writer(c.Type)).ToArray();
            using var read = source.CreateCommand();
            read.CommandText = $"SELECT {list} FROM \"{table}\"";
            using var rows = read.ExecuteReader();
            using var writer = pg.BeginBinaryImport($"COPY \"{table.ToLowerInvariant()}\" ({list}) FROM STDIN (FORMAT BINARY{(freeze ? ", FREEZE" : "")})");
            long n = 0;
            while (rows.Read())
            {
                writer.StartRow();
                for (int i = 0; i < write.Length; i++)
                    if (rows.IsDBNull(i)) writer.WriteNull();
                    else write[i](writer, rows, i);
                if (++n % 1_000_000 == 0) progress?.Invoke(n);
            }
            writer.Complete();
            return n;
        }

        private static Action<NpgsqlBinaryImporter, SqliteDataReader, int> Writer(string type)
        {
            switch (type)
            {
                case "boolean": return (w, r, i) => w.Write(r.GetInt64(i) != 0, NpgsqlDbType.Boolean);
                case "integer": return (w, r, i) => w.Write(r.GetInt32(i), NpgsqlDbType.Integer);
                case "bigint": return (w, r, i) => w.Write(r.GetInt64(i), NpgsqlDbType.Bigint);
                case "smallint": return (w, r, i) => w.Write(r.GetInt16(i), NpgsqlDbType.Smallint);
                case "double precision": case "real": return (w, r, i) => w.Write(r.GetDouble(i), NpgsqlDbType.Double);
                case "bytea": return (w, r, i) => w.Write(r.GetValue(i) as byte[] ?? System.Text.Encoding.UTF8.GetBytes(r.GetString(i)), NpgsqlDbType.Bytea);
                case "json": return (w, r, i) => w.Write(r.GetString(i), NpgsqlDbType.Json);
                case "timestamp without time zone": return (w, r, i) => w.Write(r.GetDateTime(i), NpgsqlDbType.Timestamp);
                default: return (w, r, i) => w.Write(r.GetString(i), NpgsqlDbType.Text);
            }
        }

        private static void Exec(NpgsqlConnection c, string sql, NpgsqlTransaction? tx = null)
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandTimeout = 0;
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }

        private static object? Scalar(System.Data.Common.DbConnection c, string sql)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            return cmd.ExecuteScalar();
        }
    }
}
