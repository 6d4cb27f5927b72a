using MlTraces.Core.Store;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core;
using MlTraces.Core.Retention;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    public class ExperimentRetentionTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private (TestStore ts, string config) Setup(string retention = "30d", string allow = "[]")
        {
            var ts = TestStore.CreateEmpty(Kind);
            ts.AddExperiment("short");   // 1
            ts.AddExperiment("long");    // 2
            ts.AddExperiment("allowed"); // 3
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: file://{ts.Folder}/archive\n  retention: {retention}\n  long_retention_allowlist: {allow}\n");
            return (ts, config);
        }

        [Fact]
        public void SetWritesMlflowsTagsAndGetResolvesTheEffectiveRetention()
        {
            var (ts, config) = Setup(allow: "['3']");
            using (ts)
            using (var sh = new PsShell(ts))
            {
                var vars = new Dictionary<string, object?> { ["config"] = config };
                var set = sh.Run("Set-ExperimentRetention -ExperimentName short -Retention 7d; Set-ExperimentRetention -ExperimentId 2, 3 -Retention 90d; Set-ExperimentRetention 1 -ArchiveNow -OlderThan 1d -Verbose");
                Assert.Empty(set.Errors);
                Assert.Contains(set.Verbose, v => v.Message == "Updated experiment 1: requested archive-now for traces older than 1d on the next scheduler pass.");
                using (var store = ts.Open(Core.Store.StoreAccess.ReadOnly))
                using (var cmd = store.Command("SELECT experiment_id || '|' || key || '|' || value FROM experiment_tags ORDER BY experiment_id, key"))
                using (var r = cmd.ExecuteReader())
                {
                    var rows = new List<string>();
                    while (r.Read()) rows.Add(r.GetString(0));
                    Assert.Equal(new[]
                    {
                        "1|mlflow.trace.archivalRetention|{\"type\": \"duration\", \"value\": \"7d\"}",
                        "1|mlflow.trace.archiveNow|{\"older_than\": \"1d\"}",
                        "2|mlflow.trace.archivalRetention|{\"type\": \"duration\", \"value\": \"90d\"}",
                        "3|mlflow.trace.archivalRetention|{\"type\": \"duration\", \"value\": \"90d\"}",
                    }, rows);
                }
                var got = sh.Objects<ExperimentRetention>("Get-ExperimentRetention -ConfigPath $config", vars).ToDictionary(x => x.Name);
                Assert.Equal(("30d", "Server"), (got["Default"].ArchiveAfter, got["Default"].RetentionSource));
                Assert.Equal(("7d", "Experiment", true, "1d"), (got["short"].ArchiveAfter, got["short"].RetentionSource, got["short"].ArchiveNowRequested, got["short"].ArchiveNowOlderThan));
                Assert.Equal(("30d", "Server"), (got["long"].ArchiveAfter, got["long"].RetentionSource));
                Assert.Contains("long_retention_allowlist", got["long"].Note);
                Assert.Equal(("90d", "Allowlist"), (got["allowed"].ArchiveAfter, got["allowed"].RetentionSource));
                Assert.Equal("90 days", got["allowed"].ArchiveAfterDisplay);
                Assert.Equal($"file://{ts.Folder}/archive/3", got["allowed"].ArchiveLocation);
                // Without a configuration nothing is in effect, and MLflow's variable names one.
                var none = sh.Objects<ExperimentRetention>("$env:MLFLOW_TRACE_ARCHIVAL_CONFIG = $null; Get-ExperimentRetention -ExperimentName short").Single();
                Assert.Null(none.ArchiveAfter);
                Assert.Equal("7d", none.ExperimentOverride);
                var viaEnv = sh.Objects<ExperimentRetention>("$env:MLFLOW_TRACE_ARCHIVAL_CONFIG = $config; try { Get-ExperimentRetention -ExperimentName short } finally { $env:MLFLOW_TRACE_ARCHIVAL_CONFIG = $null }", vars).Single();
                Assert.Equal("7d", viaEnv.ArchiveAfter);
            }
        }

        [Fact]
        public void ClearingWhatIfAndMlflowsRules()
        {
            var (ts, config) = Setup();
            using (ts)
            using (var sh = new PsShell(ts))
            {
                Assert.Empty(sh.Run("Set-ExperimentRetention 1 -Retention 7d -ArchiveNow").Errors);
                long before = ts.Scalar("SELECT count(*) FROM experiment_tags");
                var whatIf = sh.Run("Set-ExperimentRetention 1 -ClearRetention -ClearArchiveNow -WhatIf");
                Assert.Contains("cleared trace archival retention override; cleared pending archive-now request", whatIf.HostText);
                Assert.Equal(before, ts.Scalar("SELECT count(*) FROM experiment_tags"));
                Assert.Empty(sh.Run("Set-ExperimentRetention 1 -ClearRetention -ClearArchiveNow").Errors);
                Assert.Equal(0, ts.Scalar("SELECT count(*) FROM experiment_tags WHERE experiment_id = 1"));
                var again = sh.Run("Set-ExperimentRetention 1 -ClearRetention -Verbose");
                Assert.Contains(again.Verbose, v => v.Message.Contains("was already unset"));

                foreach (var (args, message) in new[]
                {
                    ("-Retention 7d -ClearRetention", "Cannot specify both -Retention and -ClearRetention."),
                    ("-ArchiveNow -ClearArchiveNow", "Cannot specify -ClearArchiveNow together with archive-now request flags."),
                    ("-OlderThan 1d", "-OlderThan goes with -ArchiveNow"),
                    ("", "Must specify at least one update option"),
                    ("-Retention 30D", "Invalid value for 'Retention'. Expected a duration in the form `<int><unit>`"),
                })
                {
                    var r = sh.Run("Set-ExperimentRetention 1 " + args);
                    Assert.Contains(message, Assert.Single(r.Errors).Exception.Message);
                }
                Assert.Equal(0, ts.Scalar("SELECT count(*) FROM experiment_tags WHERE experiment_id = 1"));
            }
        }

        [Fact]
        public void AnInvalidConfigurationIsATerminatingErrorWithMlflowsMessage()
        {
            var (ts, _) = Setup();
            using (ts)
            using (var sh = new PsShell(ts))
            {
                File.WriteAllText(Path.Combine(ts.Folder, "bad.yaml"), "trace_archival:\n  enabled: maybe\n  location: file:///a\n  retention: 1d\n");
                var r = sh.Run("Get-ExperimentRetention -ConfigPath bad.yaml");
                var e = Assert.Single(r.Errors);
                Assert.Equal("InvalidArchivalConfig,MlTraces.Commands.GetExperimentRetentionCommand", e.FullyQualifiedErrorId);
                Assert.Contains("'trace_archival.enabled' must be a boolean.", e.Exception.Message);
            }
        }
    }

    public class ExperimentRetentionTestsOnPostgres : ExperimentRetentionTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
