using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using Xunit;

namespace MlTraces.Tests.Postgres
{
    /// <summary>What is PostgreSQL's own: URIs, logins, errors, New-TraceStore, layout detection.</summary>
    public class PostgresStoreTests
    {
        [Theory]
        [InlineData("postgresql://alice:s3cr%40t@db.example.com:5433/mlflow", "postgresql://alice@db.example.com:5433/mlflow", "db.example.com", 5433, "mlflow", "alice", "s3cr@t")]
        [InlineData("postgresql+psycopg2://alice:pw@db/mlflow?sslmode=require", "postgresql+psycopg2://alice@db/mlflow?sslmode=require", "db", null, "mlflow", "alice", "pw")]
        [InlineData("postgresql+psycopg://bob@[::1]:5432/m", "postgresql+psycopg://bob@[::1]:5432/m", "::1", 5432, "m", "bob", null)]
        [InlineData("postgresql:///mlflow?host=/var/run/postgresql&user=carol&password=x", "postgresql:///var/run/postgresql/mlflow?", null, null, null, null, null)]
        public void UrisAreTakenAsSqlAlchemyTakesThemAndShownWithoutPassword(string text, string shown, string? host, int? port, string? db, string? user, string? password)
        {
            var uri = TrackingUri.Parse(text, "/");
            Assert.Equal(StoreKind.Postgres, uri.Kind);
            if (host == null && db == null)
            {
                // Query parameters name what the authority leaves out, libpq style.
                Assert.Equal("/var/run/postgresql", uri.Postgres!.Host);
                Assert.Equal("carol", uri.Postgres.UserName);
                Assert.Equal("x", uri.Postgres.Password);
                Assert.DoesNotContain("password", uri.Original);
                return;
            }
            Assert.Equal(shown, uri.Original);
            Assert.Equal(host, uri.Postgres!.Host);
            Assert.Equal(port, uri.Postgres.Port);
            Assert.Equal(db, uri.Postgres.Database);
            Assert.Equal(user, uri.Postgres.UserName);
            Assert.Equal(password, uri.Postgres.Password);
            if (password != null) Assert.DoesNotContain(password, uri.Original);
        }

        [Theory]
        [InlineData("postgres://u:pw@h/db", "postgresql://")]
        [InlineData("postgresql://u:pw@h/db?sslmode=sometimes", "sslmode=sometimes")]
        [InlineData("postgresql://u:pw@h/db?fancy=1", "the option 'fancy'")]
        [InlineData("postgresql://u:pw@h:99999/db", "the port '99999'")]
        [InlineData("postgresql://u:pw@h", "no database name")]
        public void BadUrisAreClearErrorsWithoutThePassword(string text, string expected)
        {
            var ex = Assert.ThrowsAny<ArgumentException>(() =>
            {
                var uri = TrackingUri.Parse(text, "/");
                PostgresConnector.ConnectionString(uri.Postgres!, StoreAccess.ReadOnly);
            });
            Assert.Contains(expected, ex.Message);
            Assert.DoesNotContain("pw", ex.Message.Replace("psycopg", ""));
        }

        [Fact]
        public void NewTraceStoreCreatesMlflowsSchemaOnAnEmptyDatabase()
        {
            string db = PgServer.NewEmptyDatabase();
            try
            {
                using var sh = new PsShell(TestStore.NewFolder());
                var info = sh.Objects<StoreInfo>("New-TraceStore -TrackingUri $u", new Dictionary<string, object?> { ["u"] = PgServer.UriFor(db) }).Single();
                Assert.Equal(StoreSchema.AlembicRevision, info.AlembicRevision);
                Assert.Equal(1, info.Experiments);
                Assert.True(info.HasSpansTable);
                Assert.DoesNotContain("mltraces-", info.TrackingUri); // the test server's password
                using var store = TraceStore.Open(TrackingUri.Parse(PgServer.UriFor(db), "/"), StoreAccess.ReadWrite);
                Assert.True(store.Layout.HasDbPayloadGeneration && store.Layout.HasWorkspaceArchivalColumns && store.Layout.HasAssessments);
                // Every table and index of the SQLite schema, and experiment ids from MLflow's sequence.
                long Count(string sql) { using var c = store.Command(sql); return Convert.ToInt64(c.ExecuteScalar()); }
                using var sqlite = TestStore.CreateEmpty();
                Assert.Equal(sqlite.Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'"),
                    Count("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"));
                Assert.Equal(sqlite.Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"),
                    Count("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT IN (SELECT conname FROM pg_constraint)"));
                Assert.Equal("mlflow-artifacts:/0", Convert.ToString(store.Command("SELECT artifact_location FROM experiments WHERE experiment_id = 0").ExecuteScalar()));
                Assert.Equal(1L, Count("SELECT nextval('experiments_experiment_id_seq')"));
                // A second New-TraceStore on the same database refuses and changes nothing.
                var again = sh.Run("New-TraceStore -TrackingUri $u", new Dictionary<string, object?> { ["u"] = PgServer.UriFor(db) });
                Assert.Equal("StoreNotEmpty,MlTraces.Commands.NewTraceStoreCommand", Assert.Single(again.Errors).FullyQualifiedErrorId);
            }
            finally { PgServer.DropDatabase(db); }
        }

        [Fact]
        public void SearchReadsWhatWasWritten()
        {
            using var ts = TestStore.CreateEmpty(StoreKind.Postgres);
            string exp = ts.AddExperiment("exp1");
            ts.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-1", exp, 1, 5, "OK", new Dictionary<string, string> { ["mlflow.traceName"] = "a" }),
                TestStore.MakeTrace("tr-2", exp, 2, 5, "ERROR", new Dictionary<string, string> { ["mlflow.traceName"] = "b" }),
            });
            using var sh = new PsShell(ts);
            Assert.Equal(new[] { "tr-2", "tr-1" }, sh.Ids("Search-Trace"));
            Assert.Equal(new[] { "tr-2" }, sh.Ids("Search-Trace -Filter \"status = 'ERROR'\""));
            Assert.Equal(new[] { "tr-1" }, sh.Ids("Search-Trace -Filter \"tag.mlflow.traceName ILIKE 'A'\""));
        }
    }
}
