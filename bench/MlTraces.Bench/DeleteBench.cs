using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Delete;
using MlTraces.Core.Store;
using MlTraces.Shell;

namespace MlTraces.Bench
{
    /// <summary>
    /// Remove-Trace deleting N traces (100,000 by default) against plain SQL deleting the same rows with the same
    /// cascades, each on a fresh copy of the same store, in one run: by age (-OlderThan) and by filter, the
    /// Search-Trace | Remove-Trace pipeline against the -Filter form, and -WhatIf against Search-Trace for the
    /// same traces. The SQL is one DELETE in one transaction, on a connection with MLflow's session settings and
    /// the same page cache as Remove-Trace's; every copy is made the same way, so each starts equally warm. The
    /// source store is only read. On PostgreSQL each copy is a new database made from the source with CREATE
    /// DATABASE ... TEMPLATE (a file copy, as fast as the disk), and the previous copy is dropped.
    /// </summary>
    public static class DeleteBench
    {
        private const string Prod = "EXISTS (SELECT 1 FROM trace_tags t WHERE t.request_id = trace_info.request_id AND t.\"key\" = 'env' AND t.value = 'prod')";

        public static int Run(Args a)
        {
            var copies = new Copies(a);
            string work = copies.Next();

            long ageCutoff, filterCutoff;
            using (var c = Open(a.Store, StoreAccess.ReadOnly))
            {
                ageCutoff = Scalar(c, $"SELECT timestamp_ms FROM trace_info ORDER BY timestamp_ms LIMIT 1 OFFSET {a.Traces - 1}");
                filterCutoff = Scalar(c, "SELECT timestamp_ms FROM trace_info WHERE " + Prod + $" ORDER BY timestamp_ms LIMIT 1 OFFSET {a.Traces - 1}");
            }
            // -OlderThan counts in whole minutes back from now: the cutoff lands within a minute after the N-th oldest.
            long minutes = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - ageCutoff) / 60_000;
            string filter = $"tag.env = 'prod' AND timestamp_ms <= {filterCutoff}";
            var lines = new List<string>
            {
                $"## Remove-Trace vs plain SQL, {a.Traces:N0} traces ({TrackingUri.Redact(a.Store)})",
                "",
                $"By age: `Remove-Trace -OlderThan {minutes}m`; by filter: `-Filter \"{filter}\"`. Each deletion on a fresh copy.",
                "",
                "| what | MlTraces | compared with | ratio | target |",
                "|---|---:|---:|---:|---|",
            };
            using var shell = new ShellSession(width: 120);
            var vars = new Dictionary<string, object?> { ["store"] = work, ["filter"] = filter };
            void Fresh() { work = copies.Next(); vars["store"] = work; }
            bool allWithin = true;
            void Row(string what, double tool, string against, double other, double target)
            {
                double ratio = tool / other;
                allWithin &= ratio <= target;
                lines.Add($"| {what} | {tool / 1000:0.0} s | {against} {other / 1000:0.0} s | {ratio:0.00}x | within {target}x{(ratio <= target ? "" : " **NOT MET**")} |");
                Console.WriteLine(lines[lines.Count - 1]);
            }
            int transactions = 0;
            double Run(string script)
            {
                var sw = Stopwatch.StartNew();
                var r = shell.Invoke(script, vars);
                sw.Stop();
                if (r.Failed) throw new Exception(script + ": " + (r.Terminating?.Message ?? r.Errors[0].ToString()));
                var locks = r.Verbose.Select(v => Regex.Match(v.Message, "in a transaction of ([0-9,]+) ms")).Where(m => m.Success)
                    .Select(m => double.Parse(m.Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture)).ToList();
                transactions = locks.Count;
                if (locks.Count > 0)
                    Console.WriteLine($"  {locks.Count} transactions, write lock held {Stats.Median(locks):0} ms median, {locks.Max():0} ms at most");
                return sw.Elapsed.TotalMilliseconds;
            }

            // Reading only: -WhatIf against Search-Trace for the same traces, on the first copy, warm, median of 3.
            Run("$null = Search-Trace -TrackingUri $store -First 1");
            long ageCutoffNow = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - minutes * 60_000;
            string ageFilter = $"timestamp_ms <= {ageCutoffNow}";
            long listed = WhatIfCount(shell.Invoke("Remove-Trace -TrackingUri $store -Filter $filter -WhatIf", vars).HostText);
            long found = (long)(int)shell.Invoke("(Search-Trace -TrackingUri $store -Filter $filter).Count", vars).Output[0].BaseObject;
            if (listed != found) throw new Exception($"-WhatIf lists {listed} traces, Search-Trace finds {found}.");
            var whatIf = new List<double>(); var search = new List<double>(); var whatIfAge = new List<double>(); var searchAge = new List<double>();
            for (int i = 0; i < 3; i++)
            {
                search.Add(Run("$null = Search-Trace -TrackingUri $store -Filter $filter"));
                whatIf.Add(Run("Remove-Trace -TrackingUri $store -Filter $filter -WhatIf"));
                searchAge.Add(Run($"$null = Search-Trace -TrackingUri $store -Filter '{ageFilter}'"));
                whatIfAge.Add(Run($"Remove-Trace -TrackingUri $store -OlderThan {minutes}m -WhatIf"));
            }

