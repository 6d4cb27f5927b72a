using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MlTraces.Core.Delete
{
    /// <summary>One trace as the plan found it: where it is, when it ran, and what hangs on it.</summary>
    public sealed class PlannedDeletion : IPlannedTrace
    {
        public string TraceId { get; set; } = "";
        public string ExperimentId { get; set; } = "";
        public string? ExperimentName { get; set; }
        /// <summary>The experiment's artifact location: the root a trace's own artifact folder must lie in.</summary>
        public string? ExperimentArtifactLocation { get; set; }
        public long TimestampMs { get; set; }
        public string State { get; set; } = "";
        public bool Held { get; set; }
        public int Spans { get; set; }
        public int Assessments { get; set; }
        public int Tags { get; set; }
        public int Metadata { get; set; }
        public int Metrics { get; set; }
        public int Associations { get; set; }
        public TraceFiles Files { get; set; } = new TraceFiles();

        public DateTimeOffset RequestTime => DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs);

        /// <summary>What a person needs to judge the trace at a prompt or in a -WhatIf line.</summary>
        public string Describe()
        {
            var parts = new List<string>
            {
                ExperimentName == null ? $"experiment {ExperimentId}" : $"experiment {ExperimentId} '{ExperimentName}'",
                RequestTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                State,
                Count(Spans, "span"),
            };
            if (Assessments > 0) parts.Add(Count(Assessments, "assessment"));
            if (Associations > 0) parts.Add(Count(Associations, "link"));
            if (Files.Folders.Count + Files.Files.Count > 0) parts.Add("local files");
            // Exactly what the real run deletes: every object under a folder, and the archived payload.
            if (Files.Objects.Count > 0) parts.Add("objects in " + string.Join(", ", Files.Objects.Select(o => o.Uri)));
            return $"{TraceId} ({string.Join(", ", parts)})";
        }

        public DeletionReceipt Receipt(DeletionStatus status, string trackingUri) => new DeletionReceipt
        {
            TraceId = TraceId, Status = status, ExperimentId = ExperimentId, RequestTime = RequestTime, State = State,
            Spans = Spans, Assessments = Assessments, Tags = Tags, Metadata = Metadata, Metrics = Metrics,
            Associations = Associations, LeftBehind = new List<string>(Files.LeftBehind), TrackingUri = trackingUri,
        };

        internal static string Count(long n, string noun) =>
            n.ToString("N0", CultureInfo.InvariantCulture) + " " + noun + (n == 1 ? "" : "s");
    }

    /// <summary>
    /// What a deletion will do, computed once: the traces to delete (in the order they were asked for, or oldest
    /// first), the held ones it leaves, and the asked-for ids that are not there. -WhatIf prints it and the real
    /// run executes it, so the two cannot disagree.
    /// </summary>
    public sealed class DeletionPlan
    {
        public DeletionPlan(string trackingUri, Locations.ObjectStoreSettings settings)
        {
            TrackingUri = trackingUri;
            Settings = settings;
        }

        public string TrackingUri { get; }
        /// <summary>How object stores are reached (credentials, endpoints, the artifacts destination): the command's,
        /// for the plan and its run alike.</summary>
        public Locations.ObjectStoreSettings Settings { get; }
        public List<PlannedDeletion> Traces { get; } = new List<PlannedDeletion>();
        public List<PlannedDeletion> Held { get; } = new List<PlannedDeletion>();
        /// <summary>Traces whose own objects cannot be reached from here (<see cref="TraceFiles.Unreachable"/>): their
        /// rows are kept, each with its error, so no object is left that no row points to.</summary>
        public List<PlannedDeletion> Kept { get; } = new List<PlannedDeletion>();
        /// <summary>Ids asked for that the store does not have (or that lie outside the workspace).</summary>
        public List<string> NotFound { get; } = new List<string>();
        /// <summary>What the filter compiler says this store's layout cannot fully answer.</summary>
        public List<string> Warnings { get; } = new List<string>();

        /// <summary>Files a trace found by the planner where it belongs: held, kept for its objects, or to delete.</summary>
        public void Add(PlannedDeletion trace) =>
            (trace.Held ? Held : trace.Files.Unreachable != null ? Kept : Traces).Add(trace);

        /// <summary>One sentence on the whole plan, for -WhatIf and verbose output.</summary>
        public string Summary()
        {
            var traces = Traces;
            string text = $"Remove {PlannedDeletion.Count(traces.Count, "trace")} from the store '{TrackingUri}'";
            if (traces.Count > 0)
                text += $" with {PlannedDeletion.Count(traces.Sum(t => (long)t.Spans), "span")}, {PlannedDeletion.Count(traces.Sum(t => (long)t.Assessments), "assessment")}, "
                      + $"{PlannedDeletion.Count(traces.Sum(t => (long)t.Tags + t.Metadata), "tag and metadata row")}, {PlannedDeletion.Count(traces.Sum(t => (long)t.Metrics), "metric")} "
                      + $"and {PlannedDeletion.Count(traces.Sum(t => (long)t.Associations), "link")}";
            var left = new List<string>();
            if (Held.Count > 0) left.Add($"{PlannedDeletion.Count(Held.Count, "trace")} under legal hold");
            if (Kept.Count > 0) left.Add($"{PlannedDeletion.Count(Kept.Count, "trace")} whose objects cannot be reached from here");
            if (NotFound.Count > 0) left.Add($"{PlannedDeletion.Count(NotFound.Count, "id")} not found");
            return text + (left.Count > 0 ? "; leave " + string.Join(" and ", left) : "") + ".";
        }
    }
}
