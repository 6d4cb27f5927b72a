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
    public sealed class SetExperimentRetentionCommand : PipelineStoreCmdlet
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


        private RetentionDuration? _retention, _olderThan;

        protected override void BeginProcessing()
        {
            Terminating(() =>
            {
                // MLflow's rules for `mlflow experiments update`, in PowerShell's parameter names.
                if (Retention != null && ClearRetention)
                    throw new InvalidParameterException("Cannot specify both -Retention and -ClearRetention.", "ConflictingParameters");
                if (OlderThan != null && !ArchiveNow)
                    throw new InvalidParameterException("-OlderThan goes with -ArchiveNow: it limits the archive-now request to older traces.", "ConflictingParameters");
                if (ClearArchiveNow && ArchiveNow)
                    throw new InvalidParameterException("Cannot specify -ClearArchiveNow together with archive-now request flags.", "ConflictingParameters");
                if (Retention == null && !ClearRetention && !ArchiveNow && !ClearArchiveNow)
                    throw new InvalidParameterException("Must specify at least one update option: -Retention, -ClearRetention, -ArchiveNow or -ClearArchiveNow.", "NoUpdateGiven");
                if (Retention != null) _retention = RetentionDuration.Parse(Retention, "Retention");
                if (OlderThan != null) _olderThan = RetentionDuration.Parse(OlderThan, "OlderThan");
            });
        }

        protected override void ProcessRecord()
        {
            Terminating(() =>
            {
                var store = OpenStore(StoreAccess.ReadWrite);
                var experiments = ResolveExperiments(store,
                    ParameterSetName == "ById" ? ExperimentId : null, ParameterSetName == "ByName" ? ExperimentName : null, null).Selected;
                var current = ExperimentArchivalTags.Read(store, experiments.ConvertAll(e => e.ExperimentId));
                var config = PassThru ? ArchivalServerConfig.LoadDefault(ConfigPath, FileSystemPath) : null;
                foreach (var e in experiments)
                {
                    var tags = current[e.ExperimentId];
                    var changes = new List<string>();
                    var writes = new List<KeyValuePair<string, string?>>();
                    if (_retention != null)
                    {
                        changes.Add($"set trace archival retention to {_retention.Text}");
                        writes.Add(new KeyValuePair<string, string?>(ExperimentArchivalTags.RetentionKey, ExperimentArchivalTags.RetentionValue(_retention)));
                    }
                    if (ClearRetention)
                    {
                        changes.Add(tags.ContainsKey(ExperimentArchivalTags.RetentionKey)
                            ? "cleared trace archival retention override" : "trace archival retention override was already unset");
                        writes.Add(new KeyValuePair<string, string?>(ExperimentArchivalTags.RetentionKey, null));
                    }
                    if (ArchiveNow)
                    {
                        changes.Add(_olderThan == null ? "requested archive-now on the next scheduler pass"
                            : $"requested archive-now for traces older than {_olderThan.Text} on the next scheduler pass");
                        writes.Add(new KeyValuePair<string, string?>(ExperimentArchivalTags.ArchiveNowKey, ExperimentArchivalTags.ArchiveNowValue(_olderThan)));
                    }
                    if (ClearArchiveNow)
                    {
                        changes.Add(tags.ContainsKey(ExperimentArchivalTags.ArchiveNowKey)
                            ? "cleared pending archive-now request" : "archive-now request was already unset");
                        writes.Add(new KeyValuePair<string, string?>(ExperimentArchivalTags.ArchiveNowKey, null));
                    }
                    string summary = string.Join("; ", changes);
                    if (!ShouldProcess($"experiment {e.ExperimentId} '{e.Name}'", summary)) continue;
                    using (var tx = store.BeginTransaction())
                    {
                        foreach (var w in writes) ExperimentArchivalTags.Write(store, e.ExperimentId, w.Key, w.Value);
                        tx.Commit();
                    }
                    WriteVerbose($"Updated experiment {e.ExperimentId}: {summary}.");
                    if (PassThru)
                        foreach (var r in RetentionPolicy.Resolve(store, new[] { e }, config))
                            WriteObject(r);
                }
            });
        }
    }
}
