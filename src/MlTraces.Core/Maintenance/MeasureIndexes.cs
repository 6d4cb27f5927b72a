using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using MlTraces.Core.Store;
using MlTraces.Core;

namespace MlTraces.Core.Maintenance
{
    /// <summary>What Optimize-TraceStore -MeasureIndex does with the measure indexes.</summary>
    public enum MeasureIndexAction
    {
        Create,
        Remove,
    }

    /// <summary>
    /// The opt-in SQLite indexes that let Measure-TraceStore (and the archival plan's payload sizes) read narrow
    /// indexes instead of every span row: no plan over MLflow's schema answers "bytes of span content per experiment"
    /// without reading the 1 KB rows themselves. SQLite keeps an index in step with its table in the same transaction,
    /// so whatever MLflow writes, the figures read from it are the table's; they use only core SQL (length, CAST), so
    /// MLflow's own SQLite (Python's sqlite3, older than the bundled one) keeps inserting and deleting. An index counts
    /// only when its definition is exactly ours: one that an alembic batch migration dropped (it recreates tables
    /// without indexes it cannot reflect), or another of the same name, makes Measure-TraceStore scan as before.
    /// </summary>
    public static class MeasureIndexes
    {
        /// <summary>The expression the span indexes hold: a value's bytes. octet_length (SQLite 3.43) is the same number,
        /// but a SQLite older than that (MLflow's Python) could not maintain an index on it.</summary>
        public const string SqliteContentBytes = "length(CAST(s.content AS BLOB))";

        /// <summary>The indexes, each with what it answers. Names and definitions are fixed: no input reaches them.</summary>
        public static readonly IReadOnlyList<(string Name, string Table, string Sql)> All = new[]
        {
            // Spans and payload bytes per experiment: a scan of (experiment_id, bytes), about 15 bytes a span.
            ("mltraces_spans_experiment_bytes", "spans", "CREATE INDEX mltraces_spans_experiment_bytes ON spans (experiment_id, length(CAST(content AS BLOB)))"),
            // Payload bytes per trace (the -OlderThan sizing and the archival plan): one short seek per trace.
            ("mltraces_spans_trace_bytes", "spans", "CREATE INDEX mltraces_spans_trace_bytes ON spans (trace_id, length(CAST(content AS BLOB)))"),
            // Traces by state, oldest and newest, per experiment.
            ("mltraces_trace_info_experiment_state", "trace_info", "CREATE INDEX mltraces_trace_info_experiment_state ON trace_info (experiment_id, status, timestamp_ms)"),
            // A trace's experiment, for the assessments (which carry only their trace's id) read in their index's order.
            ("mltraces_trace_info_request_experiment", "trace_info", "CREATE INDEX mltraces_trace_info_request_experiment ON trace_info (request_id, experiment_id)"),
            // The archived traces only (partial: as small as the archive is); every trace has a spansLocation tag.
            ("mltraces_trace_tags_archived", "trace_tags", "CREATE INDEX mltraces_trace_tags_archived ON trace_tags (request_id) WHERE \"key\" = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'"),
        };

        /// <summary>How fast an index build reads its table, for the -WhatIf estimate of how long writers wait. The
        /// maintenance benchmark built each index at 300-700 MB/s of table warm on 2 busy cores; a cold page cache is
        /// slower, so the estimate stays on the long side and the real run reports what it took.</summary>
        public const long BuildBytesPerSecond = 150L * 1024 * 1024;

        private static readonly ConditionalWeakTable<TraceStore, StrongBox<bool>> Cache = new ConditionalWeakTable<TraceStore, StrongBox<bool>>();

        /// <summary>Whether every measure index is there, exactly as defined (read once per open store).</summary>
        public static bool Present(TraceStore store)
        {
            if (store.Kind != StoreKind.Sqlite || !store.Layout.HasSpans) return false;
            return Cache.GetValue(store, s => new StrongBox<bool>(Missing(s).Count == 0)).Value;
        }

