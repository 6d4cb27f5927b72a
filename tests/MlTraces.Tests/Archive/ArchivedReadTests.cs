using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using MlTraces.Core.Spans;

namespace MlTraces.Tests.Archive
{
    public class ArchivedReadTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private Dictionary<string, object?> Vars(TestStore ts) => new Dictionary<string, object?> { ["uri"] = ts.UriText };

        [RealStoreFact]
        public void GetTraceReadsArchivedSpansExactlyAsTheStoreHadThem()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            using var sh = new PsShell(ts);
            var ids = ArchiveTestSupport.TraceIds(ts);
            var before = sh.Objects<Trace>("Get-Trace -TrackingUri $uri -TraceId $ids",
                new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids.ToArray() });
            Assert.True(before.Sum(t => t.SpanCount) > 100);
            foreach (var id in ids) ArchiveTestSupport.Archive(ts, id);
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM spans WHERE content != ''"));

            var r = sh.Run("Get-Trace -TrackingUri $uri -TraceId $ids", new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids.ToArray() });
            Assert.Empty(r.Warnings);
            Assert.Empty(r.Errors);
            var after = r.Output.Select(o => (Trace)o.BaseObject).ToList();
            Assert.Equal(before.Select(t => t.TraceId), after.Select(t => t.TraceId));
            foreach (var (b, a) in before.Zip(after))
            {
                Assert.Equal(SpansLocations.ArchiveRepo, a.SpansLocation);
                Assert.Equal(ArchiveTestSupport.Describe(b), ArchiveTestSupport.Describe(a));
            }
        }

        [RealStoreFact]
        public void UnreadableArchivesWarnPerTraceAndTheTracesStillComeBack()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            var ids = ArchiveTestSupport.TraceIds(ts).Take(5).ToList();
            var folders = ids.Select(id => ArchiveTestSupport.Archive(ts, id)).ToList();
            File.Delete(ArchiveTestSupport.PayloadFile(folders[0]));
            File.WriteAllBytes(ArchiveTestSupport.PayloadFile(folders[1]), new byte[] { 0xff, 0xff, 0xff });
            using (var store = ts.Open())
            {
                ArchiveTestSupport.SetTag(store, ids[2], TraceTagKeys.ArchiveLocation, null);
                ArchiveTestSupport.SetTag(store, ids[3], TraceTagKeys.ArchiveLocation, "s3://bucket/0/traces/x/artifacts");
            }
            using var sh = new PsShell(ts);
            var r = sh.Run("Get-Trace -TrackingUri $uri -TraceId $ids", new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids.ToArray() });
            Assert.Empty(r.Errors);
            Assert.Null(r.Terminating);
            var traces = r.Output.Select(o => (Trace)o.BaseObject).ToList();
            Assert.Equal(ids, traces.Select(t => t.TraceId));
            Assert.All(traces.Take(4), t => Assert.Null(t.Spans));
            Assert.NotEmpty(traces[4].Spans!);
            var w = r.Warnings.Select(x => x.Message).ToList();
            Assert.Equal(4, w.Count);
            Assert.Contains(ids[0], w[0]); Assert.Contains("does not exist", w[0]);
            Assert.Contains(ids[1], w[1]); Assert.Contains("valid OTLP TracesData", w[1]);
            Assert.Contains(ids[2], w[2]); Assert.Contains("mlflow.trace.archiveLocation", w[2]);
            // A bucket folder that is not the trace's own is refused before any request.
            Assert.Contains(ids[3], w[3]); Assert.Contains("not a trace's own folder", w[3]);
        }

        [RealStoreFact]
        public void ATraceArchivedWhileBeingReadIsServedFromTheArchive()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            string id = ArchiveTestSupport.TraceIds(ts)[0];
            using var store = ts.Open(StoreAccess.ReadOnly);
            var reader = new TraceReader(store);
            var traces = reader.GetInfos(new[] { id });
            reader.Hydrate(traces);
            new SpanLoader(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).Load(traces);
            var expected = ArchiveTestSupport.Describe(traces[0]);
            traces[0].Spans = null;
            Assert.NotEqual(SpansLocations.ArchiveRepo, traces[0].SpansLocation);

            // The tags were read before the pass finalized; the spans are read after.
            ArchiveTestSupport.Archive(ts, id);
            var loader = new SpanLoader(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment());
            loader.Load(traces);
            Assert.Empty(loader.Warnings);
            Assert.Equal(SpansLocations.ArchiveRepo, traces[0].SpansLocation);
            Assert.Equal(expected, ArchiveTestSupport.Describe(traces[0]));
        }

        [RealStoreFact]
        public void ExportTraceWritesArchivedSpansAlsoForTracesReadBeforeTheyWereArchived()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["id"] = ArchiveTestSupport.TraceIds(ts)[0] };
            Assert.False(sh.Run("Get-Trace -TrackingUri $uri -TraceId $id | Export-Trace -Path before.jsonl; $global:stale = Get-Trace -TrackingUri $uri -TraceId $id -ExcludeSpans", vars).Failed);
            ArchiveTestSupport.Archive(ts, (string)vars["id"]!);
            // Fresh objects say ARCHIVE_REPO; the stale one still says TRACKING_STORE and finds empty rows.
            var r = sh.Run("Get-Trace -TrackingUri $uri -TraceId $id -ExcludeSpans | Export-Trace -Path after.jsonl; $global:stale | Export-Trace -Path stale.jsonl", vars);
            Assert.Empty(r.Warnings);
            Assert.False(r.Failed, r.Terminating?.Message);
            string SpansOf(string file) => MlTraces.Core.Json.JsonNode.Parse(File.ReadAllText(Path.Combine(ts.Folder, file)).Trim())["data"]!.ToPythonJson();
            Assert.Equal(SpansOf("before.jsonl"), SpansOf("after.jsonl"));
            Assert.Equal(SpansOf("before.jsonl"), SpansOf("stale.jsonl"));
        }
    }

    public class ArchivedReadTestsOnPostgres : ArchivedReadTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
