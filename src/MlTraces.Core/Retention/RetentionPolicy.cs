using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;

namespace MlTraces.Core.Retention
{
    /// <summary>
    /// Resolves each experiment's effective retention as MLflow does (_resolve_effective_trace_archival_retention):
    /// the broader retention is the workspace's, else the server's; an experiment override applies when it is no
    /// longer than that, or when the experiment is on the long-retention allowlist. The location never comes from
    /// the experiment.
    /// </summary>
    public static class RetentionPolicy
    {
        public const string WorkspacesVariable = "MLFLOW_ENABLE_WORKSPACES";

        /// <summary>Workspace settings apply only on servers with workspaces enabled, as in MLflow.</summary>
        public static bool WorkspacesEnabled()
        {
            string? v = Environment.GetEnvironmentVariable(WorkspacesVariable);
            return v != null && (v.Trim().Equals("true", StringComparison.OrdinalIgnoreCase) || v.Trim() == "1");
        }

        public sealed class WorkspaceSettings
        {
            public string? Location { get; set; }
            public RetentionDuration? Retention { get; set; }
            /// <summary>The column's text when it is set but is no valid duration.</summary>
            public string? InvalidRetention { get; set; }
            /// <summary>Why <see cref="InvalidRetention"/> is invalid: MLflow's message.</summary>
            public string? RetentionProblem { get; set; }
            /// <summary>Why MLflow's repository checks refuse <see cref="Location"/> (an unknown scheme, the proxy-only
            /// mlflow-artifacts:, dbfs:): MLflow's message; null when they accept it.</summary>
            public string? LocationProblem { get; set; }
        }

        public static Dictionary<string, WorkspaceSettings> ReadWorkspaces(TraceStore store)
        {
            var result = new Dictionary<string, WorkspaceSettings>(StringComparer.Ordinal);
            if (!store.Layout.HasWorkspaceArchivalColumns) return result;
            using var cmd = store.Command("SELECT name, trace_archival_location, trace_archival_retention FROM workspaces");
            using var r = store.Translate(() => cmd.ExecuteReader());
            while (r.Read())
            {
                var ws = new WorkspaceSettings { Location = r.IsDBNull(1) || r.GetString(1).Length == 0 ? null : r.GetString(1) };
                if (ws.Location != null) ws.LocationProblem = ArchivalLocation.RepositoryProblem(ws.Location, "trace_archival_location");
                // MLflow takes `ws.retention or default`: NULL and '' fall back to the server's; any other text must be a
                // duration (mlflow/tracing/trace_archival_service.py, _resolve_scheduler_trace_archival_config).
                string? retention = r.IsDBNull(2) ? null : r.GetString(2);
                if (!string.IsNullOrEmpty(retention))
                {
                    try { ws.Retention = RetentionDuration.Parse(retention); }
                    catch (InvalidParameterException ex) { ws.InvalidRetention = retention; ws.RetentionProblem = ex.Message; }
                }
                result[r.GetString(0)] = ws;
            }
            return result;
        }

