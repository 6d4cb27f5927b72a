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
    [OutputType(typeof(TraceRestore))]
    public sealed class RestoreTraceCommand : PipelineStoreCmdlet, IRestoreListener
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

        protected override void EndProcessing()
        {
            try
            {
                foreach (var group in _pending.Groups())
                {
                    TrackingUri = group.Key.Length == 0 ? null : group.Key;
                    PerInput(() =>
                    {
                        var store = Open();
                        if (store == null) return;
                        var ids = group.Value.Where(i => !i.Experiment).Select(i => i.Value).ToList();
                        var experiments = group.Value.Where(i => i.Experiment).Select(i => i.Value).ToList();
                        RestorePlan? plan = null;
                        Terminating(() =>
                        {
                            var restorer = new TraceRestorer(store);
                            if (experiments.Count > 0)
                                ids = ids.Concat(restorer.ArchivedTraceIds(ResolveExperiments(store, experiments.ToArray(), null, null, allByDefault: true).Ids)).ToList();
                            plan = restorer.Plan(ids);
                        });
                        if (plan != null) Act(store, plan);
                    });
                }
            }
            finally
            {
                base.EndProcessing();
            }
        }

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
            var store = Open();
            if (store == null) return;
            RestorePlan? plan = null;
            Terminating(() =>
            {
                var scope = ResolveExperiments(store, ExperimentId, ExperimentName, null, allByDefault: true);
                var restorer = new TraceRestorer(store);
                plan = restorer.Plan(restorer.ArchivedTraceIds(scope.Ids));
            });
            if (plan != null) Act(store, plan);
        }

        private TraceStore? Open()
        {
            TraceStore? store = null;
            Terminating(() =>
            {
                store = OpenStoreToWrite();
                // A restore moves the payloads an archival pass writes: never both at once.
                if (!DryRun) LockForArchiveWork(store);
            });
            return store;
        }

        private void Act(TraceStore store, RestorePlan plan)
        {
            foreach (var (receipt, error) in plan.Refused)
            {
                WriteError(ErrorRecords.From(error, receipt.TraceId));
                if (PassThru) WriteObject(receipt);
            }
            var accepted = plan.Traces.Where(t => ShouldProcess(t.Describe(), "Restore trace")).ToList();
            ReportPlan(plan.Summary());
            if (DryRun) return;
            _progress = new ProgressReporter(this, "Restoring archived traces into " + store.Name);
            try
            {
                Terminating(() => new TraceRestorer(store).Run(plan, accepted, this));
            }
            finally
            {
                _progress.Complete();
            }
        }

        private ProgressReporter? _progress;

        void IRestoreListener.Outcome(TraceRestore receipt, MlTracesException? error, int done, int total)
        {
            if (error != null) WriteError(ErrorRecords.From(error, receipt.TraceId));
            else if (receipt.Restored) WriteVerbose($"Restored trace {receipt.TraceId} ({receipt.Spans} spans).");
            if (PassThru) WriteObject(receipt);
            _progress?.Report(done, total, "traces");
        }

        void IRestoreListener.ArchiveFileNotRemoved(string traceId, string location, MlTracesException error) =>
            WriteError(new ErrorRecord(error, "ArchiveFileNotRemoved", ErrorCategory.WriteError, traceId)
            {
                ErrorDetails = new ErrorDetails($"Trace '{traceId}' was restored, but its archived payload at '{location}' could not be removed: {error.Message} " +
                                                "No trace points at it any more; the archival pass removes such files."),
            });
    }
}
