using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Retention
{
    /// <summary>
    /// An invalid workspace retention in the store, as MLflow's scheduler treats it
    /// (mlflow/tracing/trace_archival_service.py, run_trace_archival_scheduler and
    /// _resolve_scheduler_trace_archival_config): the workspace's retention is `ws.retention or default`, so NULL and ''
    /// fall back to the server's; any other text goes through _validate_trace_archival_retention_string, and when that
    /// raises, the scheduler logs "Trace archival scheduler skipped in workspace '...'" and skips the whole workspace
    /// (archive-now requests included) while the other workspaces are archived. MlTraces used to fall back to the
    /// server's retention and archive it. MLFLOW_ENABLE_WORKSPACES is process-wide, so these run alone.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class WorkspaceRetentionTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        [Fact]
        public void AWorkspaceWithAnInvalidRetentionIsSkippedWithAWarningInTheDryRunAndTheRealRun()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            var experiments = new Dictionary<string, string>();
            // The column is VARCHAR(32): PostgreSQL holds no longer text, SQLite does.
            var cases = new (string ws, string? retention)[]
            {
                ("bad", "5w"), ("blank", "   "), ("toolong", Kind == StoreKind.Sqlite ? new string('9', 40) + "d" : "0d"), ("upper", "30D"),
                ("empty", ""), ("unset", null), ("good", "1d"), ("padded", " 2d "),
            };
            foreach (var (ws, retention) in cases)
            {
                string e = ArchiveTestSupport.AddWorkspaceExperiment(ts, ws, null, retention, "exp-" + ws);
                experiments[ws] = e;
                ts.AddTraces(new[] { RichTrace("tr-" + ws, e, 1000 + experiments.Count) });
            }
            // An archive-now request in a skipped workspace is not served either: MLflow skips the whole scope.
            var skippedWs = new[] { "bad", "blank", "toolong", "upper" };
            var archivedIds = new[] { "tr-empty", "tr-unset", "tr-good", "tr-padded" };
            ArchiveSkipping(ts, experiments, skippedWs, archivedIds, "bad", "invalid trace_archival_retention", (sh, vars, warned, _) =>
            {
                Assert.Contains(warned, m => m.Contains("'5w' (Trace archival retention must be in the form `<int><unit>`"));
                if (Kind == StoreKind.Sqlite) Assert.Contains(warned, m => m.Contains("(Trace archival duration must be at most 32 characters.)"));
                // Get-ExperimentRetention shows it: no retention in effect, the workspace's text, and why.
                var policy = sh.Run("Get-ExperimentRetention -TrackingUri $uri -ConfigPath $config -ExperimentName exp-bad", vars);
                var bad = (ExperimentRetention)policy.Output.Single().BaseObject;
                Assert.Null(bad.ArchiveAfter);
                Assert.Null(bad.ArchiveLocation);
                Assert.Equal("5w", bad.WorkspaceRetention);
                Assert.Contains("invalid trace_archival_retention '5w'", bad.Note);
                var padded = (ExperimentRetention)sh.Run("Get-ExperimentRetention -TrackingUri $uri -ConfigPath $config -ExperimentName exp-padded", vars).Output.Single().BaseObject;
                Assert.Equal("2d", padded.ArchiveAfter);
                Assert.Equal("Workspace", padded.RetentionSource);
            });
        }

        /// <summary>A workspace whose trace_archival_location MLflow's repository checks refuse (an unknown scheme, the
        /// proxy-only mlflow-artifacts:, dbfs:) is skipped as one with an invalid retention: run_trace_archival_scheduler
        /// (mlflow/tracing/trace_archival_service.py) validates the resolved location with
        /// _validate_trace_archival_repository_support (mlflow/utils/validation.py) before the retention, and the
        /// MlflowException it raises makes it log a warning and skip that scope, archive-now requests included, while
        /// the other workspaces are archived. MlTraces used to plan the traces and fail them one by one. A password in
        /// the location is not echoed.</summary>
        [Fact]
        public void AWorkspaceWhoseLocationMlflowCannotUseIsSkippedWithAWarning()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            const string Secret = "s3cr3t-pw";
            var experiments = new Dictionary<string, string>();
            var cases = new (string ws, string? location, string? retention)[]
            {
                ("unknown", "foo://bucket/archive", null), ("proxy", "mlflow-artifacts:/archive", null), ("dbfs", "dbfs:/archive", null),
                ("creds", $"zzz://user:{Secret}@host/x", null), ("both", "foo://x", "5w"),
                ("good", new Uri(Path.Combine(ts.Folder, "ws-archive")).AbsoluteUri, null), ("unset", null, null),
            };
            foreach (var (ws, location, retention) in cases)
            {
                string e = ArchiveTestSupport.AddWorkspaceExperiment(ts, ws, location, retention, "exp-" + ws);
                experiments[ws] = e;
                ts.AddTraces(new[] { RichTrace("tr-" + ws, e, 1000 + experiments.Count) });
            }
            var skippedWs = new[] { "unknown", "proxy", "dbfs", "creds", "both" };
            var archivedIds = new[] { "tr-good", "tr-unset" };
            ArchiveSkipping(ts, experiments, skippedWs, archivedIds, "unknown", "that MLflow cannot archive to", (sh, vars, warned, all) =>
            {
                Assert.Contains(warned, m => m.Contains("'foo://bucket/archive'") && m.Contains("(Could not find a registered artifact repository for: foo://bucket/archive."));
                Assert.Contains(warned, m => m.Contains("proxy-only `mlflow-artifacts:` scheme"));
                Assert.Contains(warned, m => m.Contains("does not support deleting archived payloads"));
                Assert.DoesNotContain(Secret, all);
                foreach (string ws in skippedWs)
                    Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = 'tr-{ws}' AND key LIKE 'mlflow.trace.%'"));
                Assert.True(Directory.Exists(Path.Combine(ts.Folder, "ws-archive")));
                var policy = (ExperimentRetention)sh.Run("Get-ExperimentRetention -TrackingUri $uri -ConfigPath $config -ExperimentName exp-unknown", vars).Output.Single().BaseObject;
                Assert.Null(policy.ArchiveAfter);
                Assert.Null(policy.ArchiveLocation);
                Assert.Contains("that MLflow cannot archive to", policy.Note);
            });
        }

        /// <summary>A pass with workspaces on, as a dry run and then for real: the dry run changes nothing, both archive
        /// exactly <paramref name="archivedIds"/>, and both warn once per skipped workspace (the line holding
        /// <paramref name="marker"/>, its experiment and "MLflow's scheduler skips the workspace"); the skipped traces
        /// stay in the store, and an archive-now request in <paramref name="archiveNowWs"/> is neither served nor
        /// cleared. <paramref name="more"/> checks the rest with the warnings, and every warning and host line of both runs.</summary>
        private void ArchiveSkipping(TestStore ts, Dictionary<string, string> experiments, string[] skippedWs, string[] archivedIds,
            string archiveNowWs, string marker, Action<PsShell, Dictionary<string, object?>, List<string>, string> more)
        {
            Execute(ts, "INSERT INTO experiment_tags (key, value, experiment_id) VALUES ('mlflow.trace.archiveNow', '{{}}', {0})", long.Parse(experiments[archiveNowWs]));
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            ArchiveTestSupport.WithWorkspaces(() =>
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                string hash = ts.Fingerprint();
                var folders = Directory.GetDirectories(ts.Folder);
                var dry = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -WhatIf -PassThru", vars);
                Assert.Empty(dry.Errors);
                Assert.Equal(hash, ts.Fingerprint());
                Assert.Equal(folders, Directory.GetDirectories(ts.Folder)); // no archive folder made
                Assert.Equal(archivedIds.OrderBy(x => x), dry.Output.Select(o => o.BaseObject).OfType<ArchivalReceipt>().Select(r => r.TraceId).OrderBy(x => x));
                var warned = dry.Warnings.Select(w => w.Message).Where(m => m.Contains(marker)).ToList();
                Assert.Equal(skippedWs.Length, warned.Count);
                foreach (string ws in skippedWs)
                    Assert.Single(warned, m => m.Contains($"experiment {experiments[ws]} ") && m.Contains($"The workspace '{ws}' ")
                        && m.Contains("MLflow's scheduler skips the workspace"));

                var real = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru", vars);
                Assert.Empty(real.Errors);
                // The real run does what the dry run said, and says the same.
                Assert.Equal(archivedIds.OrderBy(x => x), real.Output.Select(o => o.BaseObject).OfType<ArchivalReceipt>()
                    .Where(r => r.Status == ArchivalStatus.Archived).Select(r => r.TraceId).OrderBy(x => x));
                Assert.Equal(warned, real.Warnings.Select(w => w.Message).Where(m => m.Contains(marker)).ToList());
                foreach (string ws in skippedWs)
                    Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = 'tr-{ws}' AND key = 'mlflow.trace.spansLocation'"));
                Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM experiment_tags WHERE key = 'mlflow.trace.archiveNow' AND experiment_id = {experiments[archiveNowWs]}"));
                Assert.Equal(archivedIds.Length, ts.Scalar("SELECT count(*) FROM trace_tags WHERE key = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'"));
                more(sh, vars, warned, string.Join("\n", dry.Warnings.Concat(real.Warnings).Select(w => w.Message)) + dry.HostText + real.HostText);
            });
        }

        /// <summary>A hostile retention text from the store is echoed bounded and without control characters.</summary>
        [Fact]
        public void AHostileRetentionIsEchoedBoundedAndPrintable()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string hostile = Kind == StoreKind.Sqlite ? "\u001b[31m" + new string('x', 5000) + "\nd" : "\u001b[31m\u0007x\nd";
            ArchiveTestSupport.AddWorkspaceExperiment(ts, "evil", null, hostile, "exp-evil");
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            ArchiveTestSupport.WithWorkspaces(() =>
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                var r = (ExperimentRetention)sh.Run("Get-ExperimentRetention -TrackingUri $uri -ConfigPath $config -ExperimentName exp-evil", vars).Output.Single().BaseObject;
                Assert.Null(r.ArchiveAfter);
                Assert.DoesNotContain('\u001b', r.Note);
                Assert.DoesNotContain('\n', r.Note);
                Assert.DoesNotContain('\u0007', r.Note);
                Assert.True(r.Note!.Length < 1000, r.Note.Length.ToString());
            });
        }
    }

    [Collection(ProcessEnvironmentCollection.Name)]
    public class WorkspaceRetentionTestsOnPostgres : WorkspaceRetentionTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
