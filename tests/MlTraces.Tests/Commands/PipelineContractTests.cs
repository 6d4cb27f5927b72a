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

        /// <summary>A store named by a relative path travels on its objects as an absolute one: after Set-Location
        /// (or in another session) a piped trace still reaches its own store, not a file of the same name here.</summary>
        [Theory]
        [InlineData(@".\mlflow.db")]
        [InlineData("./mlflow.db")]
        [InlineData("mlflow.db")]
        [InlineData("sqlite:///mlflow.db")]
        public void APipedTraceReachesItsStoreAfterSetLocation(string named)
        {
            if (Kind != StoreKind.Sqlite) return; // a relative path names a SQLite file only
            using var ts = TwoExperiments(out string a, out _);
            string elsewhere = TestStore.NewFolder();
            using var sh = new PsShell(ts.Folder);
            var vars = new Dictionary<string, object?> { ["named"] = named, ["elsewhere"] = elsewhere };
            var r = sh.Run("$t = Search-Trace -TrackingUri $named -ExperimentId " + a + " -First 1; " +
                           "$null = $ExecutionContext.SessionState.Path.SetLocation([Management.Automation.WildcardPattern]::Escape($elsewhere)); " +
                           "($t | Get-Trace).TraceId; $t | Remove-Trace -WhatIf", vars);
            Assert.False(r.Failed, r.Terminating?.Message ?? string.Join("; ", r.Errors));
            string id = Assert.Single(r.Output).BaseObject.ToString()!;
            Assert.StartsWith("tr-", id);
            Assert.Contains($"What if: Performing the operation \"Remove trace\" on target \"{id}", r.HostText.Replace("\n", ""));
            Assert.Empty(Directory.GetFiles(elsewhere));
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
        public void AnExperimentPipedToRestoreTraceRestoresItsTracesOnly()
        {
            using var ts = TestStore.Generated(GeneratedStores.Revisions.Last(), Kind);
            string a = ts.Scalar("SELECT min(experiment_id) FROM experiments WHERE lifecycle_stage = 'active' AND experiment_id IN (SELECT experiment_id FROM trace_info)").ToString(System.Globalization.CultureInfo.InvariantCulture);
            string b = ts.AddExperiment("B");
            // Half of A's traces move to B, spans and all, so both have archived traces.
            long half = ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = {a}") / 2;
            string moved = $"SELECT request_id FROM trace_info WHERE experiment_id = {a} ORDER BY request_id LIMIT {half}";
            using (var store = ts.Open())
            using (var cmd = store.Command($"UPDATE spans SET experiment_id = {b} WHERE trace_id IN ({moved}); UPDATE trace_info SET experiment_id = {b} WHERE request_id IN (SELECT trace_id FROM spans WHERE experiment_id = {b})"))
                cmd.ExecuteNonQuery();
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
            Assert.False(sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config", vars).Failed);
            const string Archived = "request_id IN (SELECT request_id FROM trace_tags WHERE \"key\" = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO')";
            long archivedA = ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = {a} AND {Archived}");
            long archivedB = ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = {b} AND {Archived}");
            Assert.True(archivedA > 0 && archivedB > 0, $"archived: {archivedA} in A, {archivedB} in B");

            // The dry run plans A's archived traces only, and changes nothing.
            string before = ts.Fingerprint();
            var dry = sh.Run($"Get-ExperimentRetention -TrackingUri $uri -ExperimentId {a} | Restore-Trace -WhatIf", vars);
            Assert.False(dry.Failed, dry.Terminating?.Message ?? string.Join("; ", dry.Errors));
            Assert.Contains($"What if: Restore {archivedA} ", dry.HostText);
            Assert.Equal(before, ts.Fingerprint());

            var r = sh.Run($"Get-ExperimentRetention -TrackingUri $uri -ExperimentId {a} | Restore-Trace -Confirm:$false -PassThru", vars);
            Assert.False(r.Failed, r.Terminating?.Message ?? string.Join("; ", r.Errors));
            Assert.Equal(archivedA, r.Output.Count);
            Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = {a} AND {Archived}"));
            Assert.Equal(archivedB, ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = {b} AND {Archived}"));
        }

        [Fact]
        public void RestoreTraceReadsEachPipedObjectForWhatItIs()
        {
            using var ts = TestStore.Generated(GeneratedStores.Revisions.Last(), Kind);
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
            var archived = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru", vars).Output
                .Select(o => (MlTraces.ArchivalReceipt)o.BaseObject).Where(x => x.Status == MlTraces.ArchivalStatus.Archived).ToList();
            Assert.True(archived.Count >= 3);
            vars["id"] = archived[0].TraceId;
            vars["result"] = archived[1];
            vars["trace"] = sh.Run($"Get-Trace -TrackingUri $uri -TraceId {archived[2].TraceId}", vars).Output.Single().BaseObject;
            // An id, an archival receipt (TraceId and ExperimentId: the trace, not its experiment), a trace, and
            // an object that names no trace: three restored, one refused.
            var r = sh.Run("$id, $result, $trace, [DateTime]::UtcNow | Restore-Trace -TrackingUri $uri -Confirm:$false -PassThru", vars);
            Assert.Null(r.Terminating);
            Assert.Equal(new[] { archived[0].TraceId, archived[1].TraceId, archived[2].TraceId }.OrderBy(x => x, StringComparer.Ordinal), r.Output.Select(o => ((MlTraces.RestoreReceipt)o.BaseObject).TraceId).OrderBy(x => x, StringComparer.Ordinal));
            Assert.Equal("UnsupportedInput", Assert.Single(r.Errors).FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(archived.Count - 3, ts.Scalar("SELECT count(*) FROM trace_tags WHERE \"key\" = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'"));
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
