using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Globalization;
using System.Linq;
using System.Threading;
using MlTraces.Core.Archive;
using MlTraces.Core.Delete;
using MlTraces.Core.Query;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Core.Maintenance
{
    /// <summary>What Measure-TraceStore is asked: which experiments, under which archival configuration, and the
    /// age of a deletion to size.</summary>
    public sealed class MeasureRequest
    {
        public IReadOnlyList<Experiment> Experiments { get; set; } = Array.Empty<Experiment>();
        /// <summary>The server's archival configuration: the effective retention and the next pass come from it.</summary>
        public ArchivalServerConfig? Config { get; set; }
        public TimeSpan? OlderThan { get; set; }
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;
    }

    /// <summary>
    /// Measures a store per experiment, read-only and without holding a writer up: on SQLite each table is read in
    /// ranges of rowids, one short statement each, so the shared lock a reader holds is let go between them and an
    /// MLflow server's commit waits at most one range; PostgreSQL readers never block writers, so each table is one
    /// grouped statement. The next archival pass is the archival planner's own plan, the -OlderThan figures are the
    /// deletion's own condition (SearchCompiler, legal hold), and the retention is RetentionPolicy's: the figures
    /// are what Invoke-TraceArchive -WhatIf and Remove-Trace -OlderThan -WhatIf would say.
    /// </summary>
    public static class StoreMeasure
    {
        /// <summary>The figures of each requested experiment, in the order given.</summary>
        /// <param name="progress">What is being read, and how many of the steps are done.</param>
        public static List<ExperimentUsage> Experiments(TraceStore store, MeasureRequest request, List<string> warnings,
            Action<string, long, long>? progress = null, CancellationToken cancel = default)
        {
            // Remove-Trace's own rule for the age, before anything is read.
            if (request.OlderThan.HasValue) DeletionRules.Check(byIds: false, byAge: true, hasBefore: false, request.OlderThan, maxTraces: null);
            var layout = store.Layout;
            var dialect = store.Dialect;
            // The index pages the seeks below visit stay in the connection's cache instead of being read again from
            // the file each time (the default cache is 2 MB); a setting of this connection alone.
            if (dialect.ConnectionCacheSize(Delete.DeletionExecutor.CacheMegabytes) is string cache)
                store.Translate(() => { using var c = store.Command(cache); return c.ExecuteNonQuery(); });
            var rows = new Dictionary<string, ExperimentUsage>(StringComparer.Ordinal);
            foreach (var r in RetentionPolicy.Resolve(store, request.Experiments, request.Config))
            {
                var e = request.Experiments.First(x => x.ExperimentId == r.ExperimentId);
                rows[e.ExperimentId] = new ExperimentUsage
                {
                    ExperimentId = e.ExperimentId, Name = e.Name, Workspace = e.Workspace,
                    LifecycleStage = e.LifecycleStage, ArchiveAfter = r.ArchiveAfter, RetentionSource = r.ArchiveAfter == null ? null : r.RetentionSource,
                    TrackingUri = store.Uri.Original,
                };
            }
            ExperimentUsage? Row(DbDataReader r) =>
                rows.TryGetValue(Convert.ToString(r.GetValue(0), CultureInfo.InvariantCulture) ?? "", out var row) ? row : null;

            // Each scan: a table, the pieces it is read in, one short statement each, and what a row adds.
            var scans = new List<(string Table, List<(object? Lo, object? Hi)> Ranges, Func<object?, object?, SqlParameters, string> Sql, Action<DbDataReader> Add)>();
            Action<DbDataReader> addStates = r =>
            {
                if (!(Row(r) is ExperimentUsage row)) return;
                string state = r.IsDBNull(1) ? "STATE_UNSPECIFIED" : r.GetString(1);
                long n = Convert.ToInt64(r.GetValue(2), CultureInfo.InvariantCulture);
                row.Traces += n;
                row.TracesByState[state] = (row.TracesByState.TryGetValue(state, out long m) ? m : 0) + n;
                var oldest = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3));
                var newest = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4));
                if (row.OldestTrace == null || oldest < row.OldestTrace) row.OldestTrace = oldest;
                if (row.NewestTrace == null || newest > row.NewestTrace) row.NewestTrace = newest;
                row.Assessments += Convert.ToInt64(r.GetValue(5), CultureInfo.InvariantCulture);
            };
            Action<DbDataReader> addArchived = r =>
            {
                if (!(Row(r) is ExperimentUsage row)) return;
                row.ArchivedTraces += Convert.ToInt64(r.GetValue(1), CultureInfo.InvariantCulture);
                if (!r.IsDBNull(2)) row.ArchivedBytes += Convert.ToInt64(r.GetValue(2), CultureInfo.InvariantCulture);
            };
            Action<DbDataReader> addSpans = r =>
            {
                if (!(Row(r) is ExperimentUsage row)) return;
                row.Spans += Convert.ToInt64(r.GetValue(1), CultureInfo.InvariantCulture);
                if (!r.IsDBNull(2)) row.PayloadBytes += Convert.ToInt64(r.GetValue(2), CultureInfo.InvariantCulture);
            };
            // Assessments carry only their trace's id: counted per experiment by joining them to their traces.
            string assessments(string join) =>
                $"SELECT ti.experiment_id, count(*) FROM assessments a {join} ON ti.request_id = a.trace_id GROUP BY ti.experiment_id";
            Action<DbDataReader> addAssessments = r =>
            {
                if (Row(r) is ExperimentUsage row) row.Assessments += Convert.ToInt64(r.GetValue(1), CultureInfo.InvariantCulture);
            };
            string sizeBytes(SqlParameters p) =>
                $"LEFT JOIN trace_request_metadata m ON m.request_id = t.request_id AND m.\"key\" = {p.Add(TraceMetadataKeys.SizeBytes)} ";
            if (MeasureIndexes.Present(store))
            {
                // The measure indexes (Optimize-TraceStore -MeasureIndex Create): each experiment's part of a narrow
                // index, and the assessments in their trace index's order, each finding its trace's experiment in
                // another (in order, so one pass over both). The same numbers the scans below read from the rows.
                var each = rows.Keys.Select(id => ((object?)long.Parse(id, CultureInfo.InvariantCulture), (object?)null)).ToList();
                var once = new List<(object?, object?)> { (null, null) };
                scans.Add(("trace_info", each, (id, _, p) =>
                    $"SELECT ti.experiment_id, ti.status, count(*), min(ti.timestamp_ms), max(ti.timestamp_ms), 0 FROM trace_info ti INDEXED BY mltraces_trace_info_experiment_state WHERE ti.experiment_id = {p.Add(id)} GROUP BY ti.experiment_id, ti.status",
                    addStates));
                if (layout.HasAssessments)
                    scans.Add(("assessments", once, (_, __, p) => assessments("CROSS JOIN trace_info ti INDEXED BY mltraces_trace_info_request_experiment"), addAssessments));
                // INDEXED BY: the planner would rather take the unique indexes and read the rows. Literals, not
                // parameters: SQLite reads a partial index only for a condition it can see implies the index's.
                scans.Add(("trace_tags", once, (_, __, p) =>
                    "SELECT ti.experiment_id, count(*), sum(" + dialect.IntegerOrNull("m.value") + ") FROM trace_tags t INDEXED BY mltraces_trace_tags_archived CROSS JOIN trace_info ti INDEXED BY mltraces_trace_info_request_experiment ON ti.request_id = t.request_id " +
                    sizeBytes(p) + $"WHERE t.\"key\" = '{TraceTagKeys.SpansLocation}' AND t.value = '{SpansLocations.ArchiveRepo}' GROUP BY ti.experiment_id",
                    addArchived));
                scans.Add(("spans", each, (id, _, p) =>
                    $"SELECT s.experiment_id, count(*), sum({MeasureIndexes.SqliteContentBytes}) FROM spans s INDEXED BY mltraces_spans_experiment_bytes WHERE s.experiment_id = {p.Add(id)} GROUP BY s.experiment_id",
                    addSpans));
            }
            else
            {
                if (store.Kind == StoreKind.Sqlite && layout.HasSpans)
                    warnings.Add("Measure-TraceStore reads every span row of the store: `Optimize-TraceStore -MeasureIndex Create` adds narrow indexes that make it take seconds (MLflow keeps working on the store).");
                string rowids(string alias, object? lo, object? hi, SqlParameters p) =>
                    lo == null ? "1 = 1" : $"{alias}.rowid > {p.Add(lo)} AND {alias}.rowid <= {p.Add(hi)}";
                // Each trace once; on SQLite with its assessments counted from their trace index alone (reading the
                // assessment rows in their own rowid order cost half as much again). PostgreSQL hash-joins them in a
                // statement of their own (a probe per trace took 1.3 s of 200,000 traces, the join a fraction).
                bool sqlite = store.Kind == StoreKind.Sqlite;
                scans.Add(("trace_info", Ranges(store, "trace_info", 50_000), (lo, hi, p) =>
                    "SELECT ti.experiment_id, ti.status, count(*), min(ti.timestamp_ms), max(ti.timestamp_ms), " +
                    (layout.HasAssessments && sqlite ? "sum((SELECT count(*) FROM assessments a WHERE a.trace_id = ti.request_id))" : "0") +
                    $" FROM trace_info ti WHERE {rowids("ti", lo, hi, p)} GROUP BY ti.experiment_id, ti.status",
                    addStates));
                if (layout.HasAssessments && !sqlite)
                    scans.Add(("assessments", Ranges(store, "assessments", 0), (_, __, p) => assessments("JOIN trace_info ti"), addAssessments));
                // trace_tags is read through its primary key (key, request_id), in ranges of request ids of the one key:
                // its rowids follow no key, so a rowid range would walk every row of that key each time.
                scans.Add(("trace_tags", KeyRanges(store, TraceTagKeys.SpansLocation, 200_000), (lo, hi, p) =>
                    "SELECT ti.experiment_id, count(*), sum(" + dialect.IntegerOrNull("m.value") + ") FROM trace_tags t " +
                    "JOIN trace_info ti ON ti.request_id = t.request_id " + sizeBytes(p) +
                    $"WHERE t.value = {p.Add(SpansLocations.ArchiveRepo)} AND t.\"key\" = {p.Add(TraceTagKeys.SpansLocation)}" +
                    (lo == null ? "" : $" AND t.request_id > {p.Add(lo)}") + (hi == null ? "" : $" AND t.request_id <= {p.Add(hi)}") +
                    " GROUP BY ti.experiment_id",
                    addArchived));
                if (layout.HasSpans)
                    // octet_length reads a value's length from the record header, not from its overflow pages.
                    scans.Add(("spans", Ranges(store, "spans", 10_000), (lo, hi, p) =>
                        $"SELECT s.experiment_id, count(*), sum(octet_length(s.content)) FROM spans s WHERE {rowids("s", lo, hi, p)} GROUP BY s.experiment_id",
                        addSpans));
            }
            // The steps: each scan's pieces, then each experiment's -OlderThan count, then the archival plan.
            long total = scans.Sum(s => (long)s.Ranges.Count) + (request.OlderThan.HasValue ? rows.Count : 0) + (request.Config != null ? 1 : 0);
            long done = 0;
            foreach (var scan in scans)
            {
                foreach (var (lo, hi) in scan.Ranges)
                {
                    cancel.ThrowIfCancellationRequested();
                    progress?.Invoke("Reading " + scan.Table, done++, total);
                    var p = new SqlParameters();
                    string sql = scan.Sql(lo, hi, p);
                    store.Translate(() =>
                    {
                        using var cmd = store.Command(sql, p);
                        using var r = cmd.ExecuteReader();
                        while (r.Read()) scan.Add(r);
                        return 0;
                    });
                }
            }

            if (request.OlderThan is TimeSpan olderThan)
            {
                long cutoff = DeletionRules.CutoffMs(null, olderThan, request.Now)!.Value;
                foreach (var row in rows.Values)
                {
                    cancel.ThrowIfCancellationRequested();
                    progress?.Invoke("Sizing the deletion of traces older than " + olderThan, done++, total);
                    row.OlderThan = olderThan;
                    // Exactly the traces Remove-Trace -OlderThan deletes from this experiment: its query's condition,
                    // less the traces under legal hold, which it never deletes.
                    var p = new SqlParameters();
                    string where = SearchCompiler.TracesOf(new[] { long.Parse(row.ExperimentId, CultureInfo.InvariantCulture) }, p,
                        () => SearchCompiler.Condition(Array.Empty<FilterClause>(), cutoff, false, layout, dialect, p, warnings));
                    string bytes = layout.HasSpans ? MeasureIndexes.ContentBytes(store) : "0";
                    string sql = $"SELECT count(*), coalesce(sum({bytes}), 0) FROM trace_info ti WHERE {where} AND NOT {LegalHold.Condition("ti")}";
                    store.Translate(() =>
                    {
                        using var cmd = store.Command(sql, p);
                        using var r = cmd.ExecuteReader();
                        r.Read();
                        row.OlderThanTraces = Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture);
                        row.OlderThanBytes = Convert.ToInt64(r.GetValue(1), CultureInfo.InvariantCulture);
                        return 0;
                    });
                }
            }

            if (request.Config != null)
            {
                progress?.Invoke("Planning the next archival pass", done++, total);
                foreach (var row in rows.Values) { row.NextArchivalTraces = 0; row.NextArchivalBytes = 0; }
                var plan = ArchivalPlanner.Plan(store, request.Config, request.Experiments, null, request.Now, cancel);
                foreach (var c in plan.Candidates(cancel))
                {
                    if (!rows.TryGetValue(c.ExperimentId, out var row)) continue;
                    row.NextArchivalTraces++;
                    row.NextArchivalBytes += c.PayloadBytes;
                }
                warnings.AddRange(plan.Warnings);
            }
            return request.Experiments.Select(e => rows[e.ExperimentId]).ToList();
        }

        /// <summary>The rowid ranges (lo, hi] a SQLite table is read in, about <paramref name="rows"/> rows each; one
        /// whole-table step (nulls) on PostgreSQL.</summary>
        private static List<(object? Lo, object? Hi)> Ranges(TraceStore store, string table, int rows)
        {
            var result = new List<(object?, object?)>();
            if (store.Kind == StoreKind.Postgres) { result.Add((null, null)); return result; }
            long min = 0, max = 0;
            store.Translate(() =>
            {
                // min and max of the rowid are one seek each.
                using var cmd = store.Command($"SELECT min(rowid), max(rowid) FROM {table}");
                using var r = cmd.ExecuteReader();
                if (r.Read() && !r.IsDBNull(0)) { min = r.GetInt64(0) - 1; max = r.GetInt64(1); }
                return 0;
            });
            for (long lo = min; lo < max; lo += rows) result.Add((lo, Math.Min(max, lo + rows)));
            return result;
        }

        /// <summary>The request-id ranges (lo, hi] (nulls: open) trace_tags rows of one key are read in, about
        /// <paramref name="rows"/> each, found by walking the primary key's index a range at a time (each walk a
        /// short statement of its own); one whole step on PostgreSQL.</summary>
        private static List<(object? Lo, object? Hi)> KeyRanges(TraceStore store, string key, int rows)
        {
            var result = new List<(object?, object?)>();
            string? lo = null;
            while (store.Kind == StoreKind.Sqlite)
            {
                var p = new SqlParameters();
                string sql = $"SELECT request_id FROM trace_tags WHERE \"key\" = {p.Add(key)}" + (lo == null ? "" : $" AND request_id > {p.Add(lo)}") +
                             $" ORDER BY request_id LIMIT 1 OFFSET {p.Add(rows - 1)}";
                string? hi = store.Translate(() => { using var cmd = store.Command(sql, p); return cmd.ExecuteScalar() as string; });
                if (hi == null) break;
                result.Add((lo, hi));
                lo = hi;
            }
            result.Add((lo, null));
            return result;
        }

        /// <summary>The experiments' figures summed per workspace (the default workspace for a store without them).</summary>
        public static List<WorkspaceUsage> Workspaces(IEnumerable<ExperimentUsage> experiments) =>
            experiments.GroupBy(e => e.Workspace ?? MlTraces.Core.Store.Experiments.DefaultWorkspace, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g =>
                {
                    var w = new WorkspaceUsage { Workspace = g.Key, TrackingUri = g.First().TrackingUri };
                    foreach (var e in g) { w.Add(e); w.Experiments++; }
                    return w;
                }).ToList();

        /// <summary>The whole store: the experiments' figures summed, its size, the space free inside it and what
        /// Optimize-TraceStore would give back (on PostgreSQL, with -Full: a plain VACUUM keeps the files' size).</summary>
        public static StoreUsage Store(TraceStore store, IEnumerable<ExperimentUsage> experiments)
        {
            var plan = StoreOptimizer.Plan(store, full: store.Kind == StoreKind.Postgres);
            var space = plan.Before;
            var s = new StoreUsage
            {
                TrackingUri = store.Uri.Original,
                Kind = plan.Result.Kind,
                Path = store.Uri.FilePath,
                StoreBytes = space.StoreBytes,
                FreeBytes = space.FreeBytes,
                AutoVacuum = space.AutoVacuum,
                DeadRows = space.DeadRows,
                TableBytes = space.TableBytes,
                ReclaimableBytes = plan.Result.ExpectedBytesFreed,
                MeasureIndexes = MeasureIndexes.Present(store),
            };
            foreach (var e in experiments) { s.Add(e); s.Experiments++; }
            return s;
        }
    }
}
