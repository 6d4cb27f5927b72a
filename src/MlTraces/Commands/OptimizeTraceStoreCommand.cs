using System;
using System.Management.Automation;
using System.Threading;
using MlTraces.Core.Maintenance;

namespace MlTraces.Commands
{
    /// <summary>
    /// Gives a store's free space back and refreshes its statistics: SQLite VACUUM (or incremental_vacuum), then
    /// ANALYZE or PRAGMA optimize; PostgreSQL VACUUM (ANALYZE) of the trace tables, or VACUUM FULL with -Full. Plans
    /// first (the bytes it expects back, how long the store is locked, the disk space it needs), refuses when the
    /// disk lacks that space or another process holds the store, and reports bytes before and after.
    /// </summary>
    [Cmdlet(VerbsCommon.Optimize, "TraceStore", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Vacuum")]
    [OutputType(typeof(StoreOptimization))]
    public sealed class OptimizeTraceStoreCommand : PipelineStoreCmdlet, IAuditedCommand
    {
        /// <summary>PostgreSQL: VACUUM FULL, which gives the space back to the disk but locks each trace table while it
        /// rewrites it. SQLite: VACUUM even where the store's auto_vacuum allows an incremental vacuum.</summary>
        [Parameter(ParameterSetName = "Vacuum")]
        public SwitchParameter Full { get; set; }

        /// <summary>SQLite: Create the narrow indexes that make Measure-TraceStore take seconds instead of reading every
        /// span row (MLflow keeps working on the store), or Remove them. Instead of a vacuum.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "MeasureIndex")]
        public MeasureIndexAction MeasureIndex { get; set; }

        /// <summary>The audit log (JSON lines) that gets a line about this run: when, who, the parameters, the store, the plan, the bytes before and after, and the outcome. Default: $env:MLTRACES_AUDIT_LOG; no log when neither is set. A log that cannot be written stops the command before it changes anything.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AuditLogPath { get; set; }

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        protected override void ProcessInput()
        {
            // Ctrl+C interrupts the statement: SQLite and PostgreSQL roll it back, and the store is as it was.
            WithProgress("Optimizing trace store", 0, progress =>
            {
                var store = OpenStoreToWrite();
                // No archival pass or restore moves payloads meanwhile, and the store takes writes now.
                if (!DryRun) LockForArchiveWork(store);
                var plan = StoreOptimizer.Plan(store, Full, ParameterSetName == "MeasureIndex" ? MeasureIndex : (MeasureIndexAction?)null);
                WriteWarnings(plan.Warnings);
                if (Audit != null) Audit.Plan = plan.Describe();
                if (!ShouldChange(plan.Describe(), plan.Index == null ? "Optimize trace store" : "Optimize trace store: measure indexes"))
                {
                    if (DryRun)
                    {
                        if (plan.Refusal is string refusal) WriteWarning("The real run would refuse: " + refusal);
                        WriteObject(plan.Result);
                    }
                    return;
                }
                var result = StoreOptimizer.Run(plan, progress.Show, _cancel.Token);
                Audit?.Total("bytesBefore", result.BytesBefore);
                if (result.BytesAfter is long after) Audit?.Total("bytesAfter", after);
                if (result.LockTime is TimeSpan locked) Audit?.Total("lockMilliseconds", (long)locked.TotalMilliseconds);
                WriteWarnings(plan.Warnings);
                WriteVerbose("Optimize-TraceStore: " + result);
                WriteObject(result);
            });
        }

        /// <summary>Ctrl+C: interrupt the running statement; the store closes when the command ends.</summary>
        protected override void StopProcessing() => _cancel.Cancel();
    }
}
