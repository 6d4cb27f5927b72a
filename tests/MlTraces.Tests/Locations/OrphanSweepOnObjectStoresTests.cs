using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>
    /// The orphan sweep (Invoke-TraceArchive -RemoveOrphanedPayloads) on S3 and Azure Blob: only traces.pb objects
    /// at MLflow's key under the pass's archive roots, older than the grace period by their last-modified time, that
    /// no trace is archived with or points to. On SQLite and PostgreSQL stores.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class OrphanSweepOnObjectStoresTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        [ObjectStoreTheory]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void OnlyOldUnreferencedPayloadsAtMlflowsKeyUnderThePassRootsGo(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            string e = ts.AddExperiment("swept"), other = ts.AddExperiment("not-swept");
            string root = place.Uri + "/archive/" + e;
            string Key(string rest) => place.FullKey("archive/" + rest);
            ts.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-archived", e, 1, tags: new Dictionary<string, string> { ["mlflow.trace.spansLocation"] = "ARCHIVE_REPO", ["mlflow.trace.archiveLocation"] = root + "/traces/tr-archived/artifacts" }),
                // Not archived by its own id, but its tag names another id's payload: that payload stays too.
                TestStore.MakeTrace("tr-pointer", e, 1, tags: new Dictionary<string, string> { ["mlflow.trace.archiveLocation"] = root + "/traces/tr-pointed/artifacts" }),
            });
            var orphans = new[] { Key($"{e}/traces/tr-o1/artifacts/traces.pb"), Key($"{e}/traces/tr-o2/artifacts/traces.pb") };
            var kept = new[]
            {
                Key($"{e}/traces/tr-archived/artifacts/traces.pb"), Key($"{e}/traces/tr-pointed/artifacts/traces.pb"),
                Key($"{e}/traces/tr-o1/artifacts/traces.json"), Key($"{e}/traces/tr-o3/traces.pb"), Key($"{e}/traces/tr-o4/artifacts/x/traces.pb"),
                Key($"{e}/other/tr-o5/artifacts/traces.pb"), Key($"{other}/traces/tr-o6/artifacts/traces.pb"), Key($"{e}x/traces/tr-o7/artifacts/traces.pb"),
            };
            foreach (var k in orphans.Concat(kept)) place.PutRaw(k, new byte[] { 1 });
            var all = place.AllRaw();

            using var store = ts.Open();
            var pass = new ArchivalExecutor(store, place.Settings);
            // Just written: inside the grace period, nothing is an orphan yet.
            Assert.Empty(pass.FindOrphanedPayloads(new[] { root }, DateTimeOffset.UtcNow));
            var later = DateTimeOffset.UtcNow + ArchivalExecutor.OrphanGracePeriod + TimeSpan.FromMinutes(5);
            var found = pass.FindOrphanedPayloads(new[] { root }, later);
            Assert.Equal(new[] { root + "/traces/tr-o1/artifacts/traces.pb", root + "/traces/tr-o2/artifacts/traces.pb" }, found);
            // Finding is the dry run: nothing changed.
            Assert.Equal(all, place.AllRaw());
            Assert.Empty(pass.Warnings);

            // An orphan archived meanwhile is not removed after all.
            Query.QueryTestSupport.Execute(ts, "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status) VALUES ('tr-o2', {0}, 1, 0, 'OK')", long.Parse(e));
            Query.QueryTestSupport.Execute(ts, "INSERT INTO trace_tags (\"key\", value, request_id) VALUES ('mlflow.trace.spansLocation', 'ARCHIVE_REPO', 'tr-o2')");
            Assert.Equal(new[] { true, false }, found.Select(f => pass.RemoveOrphan(f, later)));
            Assert.Equal(all.Except(new[] { orphans[0] }), place.AllRaw());
            Assert.False(pass.RemoveOrphan(found[0], later));
            Assert.Empty(pass.Warnings);
        }

        /// <summary>Through the module: -WhatIf and the real run agree, and objects inside the grace period stay.</summary>
        [ObjectStoreTheory]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void TheSweepThroughTheModuleLeavesRecentObjects(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            string e = ts.AddExperiment("swept");
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {place.Uri}/archive\n  retention: 1d\n");
            place.PutRaw(place.FullKey($"archive/{e}/traces/tr-o1/artifacts/traces.pb"), new byte[] { 1 });
            var all = place.AllRaw();
            using (place.UseEnvironment())
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                var dry = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -RemoveOrphanedPayloads -WhatIf", vars);
                Assert.Empty(dry.Errors);
                Assert.Empty(dry.Warnings);
                Assert.DoesNotContain("traces.pb", dry.HostText);
                var real = sh.Run("(Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -RemoveOrphanedPayloads -Confirm:$false).OrphanedPayloadsRemoved", vars);
                Assert.Empty(real.Errors);
                Assert.Empty(real.Warnings);
                Assert.Equal(0, (int)real.Output.Single().BaseObject);
                Assert.Equal(all, place.AllRaw());
            }
        }
    }

    public class OrphanSweepOnObjectStoresTestsOnPostgres : OrphanSweepOnObjectStoresTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
