using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;

namespace MlTraces.Tests.Commands
{
    /// <summary>Remove-Trace on a copy of every real MLflow store: the dry run is exact and changes no byte, and
    /// the real run leaves no row of a deleted trace anywhere.</summary>
    public class RemoveTraceFixtureTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        public static IEnumerable<object[]> Fixtures() => FixtureStoreTests.Fixtures();
        public static IEnumerable<object[]> Generations() => GeneratedStores.All();

        [RealStoreTheory]
        [MemberData(nameof(Fixtures))]
        public void DeletesByFilterThenByAgeAndLeavesNothingBehind(string fixture)
        {
            using var ts = TestStore.CopyOfFixture(fixture, Kind);
            CheckDeletesByFilterThenByAgeAndLeavesNothingBehind(ts);
        }

        [Theory]
        [MemberData(nameof(Generations))]
        public void DeletesByFilterThenByAgeAndLeavesNothingBehindOnEveryGeneration(string revision)
        {
            using var ts = TestStore.Generated(revision, Kind);
            CheckDeletesByFilterThenByAgeAndLeavesNothingBehind(ts);
            // The traces' own artifact folders went with them (the oldest layout's hold traces.json).
            Assert.Empty(Directory.GetDirectories(ts.Folder, "*", SearchOption.AllDirectories)
                .Where(d => Path.GetFileName(Path.GetDirectoryName(d)) == "traces"));
        }

        private static void CheckDeletesByFilterThenByAgeAndLeavesNothingBehind(TestStore ts)
        {
            using var sh = new PsShell(ts);
            List<string> experiments;
            using (var store = ts.Open(StoreAccess.ReadOnly)) experiments = Experiments.All(store).Select(e => e.ExperimentId).ToList();
            // A real server's store names its artifacts mlflow-artifacts:/…: the admin gives the server's
            // --artifacts-destination (here an empty folder), without which those traces keep their rows.
            var vars = new Dictionary<string, object?>
            {
                ["uri"] = ts.UriText, ["ids"] = experiments.ToArray(), ["dest"] = new System.Uri(Path.Combine(ts.Folder, "mlartifacts")).AbsoluteUri,
            };
            var before = Snapshot(ts);
            string hash = ts.Fingerprint();

            foreach (var (command, where) in new[]
            {
                ("Remove-Trace -TrackingUri $uri -ExperimentId $ids -Filter \"status = 'OK'\" -ArtifactsDestination $dest", "status = 'OK'"),
                // Every experiment, deleted ones too, up to the far future: the rest.
                ("Remove-Trace -TrackingUri $uri -ExperimentId $ids -Before ([DateTime]::MaxValue) -ArtifactsDestination $dest", "1 = 1"),
            })
            {
                var expected = TraceIds(ts, where);
                var dry = sh.Run(command + " -WhatIf -WarningAction SilentlyContinue", vars);
                Assert.True(dry.Errors.Count == 0, string.Join("\n", dry.Errors));
                Assert.Equal(expected, WhatIfIds(dry.HostText).OrderBy(id => id, System.StringComparer.Ordinal));
                Assert.Equal(hash, ts.Fingerprint());

                var real = sh.Run(command + " -Confirm:$false -WarningAction SilentlyContinue", vars);
                Assert.True(real.Errors.Count == 0, string.Join("\n", real.Errors));
                Assert.Empty(expected.Intersect(TraceIds(ts, "1 = 1")));
                AssertConsistent(ts, before);
                hash = ts.Fingerprint();
            }
            Assert.Empty(TraceIds(ts, "1 = 1"));
        }
    }

    public class RemoveTraceFixtureTestsOnPostgres : RemoveTraceFixtureTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
