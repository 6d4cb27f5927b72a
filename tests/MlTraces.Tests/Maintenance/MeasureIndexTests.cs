using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using MlTraces.Core.Maintenance;
using MlTraces.Core.Store;
using MlTraces.Shell;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Maintenance
{
    /// <summary>
    /// The opt-in measure indexes (Optimize-TraceStore -MeasureIndex): the dry run changes nothing and names what the
    /// real run creates; with them Measure-TraceStore gives exactly the figures it gives without; MLflow's own
    /// driver (Python's sqlite3, an older SQLite than the bundled one) keeps writing into a store that has them and
    /// the figures follow; a migration that recreates a table without them, or an index of our name with another
    /// definition, makes Measure-TraceStore scan again, never guess; Remove takes exactly ours away.
    /// </summary>
    public class MeasureIndexTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static readonly Dictionary<string, int> Sizes = new Dictionary<string, int> { ["alpha"] = 40, ["beta"] = 9, ["deleted-gamma"] = 7 };
        private const string Measure = "Measure-TraceStore -ConfigPath $config -OlderThan 2d -Verbose";
        private const string Hint = "-MeasureIndex Create";

        private static List<string> OurIndexes(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'mltraces%' ORDER BY name");
            using var r = cmd.ExecuteReader();
            var names = new List<string>();
            while (r.Read()) names.Add(r.GetString(0));
            return names;
        }

        /// <summary>Every figure of every experiment, as one comparable list.</summary>
        private static List<string> Figures(IEnumerable<ExperimentUsage> rows) => rows.OrderBy(r => r.ExperimentId).Select(r =>
            $"{r.ExperimentId} traces={r.Traces} states={string.Join(",", r.TracesByState.OrderBy(kv => kv.Key).Select(kv => kv.Key + ":" + kv.Value))} " +
            $"spans={r.Spans} bytes={r.PayloadBytes} assessments={r.Assessments} archived={r.ArchivedTraces}/{r.ArchivedBytes} " +
            $"oldest={r.OldestTrace?.ToUnixTimeMilliseconds()} newest={r.NewestTrace?.ToUnixTimeMilliseconds()} " +
            $"next={r.NextArchivalTraces}/{r.NextArchivalBytes} older={r.OlderThanTraces}/{r.OlderThanBytes}").ToList();

        /// <summary>The figures computed by hand from the rows (octet_length over every span row, no index).</summary>
        private static List<string> ByHand(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT experiment_id, count(*), sum(octet_length(content)) FROM spans GROUP BY experiment_id ORDER BY experiment_id");
            using var r = cmd.ExecuteReader();
            var rows = new List<string>();
            while (r.Read()) rows.Add($"{r.GetInt64(0)} spans={r.GetInt64(1)} bytes={r.GetInt64(2)}");
            return rows;
        }

        private static List<string> SpanFigures(IEnumerable<ExperimentUsage> rows) =>
            rows.Where(r => r.Spans > 0).OrderBy(r => long.Parse(r.ExperimentId)).Select(r => $"{r.ExperimentId} spans={r.Spans} bytes={r.PayloadBytes}").ToList();

        private static RunResult Ok(RunResult r)
        {
            Assert.False(r.Failed, r.Terminating?.Message ?? string.Join("; ", r.Errors));
            return r;
        }

        [Fact]
        public void TheDryRunChangesNothingAndTheFiguresWithTheIndexesAreTheSame()
        {
            if (Kind != StoreKind.Sqlite) return;
            using var m = new MaintenanceStore(Kind, Sizes);
            using var sh = new PsShell(m.Store);
            var vars = new Dictionary<string, object?> { ["config"] = m.Config };
            var scan = Ok(sh.Run(Measure, vars));
            var without = Figures(scan.Output.Select(o => (ExperimentUsage)o.BaseObject));
            // Without them, the scan says how to make it fast.
            Assert.Contains(scan.Verbose, v => v.Message.Contains(Hint));
            Assert.False(sh.Objects<StoreUsage>("Measure-TraceStore -By Store").Single().MeasureIndexes);

            string state = m.Store.Fingerprint();
            var dry = Ok(sh.Run("Optimize-TraceStore -MeasureIndex Create -WhatIf"));
            var planned = (StoreOptimization)dry.Output.Single().BaseObject;
            Assert.Equal(state, m.Store.Fingerprint());
            Assert.Empty(OurIndexes(m.Store));
            Assert.Equal(MeasureIndexes.All.Select(i => i.Name), planned.Tables);
            Assert.True(planned.IndexBytes > 0, "the dry run estimates the indexes' size");
            foreach (var i in MeasureIndexes.All) Assert.Contains(i.Name, dry.HostText);
            Assert.Contains("bytes more in the store", dry.HostText);

            var done = (StoreOptimization)Ok(sh.Run("Optimize-TraceStore -MeasureIndex Create -Confirm:$false")).Output.Single().BaseObject;
            // The real run creates exactly what the dry run named.
            Assert.Equal(planned.Tables, done.Tables);
            Assert.Equal(planned.Method, done.Method);
            Assert.Equal(MeasureIndexes.All.Select(i => i.Name).OrderBy(n => n, StringComparer.Ordinal), OurIndexes(m.Store));
            Assert.True(done.IndexBytes > 0);

            var fast = Ok(sh.Run(Measure, vars));
            Assert.Equal(without, Figures(fast.Output.Select(o => (ExperimentUsage)o.BaseObject)));
            Assert.DoesNotContain(fast.Verbose, v => v.Message.Contains(Hint));
            foreach (var row in fast.Output.Select(o => (ExperimentUsage)o.BaseObject))
                Assert.Equal(Figures(new[] { m.Expected(row.ExperimentId, TimeSpan.FromDays(2), withConfig: true) }).Single().Split(' ').Skip(1),
                    Figures(new[] { row }).Single().Split(' ').Skip(1));
            Assert.True(sh.Objects<StoreUsage>("Measure-TraceStore -By Store").Single().MeasureIndexes);
            // Creating them again is nothing to do.
            var again = (StoreOptimization)Ok(sh.Run("Optimize-TraceStore -MeasureIndex Create -Confirm:$false")).Output.Single().BaseObject;
            Assert.Empty(again.Tables);
        }

        /// <summary>MLflow writes spans with Python's sqlite3: it must keep inserting, updating and deleting with the
        /// indexes there (only core SQL in them), and the figures must follow exactly.</summary>
        [Python3Fact]
        public void MlflowsDriverKeepsWritingAndTheFiguresFollow()
        {
            if (Kind != StoreKind.Sqlite) return;
            string python = Python3FactAttribute.Path() ?? throw new InvalidOperationException("python3 is not on PATH (CI installs it).");
            using var m = new MaintenanceStore(Kind, Sizes);
            using var sh = new PsShell(m.Store);
            Ok(sh.Run("Optimize-TraceStore -MeasureIndex Create -Confirm:$false"));
            string alpha = m.Experiments["alpha"], beta = m.Experiments["beta"];
            string victim = m.Traces.First(t => t.ExperimentId == beta && t.Spans!.Count > 1).TraceId;
            string changed = m.Traces.First(t => t.ExperimentId == alpha && t.Spans!.Count > 0).TraceId;
            string script = Path.Combine(m.Store.Folder, "mlflow-writes.py");
            File.WriteAllText(script, $@"
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute('PRAGMA foreign_keys = ON')
now = int(time.time() * 1000)
c.execute(""INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status) VALUES ('tr-from-python', {alpha}, ?, 5, 'OK')"", (now,))
for i, text in enumerate(['{{""a"": ""\u00e9\u00e9\u4e2d""}}', 'x' * 5000, '']):
    c.execute(""INSERT INTO spans (trace_id, experiment_id, span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content) VALUES ('tr-from-python', {alpha}, ?, 'n', 'LLM', 'OK', 1, 2, ?)"", ('%016x' % i, text))
c.execute(""UPDATE spans SET content = '' WHERE trace_id = '{changed}'"")
c.execute(""DELETE FROM trace_info WHERE request_id = '{victim}'"")
c.commit()
print(c.execute('PRAGMA integrity_check').fetchone()[0], sqlite3.sqlite_version)
");
            var (code, output) = Run(python, script, m.Store.Path);
            Assert.True(code == 0, output);
            Assert.StartsWith("ok ", output.Trim());
            var rows = sh.Objects<ExperimentUsage>("Measure-TraceStore");
            Assert.Equal(ByHand(m.Store), SpanFigures(rows));
            Assert.Equal(m.Store.Scalar("SELECT count(*) FROM trace_info"), rows.Sum(r => r.Traces));
            Assert.True(sh.Objects<StoreUsage>("Measure-TraceStore -By Store").Single().MeasureIndexes);
        }

        /// <summary>An alembic batch migration recreates a table (copy, drop, rename) and creates again only the
        /// indexes it can reflect: ours on an expression are gone, and one may come back under our name with another
        /// definition. Measure-TraceStore then scans as without them, with the same figures.</summary>
        [Fact]
        public void AfterAMigrationDropsOrChangesAnIndexMeasureScansAgain()
        {
            if (Kind != StoreKind.Sqlite) return;
            using var m = new MaintenanceStore(Kind, Sizes);
            using var sh = new PsShell(m.Store);
            var vars = new Dictionary<string, object?> { ["config"] = m.Config };
            var expected = Figures(sh.Objects<ExperimentUsage>(Measure, vars));
            Ok(sh.Run("Optimize-TraceStore -MeasureIndex Create -Confirm:$false"));
            using (var store = m.Store.Open(StoreAccess.ReadWrite))
            {
                string ddl;
                using (var cmd = store.Command("SELECT sql FROM sqlite_master WHERE name = 'spans'")) ddl = (string)cmd.ExecuteScalar()!;
                var mlflowIndexes = new List<string>();
                using (var cmd = store.Command("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'spans' AND sql IS NOT NULL AND name NOT LIKE 'mltraces%'"))
                using (var r = cmd.ExecuteReader()) while (r.Read()) mlflowIndexes.Add(r.GetString(0));
                // As alembic's batch mode does it, with foreign keys off meanwhile as MLflow's migrations run.
                foreach (var sql in new[] { "PRAGMA foreign_keys = OFF", ddl.Replace("CREATE TABLE spans", "CREATE TABLE _alembic_tmp_spans"),
                             "INSERT INTO _alembic_tmp_spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content) " +
                             "SELECT trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content FROM spans",
                             "DROP TABLE spans", "ALTER TABLE _alembic_tmp_spans RENAME TO spans" }.Concat(mlflowIndexes))
                {
                    using var cmd = store.Command(sql);
                    cmd.ExecuteNonQuery();
                }
            }
            Assert.DoesNotContain("mltraces_spans_experiment_bytes", OurIndexes(m.Store));
            var after = sh.Run(Measure, vars);
            Assert.Equal(expected, Figures(Ok(after).Output.Select(o => (ExperimentUsage)o.BaseObject)));
            Assert.Contains(after.Verbose, v => v.Message.Contains(Hint));

            // Our name, another definition (one that would count every span's bytes as 0): not ours, so not read.
            using (var store = m.Store.Open(StoreAccess.ReadWrite))
            using (var cmd = store.Command("CREATE INDEX mltraces_spans_experiment_bytes ON spans (experiment_id, length(name))")) cmd.ExecuteNonQuery();
            Ok(sh.Run("Optimize-TraceStore -MeasureIndex Create -Confirm:$false", vars));
            // Create replaced it with ours, and said so.
            Assert.Equal(MeasureIndexes.All.Select(i => i.Name).OrderBy(n => n, StringComparer.Ordinal), OurIndexes(m.Store));
            using (var store = m.Store.Open(StoreAccess.ReadWrite))
            {
                using (var cmd = store.Command("DROP INDEX mltraces_trace_tags_archived")) cmd.ExecuteNonQuery();
                // What a reflection that lost the partial index's WHERE would create again.
                using (var cmd = store.Command("CREATE INDEX mltraces_trace_tags_archived ON trace_tags (request_id)")) cmd.ExecuteNonQuery();
            }
            var partial = sh.Run(Measure, vars);
            Assert.Equal(expected, Figures(Ok(partial).Output.Select(o => (ExperimentUsage)o.BaseObject)));
            Assert.Contains(partial.Verbose, v => v.Message.Contains(Hint));
        }

        [Fact]
        public void RemoveTakesAwayExactlyOursAndItsDryRunChangesNothing()
        {
            if (Kind != StoreKind.Sqlite) return;
            using var m = new MaintenanceStore(Kind, Sizes);
            using var sh = new PsShell(m.Store);
            Ok(sh.Run("Optimize-TraceStore -MeasureIndex Create -Confirm:$false"));
            using (var store = m.Store.Open(StoreAccess.ReadWrite))
            using (var cmd = store.Command("CREATE INDEX mltraces_someone_elses ON spans (name)")) cmd.ExecuteNonQuery();
            long mlflowIndexes = m.Store.Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'mltraces%'");
            string state = m.Store.Fingerprint();
            var dry = Ok(sh.Run("Optimize-TraceStore -MeasureIndex Remove -WhatIf"));
            Assert.Equal(state, m.Store.Fingerprint());
            var planned = (StoreOptimization)dry.Output.Single().BaseObject;
            Assert.Equal(MeasureIndexes.All.Select(i => i.Name).OrderBy(n => n, StringComparer.Ordinal), planned.Tables);
            Assert.DoesNotContain("mltraces_someone_elses", dry.HostText);
            var done = (StoreOptimization)Ok(sh.Run("Optimize-TraceStore -MeasureIndex Remove -Confirm:$false")).Output.Single().BaseObject;
            Assert.Equal(planned.Tables, done.Tables);
            Assert.Equal(new[] { "mltraces_someone_elses" }, OurIndexes(m.Store));
            Assert.Equal(mlflowIndexes, m.Store.Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'mltraces%'"));
            Assert.True(done.IndexBytes > 0 && done.FreeBytesAfter > done.FreeBytesBefore, $"{done.FreeBytesBefore} -> {done.FreeBytesAfter}");
        }

        [Fact]
        public void PostgresRefusesTheIndexesAndChangesNothing()
        {
            if (Kind != StoreKind.Postgres) return;
            using var m = new MaintenanceStore(Kind, new Dictionary<string, int> { ["alpha"] = 5 });
            using var sh = new PsShell(m.Store);
            string state = m.Store.Fingerprint();
            var r = sh.Run("Optimize-TraceStore -MeasureIndex Create -Confirm:$false");
            Assert.Equal("MeasureIndexNotSupported,MlTraces.Commands.OptimizeTraceStoreCommand", (r.Errors.SingleOrDefault()?.FullyQualifiedErrorId ?? (r.Terminating as System.Management.Automation.IContainsErrorRecord)?.ErrorRecord.FullyQualifiedErrorId));
            Assert.Equal(state, m.Store.Fingerprint());
            Assert.Equal(0, m.Store.Scalar("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'mltraces%'"));
        }


        private static (int Code, string Output) Run(string file, params string[] args)
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
    }

    /// <summary>A fact that needs python3 (MLflow's own SQLite driver, its sqlite3 module): skipped with the reason
    /// where it is missing outside CI; in CI (CI=true), where .ci/run installs it, a missing python3 fails it.</summary>
    public sealed class Python3FactAttribute : FactAttribute
    {
        public static string? Path()
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator))
                if (dir.Length > 0 && File.Exists(System.IO.Path.Combine(dir, "python3"))) return System.IO.Path.Combine(dir, "python3");
            return null;
        }

        public Python3FactAttribute()
        {
            if (Path() == null && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                Skip = "python3 is not on PATH: MLflow's own SQLite driver (Python's sqlite3) cannot be tried here (install Debian's python3; .ci/run does).";
        }
    }

    public class MeasureIndexTestsOnPostgres : MeasureIndexTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
