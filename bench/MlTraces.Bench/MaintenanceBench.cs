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

                // Warm both, and check they agree.
                // The SQL's age cutoffs are the tool's (taken as it starts), so both count the same traces.
                long start = DateTimeOffset.UtcNow.AddDays(-days).ToUnixTimeMilliseconds();
                var tool = Totals(Objects(shell, measure, vars));
                var sql = Totals(PlainSql(copy, start));
                Say("| figure (sum over the experiments) | value |");
                Say("|---|---:|");
                foreach (var kv in tool) Say($"| {kv.Key} | {kv.Value:N0} |{(sql[kv.Key] == kv.Value ? " (plain SQL: the same)" : $" (plain SQL: {sql[kv.Key]:N0})")} |");
                Say("");

                var toolMs = new List<double>(); var sqlMs = new List<double>();
                var toolWait = new List<double>(); var sqlWait = new List<double>();
                int toolFailed = 0, sqlFailed = 0;
                for (int i = 0; i < a.Runs; i++)
                {
                    using (var w = new Writer(copy)) { toolMs.Add(Stats.Time(() => Objects(shell, measure, vars))); toolWait.Add(w.Stop()); toolFailed += w.Failures; }
                    using (var w = new Writer(copy)) { sqlMs.Add(Stats.Time(() => PlainSql(copy, cutoff_ms(days)))); sqlWait.Add(w.Stop()); sqlFailed += w.Failures; }
                }
                Say("| what | Measure-TraceStore | plain SQL | ratio |");
                Say("|---|---:|---:|---:|");
                Say($"| time (median) | {Stats.Median(toolMs) / 1000:0.00} s | {Stats.Median(sqlMs) / 1000:0.00} s | {Stats.Median(toolMs) / Stats.Median(sqlMs):0.00}x |");
                Say($"| a writer's longest wait for its commit meanwhile (worst run) | {toolWait.Max():0} ms | {sqlWait.Max():0} ms | |");
                Say($"| the writer's commits that failed, locked past MLflow's 20 s busy timeout | {toolFailed} | {sqlFailed} | |");
                Say($"(load {Load()})");
                Say("");

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

        private static long cutoff_ms(int days) => DateTimeOffset.UtcNow.AddDays(-days).ToUnixTimeMilliseconds();

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
        /// connection with MLflow's session settings. The spans are read in rowid order (+experiment_id keeps SQLite
        /// from walking the experiment index and fetching every row out of order).</summary>
        private static List<ExperimentUsage> PlainSql(string path, long cutoff)
        {
            using var c = Open(path, StoreAccess.ReadOnly);
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
            const string bytes = "(SELECT coalesce(sum(octet_length(s.content)), 0) FROM spans s WHERE s.trace_id = ti.request_id)";
            const string held = "EXISTS (SELECT 1 FROM trace_tags lh WHERE lh.request_id = ti.request_id AND lh.\"key\" = 'mltraces.legalHold' AND lower(trim(coalesce(lh.value, ''))) NOT IN ('', 'false', '0', 'no', 'off'))";
            Each("SELECT experiment_id, status, count(*) FROM trace_info GROUP BY experiment_id, status", r =>
            {
                var u = Row(r); long n = r.GetInt64(2); u.Traces += n; u.TracesByState[r.GetString(1)] = n;
            });
            Each("SELECT experiment_id, count(*), sum(octet_length(content)) FROM spans GROUP BY +experiment_id", r => { var u = Row(r); u.Spans = r.GetInt64(1); u.PayloadBytes = r.GetInt64(2); });
            Each("SELECT ti.experiment_id, count(*) FROM assessments a JOIN trace_info ti ON ti.request_id = a.trace_id GROUP BY ti.experiment_id", r => Row(r).Assessments = r.GetInt64(1));
            Each("SELECT ti.experiment_id, count(*) FROM trace_tags t JOIN trace_info ti ON ti.request_id = t.request_id WHERE t.\"key\" = 'mlflow.trace.spansLocation' AND t.value = 'ARCHIVE_REPO' GROUP BY ti.experiment_id", r => Row(r).ArchivedTraces = r.GetInt64(1));
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
