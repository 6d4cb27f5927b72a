using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using MlTraces.Core;
using MlTraces.Core.Archive;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>Runs one trace archival pass over a store, as one pass of MLflow's scheduler does.</summary>
    [Cmdlet(VerbsLifecycle.Invoke, "TraceArchive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(TraceArchiveSummary), typeof(TraceArchiveResult))]
    public sealed class InvokeTraceArchiveCommand : PipelineStoreCmdlet
    {
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentIdCompleter))]
        public string[]? ExperimentId { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentNameCompleter))]
        public string[]? ExperimentName { get; set; }

        /// <summary>Only experiments of this MLflow workspace.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Workspace { get; set; }

        /// <summary>At most this many traces in this pass (default: the configuration's max_traces_per_pass, else all).</summary>
        [Parameter]
        [ValidateRange(1, long.MaxValue)]
        public long? MaxTraces { get; set; }

        /// <summary>The MLflow server's trace archival YAML. Default: $env:MLFLOW_TRACE_ARCHIVAL_CONFIG.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConfigPath { get; set; }

        /// <summary>Writes a result per trace instead of one summary.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>After the pass, removes payloads under the pass's archive folders that no trace in the store
        /// can need (opt-in; MLflow has no such sweep).</summary>
        [Parameter]
        public SwitchParameter RemoveOrphanedPayloads { get; set; }


        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        protected override void ProcessRecord()
        {
            var clock = Stopwatch.StartNew();
            bool whatIf = MyInvocation.BoundParameters.ContainsKey("WhatIf") && ((SwitchParameter)MyInvocation.BoundParameters["WhatIf"]).IsPresent
                          || (SessionState.PSVariable.GetValue("WhatIfPreference") is SwitchParameter w && w.IsPresent)
                          || (SessionState.PSVariable.GetValue("WhatIfPreference") is bool b && b);
            ArchivalServerConfig? config = null;
            TraceStore? store = null;
            ArchivalPlan? plan = null;
            List<Experiment> experiments = new List<Experiment>();
            Terminating(() =>
            {
                config = ArchivalServerConfig.LoadDefault(ConfigPath, CurrentDirectory) ?? throw new MlTracesException(ErrorKind.InvalidArgument, "NoArchivalConfig",
                    $"No trace archival configuration: give -ConfigPath or set ${ArchivalServerConfig.EnvironmentVariable} to the MLflow server's trace archival YAML.");
                store = OpenStore(whatIf ? StoreAccess.ReadOnly : StoreAccess.ReadWrite);
                // One pass at a time, and a store that can take the finalize before the first payload is written.
                if (!whatIf) LockForArchiveWork(store);
                experiments = ResolveExperiments(store, ExperimentId, ExperimentName, Workspace).Selected;
                WriteVerbose($"Planning an archival pass over {experiments.Count} experiment(s) of '{store.Name}' with '{config.Path}' (retention {config.Retention.Text}, location {config.Location}).");
                plan = ArchivalPlanner.Plan(store, config, experiments, MaxTraces, DateTimeOffset.UtcNow, _cancel.Token);
            });
            if (store == null || plan == null || config == null) return;
            WriteWarnings(plan.Warnings);
            long estimate = 0;
            Terminating(() => estimate = plan.EstimateCount(_cancel.Token));
            WriteVerbose($"Plan: archive-now requests of {plan.ArchiveNowExperiments} experiment(s) first, then retention in {plan.RetentionExperiments}; " +
                         $"at most {estimate:N0} trace(s){(plan.Budget == long.MaxValue ? "" : $" (budget {plan.Budget:N0})")}, read in pages as the pass goes, oldest first.");

            var summary = new TraceArchiveSummary { TrackingUri = store.Uri.Original, WhatIf = whatIf };
            var pass = new ArchivalPass(store);
            var retryable = new HashSet<string>();
            var progress = new ProgressReporter(this, "Archiving traces of " + store.Name);
            IEnumerator<ArchiveCandidate>? candidates = null;
            Terminating(() => candidates = plan.Candidates(_cancel.Token).GetEnumerator());
            if (candidates == null) return;
            try
            {
                var batch = new List<ArchiveCandidate>(ArchivalPass.FinalizeBatchSize);
                // Sized by how long the last finalize held the store's write lock.
                void RunBatch()
                {
                    if (batch.Count == 0) return;
                    List<TraceArchiveResult> results = new List<TraceArchiveResult>();
                    Terminating(() => results = pass.ArchiveBatch(batch, _cancel.Token));
                    batch.Clear();
                    foreach (var result in results)
                    {
                        Report(result, summary, retryable);
                        if (PassThru) WriteObject(result);
                    }
                }
                while (true)
                {
                    bool more = false;
                    Terminating(() => more = candidates.MoveNext());
                    if (!more) break;
                    var c = candidates.Current;
                    progress.Report(summary.Planned++, Math.Max(estimate, summary.Planned), "traces");
                    string target = $"trace {c.TraceId} (experiment {c.ExperimentId}, {DateTimeOffset.FromUnixTimeMilliseconds(c.TimestampMs):yyyy-MM-dd HH:mm:ss}Z, {c.Reason}, {c.PayloadBytes:N0} bytes of span content) to {c.ArchiveFolder}";
                    if (!ShouldProcess(target, "Archive trace"))
                    {
                        if (whatIf && PassThru) WriteObject(new TraceArchiveResult { TraceId = c.TraceId, ExperimentId = c.ExperimentId, Outcome = TraceArchiveOutcome.Planned, Reason = c.Reason.ToString(), PayloadBytes = c.PayloadBytes, ArchiveLocation = c.ArchiveFolder, TrackingUri = store.Uri.Original });
                        if (whatIf) summary.ArchivedBytes += c.PayloadBytes;
                        continue;
                    }
                    batch.Add(c);
                    if (batch.Count >= pass.Sizer.Next) RunBatch();
                }
                RunBatch();
                if (!whatIf) Terminating(() => summary.ArchiveNowRequestsCleared = pass.ClearServedArchiveNowRequests(plan, retryable));
                if (RemoveOrphanedPayloads) SweepOrphans(store, pass, experiments, config, summary, whatIf);
            }
            finally
            {
                candidates.Dispose();
                progress.Complete();
                // Traces the candidate walk passed over (ids or folders no path may be built from), then the pass's own.
                WriteWarnings(plan.Warnings);
                foreach (var warning in pass.Warnings) WriteWarning(warning);
            }
            summary.Duration = clock.Elapsed;
            if (whatIf) Host.UI.WriteLine($"What if: Archive {summary.Planned:N0} trace(s) with {summary.ArchivedBytes:N0} bytes of span content from '{store.Name}'.");
            WriteVerbose("Archival pass: " + summary);
            if (!PassThru) WriteObject(summary);
        }

        /// <summary>The opt-in sweep, per file through ShouldProcess: -WhatIf lists exactly what a real run removes.</summary>
        private void SweepOrphans(TraceStore store, ArchivalPass pass, List<Experiment> experiments, ArchivalServerConfig config, TraceArchiveSummary summary, bool whatIf)
        {
            var orphans = new List<string>();
            var now = DateTimeOffset.UtcNow;
            Terminating(() =>
            {
                var locations = RetentionPolicy.Resolve(store, experiments, config).Select(r => r.ArchiveLocation).Where(l => l != null).Cast<string>();
                orphans = pass.FindOrphanedPayloads(locations, now);
            });
            foreach (var file in orphans)
            {
                if (!ShouldProcess(file, "Remove orphaned payload") || whatIf) continue;
                bool removed = false;
                Terminating(() => removed = pass.RemoveOrphan(file, now));
                if (removed) summary.OrphanedPayloadsRemoved++;
            }
        }

        private void Report(TraceArchiveResult r, TraceArchiveSummary summary, HashSet<string> retryable)
        {
            switch (r.Outcome)
            {
                case TraceArchiveOutcome.Archived: summary.Archived++; summary.ArchivedBytes += r.PayloadBytes; break;
                case TraceArchiveOutcome.Skipped: summary.Skipped++; WriteVerbose($"Skipped {r.TraceId}: {r.Message}"); break;
                case TraceArchiveOutcome.LeftForNextPass:
                    summary.LeftForNextPass++;
                    retryable.Add(r.ExperimentId);
                    string message = $"Trace {r.TraceId} was not archived and stays eligible for the next pass: {r.Message}";
                    // A failure (the location cannot be written, the payload vanished) is an error a scheduled task
                    // must see; a trace that changed meanwhile is the normal race, a warning.
                    if (r.ErrorId == null) WriteWarning(message);
                    else WriteError(new ErrorRecord(new MlTracesException(ErrorKind.IOError, r.ErrorId, message), r.ErrorId, ErrorCategory.WriteError, r.TraceId));
                    break;
                case TraceArchiveOutcome.Malformed:
                    summary.Malformed++;
                    WriteError(new ErrorRecord(new MlTracesException(ErrorKind.InvalidData, "MalformedTrace",
                        $"Trace {r.TraceId} cannot be archived and is tagged mlflow.trace.archivalFailure = MALFORMED_TRACE: {r.Message}"),
                        "MalformedTrace", ErrorCategory.InvalidData, r.TraceId));
                    break;
            }
        }

        protected override void StopProcessing()
        {
            _cancel.Cancel();
            base.StopProcessing();
        }
    }
}
