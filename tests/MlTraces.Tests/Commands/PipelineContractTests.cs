using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// The pipeline contract: a piped object's scope (its store and, where it has one, its experiment) travels with
    /// it and is never widened; and an input that fails (a store that cannot be opened) is that input's error while
    /// the pipeline goes on.
    /// </summary>
    public class PipelineContractTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        /// <summary>Experiments A and B with three old traces each.</summary>
        private TestStore TwoExperiments(out string a, out string b)
        {
            var ts = TestStore.CreateEmpty(Kind);
            a = ts.AddExperiment("A");
            b = ts.AddExperiment("B");
            string ea = a, eb = b;
            ts.AddTraces(Enumerable.Range(0, 3).Select(i => TestStore.MakeTrace($"tr-{i:D32}", ea, 1000 + i))
                .Concat(Enumerable.Range(3, 3).Select(i => TestStore.MakeTrace($"tr-{i:D32}", eb, 1000 + i))));
            return ts;
        }

        [Fact]
        public void AnExperimentPipedToRemoveTraceScopesTheDeletionToIt()
        {
            using var ts = TwoExperiments(out string a, out string b);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            string before = ts.Fingerprint();
            var dry = sh.Run($"Get-ExperimentRetention -TrackingUri $uri -ExperimentId {a} | Remove-Trace -OlderThan 1d -WhatIf", vars);
            Assert.False(dry.Failed, dry.Terminating?.Message ?? string.Join("; ", dry.Errors));
            Assert.Contains("What if: Remove 3 traces", dry.HostText);
            Assert.Equal(before, ts.Fingerprint());

            var real = sh.Run($"Get-ExperimentRetention -TrackingUri $uri -ExperimentId {a} | Remove-Trace -OlderThan 1d -Confirm:$false", vars);
            Assert.False(real.Failed);
            Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = {a}"));
            Assert.Equal(3, ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = {b}"));
        }

        [Fact]
        public void TracesPipedToRemoveTraceAreRemovedWithinTheirOwnExperiment()
        {
            using var ts = TwoExperiments(out string a, out string b);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            // Two experiments' traces in one pipeline: each is planned in its own scope, all go.
            var r = sh.Run("Search-Trace -TrackingUri $uri | Remove-Trace -Confirm:$false -PassThru", vars);
            Assert.False(r.Failed);
            Assert.Equal(6, r.Output.Count);
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_info"));
        }

        [Fact]
        public void AnExperimentPipedToRestoreTraceIsRefusedNotWidened()
        {
            using var ts = TestStore.Generated(GeneratedStores.Revisions.Last(), Kind);
            string a = ts.Scalar("SELECT min(experiment_id) FROM experiments WHERE lifecycle_stage = 'active' AND experiment_id IN (SELECT experiment_id FROM trace_info)").ToString(System.Globalization.CultureInfo.InvariantCulture);
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
            Assert.False(sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config", vars).Failed);
            string before = ts.Fingerprint();
            // Restore-Trace takes ids from the pipeline by value, so PowerShell hands it the experiment's text as an id:
            // refused by the id rule, nothing restored (the experiment's own scope is -ExperimentId on the command line).
            var r = sh.Run($"Get-ExperimentRetention -TrackingUri $uri -ExperimentId {a} | Restore-Trace -Confirm:$false -PassThru", vars);
            Assert.Null(r.Terminating);
            Assert.Equal("InvalidTraceId", Assert.Single(r.Errors).FullyQualifiedErrorId.Split(',')[0]);
            Assert.Empty(r.Output);
            Assert.Equal(before, ts.Fingerprint());
        }

        [Fact]
        public void AStoreThatCannotBeOpenedIsThatInputsErrorAndThePipelineGoesOn()
        {
            if (Kind != StoreKind.Sqlite) return; // files piped as stores: SQLite's case
            using var first = TwoExperiments(out _, out _);
            using var third = TwoExperiments(out _, out _);
            string broken = Path.Combine(first.Folder, "not-a-store.db");
            File.WriteAllText(broken, "these are notes, not an MLflow store");
            using var sh = new PsShell(first);
            var vars = new Dictionary<string, object?> { ["files"] = new[] { first.Path, broken, third.Path } };
            var search = sh.Run("$files | ForEach-Object { [System.IO.FileInfo]::new($_) } | Search-Trace -First 1", vars);
            Assert.Null(search.Terminating);
            Assert.Equal(2, search.Output.Count);
            Assert.Equal(new[] { first.Path, third.Path }, search.Output.Select(o => ((Trace)o.BaseObject).TrackingUri));
            var error = Assert.Single(search.Errors);
            Assert.Equal(broken, error.TargetObject);

            var remove = sh.Run("$files | ForEach-Object { [System.IO.FileInfo]::new($_) } | Remove-Trace -Before ([DateTime]::MaxValue) -Confirm:$false", vars);
            Assert.Null(remove.Terminating);
            Assert.Single(remove.Errors);
            Assert.Equal(0, first.Scalar("SELECT count(*) FROM trace_info"));
            Assert.Equal(0, third.Scalar("SELECT count(*) FROM trace_info"));

            var get = sh.Run("$files | ForEach-Object { [System.IO.FileInfo]::new($_) } | Get-ExperimentRetention", vars);
            Assert.Null(get.Terminating);
            Assert.Single(get.Errors);
        }
    }

    public class PipelineContractTestsOnPostgres : PipelineContractTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
