using System;
using System.Collections.Generic;

namespace MlTraces
{
    public enum DeletionStatus
    {
        /// <summary>The trace and everything on it are gone.</summary>
        Deleted,
        /// <summary>No such trace (or not in the workspace, which reads the same); as in MLflow, not an error.</summary>
        NotFound,
        /// <summary>Tagged mltraces.legalHold; left as it is.</summary>
        Held,
        /// <summary>Some of the trace's objects in an object store could not be deleted (or the trace was pointed at a
        /// new payload meanwhile): its rows are left intact, with the objects they point to, and the next run tries
        /// again. Only an object in UnconfirmedFiles (its delete went unanswered) may be gone already.</summary>
        ObjectsNotRemoved,
    }

    /// <summary>Remove-Trace's receipt for one requested trace: whether it went, and what went with it.</summary>
    public sealed class DeletionReceipt : MlTraces.Core.ITraceReceipt
    {
        public string TraceId { get; set; } = "";
        public bool Deleted => Status == DeletionStatus.Deleted;
        public DeletionStatus Status { get; set; }
        public string? ExperimentId { get; set; }
        public DateTimeOffset? RequestTime { get; set; }
        public string? State { get; set; }
        /// <summary>Rows that went with the trace (counted when the deletion was planned).</summary>
        public int Spans { get; set; }
        public int Assessments { get; set; }
        public int Tags { get; set; }
        public int Metadata { get; set; }
        /// <summary>trace_metrics and span_metrics rows.</summary>
        public int Metrics { get; set; }
        /// <summary>entity_associations rows that named the trace (links to runs, prompts, datasets) and the
        /// review-queue items of the trace.</summary>
        public int Associations { get; set; }
        /// <summary>Files, folders and objects removed: the trace's artifact folder, its archived payload. For a trace
        /// that kept its rows (ObjectsNotRemoved, Held), what went before the failure.</summary>
        public List<string> RemovedFiles { get; set; } = new List<string>();
        /// <summary>Objects whose delete went out and got no answer (a server killed or hung meanwhile): they may be
        /// gone or not; the next run removes what is left.</summary>
        public List<string> UnconfirmedFiles { get; set; } = new List<string>();
        /// <summary>What belongs to the trace but was not removed: remote artifact folders and archived payloads.</summary>
        public List<string> LeftBehind { get; set; } = new List<string>();
        public string? TrackingUri { get; set; }

        public override string ToString() => $"{TraceId}: {Status}";
    }
}
