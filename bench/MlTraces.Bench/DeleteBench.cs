using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
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
    /// source store is only read.
    /// </summary>
    public static class DeleteBench
    {
        private const string Prod = "EXISTS (SELECT 1 FROM trace_tags t WHERE t.request_id = trace_info.request_id AND t.\"key\" = 'env' AND t.value = 'prod')";

        public static int Run(Args a)
        {
            Directory.CreateDirectory(a.Work);
            string work = Path.Combine(a.Work, "delete-bench.db");
            if (string.Equals(Path.GetFullPath(work), a.Store, StringComparison.Ordinal))
                throw new ArgumentException("--work must not hold the source store: the benchmark deletes from its copies.");

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
                $"## Remove-Trace vs plain SQL, {a.Traces:N0} traces ({a.Store})",
                "",
                $"By age: `Remove-Trace -OlderThan {minutes}m`; by filter: `-Filter \"{filter}\"`. Each deletion on a fresh copy.",
                "",
                "| what | MlTraces | compared with | ratio | target |",
                "|---|---:|---:|---:|---|",
            };
            using var shell = new ShellSession(width: 120);
            var vars = new Dictionary<string, object?> { ["store"] = work, ["filter"] = filter };
            bool allWithin = true;
            void Row(string what, double tool, string against, double other, double target)
            {
                double ratio = tool / other;
                allWithin &= ratio <= target;
                lines.Add($"| {what} | {tool / 1000:0.0} s | {against} {other / 1000:0.0} s | {ratio:0.00}x | within {target}x{(ratio <= target ? "" : " **NOT MET**")} |");
                Console.WriteLine(lines[lines.Count - 1]);
            }
            double Run(string script)
            {
                var sw = Stopwatch.StartNew();
                var r = shell.Invoke(script, vars);
                sw.Stop();
                if (r.Failed) throw new Exception(script + ": " + (r.Terminating?.Message ?? r.Errors[0].ToString()));
                var locks = r.Verbose.Select(v => Regex.Match(v.Message, "in a transaction of ([0-9,]+) ms")).Where(m => m.Success)
                    .Select(m => double.Parse(m.Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture)).ToList();
                if (locks.Count > 0)
                    Console.WriteLine($"  {locks.Count} transactions, write lock held {Stats.Median(locks):0} ms median, {locks.Max():0} ms at most");
                return sw.Elapsed.TotalMilliseconds;
            }

            // Reading only: -WhatIf against Search-Trace for the same traces, on the first copy, warm, median of 3.
            Copy(a.Store, work);
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
            var afterAge = Counts(work);
            long oldestLeft;
            using (var c = Open(work, StoreAccess.ReadOnly)) oldestLeft = Scalar(c, "SELECT min(timestamp_ms) FROM trace_info");
            Copy(a.Store, work);
            double sqlAge = SqlDelete(work, $"timestamp_ms < {oldestLeft}");
            Same(afterAge, Counts(work), "by age");

            Copy(a.Store, work);
            double toolFilter = Run("Remove-Trace -TrackingUri $store -Filter $filter -Confirm:$false -Verbose");
            var afterFilter = Counts(work);
            Copy(a.Store, work);
            double sqlFilter = SqlDelete(work, $"timestamp_ms <= {filterCutoff} AND {Prod}");
            Same(afterFilter, Counts(work), "by filter");

            Copy(a.Store, work);
            double pipeline = Run("Search-Trace -TrackingUri $store -Filter $filter | Remove-Trace -Confirm:$false -Verbose");
            Same(afterFilter, Counts(work), "through the pipeline");
            File.Delete(work);

            long deletedByAge = Initial(a.Store) - afterAge["trace_info"];
            Row($"`Remove-Trace -OlderThan` ({deletedByAge:N0} traces)", toolAge, "SQL", sqlAge, 1.5);
            Row($"`Remove-Trace -Filter` ({found:N0} traces)", toolFilter, "SQL", sqlFilter, 1.5);
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

        private static void Copy(string source, string target)
        {
            foreach (var extra in new[] { "", "-journal" }) if (File.Exists(target + extra)) File.Delete(target + extra);
            var sw = Stopwatch.StartNew();
            File.Copy(source, target);
            Console.WriteLine($"  copied the store in {sw.Elapsed.TotalSeconds:0} s");
        }

        private static SqliteConnection Open(string path, StoreAccess access) =>
            (SqliteConnection)TraceStore.OpenConnection(TrackingUri.Parse(path, "/"), access);

        /// <summary>One DELETE in one transaction: trace_info rows (the foreign keys cascade) and their
        /// entity_associations rows, on a connection set up as Remove-Trace's.</summary>
        private static double SqlDelete(string path, string condition)
        {
            using var c = Open(path, StoreAccess.ReadWrite);
            Exec(c, $"PRAGMA cache_size = -{DeletionExecutor.CacheMegabytes * 1024}");
            var sw = Stopwatch.StartNew();
            using (var tx = c.BeginTransaction(deferred: false))
            {
                string ids = $"SELECT request_id FROM trace_info WHERE {condition}";
                Exec(c, $"DELETE FROM entity_associations WHERE (source_type = 'trace' AND source_id IN ({ids})) OR (destination_type = 'trace' AND destination_id IN ({ids}))", tx);
                Exec(c, $"DELETE FROM trace_info WHERE {condition}", tx);
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

        private static void Exec(SqliteConnection c, string sql, SqliteTransaction? tx = null)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.Transaction = tx;
            cmd.CommandTimeout = 0;
            cmd.ExecuteNonQuery();
        }

        private static long Scalar(SqliteConnection c, string sql)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }
}
