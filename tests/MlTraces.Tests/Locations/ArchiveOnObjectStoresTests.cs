using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using MlTraces.Core;
using MlTraces.Core.Archive;
using MlTraces.Core.Locations;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>
    /// Archived payloads (traces.pb) where MLflow keeps them: a local folder, S3, Azure Blob. The repository alone,
    /// then the module end to end (Invoke-TraceArchive, Get-Trace, Restore-Trace), on SQLite and PostgreSQL stores.
    /// Process environment: the module finds credentials as MLflow does, in environment variables.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class ArchiveOnObjectStoresTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private const string TraceId = "tr-0123456789abcdef0123456789abcdef";

        [ObjectStoreTheory]
        [InlineData(TestLocation.Folder)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void PayloadsAreWrittenReadAndRemovedAtMlflowsKey(string kind)
        {
            using var place = TestLocation.Create(kind);
            string folder = place.Uri + "/7/traces/" + TraceId + "/artifacts";
            var repository = ArchiveRepositories.For(folder, place.Settings);
            var payload = Encoding.UTF8.GetBytes("payload of " + kind);
            string key = place.FullKey("7/traces/" + TraceId + "/artifacts/traces.pb");

            Assert.False(repository.Exists(folder));
            Assert.Equal("ArchivedPayloadMissing", Assert.Throws<MlTracesException>(() => repository.Read(folder)).ErrorId);
            repository.Write(folder, payload);
            Assert.Equal(payload, place.GetRaw(key));
            Assert.Equal(new[] { key }, place.AllRaw());
            Assert.True(repository.Exists(folder));
            Assert.Equal(payload, repository.Read(folder));
            ArchiveRepositories.CheckOwnFolder(repository, TraceId, "7", folder);
            Assert.Equal("UnsafeArchiveLocation", Assert.Throws<MlTracesException>(() => ArchiveRepositories.CheckOwnFolder(repository, TraceId, "8", folder)).ErrorId);
            Assert.Equal("UnsafeArchiveLocation", Assert.Throws<MlTracesException>(() => ArchiveRepositories.CheckOwnFolder(repository, "tr-other", "7", folder)).ErrorId);
            Assert.True(repository.Delete(folder));
            Assert.False(repository.Delete(folder));
            Assert.Empty(place.AllRaw());
        }

        [ObjectStoreTheory]
        [InlineData(TestLocation.Folder)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void MlflowArtifactsUrisReachTheServersDestination(string kind)
        {
            using var place = TestLocation.Create(kind);
            var env = new Dictionary<string, string>(place.Environment) { [ObjectStoreSettings.ArtifactsDestinationVariable] = place.Uri };
            var settings = new ObjectStoreSettings(n => env.TryGetValue(n, out var v) ? v : null);
            string folder = "mlflow-artifacts://mlflow.example:5000/7/traces/" + TraceId + "/artifacts";
            var repository = ArchiveRepositories.For(folder, settings);
            repository.Write(folder, new byte[] { 1, 2 });
            Assert.Equal(new byte[] { 1, 2 }, place.GetRaw(place.FullKey("7/traces/" + TraceId + "/artifacts/traces.pb")));
            Assert.Equal(new byte[] { 1, 2 }, repository.Read(folder));
            ArchiveRepositories.CheckOwnFolder(repository, TraceId, "7", folder);
            Assert.True(repository.Delete(folder));
        }

        public static IEnumerable<object[]> HostileFolders()
        {
            var tails = new[]
            {
                "7/traces/../artifacts", "7/traces/" + TraceId + "/artifacts/..", "7/traces/" + TraceId + "/artifacts/../../../../x",
                "7/traces/tr 1/artifacts", "7/traces/tr-1*/artifacts", "7/traces/" + TraceId, "7/other/" + TraceId + "/artifacts",
                "7/traces/CON/artifacts", "7/traces/" + TraceId + "/artifacts/traces.pb", "traces//artifacts",
            };
            foreach (var kind in new[] { TestLocation.S3, TestLocation.Azure })
                foreach (var tail in tails)
                    yield return new object[] { kind, tail };
        }

        [ObjectStoreTheory]
        [MemberData(nameof(HostileFolders))]
        public void FoldersThatAreNotATracesOwnAreRefusedBeforeAnyRequest(string kind, string tail)
        {
            using var place = TestLocation.Create(kind);
            place.PutRaw("x", new byte[] { 9 });
            string folder = place.Uri + "/" + tail;
            var repository = ArchiveRepositories.For(folder, place.Settings);
            foreach (Action act in new Action[] { () => repository.Write(folder, new byte[] { 1 }), () => repository.Read(folder), () => repository.Exists(folder), () => repository.Delete(folder) })
                Assert.Equal("UnsafeArchiveLocation", Assert.Throws<MlTracesException>(act).ErrorId);
            Assert.Equal(new[] { "x" }, place.AllRaw());
        }

        [Theory]
        [InlineData("gs://bucket/7/traces/tr-1/artifacts")]
        [InlineData("hdfs://nn:8020/7/traces/tr-1/artifacts")]
        [InlineData("dbfs:/databricks/7/traces/tr-1/artifacts")]
        public void OtherSchemesSayWhatIsSupported(string folder)
        {
            var ex = Assert.Throws<MlTracesException>(() => ArchiveRepositories.For(folder, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()));
            Assert.Equal("UnsupportedArchiveRepository", ex.ErrorId);
            Assert.Contains("s3://", ex.Message);
            Assert.Contains("wasbs://", ex.Message);
        }

        /// <summary>The module end to end: the archival pass uploads traces.pb where the server config says,
        /// Get-Trace reads the spans back from there, Restore-Trace brings them home and removes the object.</summary>
        [ObjectStoreTheory(RealStores = true)]
        [InlineData(TestLocation.Folder)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void ArchiveReadAndRestoreThroughTheModule(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            string config = ArchiveTestSupport.Config(ts, place.Uri);
            using (place.UseEnvironment())
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                var before = sh.Objects<Trace>("Search-Trace -TrackingUri $uri -IncludeSpans", vars).ToDictionary(t => t.TraceId);

                var run = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 4 -PassThru", vars);
                Assert.Empty(run.Errors);
                var done = run.Output.Select(o => (ArchivalReceipt)o.BaseObject).ToList();
                Assert.Equal(4, done.Count);
                Assert.All(done, d => Assert.Equal(ArchivalStatus.Archived, d.Status));
                var keys = done.Select(d => place.FullKey($"1/traces/{d.TraceId}/artifacts/traces.pb")).OrderBy(k => k, StringComparer.Ordinal).ToList();
                Assert.Equal(keys, place.AllRaw().Where(k => k.EndsWith("traces.pb", StringComparison.Ordinal)));
                foreach (var d in done)
                {
                    Assert.Equal(place.Uri + $"/1/traces/{d.TraceId}/artifacts", d.ArchiveLocation);
                    // The object itself, read with the SDK, holds exactly the spans the rows held.
                    var spans = TracePayload.Read(d.TraceId, place.GetRaw(place.FullKey($"1/traces/{d.TraceId}/artifacts/traces.pb"))!);
                    Assert.Equal(before[d.TraceId].Spans!.Select(s => s.SpanId).OrderBy(s => s), spans.Select(s => s.SpanId).OrderBy(s => s));
                }

                var ids = done.Select(d => d.TraceId).ToArray();
                vars["ids"] = ids;
                var read = sh.Run("Get-Trace -TrackingUri $uri -TraceId $ids", vars);
                Assert.Empty(read.Errors);
                Assert.Empty(read.Warnings);
                foreach (var t in read.Output.Select(o => (Trace)o.BaseObject))
                {
                    Assert.Equal(SpansLocations.ArchiveRepo, t.SpansLocation);
                    Assert.Equal(ArchiveTestSupport.Describe(before[t.TraceId]), ArchiveTestSupport.Describe(t));
                }

                var restored = sh.Run("Restore-Trace -TrackingUri $uri -TraceId $ids -PassThru -Confirm:$false", vars);
                Assert.Empty(restored.Errors);
                Assert.All(restored.Output.Select(o => (RestoreReceipt)o.BaseObject), r => { Assert.True(r.Restored); Assert.True(r.ArchiveFileRemoved); });
                Assert.Empty(place.AllRaw().Where(k => k.EndsWith("traces.pb", StringComparison.Ordinal)));
                foreach (var t in sh.Objects<Trace>("Get-Trace -TrackingUri $uri -TraceId $ids", vars))
                {
                    Assert.Equal(SpansLocations.TrackingStore, t.SpansLocation);
                    Assert.Equal(ArchiveTestSupport.Describe(before[t.TraceId]), ArchiveTestSupport.Describe(t));
                }
            }
        }
    }

    public class ArchiveOnObjectStoresTestsOnPostgres : ArchiveOnObjectStoresTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
