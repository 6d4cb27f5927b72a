using System;

namespace MlTraces
{
    public enum RestoreStatus
    {
        /// <summary>The spans are back in the store and the trace reads from there.</summary>
        Restored,
        /// <summary>No such trace.</summary>
        NotFound,
        /// <summary>The trace's spans are not archived (already in the store, or in the artifact store).</summary>
        NotArchived,
        /// <summary>The trace is archived but could not be restored (see the error); nothing of it changed.</summary>
        Failed,
    }

    /// <summary>Restore-Trace's receipt for one requested trace.</summary>
    public sealed class RestoreReceipt : MlTraces.Core.ITraceReceipt
    {
        public string TraceId { get; set; } = "";
        public RestoreStatus Status { get; set; }
        public bool Restored => Status == RestoreStatus.Restored;
        public string? ExperimentId { get; set; }
        /// <summary>The folder URI the payload was archived at (mlflow.trace.archiveLocation).</summary>
        public string? ArchiveLocation { get; set; }
        public int Spans { get; set; }
        /// <summary>UTF-8 bytes of span content brought back into the store: the same count the archival pass gave
        /// the trace (its PayloadBytes) when it archived it.</summary>
        public long PayloadBytes { get; set; }
        /// <summary>The size of the traces.pb file the content was read from (OTLP protobuf, smaller than the JSON
        /// content it holds).</summary>
        public long ArchiveFileBytes { get; set; }
        /// <summary>Whether traces.pb was removed after the restore was committed.</summary>
        public bool ArchiveFileRemoved { get; set; }
        /// <summary>Why the trace was not restored (the error's stable id), or null.</summary>
        public string? ErrorId { get; set; }
        public string? TrackingUri { get; set; }

        public override string ToString() => $"{TraceId}: {Status}";
    }
}
