using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using MlTraces.Core;
using MlTraces.Core.Delete;
using MlTraces.Core.Query;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>
    /// Deletes traces and everything that hangs on them: by id, from trace objects, by age (MLflow's
    /// delete_traces) or by filter (Search-Trace's language). Plans first, asks per trace, then deletes in bounded
    /// transactions.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "Trace", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByAgeSet)]
    [OutputType(typeof(TraceDeletion))]
    public sealed class RemoveTraceCommand : PipelineStoreCmdlet, IDeletionListener
    {
        private const string ByIdSet = "ById", ByInputObjectSet = "ByInputObject", ByAgeSet = "ByAge", ByFilterSet = "ByFilter";
        private const int ProgressActivityId = 0x4d4c5254;

        /// <summary>Trace ids to remove (as Get-Trace takes them).</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByIdSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
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

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();
        // Ids from the pipeline, per store and experiment scope, in the order they came. They are deleted in
        // EndProcessing: an upstream Search-Trace still reading the same SQLite file would block every commit until
        // it is done.
        private readonly PendingInputs<(string Store, string? Experiments), string> _pending = new PendingInputs<(string, string?), string>();
        private bool _progressShown;

        private bool ByIds => ParameterSetName == ByIdSet || ParameterSetName == ByInputObjectSet;

        /// <summary>MLflow's parameter rules, checked at the first record: only then is the parameter set known
        /// (pipeline input decides it), and still before any store is opened.</summary>
        private void Validate()
        {
            if (_validated) return;
            _validated = true;
            Terminating(() =>
            {
                DeletionRules.Check(ByIds, ParameterSetName == ByAgeSet, Before.HasValue, OlderThan, MaxTraces);
                // A bad filter or experiment id is the user's to fix whatever the store: say so before touching it.
                if (ParameterSetName == ByFilterSet) _clauses = FilterParser.Parse(Filter);
                foreach (var id in ExperimentId ?? new string[0]) Experiments.NormalizeId(id);
            }, Filter);
        }

        private bool _validated;
        // The filter, parsed once for the whole command.
        private IReadOnlyList<FilterClause>? _clauses;

        protected override void ProcessInput()
        {
            Validate();
            switch (ParameterSetName)
            {
                case ByIdSet:
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

        protected override void EndProcessing()
        {
            try
            {
                foreach (var group in _pending.Groups())
                {
                    TrackingUri = group.Key.Store.Length == 0 ? null : group.Key.Store;
                    ExperimentId = group.Key.Experiments?.Split('\n');
                    PerInput(() => RemoveByIds(group.Value));
                }
            }
            finally
            {
                base.EndProcessing();
            }
        }

        /// <summary>Ctrl+C: stop between batches. The store stays open until the running batch has committed.</summary>
        protected override void StopProcessing() => _cancel.Cancel();

        private void Collect(string? id)
        {
            if (!AcceptTraceId(id)) return;
            _pending.Add((TrackingUri ?? "", ExperimentId == null ? null : string.Join("\n", ExperimentId)), id!);
        }

        /// <summary>Opens the store (read-only for a dry run: it cannot change the file, not even by accident),
        /// plans, and acts; the progress bar closes however this ends.</summary>
        private void PlanAndAct(Func<TraceStore, DeletionPlan> makePlan)
        {
            _progressShown = true;
            WriteProgress(new ProgressRecord(ProgressActivityId, "Removing traces", "Reading the traces to remove"));
            try
            {
                TraceStore? store = null;
                DeletionPlan? plan = null;
                Terminating(() =>
                {
                    store = OpenStoreToWrite();
                    plan = makePlan(store);
                });
                if (store != null && plan != null) Act(store, plan);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C, seen between batches: every batch either committed or never began.
                throw new PipelineStoppedException();
            }
            finally
            {
                CompleteProgress();
            }
        }

        private void RemoveByIds(List<string> ids) => PlanAndAct(store =>
        {
            bool named = ExperimentId != null || ExperimentName != null;
            var scope = ResolveExperiments(store, ExperimentId, ExperimentName, Workspace, allByDefault: true);
            return new DeletionPlanner(store, scope.Experiments).ForIds(ids, named ? scope.Ids : null, _cancel.Token);
        });

        private void RemoveByQuery() => PlanAndAct(store =>
        {
            var scope = ResolveExperiments(store, ExperimentId, ExperimentName, Workspace);
            long? cutoff = Before.HasValue ? ToUnixMs(Before.Value)
                : OlderThan.HasValue ? RetentionDuration.CutoffMs(DateTimeOffset.UtcNow, OlderThan.Value) : (long?)null;
            if (cutoff.HasValue) WriteVerbose($"Traces that started at or before {DateTimeOffset.FromUnixTimeMilliseconds(cutoff.Value):u} ({cutoff.Value} ms).");
            return new DeletionPlanner(store, scope.Experiments).ForQuery(new DeletionQuery
            {
                ExperimentIds = scope.Ids,
                Filter = ParameterSetName == ByFilterSet ? Filter : null,
                Clauses = _clauses,
                MaxTimestampMs = cutoff,
                MaxTraces = MaxTraces,
            }, _cancel.Token);
        });

        /// <summary>A DateTime as PowerShell users write it: UTC when it says so, local time otherwise.</summary>
        private static long ToUnixMs(DateTime time)
        {
            var utc = time.Kind == DateTimeKind.Utc ? time : DateTime.SpecifyKind(time.ToUniversalTime(), DateTimeKind.Utc);
            return new DateTimeOffset(utc).ToUnixTimeMilliseconds();
        }

        /// <summary>Reports the plan, asks per trace, and deletes what was agreed to.</summary>
        private void Act(TraceStore store, DeletionPlan plan)
        {
            // A dry run writes no receipts: nothing happened to any trace.
            bool receipts = PassThru && !DryRun;
            WriteWarnings(plan.Warnings);
            foreach (var id in plan.NotFound)
            {
                WriteWarning($"Trace '{id}' was not found in the store '{plan.TrackingUri}'; there is nothing to remove.");
                if (receipts) WriteObject(new TraceDeletion { TraceId = id, Status = TraceDeletionStatus.NotFound, TrackingUri = plan.TrackingUri });
            }
            if (plan.Held.Count > 0)
            {
                WriteWarning(HeldMessage(plan.Held.Select(t => t.TraceId).ToList()));
                if (receipts) foreach (var t in plan.Held) WriteObject(t.Receipt(TraceDeletionStatus.Held, plan.TrackingUri));
            }

            var accepted = new List<PlannedTrace>(plan.Traces.Count);
            foreach (var t in plan.Traces)
                if (ShouldProcess(t.Describe(), "Remove trace")) accepted.Add(t);
            // The whole plan in one line ("What if: Remove 3 traces ..."), after the line per trace.
            ReportPlan(plan.Summary());
            if (DryRun)
            {
                // The dry run says what the real run would leave behind, as the real run does.
                var leaving = plan.Traces.Where(t => t.Files.LeftBehind.Count > 0).ToList();
                if (leaving.Count > 0) WarnLeftBehind(leaving.Count, leaving[0].Files.LeftBehind[0], dryRun: true);
                return;
            }
            if (accepted.Count == 0) return;

            _leftBehind = 0;
            _leftBehindExample = null;
            _receipts = receipts;
            Terminating(() => new DeletionExecutor(store).Execute(plan, accepted, this, _cancel.Token));
            if (_leftBehind > 0) WarnLeftBehind(_leftBehind, _leftBehindExample!, dryRun: false);
        }

        private void WarnLeftBehind(int count, string example, bool dryRun) =>
            WriteWarning($"{count:N0} {(dryRun ? "trace(s) to remove" : "removed trace(s)")} have artifact folders or archived payloads that MlTraces cannot check or remove from here, such as {example}. " +
                         "If they hold anything, remove it with the artifact store's own tools; the -PassThru receipts list each trace's under LeftBehind.");

        // Removed traces with files left behind, for one warning at the end rather than one per trace.
        private int _leftBehind;
        private string? _leftBehindExample;
        private bool _receipts;

        private static string HeldMessage(List<string> ids)
        {
            string shown = string.Join(", ", ids.Take(10)) + (ids.Count > 10 ? $" and {ids.Count - 10:N0} more" : "");
            return $"{ids.Count:N0} trace(s) are under legal hold (tag {TraceTagKeys.LegalHold}) and are not removed: {shown}.";
        }

        void IDeletionListener.BatchDone(IReadOnlyList<TraceDeletion> receipts, int done, int total, TimeSpan transaction)
        {
            foreach (var r in receipts)
            {
                if (r.Deleted && r.LeftBehind.Count > 0 && _leftBehind++ == 0) _leftBehindExample = r.LeftBehind[0];
                if (r.Status == TraceDeletionStatus.Held) WriteWarning(HeldMessage(new List<string> { r.TraceId }));
            }
            WriteVerbose($"Removed {receipts.Count(r => r.Deleted):N0} trace(s) in a transaction of {transaction.TotalMilliseconds:N0} ms ({done:N0} of {total:N0} done).");
            _progressShown = true;
            WriteProgress(new ProgressRecord(ProgressActivityId, "Removing traces", $"{done:N0} of {total:N0} traces")
            {
                PercentComplete = (int)(100L * done / Math.Max(1, total)),
            });
            if (_receipts) WriteObject(receipts, enumerateCollection: true);
        }

        void IDeletionListener.CleanupFailed(TraceDeletion receipt, string path, Exception error)
        {
            var record = new ErrorRecord(error, "TraceFilesNotRemoved", ErrorCategory.WriteError, receipt.TraceId)
            {
                ErrorDetails = new ErrorDetails($"Trace '{receipt.TraceId}' was removed from the store, but '{path}' could not be removed: {error.Message}")
                {
                    RecommendedAction = "Remove the file or folder by hand.",
                },
            };
            receipt.LeftBehind.Add(path);
            WriteError(record);
        }

        /// <summary>Closes the progress bar, also when the run stops half-way.</summary>
        private void CompleteProgress()
        {
            if (!_progressShown) return;
            _progressShown = false;
            try
            {
                WriteProgress(new ProgressRecord(ProgressActivityId, "Removing traces", "Done") { RecordType = ProgressRecordType.Completed });
            }
            catch (PipelineStoppedException)
            {
                // Ctrl+C: the host clears the bar itself when the pipeline ends.
            }
        }
    }
}