            // By age, then the same rows by SQL: those older than the oldest trace Remove-Trace left.
            double toolAge = Run($"Remove-Trace -TrackingUri $store -OlderThan {minutes}m -Confirm:$false -Verbose");
            int ageTransactions = transactions;
            var afterAge = Counts(work);
            long oldestLeft;
            using (var c = Open(work, StoreAccess.ReadOnly)) oldestLeft = Scalar(c, "SELECT min(timestamp_ms) FROM trace_info");
            Fresh();
            double sqlAge = SqlDelete(work, $"timestamp_ms < {oldestLeft}");
            Same(afterAge, Counts(work), "by age");
            // The floor of short transactions on this disk: the same rows by SQL in as many transactions, back to back.
            Fresh();
            double sqlAgeBatched = SqlDeleteBatched(work, $"timestamp_ms < {oldestLeft}", ageTransactions);
            Same(afterAge, Counts(work), "by age in batches");

            Fresh();
            double toolFilter = Run("Remove-Trace -TrackingUri $store -Filter $filter -Confirm:$false -Verbose");
            var afterFilter = Counts(work);
            Fresh();
            double sqlFilter = SqlDelete(work, $"timestamp_ms <= {filterCutoff} AND {Prod}");
            Same(afterFilter, Counts(work), "by filter");

            Fresh();
            double pipeline = Run("Search-Trace -TrackingUri $store -Filter $filter | Remove-Trace -Confirm:$false -Verbose");
            Same(afterFilter, Counts(work), "through the pipeline");
            copies.Dispose();

            long deletedByAge = Initial(a.Store) - afterAge["trace_info"];
            Row($"`Remove-Trace -OlderThan` ({deletedByAge:N0} traces)", toolAge, "SQL", sqlAge, 1.5);
            Row($"`Remove-Trace -Filter` ({found:N0} traces)", toolFilter, "SQL", sqlFilter, 1.5);
            if (ageTransactions > 1)
                Row($"`Remove-Trace -OlderThan` ({ageTransactions} transactions)", toolAge, $"SQL in {ageTransactions} transactions", sqlAgeBatched, 1.5);
            Row("`Search-Trace -Filter … \\| Remove-Trace`", pipeline, "`-Filter` form", toolFilter, 2);
            Row("`Remove-Trace -Filter … -WhatIf`", Stats.Median(whatIf), "`Search-Trace -Filter …`", Stats.Median(search), 2);
            Row("`Remove-Trace -OlderThan … -WhatIf`", Stats.Median(whatIfAge), "`Search-Trace` same traces", Stats.Median(searchAge), 2);
            lines.Add("");
            lines.Add(allWithin ? "All within their targets." : "NOT all within their targets.");
            Stats.Report(a.Out, lines);
            return allWithin ? 0 : 1;
        }

        private static long WhatIfCount(string hostText)
        {
            var m = Regex.Match(hostText, "What if: Remove ([0-9,]+) trace");
            return m.Success ? long.Parse(m.Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture) : -1;
        }

        /// <summary>Fresh copies of the source store, one at a time: a file in --work, or a PostgreSQL database
        /// cloned from the source database (a new name each time, so no pooled connection outlives its database).</summary>
        private sealed class Copies : IDisposable
        {
            private readonly Args _a;
            private string? _current;
            private int _n;

            public Copies(Args a)
            {
                _a = a;
                if (a.IsPostgres) return;
                Directory.CreateDirectory(a.Work);
                if (string.Equals(Path.GetFullPath(Path.Combine(a.Work, "delete-bench.db")), a.Store, StringComparison.Ordinal))
                    throw new ArgumentException("--work must not hold the source store: the benchmark deletes from its copies.");
            }

