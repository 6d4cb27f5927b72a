using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using MlTraces.Core.Maintenance;
using MlTraces.Core.Retention;

namespace MlTraces.Commands
{
    /// <summary>What a store holds, per experiment, per workspace or as a whole, and what retention, the next
    /// archival pass, a deletion by age and an optimization would do to it. Read-only.</summary>
    [Cmdlet(VerbsDiagnostic.Measure, "TraceStore")]
    [OutputType(typeof(ExperimentUsage), typeof(WorkspaceUsage), typeof(StoreUsage))]
    public sealed class MeasureTraceStoreCommand : PipelineStoreCmdlet
    {
        [Parameter(Position = 0)]
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

        /// <summary>Also size a Remove-Trace -OlderThan of this age: 30d, 12h, 90m, or a TimeSpan.</summary>
        [Parameter]
        [DurationTransformation("OlderThan")]
        public TimeSpan? OlderThan { get; set; }

        /// <summary>The MLflow server's trace archival YAML. Default: $env:MLFLOW_TRACE_ARCHIVAL_CONFIG.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConfigPath { get; set; }

        /// <summary>One object per experiment (default), per workspace, or one for the whole store.</summary>
        [Parameter]
        public MeasureScope By { get; set; } = MeasureScope.Experiment;

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        protected override void ProcessInput()
        {
            WithProgress("Measuring trace store", 1000, progress =>
            {
                var config = ArchivalServerConfig.LoadDefault(ConfigPath, FileSystemPath);
                if (config == null)
                    WriteVerbose($"No trace archival configuration: neither -ConfigPath nor ${ArchivalServerConfig.EnvironmentVariable} names one, so no retention and no next pass are shown.");
                var store = OpenStore();
                progress.Activity = "Measuring " + store.Name;
                var scope = ResolveExperiments(store, ExperimentId, ExperimentName, Workspace, allByDefault: true);
                var warnings = new List<string>();
                var rows = StoreMeasure.Experiments(store, new MeasureRequest { Experiments = scope.Selected, Config = config, OlderThan = OlderThan },
                    warnings, (what, done, total) => progress.Report(done, total, "steps: " + what), _cancel.Token);
                // The archival plan's notes (experiments it leaves alone, traces it skips) are the pass's to warn about.
                foreach (var w in warnings) WriteVerbose(w);
                switch (By)
                {
                    case MeasureScope.Workspace: WriteObject(StoreMeasure.Workspaces(rows), enumerateCollection: true); break;
                    case MeasureScope.Store: WriteObject(StoreMeasure.Store(store, rows)); break;
                    default: WriteObject(rows, enumerateCollection: true); break;
                }
            });
        }

        protected override void StopProcessing() => _cancel.Cancel();
    }
}
