using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using MlTraces.Core.Query;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Core.Archive
{
    public enum ArchiveReason { ArchiveNow, Retention }

    /// <summary>One trace an archival pass would archive, and what it would move.</summary>
    public sealed class PlannedArchival : IPlannedTrace
    {
        public string TraceId { get; set; } = "";
        public string ExperimentId { get; set; } = "";
        public long TimestampMs { get; set; }
        public ArchiveReason Reason { get; set; }
        /// <summary>UTF-8 bytes of span content the pass moves out of the store (<see cref="TracePayload.ContentBytes"/>).</summary>
        public long PayloadBytes { get; set; }
        /// <summary>The folder URI MLflow records in mlflow.trace.archiveLocation (traces.pb goes inside).</summary>
        public string ArchiveFolder { get; set; } = "";

        /// <summary>The trace as the dry run and the confirmation name it.</summary>
        public string Describe() =>
            $"trace {TraceId} (experiment {ExperimentId}, {DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs):yyyy-MM-dd HH:mm:ss}Z, {Reason}, {PayloadBytes:N0} bytes of span content) to {ArchiveFolder}";

        /// <summary>The receipt of a trace a dry run would archive.</summary>
        public ArchivalReceipt Planned(string trackingUri) => new ArchivalReceipt
        {
            TraceId = TraceId, ExperimentId = ExperimentId, Status = ArchivalStatus.Planned, Reason = Reason.ToString(),
            PayloadBytes = PayloadBytes, ArchiveLocation = ArchiveFolder, TrackingUri = trackingUri,
        };
    }

    /// <summary>
    /// One archival pass, planned: the groups of traces it archives (archive-now requests first, then retention),
    /// the budget, and what it reads at plan time. The candidates themselves are not held: <see cref="Candidates"/>
    /// streams them, oldest first per group, in short keyset-paged queries, so memory stays flat whatever their
    /// number, no read stays open while the pass writes, and the dry run and the real run walk the same rules.
    /// </summary>
    public sealed class ArchivalPlan
    {
        internal ArchivalPlan(TraceStore store, DateTimeOffset now, long budget)
        {
            Store = store; Now = now; Budget = budget;
        }

        internal TraceStore Store { get; }
        public DateTimeOffset Now { get; }
        /// <summary>At most this many traces (long.MaxValue: no limit).</summary>
        public long Budget { get; }
        /// <summary>The raw archive-now tag value of each experiment with a valid request, read at plan time, so
        /// the pass clears a request only if it is still the one it planned for (compare-and-delete).</summary>
        public Dictionary<string, string> ArchiveNowRequests { get; } = new Dictionary<string, string>();
        public List<string> Warnings { get; } = new List<string>();
        internal List<ArchivalRange> ArchiveNow { get; } = new List<ArchivalRange>();
        internal List<ArchivalRange> Retention { get; } = new List<ArchivalRange>();

        /// <summary>Experiments with an archive-now request and with a retention group.</summary>
        public int ArchiveNowExperiments => ArchiveNow.Count;
        public int RetentionExperiments => Retention.Count;

        /// <summary>
        /// The candidates as MLflow orders them: every archive-now candidate first, then the retention ones, each
        /// oldest first (then by id) across experiments, at most <see cref="Budget"/>. Enumerating again walks the
        /// store again. A trace a request already covers is not listed twice: the retention range of an
        /// experiment starts after its archive-now cutoff.
        /// </summary>
        public IEnumerable<PlannedArchival> Candidates(CancellationToken cancel = default)
        {
            long yielded = 0;
            foreach (var (ranges, reason) in new[] { (ArchiveNow, ArchiveReason.ArchiveNow), (Retention, ArchiveReason.Retention) })
            {
                if (yielded >= Budget) yield break;
                foreach (var c in CandidateWalk.Run(Store, ranges, reason, Budget - yielded, Warnings, cancel))
                {
                    yielded++;
                    yield return c;
                }
            }
        }

        /// <summary>An upper bound of the candidate count for progress: the traces in the plan's time ranges
        /// (counted from the (experiment_id, timestamp_ms) index alone), at most the budget.</summary>
        public long EstimateCount(CancellationToken cancel = default)
        {
            long total = 0;
            foreach (var range in ArchiveNow.Concat(Retention))
            {
                cancel.ThrowIfCancellationRequested();
                var p = new SqlParameters();
                using var cmd = Store.Command($"SELECT count(*) FROM trace_info ti WHERE {range.Where(p)}", p);
                total += Convert.ToInt64(Store.Translate(() => cmd.ExecuteScalar()), CultureInfo.InvariantCulture);
                if (total >= Budget) return Budget;
            }
            return total;
        }
    }

    /// <summary>The traces of one experiment that one group of a pass considers: timestamp_ms in (After, UpTo].</summary>
    internal sealed class ArchivalRange
    {
        public long ExperimentId;
        public string ArchiveLocation = "";
        /// <summary>Inclusive upper bound (MLflow's cutoff); null: no age limit.</summary>
        public long? UpTo;
        /// <summary>Exclusive lower bound: the archive-now cutoff that already covers older traces; null: none.</summary>
        public long? After;

        public string Where(SqlParameters p) =>
            SearchCompiler.TracesOf(new[] { ExperimentId }, p) +
            (UpTo is long upTo ? $" AND ti.timestamp_ms <= {p.Add(upTo)}" : "") +
            (After is long after ? $" AND ti.timestamp_ms > {p.Add(after)}" : "");
    }

    /// <summary>
    /// Plans one archival pass as MLflow's SqlAlchemyStore.archive_traces does: archive-now requests first, then
    /// traces past their experiment's effective retention, oldest first, within the pass's budget; never a trace in
    /// progress, not in the store, marked with an archival failure, without span content, or under legal hold.
    /// </summary>
    public static class ArchivalPlanner
    {
        public static ArchivalPlan Plan(TraceStore store, ArchivalServerConfig config, IReadOnlyList<Experiment> experiments,
            long? maxTraces, DateTimeOffset now, CancellationToken cancel = default)
        {
            var plan = new ArchivalPlan(store, now, maxTraces ?? config.MaxTracesPerPass ?? long.MaxValue);
            if (!config.Enabled)
            {
                plan.Warnings.Add($"Trace archival is disabled in '{config.Path}' (enabled: false); nothing is archived.");
                return plan;
            }
            if (!store.Layout.HasSpans)
            {
                plan.Warnings.Add($"The store '{store.Name}' has no spans table (an MLflow layout before 3.2): its span payloads are artifacts, not rows, and MLflow's archival does not apply.");
                return plan;
            }
            var active = experiments.Where(e => e.LifecycleStage == "active").ToList();
            var policies = RetentionPolicy.Resolve(store, active, config).ToDictionary(r => r.ExperimentId);
            var rawTags = ExperimentArchivalTags.Read(store, active.Select(e => e.ExperimentId));
            foreach (var e in active)
            {
                cancel.ThrowIfCancellationRequested();
                long id = long.Parse(e.ExperimentId, CultureInfo.InvariantCulture);
                var policy = policies[e.ExperimentId];
                // A location no pass can write to (none, or a relative file: URI from a workspace row) is said once
                // here, so the dry run and the real run both leave the experiment alone.
                string? location = policy.ArchiveLocation;
                if (string.IsNullOrEmpty(location) || (location!.StartsWith("file:", StringComparison.OrdinalIgnoreCase) && FileArchiveRepository.LocalFolder(location) == null))
                {
                    plan.Warnings.Add($"The traces of experiment {e.ExperimentId} are not archived: " + (string.IsNullOrEmpty(location)
                        ? policy.Note ?? "it has no archive location."
                        : $"its archive location '{location}' is not an absolute local path (file:///absolute/path)."));
                    continue;
                }
                rawTags[e.ExperimentId].TryGetValue(ExperimentArchivalTags.ArchiveNowKey, out string? rawNow);
                bool requested = ExperimentArchivalTags.ParseArchiveNow(rawNow, out RetentionDuration? olderThan, out string? problem);
                if (problem != null) plan.Warnings.Add($"Ignoring malformed trace archive-now tag value: {rawNow}");
                long? nowCutoff = olderThan == null ? (long?)null : RetentionDuration.CutoffMs(now, olderThan.TimeSpan);
                if (requested)
                {
                    plan.ArchiveNowRequests[e.ExperimentId] = rawNow!;
                    plan.ArchiveNow.Add(new ArchivalRange { ExperimentId = id, ArchiveLocation = location, UpTo = nowCutoff });
                }
                if (policy.ArchiveAfterTimeSpan is TimeSpan retention)
                {
                    // An archive-now request that reaches at least as far back makes the regular group redundant;
                    // one that reaches less far leaves the regular group only the traces it does not cover.
                    bool covered = requested && (olderThan == null || olderThan.TimeSpan <= retention);
                    if (!covered)
                        plan.Retention.Add(new ArchivalRange
                        {
                            ExperimentId = id, ArchiveLocation = location, UpTo = RetentionDuration.CutoffMs(now, retention),
                            After = requested ? nowCutoff : null,
                        });
                }
            }
            return plan;
        }

        /// <summary>The candidate condition over trace_info alias ti, cheapest checks first.</summary>
        public static string CandidateCondition(SqlParameters p) => TraceCondition(p) + " AND " + HasContent;

        /// <summary>Everything of the candidate condition but the span content: the trace's own state and tags.</summary>
        internal static string TraceCondition(SqlParameters p) =>
            $"ti.status <> {p.Add("IN_PROGRESS")} " +
            $"AND NOT EXISTS (SELECT 1 FROM trace_tags f WHERE f.request_id = ti.request_id AND f.\"key\" = {p.Add(TraceTagKeys.ArchivalFailure)}) " +
            $"AND NOT EXISTS (SELECT 1 FROM trace_tags l WHERE l.request_id = ti.request_id AND l.\"key\" = {p.Add(TraceTagKeys.SpansLocation)} AND l.value <> {p.Add(SpansLocations.TrackingStore)}) " +
            $"AND NOT {LegalHold.Condition("ti")}";

        // octet_length reads the length from the record header, not the (overflow) pages of the payload.
        private const string HasContent = "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = ti.request_id AND octet_length(s.content) > 0)";
    }

    /// <summary>
    /// Walks the candidates of some experiments oldest first and merges them: each experiment is read in pages
    /// from the (experiment_id, timestamp_ms) index, resuming after the last (timestamp_ms, request_id) it gave.
    /// A page is read whole and its statement closed before any candidate is handed out, so a pass that writes
    /// between candidates never holds a read open (SQLite's writers would wait on it; PostgreSQL connections run
    /// one statement at a time). Payload bytes come with each row, which also settles the span-content rule.
    /// </summary>
    internal static class CandidateWalk
    {
        private const int FirstPage = 64, LargestPage = 4096, AllBuffers = 65536;

        private sealed class Cursor
        {
            public ArchivalRange Range = null!;
            public Queue<PlannedArchival> Buffer = new Queue<PlannedArchival>();
            public long? LastTimestamp;
            public string LastId = "";
            public int PageSize = FirstPage;
            public bool Done;
        }

        public static IEnumerable<PlannedArchival> Run(TraceStore store, IReadOnlyList<ArchivalRange> ranges, ArchiveReason reason,
            long budget, List<string> warnings, CancellationToken cancel)
        {
            var cursors = ranges.Select(r => new Cursor { Range = r }).ToList();
            // Pages grow while an experiment keeps giving candidates, within a bound on all buffers together.
            int largest = Math.Max(16, Math.Min(LargestPage, AllBuffers / Math.Max(1, cursors.Count)));
            long yielded = 0;
            while (yielded < budget)
            {
                cancel.ThrowIfCancellationRequested();
                Cursor? best = null;
                foreach (var c in cursors)
                {
                    if (c.Buffer.Count == 0 && !c.Done) Fill(store, c, reason, (int)Math.Min(Math.Min(c.PageSize, largest), budget - yielded), warnings, cancel);
                    if (c.Buffer.Count > 0 && (best == null || OldestFirst(c.Buffer.Peek(), best.Buffer.Peek()) < 0)) best = c;
                }
                if (best == null) yield break;
                yielded++;
                yield return best.Buffer.Dequeue();
                if (best.Buffer.Count == 0) best.PageSize = Math.Min(largest, best.PageSize * 2);
            }
        }

        private static int OldestFirst(PlannedArchival a, PlannedArchival b)
        {
            int c = a.TimestampMs.CompareTo(b.TimestampMs);
            return c != 0 ? c : string.CompareOrdinal(a.TraceId, b.TraceId);
        }

        /// <summary>Reads the next page of one experiment: up to <paramref name="size"/> traces that pass the trace
        /// conditions, of which those with span content become candidates.</summary>
        private static void Fill(TraceStore store, Cursor c, ArchiveReason reason, int size, List<string> warnings, CancellationToken cancel)
        {
            while (c.Buffer.Count == 0 && !c.Done)
            {
                cancel.ThrowIfCancellationRequested();
                var p = new SqlParameters();
                string after = c.LastTimestamp is long ts
                    ? $" AND ti.timestamp_ms >= {p.Add(ts)} AND (ti.timestamp_ms > {p.Add(ts)} OR ti.request_id > {p.Add(c.LastId)})"
                    : "";
                string sql = $"SELECT ti.request_id, ti.timestamp_ms, {Maintenance.MeasureIndexes.ContentBytes(store)} FROM trace_info ti " +
                             $"WHERE {c.Range.Where(p)}{after} AND {ArchivalPlanner.TraceCondition(p)} " +
                             $"ORDER BY ti.timestamp_ms, ti.request_id{store.Dialect.LimitOffset(p.Add(size), null)}";
                int rows = 0;
                // Set once one trace's folder passed the full check and the location has no traces folder yet: then
                // no trace's folder below it can lead elsewhere, and the check (a dozen file system calls) is that one's.
                bool locationClear = false;
                using (var cmd = store.Command(sql, p))
                using (var r = store.Translate(() => cmd.ExecuteReader()))
                {
                    while (store.Translate(() => r.Read()))
                    {
                        rows++;
                        c.LastId = r.GetString(0);
                        c.LastTimestamp = r.GetInt64(1);
                        long bytes = r.IsDBNull(2) ? 0 : r.GetInt64(2);
                        if (bytes == 0) continue;
                        // The folder is built from the id only when the id can name exactly the trace's own folder
                        // there; otherwise the trace stays in the store, and the dry run says so as the real run does.
                        string? folder = TraceFolders.ArchiveFolderUri(c.Range.ArchiveLocation, c.LastId, out string why);
                        if (folder != null && !locationClear && FileArchiveRepository.LocalFolder(folder) is string local)
                        {
                            try
                            {
                                TraceFolders.PayloadFolder(folder);
                                // local is <location>/traces/<id>/artifacts; "traces" is looked at itself (a link counts as there).
                                string location = System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(local.TrimEnd('/', System.IO.Path.DirectorySeparatorChar))!)!)!;
                                locationClear = ConfinedPath.RealPath(location, out _) is string real && (int)new System.IO.FileInfo(System.IO.Path.Combine(real, "traces")).Attributes == -1;
                            }
                            catch (MlTracesException ex) { folder = null; why = ex.Message; }
                        }
                        if (folder == null)
                        {
                            warnings.Add($"Trace {UserText.Printable(c.LastId)} is not archived: {why}");
                            continue;
                        }
                        c.Buffer.Enqueue(new PlannedArchival
                        {
                            TraceId = c.LastId, ExperimentId = c.Range.ExperimentId.ToString(CultureInfo.InvariantCulture),
                            TimestampMs = c.LastTimestamp.Value, Reason = reason, PayloadBytes = bytes,
                            ArchiveFolder = folder,
                        });
                    }
                }
                if (rows < size) c.Done = true;
            }
        }
    }
}