        /// <summary>The measure indexes absent from the store, or present with another definition.</summary>
        public static List<string> Missing(TraceStore store)
        {
            var found = new Dictionary<string, string>(StringComparer.Ordinal);
            store.Translate(() =>
            {
                using var cmd = store.Command("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'mltraces\\_%' ESCAPE '\\'");
                using var r = cmd.ExecuteReader();
                while (r.Read()) if (!r.IsDBNull(1)) found[r.GetString(0)] = r.GetString(1);
                return 0;
            });
            return All.Where(i => !found.TryGetValue(i.Name, out string? sql) || !string.Equals(sql, i.Sql, StringComparison.Ordinal))
                .Select(i => i.Name).ToList();
        }

        /// <summary>The bytes of span content of the trace under alias ti: from the measure index when it is there
        /// (the same number), else octet_length, which reads the length from the record header, not the payload.</summary>
        public static string ContentBytes(TraceStore store) =>
            $"(SELECT coalesce(sum({(Present(store) ? SqliteContentBytes : "octet_length(s.content)")}), 0) FROM spans s WHERE s.trace_id = ti.request_id)";

        /// <summary>Fills in the plan of creating or removing the indexes: the statements, the bytes they take (from
        /// the rows they will hold), how long each build keeps writers out, and the disk space it needs.</summary>
        internal static void Plan(TraceStore store, MeasureIndexAction action, StoreSpace before, StoreOptimization r, List<string> warnings)
        {
            if (store.Kind != StoreKind.Sqlite)
                throw new MlTracesException(ErrorKind.UnsupportedStore, "MeasureIndexNotSupported",
                    $"The store '{store.Name}' is PostgreSQL: the measure indexes are for SQLite, where a reader of the span rows holds MLflow's writers up. " +
                    "On PostgreSQL, Measure-TraceStore reads without blocking writers; run it without -MeasureIndex.");
            if (!store.Layout.HasSpans)
                throw new MlTracesException(ErrorKind.UnsupportedStore, "MeasureIndexNotSupported",
                    $"The store '{store.Name}' has no spans table (an MLflow older than 3.x keeps spans as artifacts): there is nothing for the measure indexes to cover.");
            var missing = Missing(store);
            var existing = Existing(store);
            r.Analyzed = false;
            if (action == MeasureIndexAction.Remove)
            {
                r.Tables.AddRange(existing);
                r.Method = existing.Count == 0 ? "nothing (no measure index is there)" : "DROP INDEX " + string.Join(", ", existing);
                // Dropped pages go on the freelist: the file keeps its size until a VACUUM.
                r.ExpectedBytesFreed = 0;
                r.ExpectedLockTime = TimeSpan.Zero;
                r.IndexBytes = null;
                return;
            }
            var create = All.Where(i => missing.Contains(i.Name)).ToList();
            // One that has our name but another definition is replaced by ours.
            var replace = create.Where(i => existing.Contains(i.Name)).Select(i => i.Name).ToList();
            if (replace.Count > 0) warnings.Add($"The index(es) {string.Join(", ", replace)} have another definition than MlTraces gives them: they are dropped and created again.");
            r.Tables.AddRange(create.Select(i => i.Name));
            r.Method = create.Count == 0 ? "nothing (every measure index is there)" : "CREATE INDEX " + string.Join(", ", create.Select(i => i.Name));
            var size = Estimate(store);
            long bytes = create.Sum(i => size.IndexBytes[i.Name]);
            r.ExpectedBytesFreed = 0;
            r.IndexBytes = bytes;
            // Each build reads its table while it holds the write lock: writers wait for the longest one at a time.
            r.ExpectedLockTime = create.Count == 0 ? TimeSpan.Zero
                : TimeSpan.FromSeconds((double)create.Max(i => size.TableBytes[i.Table]) / BuildBytesPerSecond);
            string folder = Path.GetDirectoryName(Path.GetFullPath(store.Uri.FilePath!))!;
            StoreOptimizer.Need(r, folder, bytes);
            // The build sorts the keys in temporary files first.
            if (create.Count > 0) StoreOptimizer.Need(r, DiskSpace.SqliteTempFolder(), create.Max(i => size.IndexBytes[i.Name]));
        }

