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
        public void TheLayoutIsReadAgainWhenTheRevisionOrTheDatabaseChanges()
        {
            string db = PgServer.NewStoreDatabase();
            try
            {
                var uri = TrackingUri.Parse(PgServer.UriFor(db), "/");
                StoreLayout Layout() { using var s = TraceStore.Open(uri); return s.Layout; }
                void Admin(string sql) { using var s = TraceStore.Open(uri, StoreAccess.ReadWrite); using var c = s.Command(sql); c.ExecuteNonQuery(); }
                var first = Layout();
                Assert.True(first.HasSpans);
                Assert.Same(first, Layout()); // the same database at the same revision: read once

                // An older generation (a downgrade, or a copy made at another revision) is read anew.
                Admin("DROP TABLE IF EXISTS span_metrics, span_attributes, spans CASCADE; UPDATE alembic_version SET version_num = 'older'");
                var older = Layout();
                Assert.Equal("older", older.AlembicRevision);
                Assert.False(older.HasSpans);

                // Without alembic_version nothing can key a cache: the layout is read every time, and still right.
                Admin("DROP TABLE alembic_version");
                Assert.Null(Layout().AlembicRevision);
                Assert.NotSame(Layout(), Layout());

                // A database dropped and made again under the same name, at the same revision, is a new database.
                Admin("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY); INSERT INTO alembic_version VALUES ('older')");
                Assert.Same(Layout(), Layout());
                PgServer.DropDatabase(db);
                PgServer.RunAdmin($"CREATE DATABASE {db} TEMPLATE template0");
                using (var connection = TraceStore.OpenConnection(uri, StoreAccess.ReadWrite))
                using (var c = connection.CreateCommand())
                {
                    c.CommandText = "CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256)); " +
                                         "CREATE TABLE trace_info (request_id VARCHAR(50) PRIMARY KEY, experiment_id INTEGER, timestamp_ms BIGINT, execution_time_ms BIGINT, status VARCHAR(50)); " +
                                         "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY); INSERT INTO alembic_version VALUES ('older')";
                    c.ExecuteNonQuery();
                }
                // Its experiments table has no workspace column, where the old database's had one.
                Assert.True(older.HasExperimentWorkspace);
                Assert.False(Layout().HasExperimentWorkspace);
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

namespace MlTraces.Tests.Postgres
{
    using System.Management.Automation;
    using System.Text;
    using MlTraces.Shell;

    /// <summary>Logins and failures: clear terminating errors that name the server and database, never the password.</summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class PostgresLoginTests
    {
        private static string Password => TrackingUri.Parse(PgServer.AdminUri, "/").Postgres!.Password!;

        private static string WithoutPassword(string uri) => TrackingUri.Parse(uri, "/").Original;

        private static string AllText(RunResult r) => Attack.PasswordAttackTests.AllText(r);

        private static ErrorRecord SingleError(RunResult r) => r.Errors.Count == 1 ? r.Errors[0]
            : throw new Xunit.Sdk.XunitException("Expected one error, got " + r.Errors.Count + ": " + AllText(r));

        [Fact]
        public void ServerDownWrongPasswordMissingDatabaseAndNotAnMlflowStoreAreNamedClearly()
        {
            using var ts = TestStore.CreateEmpty(StoreKind.Postgres);
            var target = ts.Uri.Postgres!;
            using var sh = new PsShell(TestStore.NewFolder());
            RunResult Search(string uri) => sh.Run("Search-Trace -TrackingUri $u", new Dictionary<string, object?> { ["u"] = uri });

            int freePort; { var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0); l.Start(); freePort = ((System.Net.IPEndPoint)l.LocalEndpoint).Port; l.Stop(); }
            var down = Search($"postgresql://mltraces:{Password}@127.0.0.1:{freePort}/mlflow");
            var e = SingleError(down);
            Assert.Equal("StoreUnreachable,MlTraces.Commands.SearchTraceCommand", e.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.ConnectionError, e.CategoryInfo.Category);
            Assert.Contains($"127.0.0.1:{freePort}", e.Exception.Message);
            Assert.Contains("'mlflow'", e.Exception.Message);

            var wrong = Search($"postgresql://mltraces:not-{Password}@{target.Host}:{target.Port}/{target.Database}");
            e = SingleError(wrong);
            Assert.Equal("StoreLoginFailed,MlTraces.Commands.SearchTraceCommand", e.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.AuthenticationError, e.CategoryInfo.Category);
            Assert.Contains(target.Database!, e.Exception.Message);
            Assert.DoesNotContain("not-" + Password, AllText(wrong));

            var missing = Search($"postgresql://mltraces:{Password}@{target.Host}:{target.Port}/no_such_db");
            e = SingleError(missing);
            Assert.Equal("StoreNotFound,MlTraces.Commands.SearchTraceCommand", e.FullyQualifiedErrorId);
            Assert.Contains("no_such_db", e.Exception.Message);

            string empty = PgServer.NewEmptyDatabase();
            try
            {
                var notMlflow = Search(PgServer.UriFor(empty));
                e = SingleError(notMlflow);
                Assert.Equal("NotAnMlflowStore,MlTraces.Commands.SearchTraceCommand", e.FullyQualifiedErrorId);
                Assert.Contains(empty, e.Exception.Message);
            }
            finally { PgServer.DropDatabase(empty); }

            foreach (var r in new[] { down, wrong, missing }) Assert.DoesNotContain(Password, AllText(r));
        }

        [Fact]
        public void PasswordComesFromCredentialPgpasswordOrPgpassAndNeverShows()
        {
            using var ts = TestStore.CreateEmpty(StoreKind.Postgres);
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-1", "0", 1, 5) });
            var t = ts.Uri.Postgres!;
            string bare = $"postgresql://{t.Host}:{t.Port}/{t.Database}";
            using var sh = new PsShell(TestStore.NewFolder());
            var vars = new Dictionary<string, object?> { ["u"] = bare, ["c"] = new PSCredential("mltraces", new System.Net.NetworkCredential("", Password).SecurePassword) };

            // -Credential: user and password from a PSCredential.
            var r = sh.Run("Search-Trace -TrackingUri $u -Credential $c -Verbose", vars);
            Assert.True(!r.Failed, AllText(r));
            Assert.Equal("tr-1", ((Trace)Assert.Single(r.Output).BaseObject).TraceId);
            Assert.DoesNotContain(Password, AllText(r));

            // A login this process has never been given a password for (a password once given is remembered per
            // login, so that URIs shown without it still connect): without PGPASSWORD or .pgpass it is refused.
            string reader = "reader_" + Guid.NewGuid().ToString("N").Substring(0, 8), readerPw = Guid.NewGuid().ToString("N");
            PgServer.RunAdmin($"CREATE ROLE {reader} LOGIN PASSWORD '{readerPw}'");
            PgServer.RunAdmin($"GRANT pg_read_all_data TO {reader}");
            var readerUri = new Dictionary<string, object?> { ["u"] = $"postgresql://{reader}@{t.Host}:{t.Port}/{t.Database}" };
            string? savedPw = Environment.GetEnvironmentVariable("PGPASSWORD"), savedFile = Environment.GetEnvironmentVariable("PGPASSFILE");
            string pgpass = System.IO.Path.Combine(TestStore.NewFolder(), "pgpass");
            try
            {
                Environment.SetEnvironmentVariable("PGPASSWORD", null);
                string emptyPassfile = System.IO.Path.Combine(TestStore.NewFolder(), "empty");
                System.IO.File.WriteAllText(emptyPassfile, "");
                Environment.SetEnvironmentVariable("PGPASSFILE", emptyPassfile);
                Assert.Equal("StoreLoginFailed,MlTraces.Commands.SearchTraceCommand", SingleError(sh.Run("Search-Trace -TrackingUri $u", readerUri)).FullyQualifiedErrorId);

                // PGPASSWORD, as psql and psycopg2 take it.
                Environment.SetEnvironmentVariable("PGPASSWORD", readerPw);
                r = sh.Run("Search-Trace -TrackingUri $u -Verbose", readerUri);
                Assert.True(!r.Failed, AllText(r));
                Assert.Single(r.Output);
                Assert.DoesNotContain(readerPw, AllText(r));
                Environment.SetEnvironmentVariable("PGPASSWORD", null);

                // A .pgpass file (here named by PGPASSFILE): host:port:database:user:password.
                System.IO.File.WriteAllText(pgpass, $"{t.Host}:{t.Port}:*:{reader}:{readerPw}\n");
                if (!OperatingSystem.IsWindows()) System.IO.File.SetUnixFileMode(pgpass, System.IO.UnixFileMode.UserRead | System.IO.UnixFileMode.UserWrite);
                Environment.SetEnvironmentVariable("PGPASSFILE", pgpass);
                r = sh.Run("Search-Trace -TrackingUri $u", readerUri);
                Assert.True(!r.Failed, AllText(r));
                Assert.Single(r.Output);
            }
            finally
            {
                Environment.SetEnvironmentVariable("PGPASSWORD", savedPw);
                Environment.SetEnvironmentVariable("PGPASSFILE", savedFile);
            }
        }

        [Fact]
        public void NoPasswordInOutputErrorsVerboseOrProgressOfAnyCommand()
        {
            using var ts = TestStore.CreateEmpty(StoreKind.Postgres);
            var traces = new List<Trace>();
            for (int i = 0; i < 30; i++) traces.Add(TestStore.MakeTrace($"tr-{i:00}", "0", 1000 + i, 5));
            ts.AddTraces(traces);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["u"] = ts.UriText };
            foreach (var script in new[]
            {
                "Search-Trace -TrackingUri $u -Verbose",
                "Search-Trace -TrackingUri $u | Get-Trace -Verbose",
                "Search-Trace -TrackingUri $u | Export-Trace -Path out.jsonl -Verbose -PassThru",
                "Get-ExperimentRetention -TrackingUri $u -Verbose",
                "Remove-Trace -TrackingUri $u -TraceId tr-00, tr-01 -WhatIf -Verbose",
                "Remove-Trace -TrackingUri $u -TraceId tr-02 -Confirm:$false -PassThru -Verbose",
                "Import-Trace -Path out.jsonl -TrackingUri $u -Verbose",
                "Get-Trace nope -TrackingUri $u",
                "Search-Trace -TrackingUri $u -Filter 'bad filter'",
            })
            {
                var r = sh.Run(script, vars);
                Assert.DoesNotContain(Password, AllText(r));
                Assert.True(r.Output.Count > 0 || r.Errors.Count > 0 || r.HostText.Length > 0, "nothing to check in: " + script);
            }
        }
    }
}

