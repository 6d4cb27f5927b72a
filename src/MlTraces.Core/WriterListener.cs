using System.Collections.Generic;

namespace MlTraces.Core
{
    /// <summary>A trace a writer's plan holds (to delete, archive or restore), as a person judges it.</summary>
    public interface IPlannedTrace
    {
        string TraceId { get; }
        /// <summary>The line a confirmation prompt and a -WhatIf line show.</summary>
        string Describe();
    }

    /// <summary>What a writer did with one trace (<see cref="DeletionReceipt"/>, <see cref="ArchivalReceipt"/>,
    /// <see cref="RestoreReceipt"/>).</summary>
    public interface ITraceReceipt
    {
        string TraceId { get; }
    }

    /// <summary>
    /// How every writer (DeletionExecutor, ArchivalExecutor, RestoreExecutor) reports while it runs a plan: one
    /// approval per planned trace, the plan in one line, progress, a receipt per trace, and what went wrong on the
    /// way. The cmdlets turn these into confirmation prompts, -WhatIf lines, progress bars, output, warnings and
    /// error records, so the writers say what they do in one way.
    /// </summary>
    public interface IWriterListener<in TPlanned, in TReceipt>
        where TPlanned : IPlannedTrace where TReceipt : ITraceReceipt
    {
        /// <summary>Whether to act on this trace (ShouldProcess); a dry run answers no to every one.</summary>
        bool Approve(TPlanned planned);
        /// <summary>The whole plan in one sentence, after the approval of each trace.</summary>
        void PlanSummary(string summary);
        /// <summary>How far the run is: <paramref name="done"/> of about <paramref name="total"/> traces.</summary>
        void Progress(long done, long total);
        /// <summary>These traces' changes are committed: said at once, before any of their receipts or errors (an
        /// error may end the run), so an audit line lists every trace that changed.</summary>
        void Committed(IEnumerable<string> traceIds);
        /// <summary>One trace's receipt, with the error that says why it was not done (that trace's error only).</summary>
        void Outcome(TReceipt receipt, MlTracesException? error);
        /// <summary>Something failed after a trace's outcome was settled (a file left behind): an error that
        /// changes nothing else.</summary>
        void Problem(string traceId, MlTracesException error);
        void Warning(string message);
        /// <summary>Detail for a verbose log.</summary>
        void Note(string message);
    }
}