        /// <summary>Creates (each index in a statement of its own, so writers get in between) or removes the indexes.</summary>
        internal static void Run(TraceStore store, MeasureIndexAction action, StoreOptimization r, Action<string>? status, CancellationToken cancel)
        {
            TimeSpan execute(string sql, CancellationToken c)
            {
                var clock = Stopwatch.StartNew();
                StoreOptimizer.Execute(store, sql, c);
                return clock.Elapsed;
            }
            var longest = TimeSpan.Zero;
            var existing = Existing(store);
            if (action == MeasureIndexAction.Remove)
            {
                foreach (string name in existing)
                {
                    status?.Invoke("DROP INDEX " + name);
                    longest = Max(longest, execute($"DROP INDEX IF EXISTS \"{name}\"", cancel));
                }
            }
            else
            {
                foreach (var index in All.Where(i => r.Tables.Contains(i.Name)))
                {
                    status?.Invoke($"CREATE INDEX {index.Name}: writers wait while it reads {index.Table}");
                    // Another definition under our name goes first (a stop between the two leaves the index missing,
                    // and Measure-TraceStore scans the tables: slower, never wrong).
                    if (existing.Contains(index.Name)) execute($"DROP INDEX IF EXISTS \"{index.Name}\"", cancel);
                    longest = Max(longest, execute(index.Sql, cancel));
                }
            }
            Cache.Remove(store);
            r.LockTime = longest;
        }

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

        /// <summary>The names of our indexes the store has now, with whatever definition.</summary>
        private static List<string> Existing(TraceStore store)
        {
            var names = new List<string>();
            store.Translate(() =>
            {
                using var cmd = store.Command("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'mltraces\\_%' ESCAPE '\\' ORDER BY name");
                using var r = cmd.ExecuteReader();
                while (r.Read()) names.Add(r.GetString(0));
                return 0;
            });
            return names.Where(n => All.Any(i => i.Name == n)).ToList();
        }

        /// <summary>Each index's bytes and each table's, estimated from row counts (read from the smallest index) and the
        /// average sizes of a sample of rows: a b-tree entry is its values, a rowid and a few bytes of header.</summary>
        private static (Dictionary<string, long> IndexBytes, Dictionary<string, long> TableBytes) Estimate(TraceStore store)
        {
            double Scalar(string sql) => store.Translate(() =>
            {
                using var cmd = store.Command(sql);
                object? v = cmd.ExecuteScalar();
                return v == null || v is DBNull ? 0 : Convert.ToDouble(v, CultureInfo.InvariantCulture);
            });
            double spans = Scalar("SELECT count(*) FROM spans");
            double traces = Scalar("SELECT count(*) FROM trace_info");
            // At most every spansLocation tag (read from the primary key alone); the archived ones are fewer.
            double located = Scalar($"SELECT count(*) FROM trace_tags WHERE \"key\" = '{TraceTagKeys.SpansLocation}'");
            double id = Scalar("SELECT avg(length(request_id)) FROM (SELECT request_id FROM trace_info LIMIT 1000)");
            double content = Scalar("SELECT avg(length(CAST(content AS BLOB))) FROM (SELECT content FROM spans LIMIT 1000)");
            double preview = Scalar("SELECT avg(coalesce(length(CAST(request_preview AS BLOB)), 0) + coalesce(length(CAST(response_preview AS BLOB)), 0)) FROM (SELECT request_preview, response_preview FROM trace_info LIMIT 1000)");
            const double Overhead = 1.1; // interior pages and the space left in each page
            const int Entry = 12;        // record header, rowid, cell pointer and the small integers
            var index = new Dictionary<string, long>(StringComparer.Ordinal)
            {
                ["mltraces_spans_experiment_bytes"] = (long)(spans * (Entry + 3) * Overhead),
                ["mltraces_spans_trace_bytes"] = (long)(spans * (Entry + id) * Overhead),
                ["mltraces_trace_info_experiment_state"] = (long)(traces * (Entry + 16) * Overhead),
                ["mltraces_trace_info_request_experiment"] = (long)(traces * (Entry + id) * Overhead),
                ["mltraces_trace_tags_archived"] = (long)(located * (Entry + id) * Overhead),
            };
            var table = new Dictionary<string, long>(StringComparer.Ordinal)
            {
                ["spans"] = (long)(spans * (content + 2 * id + 120)),
                ["trace_info"] = (long)(traces * (preview + 2 * id + 60)),
                ["trace_tags"] = (long)(Scalar("SELECT count(*) FROM trace_tags") * (id + 60)),
            };
            return (index, table);
        }
    }
}
