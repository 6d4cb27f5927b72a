using System;

namespace MlTraces
{
    /// <summary>An experiment's effective trace retention ("Archive after") and where each part of it comes from.</summary>
    public sealed class ExperimentRetention
    {
        public string ExperimentId { get; set; } = "";
        public string Name { get; set; } = "";
        public string? Workspace { get; set; }
        public string LifecycleStage { get; set; } = "active";
        /// <summary>A server configuration was found (-ConfigPath or MLFLOW_TRACE_ARCHIVAL_CONFIG).</summary>
        public bool ArchivalConfigured { get; set; }
        /// <summary>The server configuration says enabled: true.</summary>
        public bool ArchivalEnabled { get; set; }
        /// <summary>The effective retention as MLflow writes it ("30d"); null when archival is not configured or disabled.</summary>
        public string? ArchiveAfter { get; set; }
        public TimeSpan? ArchiveAfterTimeSpan { get; set; }
        /// <summary>As MLflow's UI shows it: "30 days".</summary>
        public string? ArchiveAfterDisplay { get; set; }
        /// <summary>Server, Workspace, Experiment (an override no longer than the broader retention) or Allowlist.</summary>
        public string? RetentionSource { get; set; }
        public string? ServerRetention { get; set; }
        public string? WorkspaceRetention { get; set; }
        /// <summary>The experiment's own override (tag mlflow.trace.archivalRetention), whether or not it applies.</summary>
        public string? ExperimentOverride { get; set; }
        public bool InLongRetentionAllowlist { get; set; }
        /// <summary>Why the override does not apply, when it does not.</summary>
        public string? Note { get; set; }
        public bool ArchiveNowRequested { get; set; }
        /// <summary>The archive-now request's age limit (null: every trace).</summary>
        public string? ArchiveNowOlderThan { get; set; }
        /// <summary>Where this experiment's traces are archived: root[/workspaces/ws]/experiment_id.</summary>
        public string? ArchiveLocation { get; set; }
        public string? ConfigPath { get; set; }
        public string? TrackingUri { get; set; }

        public override string ToString() => $"{Name} ({ExperimentId}): {ArchiveAfter ?? "not archived"}";
    }
}