namespace MlTraces.Tests.Postgres
{
    using System.Diagnostics;
    using MlTraces.Tests.Commands;

    /// <summary>Deletion on PostgreSQL beside a running MLflow server: row locks and bounded batches.</summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class PostgresConcurrencyTests
    {
        [Fact]
        public void ASecondConnectionWritesDuringALargeDeletionAndEveryRowSurvives()
        {
            using var ts = TestStore.CreateEmpty(StoreKind.Postgres);
            string e = ts.AddExperiment("many");
            ts.AddTraces(Enumerable.Range(0, 3000).Select(i => TestStore.MakeTrace($"tr-{i:D5}", e, 1000 + i,
                tags: new Dictionary<string, string> { ["mlflow.traceName"] = "t" })));
            long Originals() => ts.Scalar("SELECT count(*) FROM trace_info WHERE request_id LIKE 'tr-%'");

            using var remover = RemoveTraceUnderLoadTests.Shell(
                $"Remove-Trace -TrackingUri '{ts.UriText}' -ExperimentId {e} -Before ([DateTime]::MaxValue) -Confirm:$false", batchSize: 10);
            RemoveTraceUnderLoadTests.WaitFor(() => Originals() < 3000, "the deletion to start");

            // An MLflow server logging traces meanwhile, one transaction per trace, into the same experiment with old
            // times: they were not in the plan, so they must stay; and no insert waits long for the deletion.
            var slowest = TimeSpan.Zero;
            var seenMidway = new List<long>();
            using (var store = ts.Open())
            {
                for (int i = 0; i < 200 && !remover.HasExited; i++)
                {
                    var sw = Stopwatch.StartNew();
                    using (var tx = store.BeginTransaction())
                    using (var writer = new TraceWriter(store, tx))
                    {
                        writer.Write(TestStore.MakeTrace($"new-{i:D3}", e, 500 + i, tags: new Dictionary<string, string> { ["mlflow.traceName"] = "new" }));
                        tx.Commit();
                    }
                    if (sw.Elapsed > slowest) slowest = sw.Elapsed;
                    seenMidway.Add(Originals());
                    System.Threading.Thread.Sleep(2);
                }
            }
            Assert.True(remover.WaitForExit(120_000), "Remove-Trace did not finish");
            Assert.True(remover.ExitCode == 0, remover.StandardError.ReadToEnd() + remover.StandardOutput.ReadToEnd());
            Assert.Contains(seenMidway, n => n > 0 && n < 3000);
            Assert.Equal(0, Originals());
            long written = seenMidway.Count;
            Assert.Equal(written, ts.Scalar("SELECT count(*) FROM trace_info WHERE request_id LIKE 'new-%'"));
            Assert.Equal(written, ts.Scalar("SELECT count(*) FROM trace_tags WHERE request_id LIKE 'new-%'"));
            // Row locks: a writer of other traces never waits for a batch to finish (generous bound for a busy CI).
            Assert.True(slowest < TimeSpan.FromSeconds(5), $"an insert waited {slowest.TotalMilliseconds:N0} ms");
        }
    }
}