            public string Next()
            {
                Dispose();
                var sw = Stopwatch.StartNew();
                if (_a.IsPostgres)
                {
                    var source = TrackingUri.Parse(_a.Store, "/");
                    string name = source.Postgres!.Database + "_delete_" + (++_n).ToString(CultureInfo.InvariantCulture);
                    // A template must have no sessions: let go of this process's idle ones to the source.
                    TraceStore.ReleasePooledConnections(source);
                    Admin(_a.Store, $"CREATE DATABASE \"{name}\" TEMPLATE \"{source.Postgres.Database}\" STRATEGY FILE_COPY");
                    _current = Pg.WithDatabase(_a.Store, name);
                }
                else
                {
                    _current = Path.Combine(_a.Work, "delete-bench.db");
                    File.Copy(_a.Store, _current);
                }
                // The copy (and the previous one's removal) sits in the OS's dirty pages, written back while the next
                // deletion runs: one run of the same deletion took 25.5 s, another 39.2 s. Flushed first, off the clock.
                if (!OperatingSystem.IsWindows())
                    using (var sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false })!) sync.WaitForExit();
                Console.WriteLine($"  copied the store and flushed it to disk in {sw.Elapsed.TotalSeconds:0} s");
                return _current;
            }

            public void Dispose()
            {
                if (_current == null) return;
                if (_a.IsPostgres)
                {
                    TraceStore.ReleasePooledConnections(TrackingUri.Parse(_current, "/"));
                    Admin(_a.Store, $"DROP DATABASE IF EXISTS \"{TrackingUri.Parse(_current, "/").Postgres!.Database}\" WITH (FORCE)");
                }
                else foreach (var extra in new[] { "", "-journal" }) if (File.Exists(_current + extra)) File.Delete(_current + extra);
                _current = null;
            }

            private static void Admin(string store, string sql)
            {
                using var c = Open(Pg.WithDatabase(store, "postgres"), StoreAccess.ReadWrite);
                Exec(c, sql);
            }
        }

        private static DbConnection Open(string store, StoreAccess access) =>
            TraceStore.OpenConnection(TrackingUri.Parse(store, "/"), access);

        /// <summary>One DELETE in one transaction: trace_info rows (the foreign keys cascade) and their
        /// entity_associations rows, on a connection set up as Remove-Trace's.</summary>
        private static double SqlDelete(string path, string condition)
        {
            using var c = Open(path, StoreAccess.ReadWrite);
            if (c is SqliteConnection) Exec(c, $"PRAGMA cache_size = -{DeletionExecutor.CacheMegabytes * 1024}");
            var sw = Stopwatch.StartNew();
            using (var tx = c is SqliteConnection sqlite ? sqlite.BeginTransaction(deferred: false) : c.BeginTransaction())
            {
                string ids = $"SELECT request_id FROM trace_info WHERE {condition}";
                Exec(c, $"DELETE FROM entity_associations WHERE (source_type = 'trace' AND source_id IN ({ids})) OR (destination_type = 'trace' AND destination_id IN ({ids}))", tx);
                Exec(c, $"DELETE FROM trace_info WHERE {condition}", tx);
                tx.Commit();
            }
            return sw.Elapsed.TotalMilliseconds;
        }

        /// <summary>The same DELETEs in <paramref name="transactions"/> transactions of the traces in id order (as
        /// Remove-Trace cuts them), one after another: what short transactions cost on this disk, without pauses.</summary>
        private static double SqlDeleteBatched(string path, string condition, int transactions)
        {
            using var c = Open(path, StoreAccess.ReadWrite);
            if (c is SqliteConnection) Exec(c, $"PRAGMA cache_size = -{DeletionExecutor.CacheMegabytes * 1024}");
            var ids = new List<string>();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = $"SELECT request_id FROM trace_info WHERE {condition} ORDER BY request_id";
                using var r = cmd.ExecuteReader();
                while (r.Read()) ids.Add(r.GetString(0));
            }
            int size = (ids.Count + transactions - 1) / transactions;
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < ids.Count; i += size)
            {
                string list = string.Join(",", ids.Skip(i).Take(size).Select(id => "'" + id.Replace("'", "''") + "'"));
                using var tx = c is SqliteConnection sqlite ? sqlite.BeginTransaction(deferred: false) : c.BeginTransaction();
                Exec(c, $"DELETE FROM entity_associations WHERE (source_type = 'trace' AND source_id IN ({list})) OR (destination_type = 'trace' AND destination_id IN ({list}))", tx);
                Exec(c, $"DELETE FROM trace_info WHERE request_id IN ({list})", tx);
                tx.Commit();
            }
            return sw.Elapsed.TotalMilliseconds;
        }

        private static long Initial(string path)
        {
            using var c = Open(path, StoreAccess.ReadOnly);
            return Scalar(c, "SELECT count(*) FROM trace_info");
        }

        /// <summary>Rows left in every table a deletion touches.</summary>
        private static Dictionary<string, long> Counts(string path)
        {
            using var c = Open(path, StoreAccess.ReadOnly);
            var result = new Dictionary<string, long>();
            foreach (var table in new[] { "trace_info", "trace_tags", "trace_request_metadata", "spans", "assessments", "trace_metrics", "span_metrics", "entity_associations" })
                result[table] = Scalar(c, $"SELECT count(*) FROM {table}");
            return result;
        }

        private static void Same(Dictionary<string, long> expected, Dictionary<string, long> actual, string what)
        {
            foreach (var kv in expected)
                if (actual[kv.Key] != kv.Value)
                    throw new Exception($"{what}: {kv.Key} has {actual[kv.Key]:N0} rows after SQL, {kv.Value:N0} after Remove-Trace.");
        }

        private static void Exec(DbConnection c, string sql, DbTransaction? tx = null)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.Transaction = tx;
            cmd.CommandTimeout = 0;
            cmd.ExecuteNonQuery();
        }

        private static long Scalar(DbConnection c, string sql)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }
}
