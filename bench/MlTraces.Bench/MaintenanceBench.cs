using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Store;
using MlTraces.Shell;

namespace MlTraces.Bench
{
    /// <summary>
    /// Measure-TraceStore against the plain SQL that computes the same numbers on the same file, in one run, and
    /// Optimize-TraceStore after Remove-Trace deleted N (100,000) of the traces: bytes given back, time, lock time.
    /// Both run on a copy of the store in --work (the source is only read), so a writer can commit into it meanwhile:
    /// its longest wait while Measure-TraceStore reads is the figure for "never blocks a writer for long".
    /// The retention and the -OlderThan are chosen so that about N traces are due.
    /// </summary>
    public static class MaintenanceBench
    {
        public static int Run(Args a)
        {
            if (a.IsPostgres) throw new ArgumentException("maintenance: SQLite stores only (PostgreSQL readers never block a writer).");
            Directory.CreateDirectory(a.Work);
            string copy = Path.Combine(a.Work, "maintenance-bench.db");
            if (string.Equals(Path.GetFullPath(copy), a.Store, StringComparison.Ordinal)) throw new ArgumentException("--work must not hold the source store.");
            var lines = new List<string> { $"## Measure-TraceStore and Optimize-TraceStore, {Path.GetFileName(a.Store)}", "" };
            void Say(string line) { lines.Add(line); Console.WriteLine(line); }
            var clock = Stopwatch.StartNew();
            File.Copy(a.Store, copy, overwrite: true);
            using (var sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false })!) sync.WaitForExit();
            Say($"Copied the store to {copy} in {clock.Elapsed.TotalSeconds:0} s (load {Load()}).");
            try
            {
                long cutoff, traces;
                using (var c = Open(copy, StoreAccess.ReadOnly))
                {
                    cutoff = Scalar(c, $"SELECT timestamp_ms FROM trace_info ORDER BY timestamp_ms LIMIT 1 OFFSET {a.Traces - 1}");
                    traces = Scalar(c, "SELECT count(*) FROM trace_info");
                }
                int days = (int)((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - cutoff) / 86_400_000L);
                string config = Path.Combine(a.Work, "maintenance-bench.yaml");
                File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(a.Work, "maintenance-archive")).AbsoluteUri}\n  retention: {days}d\n");
                using var shell = new ShellSession(width: 120);
                var vars = new Dictionary<string, object?> { ["store"] = copy, ["config"] = config };
                string measure = $"Measure-TraceStore -TrackingUri $store -ConfigPath $config -OlderThan {days}d";
                Say($"`{measure}` (retention {days}d: about {a.Traces:N0} of {traces:N0} traces due) against plain SQL, warm, median of {a.Runs}, interleaved:");
                Say("");

                // Warm both, and check they agree: without the measure indexes, then with them (the tool reads them,
                // the plain SQL is given the same indexes, each question one statement). The SQL's age cutoffs are the
                // tool's (taken as it starts), so both count the same traces.
                long start = DateTimeOffset.UtcNow.AddDays(-days).ToUnixTimeMilliseconds();
                var tool = Totals(Objects(shell, measure, vars));
                var sql = Totals(PlainSql(copy, start, indexed: false));
                Say("| figure (sum over the experiments) | value |");
                Say("|---|---:|");
                foreach (var kv in tool) Say($"| {kv.Key} | {kv.Value:N0} |{(sql[kv.Key] == kv.Value ? " (plain SQL: the same)" : $" (plain SQL: {sql[kv.Key]:N0})")} |");
                Say("");
                var scanned = Time(shell, measure, vars, copy, days, indexed: false, a.Runs);

                var indexPlan = (StoreOptimization)Check(shell.Invoke("Optimize-TraceStore -TrackingUri $store -MeasureIndex Create -WhatIf", vars)).Output.Single().BaseObject;
                var indexRun = (StoreOptimization)Check(shell.Invoke("Optimize-TraceStore -TrackingUri $store -MeasureIndex Create -Confirm:$false", vars)).Output.Single().BaseObject;
                Say($"`Optimize-TraceStore -MeasureIndex Create`: {indexRun.Duration.TotalSeconds:0.0} s, writers held up at most {indexRun.LockTime?.TotalSeconds:0.0} s at a time " +
                    $"(-WhatIf said about {indexPlan.ExpectedLockTime.TotalSeconds:0} s); the indexes take {indexRun.IndexBytes:N0} bytes (-WhatIf said about {indexPlan.IndexBytes:N0}), " +
                    $"{(double)indexRun.IndexBytes.GetValueOrDefault() / indexRun.BytesBefore:P1} of the store (load {Load()}).");
                // The same moment for all four (the age cutoffs move with the clock): the tool and the plain SQL, each
                // with the indexes and without.
                long now = DateTimeOffset.UtcNow.AddDays(-days).ToUnixTimeMilliseconds();
                var withIndex = Totals(Objects(shell, measure, vars));
                var sqlIndexed = Totals(PlainSql(copy, now, indexed: true));
                var sqlScanned = Totals(PlainSql(copy, now, indexed: false));
                int different = 0;
                foreach (var kv in withIndex)
                    if (sqlIndexed[kv.Key] != kv.Value || sqlScanned[kv.Key] != kv.Value)
                    {
                        different++;
                        Say($"DIFFERENT with the indexes: {kv.Key}: Measure-TraceStore {kv.Value:N0}, plain SQL {sqlIndexed[kv.Key]:N0} with the indexes, {sqlScanned[kv.Key]:N0} without");
                    }
                if (different == 0) Say("With the indexes Measure-TraceStore gives every figure as the plain SQL does, with the indexes and without.");
                Say("");
                var indexed = Time(shell, measure, vars, copy, days, indexed: true, a.Runs);
                Say("| what | Measure-TraceStore | plain SQL (same indexes) | ratio |");
                Say("|---|---:|---:|---:|");
                foreach (var (name, t) in new[] { ("without the measure indexes", scanned), ("with them (-MeasureIndex Create)", indexed) })
                {
                    Say($"| {name}: time (median of {a.Runs}) | {Stats.Median(t.Tool) / 1000:0.00} s | {Stats.Median(t.Sql) / 1000:0.00} s | {Stats.Median(t.Tool) / Stats.Median(t.Sql):0.00}x |");
                    Say($"| {name}: a writer's longest wait for its commit meanwhile (worst run) | {t.ToolWait.Max():0} ms | {t.SqlWait.Max():0} ms | |");
                    Say($"| {name}: the writer's commits that failed past MLflow's 20 s busy timeout | {t.ToolFailed} | {t.SqlFailed} | |");
                }
                Say($"(load {Load()})");
                Say("");
                var removed = (StoreOptimization)Check(shell.Invoke("Optimize-TraceStore -TrackingUri $store -MeasureIndex Remove -Confirm:$false", vars)).Output.Single().BaseObject;
                Say($"`Optimize-TraceStore -MeasureIndex Remove`: {removed.Duration.TotalSeconds:0.0} s; {removed.FreeBytesAfter - removed.FreeBytesBefore:N0} bytes more free inside the store.");
                Say("");

                if (a.Part == "measure") { Stats.Report(a.Out, lines); return 0; }
                // Optimize: delete the N oldest, then the dry run and the real run.
                var delete = Stats.Time(() => Check(shell.Invoke($"Remove-Trace -TrackingUri $store -OlderThan {days}d -Confirm:$false", vars)));
                long left;
                using (var c = Open(copy, StoreAccess.ReadOnly)) left = Scalar(c, "SELECT count(*) FROM trace_info");
                using (var sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false })!) sync.WaitForExit();
                Say($"`Remove-Trace -OlderThan {days}d` deleted {traces - left:N0} traces in {delete / 1000:0} s (load {Load()}).");
                var plan = (StoreOptimization)Check(shell.Invoke("Optimize-TraceStore -TrackingUri $store -WhatIf", vars)).Output.Single().BaseObject;
                var done = (StoreOptimization)Check(shell.Invoke("Optimize-TraceStore -TrackingUri $store -Confirm:$false", vars)).Output.Single().BaseObject;
                Say("");
                Say("| Optimize-TraceStore | -WhatIf said | the run did |");
                Say("|---|---:|---:|");
                Say($"| bytes before | {plan.BytesBefore:N0} | {done.BytesBefore:N0} |");
                Say($"| bytes given back | at least {plan.ExpectedBytesFreed:N0} | {done.BytesFreed:N0} |");
                Say($"| bytes after | | {done.BytesAfter:N0} |");
                Say($"| store locked | about {plan.ExpectedLockTime.TotalSeconds:0} s | {done.LockTime?.TotalSeconds:0.0} s |");
                Say($"| whole run | | {done.Duration.TotalSeconds:0.0} s |");
                Say($"| disk space needed | {string.Join("; ", plan.DiskSpaceNeeded.Select(kv => $"{kv.Value:N0} on {kv.Key} ({plan.DiskSpaceAvailable.GetValueOrDefault(kv.Key):N0} free)"))} | |");
                Say($"(method {done.Method}; load {Load()}; {(done.BytesAfter ?? 0) / (done.LockTime?.TotalSeconds ?? 1) / 1048576:0} MB of store per second locked)");
                using (var c = Open(copy, StoreAccess.ReadOnly))
                using (var cmd = c.CreateCommand())
                {
                    cmd.CommandText = "PRAGMA quick_check";
                    cmd.CommandTimeout = 0;
                    Say($"quick_check after: {cmd.ExecuteScalar()}");
                }
            }
            finally
            {
                foreach (var extra in new[] { "", "-journal", "-wal", ArchiveLockSuffix }) if (File.Exists(copy + extra)) File.Delete(copy + extra);
            }
            Stats.Report(a.Out, lines);
            return 0;
        }

        private const string ArchiveLockSuffix = ".mltraces-archive.lock";

        private static long CutoffMs(int days) => DateTimeOffset.UtcNow.AddDays(-days).ToUnixTimeMilliseconds();

        private sealed class Timing
        {
            public List<double> Tool = new List<double>(), Sql = new List<double>(), ToolWait = new List<double>(), SqlWait = new List<double>();
            public int ToolFailed, SqlFailed;
        }

        /// <summary>The tool and the plain SQL, interleaved, each with a writer committing meanwhile.</summary>
        private static Timing Time(ShellSession shell, string measure, Dictionary<string, object?> vars, string copy, int days, bool indexed, int runs)
        {
            var t = new Timing();
            for (int i = 0; i < runs; i++)
            {
                using (var w = new Writer(copy)) { t.Tool.Add(Stats.Time(() => Objects(shell, measure, vars))); t.ToolWait.Add(w.Stop()); t.ToolFailed += w.Failures; }
                using (var w = new Writer(copy)) { t.Sql.Add(Stats.Time(() => PlainSql(copy, CutoffMs(days), indexed))); t.SqlWait.Add(w.Stop()); t.SqlFailed += w.Failures; }
            }
            return t;
        }

        private static string Load() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

        private static RunResult Check(RunResult r)
        {
            if (r.Failed) throw new Exception(r.Terminating?.Message ?? r.Errors[0].ToString());
            return r;
        }

        private static List<ExperimentUsage> Objects(ShellSession shell, string script, Dictionary<string, object?> vars) =>
            Check(shell.Invoke(script, vars)).Output.Select(o => (ExperimentUsage)o.BaseObject).ToList();

        private static SortedDictionary<string, long> Totals(List<ExperimentUsage> rows) => new SortedDictionary<string, long>
        {
            ["traces"] = rows.Sum(r => r.Traces), ["error traces"] = rows.Sum(r => r.ErrorTraces), ["spans"] = rows.Sum(r => r.Spans),
            ["payload bytes"] = rows.Sum(r => r.PayloadBytes), ["assessments"] = rows.Sum(r => r.Assessments),
            ["archived traces"] = rows.Sum(r => r.ArchivedTraces), ["next pass traces"] = rows.Sum(r => r.NextArchivalTraces ?? 0),
            ["next pass bytes"] = rows.Sum(r => r.NextArchivalBytes ?? 0), ["-OlderThan traces"] = rows.Sum(r => r.OlderThanTraces ?? 0),
            ["-OlderThan bytes"] = rows.Sum(r => r.OlderThanBytes ?? 0),
        };

        /// <summary>The same figures by hand: one grouped statement per question, each table read once, on a
        /// connection with MLflow's session settings and the tool's page cache. Without the indexes the spans are read
        /// in rowid order (+experiment_id keeps SQLite from walking the experiment index and fetching every row out of
        /// order); with them, each question reads the narrow index the tool reads.</summary>
        private static List<ExperimentUsage> PlainSql(string path, long cutoff, bool indexed)
        {
            using var c = Open(path, StoreAccess.ReadOnly);
            using (var cache = c.CreateCommand()) { cache.CommandText = "PRAGMA cache_size = -262144"; cache.ExecuteNonQuery(); }
            string length = indexed ? "length(CAST(s.content AS BLOB))" : "octet_length(s.content)";
            var rows = new Dictionary<string, ExperimentUsage>();
            ExperimentUsage Row(DbDataReader r) { string id = Convert.ToString(r.GetValue(0), CultureInfo.InvariantCulture)!; return rows.TryGetValue(id, out var u) ? u : rows[id] = new ExperimentUsage { ExperimentId = id }; }
            void Each(string sql, Action<DbDataReader> add)
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = sql;
                cmd.CommandTimeout = 0;
                using var r = cmd.ExecuteReader();
                while (r.Read()) add(r);
            }
            string bytes = $"(SELECT coalesce(sum({length}), 0) FROM spans s WHERE s.trace_id = ti.request_id)";
            const string held = "EXISTS (SELECT 1 FROM trace_tags lh WHERE lh.request_id = ti.request_id AND lh.\"key\" = 'mltraces.legalHold' AND lower(trim(coalesce(lh.value, ''))) NOT IN ('', 'false', '0', 'no', 'off'))";
            Each($"SELECT experiment_id, status, count(*) FROM trace_info {(indexed ? "INDEXED BY mltraces_trace_info_experiment_state " : "")}GROUP BY experiment_id, status", r =>
            {
                var u = Row(r); long n = r.GetInt64(2); u.Traces += n; u.TracesByState[r.GetString(1)] = n;
            });
            Each(indexed
                    ? "SELECT experiment_id, count(*), sum(length(CAST(content AS BLOB))) FROM spans INDEXED BY mltraces_spans_experiment_bytes GROUP BY experiment_id"
                    : "SELECT experiment_id, count(*), sum(octet_length(content)) FROM spans GROUP BY +experiment_id",
                r => { var u = Row(r); u.Spans = r.GetInt64(1); u.PayloadBytes = r.GetInt64(2); });
            Each($"SELECT ti.experiment_id, count(*) FROM assessments a {(indexed ? "CROSS JOIN trace_info ti INDEXED BY mltraces_trace_info_request_experiment" : "JOIN trace_info ti")} ON ti.request_id = a.trace_id GROUP BY ti.experiment_id", r => Row(r).Assessments = r.GetInt64(1));
            Each($"SELECT ti.experiment_id, count(*) FROM trace_tags t {(indexed ? "INDEXED BY mltraces_trace_tags_archived CROSS " : "")}JOIN trace_info ti ON ti.request_id = t.request_id WHERE t.\"key\" = 'mlflow.trace.spansLocation' AND t.value = 'ARCHIVE_REPO' GROUP BY ti.experiment_id", r => Row(r).ArchivedTraces = r.GetInt64(1));
            Each($"SELECT ti.experiment_id, count(*), sum({bytes}) FROM trace_info ti WHERE ti.timestamp_ms <= {cutoff} AND NOT {held} GROUP BY ti.experiment_id",
                r => { var u = Row(r); u.OlderThanTraces = r.GetInt64(1); u.OlderThanBytes = r.GetInt64(2); });
            Each("SELECT experiment_id, count(*), sum(b) FROM (SELECT ti.experiment_id, " + bytes + " AS b FROM trace_info ti JOIN experiments e ON e.experiment_id = ti.experiment_id " +
                 $"WHERE e.lifecycle_stage = 'active' AND ti.timestamp_ms <= {cutoff} AND ti.status <> 'IN_PROGRESS' " +
                 "AND NOT EXISTS (SELECT 1 FROM trace_tags f WHERE f.request_id = ti.request_id AND f.\"key\" = 'mlflow.trace.archivalFailure') " +
                 "AND NOT EXISTS (SELECT 1 FROM trace_tags l WHERE l.request_id = ti.request_id AND l.\"key\" = 'mlflow.trace.spansLocation' AND l.value <> 'TRACKING_STORE') " +
                 $"AND NOT {held}) WHERE b > 0 GROUP BY experiment_id",
                r => { var u = Row(r); u.NextArchivalTraces = r.GetInt64(1); u.NextArchivalBytes = r.GetInt64(2); });
            return rows.Values.ToList();
        }

        /// <summary>A writer committing a small change every 20 ms, as an MLflow server logging traces does; Stop
        /// returns its longest wait for a commit (its busy timeout is MLflow's 20 s).</summary>
        private sealed class Writer : IDisposable
        {
            private readonly Thread _thread;
            private volatile bool _stop;
            private double _longest;
            public int Failures;

            public Writer(string path)
            {
                _thread = new Thread(() =>
                {
                    using var c = Open(path, StoreAccess.ReadWrite);
                    while (!_stop)
                    {
                        var sw = Stopwatch.StartNew();
                        try
                        {
                            using var tx = ((SqliteConnection)c).BeginTransaction(deferred: false);
                            using var cmd = c.CreateCommand();
                            cmd.Transaction = tx;
                            cmd.CommandText = "UPDATE experiments SET last_update_time = last_update_time WHERE experiment_id = 0";
                            cmd.ExecuteNonQuery();
                            tx.Commit();
                        }
                        catch (SqliteException ex) when (ex.SqliteErrorCode == 5)
                        {
                            // Locked out past the busy timeout: an MLflow server's request would have failed here.
                            Failures++;
                        }
                        _longest = Math.Max(_longest, sw.Elapsed.TotalMilliseconds);
                        Thread.Sleep(20);
                    }
                }) { IsBackground = true };
                _thread.Start();
            }

            public double Stop() { _stop = true; _thread.Join(); return _longest; }
            public void Dispose() { if (!_stop) Stop(); }
        }

        private static DbConnection Open(string store, StoreAccess access) => TraceStore.OpenConnection(TrackingUri.Parse(store, "/"), access);

        private static long Scalar(DbConnection c, string sql)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.CommandTimeout = 0;
            return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }
}
