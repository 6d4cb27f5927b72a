using System.Management.Automation;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>Shows each experiment's effective trace retention ("Archive after") and where it comes from.</summary>
    [Cmdlet(VerbsCommon.Get, "ExperimentRetention")]
    [OutputType(typeof(ExperimentRetention))]
    public sealed class GetExperimentRetentionCommand : PipelineStoreCmdlet
    {
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentIdCompleter))]
        public string[]? ExperimentId { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentNameCompleter))]
        public string[]? ExperimentName { get; set; }

        /// <summary>The MLflow server's trace archival YAML. Default: $env:MLFLOW_TRACE_ARCHIVAL_CONFIG.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConfigPath { get; set; }


        protected override void ProcessInput()
        {
            Terminating(() =>
            {
                var config = ArchivalServerConfig.LoadDefault(ConfigPath, FileSystemPath);
                if (config == null)
                    WriteVerbose($"No trace archival configuration: neither -ConfigPath nor ${ArchivalServerConfig.EnvironmentVariable} names one, so no retention is in effect.");
                var store = OpenStore();
                var experiments = ResolveExperiments(store, ExperimentId, ExperimentName, null).Selected;
                foreach (var r in RetentionPolicy.Resolve(store, experiments, config)) WriteObject(r);
            });
        }
    }
}
