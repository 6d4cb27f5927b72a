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
    [OutputType(typeof(TraceArchiveSummary), typeof(ArchivalReceipt))]
    public sealed class InvokeTraceArchiveCommand : PayloadStoreCmdlet, IAuditedCommand
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

        /// <summary>The audit log (JSON lines) that gets a line about this run: when, who, the parameters, the store, the plan's totals, the outcome and the ids of the traces changed. Default: $env:MLTRACES_AUDIT_LOG; no log when neither is set. A log that cannot be written stops the command before it changes anything.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AuditLogPath { get; set; }


        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        protected override void ProcessInput()
        {
            var clock = Stopwatch.StartNew();
            ArchivalServerConfig? config = null;
            TraceStore? store = null;
            ArchivalPlan? plan = null;
            List<Experiment> experiments = new List<Experiment>();
            long estimate = 0;
            Terminating(() =>
            {
                config = ArchivalServerConfig.LoadDefault(ConfigPath, FileSystemPath) ?? throw new MlTracesException(ErrorKind.InvalidArgument, "NoArchivalConfig",
                    $"No trace archival configuration: give -ConfigPath or set ${ArchivalServerConfig.EnvironmentVariable} to the MLflow server's trace archival YAML.");
                store = OpenStoreToWrite();
                // One pass at a time, and a store that can take the finalize before the first payload is written.
                if (!DryRun) LockForArchiveWork(store);
                experiments = ResolveExperiments(store, ExperimentId, ExperimentName, Workspace).Selected;
                WriteVerbose($"Planning an archival pass over {experiments.Count} experiment(s) of '{store.Name}' with '{config.Path}' (retention {config.Retention.Text}, location {config.Location}).");
                plan = ArchivalPlanner.Plan(store, config, experiments, MaxTraces, DateTimeOffset.UtcNow, _cancel.Token);
                estimate = plan.EstimateCount(_cancel.Token);
            });
            if (store == null || plan == null || config == null) return;
            WriteVerbose($"Plan: archive-now requests of {plan.ArchiveNowExperiments} experiment(s) first, then retention in {plan.RetentionExperiments}; " +
                         $"at most {estimate:N0} trace(s){(plan.Budget == long.MaxValue ? "" : $" (budget {plan.Budget:N0})")}, read in pages as the pass goes, oldest first.");

            var pass = new ArchivalExecutor(store, ObjectSettings);
            TraceArchiveSummary? summary = null;
            using (var report = new WriterReport<PlannedArchival, ArchivalReceipt>(this, "Archive trace", "Archiving traces of " + store.Name, PassThru))
                Terminating(() =>
                {
                    summary = pass.Run(plan, estimate, DryRun, report, _cancel.Token);
                    if (RemoveOrphanedPayloads) SweepOrphans(store, pass, experiments, config, summary);
                });
            if (summary == null) return;
            summary.Duration = clock.Elapsed;
            if (!DryRun) Audit?.Total("archivedBytes", summary.ArchivedBytes);
            WriteVerbose("Archival pass: " + summary);
            if (!PassThru) WriteObject(summary);
        }

        /// <summary>The opt-in sweep, per file through ShouldProcess: -WhatIf lists exactly what a real run removes.</summary>
        private void SweepOrphans(TraceStore store, ArchivalExecutor pass, List<Experiment> experiments, ArchivalServerConfig config, TraceArchiveSummary summary)
        {
            var now = DateTimeOffset.UtcNow;
            var locations = RetentionPolicy.Resolve(store, experiments, config).Select(r => r.ArchiveLocation).Where(l => l != null).Cast<string>();
            foreach (var file in pass.FindOrphanedPayloads(locations, now))
                if (ShouldProcess(file, "Remove orphaned payload") && !DryRun && pass.RemoveOrphan(file, now)) summary.OrphanedPayloadsRemoved++;
            // What the sweep could not reach or remove (a bucket that refused the listing, say).
            foreach (var warning in pass.Warnings) WriteWarning(warning);
            pass.Warnings.Clear();
        }

        protected override void StopProcessing()
        {
            _cancel.Cancel();
            base.StopProcessing();
        }
    }
}
