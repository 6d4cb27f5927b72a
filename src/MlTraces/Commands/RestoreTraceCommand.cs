using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using MlTraces.Core;
using MlTraces.Core.Archive;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>
    /// Brings archived traces back into the store: by id, from trace objects, or every archived trace of some
    /// experiments. Plans first (reading each payload), asks per trace, then restores trace by trace.
    /// </summary>
    // Piped input goes to -InputObject whatever it is (the default set), and is read there: an id, a trace, an object
    // with a TraceId, or an experiment. A string -TraceId that took pipeline input would take any object by its
    // ToString() (an experiment's text as an id) before its properties could say what it is.
    [Cmdlet(VerbsData.Restore, "Trace", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ByInputObjectSet)]
    [OutputType(typeof(RestoreReceipt))]
    public sealed class RestoreTraceCommand : PayloadStoreCmdlet, IAuditedCommand
    {
        private const string ByIdSet = "ById", ByInputObjectSet = "ByInputObject", ByExperimentSet = "ByExperiment";

        /// <summary>Trace ids to restore (as Get-Trace takes them); piped ids go to -InputObject.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByIdSet)]
        [Alias("RequestId")]
        [AllowEmptyString]
        public string[] TraceId { get; set; } = new string[0];

        /// <summary>What the pipeline brings: trace ids, traces (Search-Trace, Get-Trace), objects with a TraceId
        /// (receipts), or experiments (Get-ExperimentRetention: every archived trace of that experiment). Each in
        /// its own store and scope; anything else is refused.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByInputObjectSet, ValueFromPipeline = true)]
        public PSObject[] InputObject { get; set; } = new PSObject[0];

        /// <summary>Restores every archived trace of these experiments.</summary>
        [Parameter(ParameterSetName = ByExperimentSet)]
        [ValidateNotNullOrEmpty]
        public string[]? ExperimentId { get; set; }

        [Parameter(ParameterSetName = ByExperimentSet)]
        [ValidateNotNullOrEmpty]
        public string[]? ExperimentName { get; set; }


        /// <summary>Writes a receipt per requested trace.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>The audit log (JSON lines) that gets a line about this run: when, who, the parameters, the store, the plan's totals, the outcome and the ids of the traces changed. Default: $env:MLTRACES_AUDIT_LOG; no log when neither is set. A log that cannot be written stops the command before it changes anything.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AuditLogPath { get; set; }

        // Ids and experiments from the pipeline, per store; restored in EndProcessing, when an upstream reader of the
        // same file is done.
        private readonly PendingInputs<string, (string Value, bool Experiment)> _pending = new PendingInputs<string, (string, bool)>();

        protected override void ProcessInput()
        {
            switch (ParameterSetName)
            {
                case ByIdSet:
                    foreach (var id in TraceId) Collect(id);
                    break;
                case ByInputObjectSet:
                    foreach (var item in InputObject) if (item != null) Take(item);
                    break;
                default:
                    RestoreExperiments();
                    break;
            }
        }

        protected override void EndProcessing() => EndWithPending(_pending, store => store, (_, inputs) =>
        {
            var ids = inputs.Where(i => !i.Experiment).Select(i => i.Value).ToList();
            var experiments = inputs.Where(i => i.Experiment).Select(i => i.Value).ToArray();
            PlanAndRun(store =>
            {
                var planner = new RestorePlanner(store, ObjectSettings);
                if (experiments.Length > 0)
                    ids = ids.Concat(planner.ArchivedTraceIds(ResolveExperiments(store, experiments, null, null, allByDefault: true).Ids)).ToList();
                return planner.Plan(ids);
            });
        });

        /// <summary>One piped object, read for what it is; its store is the -TrackingUri it bound (or the command's).</summary>
        private void Take(PSObject item)
        {
            object value = item.BaseObject;
            string? Property(string name) => item.Properties[name]?.Value is object v && !(v is PSObject p && p.BaseObject == null) ? v.ToString() : null;
            if (value is string id) Collect(id, experiment: false);
            else if (value is Trace trace) Collect(trace.TraceId, experiment: false);
            else if (Property("TraceId") is string traceId) Collect(traceId, experiment: false);
            else if (Property("ExperimentId") is string experimentId) Collect(experimentId, experiment: true);
            else WriteError(new ErrorRecord(new ArgumentException(
                    $"A {value.GetType().Name} does not say which traces to restore: pipe trace ids, traces (Search-Trace, Get-Trace), objects with a TraceId, or experiments (Get-ExperimentRetention)."),
                "UnsupportedInput", ErrorCategory.InvalidType, item));
        }

        private void Collect(string? id, bool experiment = false)
        {
            if (!experiment && !AcceptTraceId(id)) return;
            _pending.Add(TrackingUri ?? "", (id!, experiment));
        }

        private void RestoreExperiments()
        {
            if (ExperimentId == null && ExperimentName == null)
            {
                ThrowTerminatingError(new ErrorRecord(new PSArgumentException("Name the traces to restore: -TraceId, -InputObject, -ExperimentId or -ExperimentName."),
                    "MissingSelection", ErrorCategory.InvalidArgument, null));
                return;
            }
            PlanAndRun(store =>
            {
                var planner = new RestorePlanner(store, ObjectSettings);
                return planner.Plan(planner.ArchivedTraceIds(ResolveExperiments(store, ExperimentId, ExperimentName, null, allByDefault: true).Ids));
            });
        }

        /// <summary>Opens the store (read-only for a dry run), plans, and runs the plan: asked per trace, restored
        /// trace by trace.</summary>
        private void PlanAndRun(Func<TraceStore, RestorePlan> makePlan)
        {
            using var report = new WriterReport<PlannedRestore, RestoreReceipt>(this, "Restore trace", "Restoring archived traces", PassThru);
            Terminating(() =>
            {
                var store = OpenStoreToWrite();
                // A restore moves the payloads an archival pass writes: never both at once.
                if (!DryRun) LockForArchiveWork(store);
                report.Progress.Activity = "Restoring archived traces into " + store.Name;
                new RestoreExecutor(store, ObjectSettings).Run(makePlan(store), DryRun, report);
            });
        }
    }
}
