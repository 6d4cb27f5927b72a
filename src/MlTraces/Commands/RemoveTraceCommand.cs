using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using MlTraces.Core;
using MlTraces.Core.Delete;
using MlTraces.Core.Query;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>
    /// Deletes traces and everything that hangs on them: by id, from trace objects, by age (MLflow's
    /// delete_traces) or by filter (Search-Trace's language). Plans first, asks per trace, then deletes in bounded
    /// transactions.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "Trace", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByAgeSet)]
    [OutputType(typeof(DeletionReceipt))]
    public sealed class RemoveTraceCommand : PayloadStoreCmdlet, IAuditedCommand
    {
        private const string ByIdSet = "ById", ByInputObjectSet = "ByInputObject", ByAgeSet = "ByAge", ByFilterSet = "ByFilter";

        /// <summary>Trace ids to remove (as Get-Trace takes them).</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByIdSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        // Also in the default set, by property name: an object with TraceId and TrackingUri binds its TrackingUri
        // there first, and PowerShell then stays in the default set (as if no id had come) unless it takes the id too.
        [Parameter(ParameterSetName = ByAgeSet, ValueFromPipelineByPropertyName = true)]
        [Alias("RequestId")]
        [AllowEmptyString]
        public string[] TraceId { get; set; } = new string[0];

        /// <summary>Traces from Get-Trace or Search-Trace.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByInputObjectSet, ValueFromPipeline = true)]
        public Trace[] InputObject { get; set; } = new Trace[0];

        /// <summary>An MLflow filter string: removes exactly what Search-Trace returns for it.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByFilterSet)]
        public string Filter { get; set; } = "";

        /// <summary>Experiments to remove from. Default: every active experiment (by age or filter), any experiment (by id).
        /// A piped object's ExperimentId binds here: its scope travels with it and is never widened.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[]? ExperimentId { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ExperimentName { get; set; }

        /// <summary>Traces that started at or before this time (inclusive, as MLflow's max_timestamp_millis).</summary>
        [Parameter]
        public DateTime? Before { get; set; }

        /// <summary>Traces that started at least this long ago: 30d, 12h, 90m, or a TimeSpan.</summary>
        [Parameter]
        [DurationTransformation("OlderThan")]
        public TimeSpan? OlderThan { get; set; }

        /// <summary>At most this many traces, oldest first (MLflow's max_traces).</summary>
        [Parameter]
        public int? MaxTraces { get; set; }

        /// <summary>Only traces of experiments in this MLflow workspace; others read as not there.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Workspace { get; set; }


        /// <summary>Writes a receipt per requested trace: TraceId, Deleted, Status and what went with it.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>The audit log (JSON lines) that gets a line about this run: when, who, the parameters, the store, the plan's totals, the outcome and the ids of the traces changed. Default: $env:MLTRACES_AUDIT_LOG; no log when neither is set. A log that cannot be written stops the command before it changes anything.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AuditLogPath { get; set; }

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();
        // Ids from the pipeline, per store and experiment scope, in the order they came; deleted at the end.
        private readonly PendingInputs<(string Store, string? Experiments), string> _pending = new PendingInputs<(string, string?), string>();

        private bool ByIds => ParameterSetName == ByIdSet || ParameterSetName == ByInputObjectSet || IdsInDefaultSet;

        /// <summary>Ids that came in the default set (from a piped object's TraceId, or -TraceId beside another
        /// parameter of that set): they are removed as ids, and MLflow's rules see them as ids.</summary>
        private bool IdsInDefaultSet => ParameterSetName == ByAgeSet && TraceId.Length > 0;

        // Whether the first record was taken as ids; every later record must be taken the same way.
        private bool? _firstByIds;

        /// <summary>MLflow's parameter rules, checked at the first record: only then is the parameter set known
        /// (pipeline input decides it), and still before any store is opened.</summary>
        private void Validate()
        {
            if (_validated) return;
            _validated = true;
            Terminating(() =>
            {
                DeletionRules.Check(ByIds, ParameterSetName == ByAgeSet && !IdsInDefaultSet, Before.HasValue, OlderThan, MaxTraces);
                // A bad filter or experiment id is the user's to fix whatever the store: say so before touching it.
                if (ParameterSetName == ByFilterSet) _clauses = FilterParser.Parse(Filter, numericAssessments: true);
                foreach (var id in ExperimentId ?? new string[0]) Experiments.NormalizeId(id);
            }, Filter);
        }

        private bool _validated;
        // The filter, parsed once for the whole command.
        private IReadOnlyList<FilterClause>? _clauses;

        protected override void ProcessInput()
        {
            Validate();
            // A later piped object that has no TraceId where the first had one (or one where the first had none) is
            // not the same request: never a deletion by age with no age given, nor ids beside an age.
            if (ParameterSetName == ByAgeSet && (_firstByIds ??= IdsInDefaultSet) != IdsInDefaultSet)
            {
                WriteError(new ErrorRecord(new ArgumentException(_firstByIds == true
                        ? "This input has no TraceId, while the inputs before it had: it is not removed. Pipe objects that each have a TraceId (or RequestId) property."
                        : "This input has a TraceId, while the inputs before it had none and were removed by age or filter: it is not removed. Remove trace ids in a command of their own."),
                    "MixedPipelineInput", ErrorCategory.InvalidArgument, TraceId.Length > 0 ? (object)TraceId[0] : TrackingUri));
                return;
            }
            switch (ParameterSetName)
            {
                case ByIdSet:
                case ByAgeSet when IdsInDefaultSet:
                    foreach (var id in TraceId) Collect(id);
                    break;
                case ByInputObjectSet:
                    foreach (var trace in InputObject) if (trace != null) Collect(trace.TraceId);
                    break;
                default:
                    RemoveByQuery();
                    break;
            }
        }

        protected override void EndProcessing() => EndWithPending(_pending, scope => scope.Store, (scope, ids) =>
        {
            ExperimentId = scope.Experiments?.Split('\n');
            RemoveByIds(ids);
        });

        /// <summary>Ctrl+C: stop between batches. The store stays open until the running batch has committed.</summary>
        protected override void StopProcessing() => _cancel.Cancel();

        private void Collect(string? id)
        {
            if (!AcceptTraceId(id)) return;
            _pending.Add((TrackingUri ?? "", ExperimentId == null ? null : string.Join("\n", ExperimentId)), id!);
        }

        private void RemoveByIds(List<string> ids) => PlanAndRun(store =>
        {
            bool named = ExperimentId != null || ExperimentName != null;
            var scope = ResolveExperiments(store, ExperimentId, ExperimentName, Workspace, allByDefault: true);
            return new DeletionPlanner(store, scope.Experiments, ObjectSettings).ForIds(ids, named ? scope.Ids : null, _cancel.Token);
        });

        private void RemoveByQuery() => PlanAndRun(store =>
        {
            var scope = ResolveExperiments(store, ExperimentId, ExperimentName, Workspace);
            long? cutoff = DeletionRules.CutoffMs(Before, OlderThan, DateTimeOffset.UtcNow);
            if (cutoff.HasValue) WriteVerbose($"Traces that started at or before {DateTimeOffset.FromUnixTimeMilliseconds(cutoff.Value):u} ({cutoff.Value} ms).");
            return new DeletionPlanner(store, scope.Experiments, ObjectSettings).ForQuery(new DeletionQuery
            {
                ExperimentIds = scope.Ids,
                Filter = ParameterSetName == ByFilterSet ? Filter : null,
                Clauses = _clauses,
                MaxTimestampMs = cutoff,
                MaxTraces = MaxTraces,
            }, _cancel.Token);
        });

        /// <summary>Opens the store (read-only for a dry run), plans, and runs the plan: asked per trace, deleted in
        /// bounded transactions. The progress bar closes however this ends.</summary>
        private void PlanAndRun(Func<TraceStore, DeletionPlan> makePlan)
        {
            using var report = new WriterReport<PlannedDeletion, DeletionReceipt>(this, "Remove trace", "Removing traces", PassThru);
            report.Progress.Show("Reading the traces to remove");
            try
            {
                Terminating(() =>
                {
                    var store = OpenStoreToWrite();
                    new DeletionExecutor(store).Run(makePlan(store), DryRun, report, _cancel.Token);
                });
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C, seen between batches: every batch either committed or never began.
                throw new PipelineStoppedException();
            }
        }
    }
}
