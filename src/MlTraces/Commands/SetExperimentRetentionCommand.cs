using System.Collections.Generic;
using System.Management.Automation;
using MlTraces.Core;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>
    /// Sets or clears an experiment's retention override and archive-now request, as `mlflow experiments update`
    /// does: only what is given changes, the tags are written as MLflow writes them, nothing is archived here.
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "ExperimentRetention", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "ById")]
    [OutputType(typeof(ExperimentRetention))]
    public sealed class SetExperimentRetentionCommand : PipelineStoreCmdlet, IAuditedCommand
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "ById", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentIdCompleter))]
        public string[] ExperimentId { get; set; } = new string[0];

        [Parameter(Mandatory = true, ParameterSetName = "ByName")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentNameCompleter))]
        public string[] ExperimentName { get; set; } = new string[0];

        /// <summary>The experiment's retention override: 30d, 12h, 90m.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Retention { get; set; }

        /// <summary>Removes the override, so the workspace's or server's retention applies.</summary>
        [Parameter]
        public SwitchParameter ClearRetention { get; set; }

        /// <summary>Asks the next archival pass to archive this experiment's traces now.</summary>
        [Parameter]
        public SwitchParameter ArchiveNow { get; set; }

        /// <summary>With -ArchiveNow: only traces older than this (30d, 12h, 90m).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? OlderThan { get; set; }

        /// <summary>Withdraws a pending archive-now request.</summary>
        [Parameter]
        public SwitchParameter ClearArchiveNow { get; set; }

        /// <summary>Writes the experiment's effective retention afterwards.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>The MLflow server's trace archival YAML, for -PassThru. Default: $env:MLFLOW_TRACE_ARCHIVAL_CONFIG.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConfigPath { get; set; }

        /// <summary>The audit log (JSON lines) that gets a line about this run: when, who, the parameters, the store, the plan's totals, the outcome and the ids of the traces changed. Default: $env:MLTRACES_AUDIT_LOG; no log when neither is set. A log that cannot be written stops the command before it changes anything.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AuditLogPath { get; set; }


        private RetentionUpdate? _update;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            Terminating(() => _update = RetentionUpdate.Create(Retention, ClearRetention, ArchiveNow, OlderThan, ClearArchiveNow));
        }

        protected override void ProcessInput()
        {
            if (_update == null) return;
            Terminating(() =>
            {
                var store = OpenStoreToWrite();
                var experiments = ResolveExperiments(store,
                    ParameterSetName == "ById" ? ExperimentId : null, ParameterSetName == "ByName" ? ExperimentName : null, null).Selected;
                var current = ExperimentArchivalTags.Read(store, experiments.ConvertAll(e => e.ExperimentId));
                var config = PassThru ? ArchivalServerConfig.LoadDefault(ConfigPath, FileSystemPath) : null;
                foreach (var e in experiments)
                {
                    var (summary, writes) = _update.For(current[e.ExperimentId]);
                    if (!ShouldChange($"experiment {e.ExperimentId} '{e.Name}'", summary)) continue;
                    RetentionUpdate.Apply(store, e.ExperimentId, writes);
                    Audit?.ExperimentChanged(e.ExperimentId);
                    WriteVerbose($"Updated experiment {e.ExperimentId}: {summary}.");
                    if (PassThru)
                        foreach (var r in RetentionPolicy.Resolve(store, new[] { e }, config))
                            WriteObject(r);
                }
            });
        }
    }
}
