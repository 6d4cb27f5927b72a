using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Core.Archive
{
    public enum ArchiveReason { ArchiveNow, Retention }

    /// <summary>One trace an archival pass would archive, and what it would move.</summary>
    public sealed class ArchiveCandidate
    {
        public string TraceId { get; set; } = "";
        public string ExperimentId { get; set; } = "";
        public long TimestampMs { get; set; }
        public ArchiveReason Reason { get; set; }
        /// <summary>UTF-8 bytes of span content the pass moves out of the store.</summary>
        public long PayloadBytes { get; set; }
        /// <summary>The folder URI MLflow records in mlflow.trace.archiveLocation (traces.pb goes inside).</summary>
        public string ArchiveFolder { get; set; } = "";
    }

    public sealed class ArchivalPlan
    {
        public DateTimeOffset Now { get; set; }
        public List<ArchiveCandidate> Candidates { get; } = new List<ArchiveCandidate>();
        /// <summary>The raw archive-now tag value of each experiment with a valid request, read at plan time, so
        /// the pass clears a request only if it is still the one it planned for (compare-and-delete).</summary>
        public Dictionary<string, string> ArchiveNowRequests { get; } = new Dictionary<string, string>();
        public List<string> Warnings { get; } = new List<string>();
        public long PayloadBytes => Candidates.Sum(c => c.PayloadBytes);
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
            var plan = new ArchivalPlan { Now = now };
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
            long budget = maxTraces ?? config.MaxTracesPerPass ?? long.MaxValue;
            var active = experiments.Where(e => e.LifecycleStage == "active").ToList();
            var policies = RetentionPolicy.Resolve(store, active, config).ToDictionary(r => r.ExperimentId);
            var rawTags = ExperimentArchivalTags.Read(store, active.Select(e => e.ExperimentId));
            long nowMs = now.ToUnixTimeMilliseconds();

            var archiveNowCutoffs = new Dictionary<long, long?>();
            var retentionCutoffs = new Dictionary<long, long?>();
            foreach (var e in active)
            {
                long id = long.Parse(e.ExperimentId, CultureInfo.InvariantCulture);
                var policy = policies[e.ExperimentId];
                rawTags[e.ExperimentId].TryGetValue(ExperimentArchivalTags.ArchiveNowKey, out string? rawNow);
                RetentionDuration? olderThan = null;
                bool requested = ExperimentArchivalTags.ParseArchiveNow(rawNow, out olderThan, out string? problem);
                if (problem != null) plan.Warnings.Add($"Ignoring malformed trace archive-now tag value: {rawNow}");
                if (requested)
                {
                    plan.ArchiveNowRequests[e.ExperimentId] = rawNow!;
                    archiveNowCutoffs[id] = olderThan == null ? (long?)null : RetentionDuration.CutoffMs(now, olderThan.TimeSpan);
                }
                if (policy.ArchiveAfterTimeSpan is TimeSpan retention)
                {
                    // An archive-now request that reaches at least as far back makes the regular group redundant.
                    bool covered = requested && (olderThan == null || olderThan.TimeSpan <= retention);
                    if (!covered) retentionCutoffs[id] = RetentionDuration.CutoffMs(now, retention);
                }
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (cutoffs, reason) in new[] { (archiveNowCutoffs, ArchiveReason.ArchiveNow), (retentionCutoffs, ArchiveReason.Retention) })
            {
                if (plan.Candidates.Count >= budget || cutoffs.Count == 0) continue;
                foreach (var t in Walk(store, cutoffs, cancel))
                {
                    if (plan.Candidates.Count >= budget) break;
                    if (!seen.Add(t.TraceId)) continue;
                    plan.Candidates.Add(new ArchiveCandidate
                    {
                        TraceId = t.TraceId, ExperimentId = t.ExperimentId, TimestampMs = t.TimestampMs, Reason = reason,
                        ArchiveFolder = policies[t.ExperimentId].ArchiveLocation + "/traces/" + t.TraceId + "/artifacts",
                    });
                }
            }
            FillPayloadBytes(store, plan.Candidates);
            return plan;
        }

        /// <summary>The candidate condition over trace_info alias ti, cheapest checks first.</summary>
        public static string CandidateCondition(SqlParameters p) =>
            $"ti.status <> {p.Add("IN_PROGRESS")} " +
            $"AND NOT EXISTS (SELECT 1 FROM trace_tags f WHERE f.request_id = ti.request_id AND f.\"key\" = {p.Add(TraceTagKeys.ArchivalFailure)}) " +
            $"AND NOT EXISTS (SELECT 1 FROM trace_tags l WHERE l.request_id = ti.request_id AND l.\"key\" = {p.Add(TraceTagKeys.SpansLocation)} AND l.value <> {p.Add(SpansLocations.TrackingStore)}) " +
            $"AND NOT {LegalHold.Condition("ti")} " +
            // octet_length reads the length from the record header, not the (overflow) pages of the payload.
            "AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = ti.request_id AND octet_length(s.content) > 0)";

        private static IEnumerable<Trace> Walk(TraceStore store, Dictionary<long, long?> cutoffs, CancellationToken cancel) =>
            PerExperimentWalk.Run(store, cutoffs.Keys, (id, p) =>
                $"SELECT {TraceReader.BaseColumns} FROM trace_info ti WHERE ti.experiment_id = {p.Add(id)}" +
                (cutoffs[id] is long cutoff ? $" AND ti.timestamp_ms <= {p.Add(cutoff)}" : "") +
                $" AND {CandidateCondition(p)} ORDER BY ti.timestamp_ms ASC, ti.request_id ASC",
                PerExperimentWalk.OldestFirst, cancel);

        private static void FillPayloadBytes(TraceStore store, List<ArchiveCandidate> candidates)
        {
            var byId = candidates.ToDictionary(c => c.TraceId, StringComparer.Ordinal);
            foreach (var chunk in TraceReader.Chunks(candidates.Select(c => c.TraceId).ToList(), TraceReader.BatchSize))
            {
                var p = new SqlParameters();
                using var cmd = store.Command(
                    $"SELECT trace_id, sum(octet_length(content)) FROM spans WHERE trace_id IN ({p.AddList(chunk)}) GROUP BY trace_id", p);
                using var r = store.Translate(() => cmd.ExecuteReader());
                while (r.Read()) byId[r.GetString(0)].PayloadBytes = r.IsDBNull(1) ? 0 : r.GetInt64(1);
            }
        }
    }
}
