using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;

namespace MlTraces.Core.Store
{
    /// <summary>Creates MLflow's current tracking-store schema in an empty SQLite file.</summary>
    public static class StoreSchema
    {
        /// <summary>The alembic revision the embedded schema corresponds to; MLflow upgrades from here.</summary>
        public const string AlembicRevision = "b7e4c1a90f23";

        public static IReadOnlyList<string> SqliteStatements()
        {
            using var stream = typeof(StoreSchema).Assembly.GetManifestResourceStream("MlTraces.Core.Store.Schema.sqlite.sql")
                ?? throw new InvalidOperationException("The embedded schema is missing from MlTraces.Core.");
            using var reader = new StreamReader(stream);
            var statements = new List<string>();
            var current = new System.Text.StringBuilder();
            string? line;
            while ((line = reader.ReadLine()) != null)
            {
                if (line.StartsWith("--", StringComparison.Ordinal) && current.Length == 0) continue;
                if (line == ";")
                {
                    // Without the last line break, so sqlite_master holds the DDL as MLflow's own stores do.
                    if (current.Length > 0) statements.Add(current.ToString().TrimEnd());
                    current.Clear();
                    continue;
                }
                current.AppendLine(line);
            }
            return statements;
        }

        public static IReadOnlyList<string> Statements(StoreKind kind) =>
            kind == StoreKind.Postgres ? PostgresSchema.FromSqlite(SqliteStatements()) : SqliteStatements();

        /// <summary>
        /// Creates the schema, stamps the alembic revision, and adds what MLflow adds when it first opens a store:
        /// the default workspace and experiment 0 ("Default"). All of it in one transaction (PostgreSQL's DDL is
        /// transactional too), so a failure leaves the database as empty as it was.
        /// </summary>
        public static void Create(System.Data.Common.DbConnection connection, TrackingUri uri, string defaultArtifactLocation)
        {
            TraceStore.Translate(uri, () =>
            {
                using var tx = connection.BeginTransaction();
                using (var check = connection.CreateCommand())
                {
                    check.Transaction = tx;
                    check.CommandText = uri.Kind == StoreKind.Postgres
                        ? "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
                        : "SELECT count(*) FROM sqlite_master WHERE type = 'table'";
                    if (Convert.ToInt64(check.ExecuteScalar()) > 0)
                        throw new MlTracesException(ErrorKind.AlreadyExists, "StoreNotEmpty",
                            uri.Kind == StoreKind.Postgres
                                ? $"The database '{uri.Postgres!.Database}' of '{uri.Original}' already has tables; New-TraceStore only creates stores in an empty database."
                                : $"The database '{uri.Original}' already has tables; New-TraceStore only creates stores in a new or empty file.");
                }
                foreach (var sql in Statements(uri.Kind))
                {
                    using var cmd = connection.CreateCommand();
                    cmd.Transaction = tx;
                    cmd.CommandText = sql;
                    cmd.ExecuteNonQuery();
                }
                long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                using (var cmd = connection.CreateCommand())
                {
                    cmd.Transaction = tx;
                    cmd.CommandText =
                        "INSERT INTO alembic_version (version_num) VALUES (@rev);" +
                        "INSERT INTO workspaces (name, description) VALUES ('default', 'Default workspace for legacy resources');" +
                        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) " +
                        "VALUES (0, 'Default', @loc, 'active', @now, @now, 'default');";
                    TraceStore.AddParameter(cmd, "@rev", AlembicRevision);
                    TraceStore.AddParameter(cmd, "@loc", defaultArtifactLocation);
                    TraceStore.AddParameter(cmd, "@now", now);
                    cmd.ExecuteNonQuery();
                }
                tx.Commit();
                return 0;
            });
        }
    }
}