namespace MlTraces.Tests.Postgres
{
    /// <summary>
    /// Where MLflow's SQL behaves differently on PostgreSQL than on SQLite, MlTraces does what MLflow does on each: the
    /// same filter on the same traces, and the answer each database gives MLflow.
    /// </summary>
    public class PostgresBehaviourTests
    {
        private static readonly Trace[] Traces =
        {
            TestStore.MakeTrace("tr-a", "0", 1, 5, tags: new Dictionary<string, string> { ["k"] = "a_b" }),
            TestStore.MakeTrace("tr-b", "0", 2, null, tags: new Dictionary<string, string> { ["k"] = "a\\_b" }),
            TestStore.MakeTrace("tr-c", "0", 3, 7, tags: new Dictionary<string, string> { ["k"] = "7" }),
            TestStore.MakeTrace("tr-d", "0", 4, 1, tags: new Dictionary<string, string> { ["k"] = "ÄRGER" }),
        };

        private static List<string> Ids(TestStore ts, string? filter, params string[] orderBy)
        {
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["f"] = filter, ["o"] = orderBy };
            return sh.Ids(filter == null ? "Search-Trace -OrderBy $o" : "Search-Trace -Filter $f", vars);
        }

        [Fact]
        public void LikeEscapesRegexDialectAndNullOrderFollowMlflowOnEachDatabase()
        {
            using var lite = TestStore.CreateEmpty(StoreKind.Sqlite);
            using var pg = TestStore.CreateEmpty(StoreKind.Postgres);
            lite.AddTraces(Traces);
            pg.AddTraces(Traces);

            // SQLAlchemy writes LIKE without ESCAPE: PostgreSQL's default escape character is the backslash, SQLite has none.
            const string like = "tag.k LIKE 'a\\_b'";
            Assert.Equal(new[] { "tr-b" }, Ids(lite, like));
            Assert.Equal(new[] { "tr-a" }, Ids(pg, like));

            // RLIKE: Python's re.search through a registered function on SQLite, POSIX regular expressions (~) on
            // PostgreSQL, where [[:digit:]] is a character class.
            const string rlike = "tag.k RLIKE '^[[:digit:]]$'";
            Assert.Empty(Ids(lite, rlike));
            Assert.Equal(new[] { "tr-c" }, Ids(pg, rlike));

            // The same on both: MLflow orders NULLs last itself (CASE WHEN ... IS NULL), whatever the database's rule.
            Assert.Equal(new[] { "tr-d", "tr-a", "tr-c", "tr-b" }, Ids(lite, null, "execution_time ASC"));
            Assert.Equal(Ids(lite, null, "execution_time ASC"), Ids(pg, null, "execution_time ASC"));
            Assert.Equal(Ids(lite, null, "execution_time DESC"), Ids(pg, null, "execution_time DESC"));
            // ILIKE with ASCII letters agrees (lower() LIKE lower() on SQLite, ILIKE on PostgreSQL).
            Assert.Equal(Ids(lite, "tag.k ILIKE 'A_B'"), Ids(pg, "tag.k ILIKE 'A_B'"));
        }
    }
}