        public static List<ExperimentRetention> Resolve(TraceStore store, IReadOnlyList<Experiment> experiments, ArchivalServerConfig? config)
        {
            bool workspaces = WorkspacesEnabled();
            var workspaceSettings = workspaces ? ReadWorkspaces(store) : new Dictionary<string, WorkspaceSettings>();
            var tags = ExperimentArchivalTags.Read(store, experiments.Select(e => e.ExperimentId));
            var result = new List<ExperimentRetention>();
            foreach (var e in experiments)
            {
                var r = new ExperimentRetention
                {
                    ExperimentId = e.ExperimentId, Name = e.Name, Workspace = e.Workspace, LifecycleStage = e.LifecycleStage,
                    ArchivalConfigured = config != null, ArchivalEnabled = config?.Enabled == true, ConfigPath = config?.Path,
                    ServerRetention = config?.Retention.Text, TrackingUri = store.Uri.Original,
                    InLongRetentionAllowlist = config?.LongRetentionAllowlist.Contains(e.ExperimentId) == true,
                };
                WorkspaceSettings? ws = null;
                if (workspaces && e.Workspace != null) workspaceSettings.TryGetValue(e.Workspace, out ws);
                r.WorkspaceRetention = ws?.Retention?.Text;

                tags.TryGetValue(e.ExperimentId, out var own);
                string? rawRetention = null, rawArchiveNow = null;
                own?.TryGetValue(ExperimentArchivalTags.RetentionKey, out rawRetention);
                own?.TryGetValue(ExperimentArchivalTags.ArchiveNowKey, out rawArchiveNow);
                var overrideDuration = ExperimentArchivalTags.ParseRetention(rawRetention, out string? problem);
                r.ExperimentOverride = overrideDuration?.Text ?? rawRetention;
                if (problem != null) r.Note = $"The experiment's retention tag is ignored: {problem}";
                r.ArchiveNowRequested = ExperimentArchivalTags.ParseArchiveNow(rawArchiveNow, out var olderThan, out string? archiveNowProblem);
                r.ArchiveNowOlderThan = olderThan?.Text;
                if (archiveNowProblem != null) r.Note = (r.Note == null ? "" : r.Note + " ") + $"The archive-now request is malformed and is ignored: {archiveNowProblem}";

                if (config != null && ws?.LocationProblem != null)
                {
                    // The scheduler validates the workspace's location before its retention (repository support, then the
                    // retention string); either MlflowException skips the workspace (logged, the other workspaces go on).
                    r.Note = (r.Note == null ? "" : r.Note + " ") +
                        $"The workspace '{UserText.Printable(UserText.Shorten(e.Workspace, 100))}' has a trace_archival_location " +
                        $"'{UserText.Printable(UserText.Shorten(Locations.LocationUri.Shown(ws.Location!), 200))}' that MLflow cannot archive to " +
                        $"({UserText.Printable(UserText.Shorten(ws.LocationProblem.Replace(ws.Location!.Trim(), Locations.LocationUri.Shown(ws.Location.Trim())), 300))}), " +
                        "so MLflow's scheduler skips the workspace and no pass archives its traces until the workspace's location is a supported URI (for example file:///srv/archive or s3://bucket/archive) or cleared.";
                }
                else if (config != null && ws?.RetentionProblem != null)
                {
                    // MLflow's scheduler skips the whole workspace (run_trace_archival_scheduler logs "Trace archival
                    // scheduler skipped in workspace ..." and goes on): no retention, no archive-now, no location.
                    r.WorkspaceRetention = ws.InvalidRetention;
                    r.Note = (r.Note == null ? "" : r.Note + " ") +
                        $"The workspace '{UserText.Printable(UserText.Shorten(e.Workspace, 100))}' has an invalid trace_archival_retention " +
                        $"'{UserText.Printable(UserText.Shorten(ws.InvalidRetention, 40))}' ({ws.RetentionProblem}), so MLflow's scheduler skips the workspace " +
                        "and no pass archives its traces until the workspace's retention is a valid duration (for example '30d') or cleared.";
                }
                else if (config != null)
                {
                    var broader = ws?.Retention ?? config.Retention;
                    string broaderSource = ws?.Retention != null ? "Workspace" : "Server";
                    RetentionDuration effective = broader;
                    r.RetentionSource = broaderSource;
                    if (overrideDuration != null)
                    {
                        if (overrideDuration.CompareTo(broader) <= 0) { effective = overrideDuration; r.RetentionSource = "Experiment"; }
                        else if (r.InLongRetentionAllowlist) { effective = overrideDuration; r.RetentionSource = "Allowlist"; }
                        else r.Note = $"The experiment's override {overrideDuration.Text} is longer than the {broaderSource.ToLowerInvariant()} retention {broader.Text} and the experiment is not on the server's long_retention_allowlist, so {broader.Text} applies.";
                    }
                    if (config.Enabled)
                    {
                        r.ArchiveAfter = effective.Text;
                        r.ArchiveAfterTimeSpan = effective.TimeSpan;
                        r.ArchiveAfterDisplay = effective.Display;
                    }
                    string root = ws?.Location ?? config.Location;
                    string? prefix = workspaces && ws?.Location == null && e.Workspace != null ? "workspaces/" + e.Workspace : null;
                    // The workspace name becomes a folder name: one that cannot be exactly one (a '..', a '/') gets no
                    // archive location at all, so no pass builds a path from it.
                    string? badName = prefix == null ? null : Store.TraceIds.PathSegmentProblem(e.Workspace);
                    if (badName != null)
                        r.Note = (r.Note == null ? "" : r.Note + " ") + $"The workspace name '{e.Workspace}' {badName}, so it cannot name the workspace's archive folder; the experiment's traces are not archived.";
                    else
                        r.ArchiveLocation = string.Join("/", new[] { root.TrimEnd('/'), prefix, e.ExperimentId }.Where(p => !string.IsNullOrEmpty(p)));
                }
                result.Add(r);
            }
            return result;
        }
    }
}
