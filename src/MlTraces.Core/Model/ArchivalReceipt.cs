namespace MlTraces
{
    public enum ArchivalStatus
    {
        /// <summary>-WhatIf: the real run would archive it.</summary>
        Planned,
        Archived,
        /// <summary>The payload cannot be archived; the trace is tagged mlflow.trace.archivalFailure = MALFORMED_TRACE.</summary>
        Malformed,
        /// <summary>Something changed or failed on the way (spans appended, write error); the next pass tries again.</summary>
        LeftForNextPass,
        /// <summary>Between the plan and the pass the trace stopped being a candidate (deleted, archived, in progress).</summary>
        Skipped,
    }

    /// <summary>What an archival pass did with one trace.</summary>
    public sealed class ArchivalReceipt : MlTraces.Core.ITraceReceipt
    {
        public string TraceId { get; set; } = "";
        public string ExperimentId { get; set; } = "";
        public ArchivalStatus Status { get; set; }
        /// <summary>ArchiveNow or Retention: why the trace was chosen.</summary>
        public string Reason { get; set; } = "";
        /// <summary>UTF-8 bytes of span content moved out of the store (not the size of traces.pb); Restore-Trace
        /// reports the same count for the same trace.</summary>
        public long PayloadBytes { get; set; }
        public string ArchiveLocation { get; set; } = "";
        public string? Message { get; set; }
        /// <summary>Set when the trace was left for the next pass because something failed (a write to the archive
        /// location, a payload gone before the finalize), not because it changed: e.g. ArchiveWriteFailed.</summary>
        public string? ErrorId { get; set; }
        public string? TrackingUri { get; set; }
        public override string ToString() => $"{TraceId}: {Status}";
    }

    /// <summary>One archival pass, for a scheduled task's log.</summary>
    public sealed class TraceArchiveSummary
    {
        public string TrackingUri { get; set; } = "";
        public int Planned { get; set; }
        public int Archived { get; set; }
        public int Malformed { get; set; }
        public int LeftForNextPass { get; set; }
        public int Skipped { get; set; }
        public long ArchivedBytes { get; set; }
        public int ArchiveNowRequestsCleared { get; set; }
        public int OrphanedPayloadsRemoved { get; set; }
        public System.TimeSpan Duration { get; set; }
        public bool WhatIf { get; set; }
        public override string ToString() =>
            $"{(WhatIf ? "planned" : "archived")} {(WhatIf ? Planned : Archived)} trace(s), {ArchivedBytes:N0} bytes; malformed {Malformed}, left for next pass {LeftForNextPass}, skipped {Skipped}";
    }
}
