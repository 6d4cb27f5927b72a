using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Archive;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    public class InvokeTraceArchiveTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private (TestStore ts, string config) Setup()
        {
            var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            return (ts, config);
        }

        private Dictionary<string, string> Contents(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT trace_id || '/' || span_id, content FROM spans");
            using var r = cmd.ExecuteReader();
            var d = new Dictionary<string, string>();
            while (r.Read()) d[r.GetString(0)] = r.GetString(1);
            return d;
        }


        [RealStoreFact]
        public void WhatIfChangesNothingAndTheRealRunArchivesExactlyThePlan()
        {
            var (ts, config) = Setup();
            using (ts)
            using (var sh = new PsShell(ts))
            {
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                var before = Contents(ts);
                string hash = ts.Fingerprint();
                var dry = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 5 -WhatIf -PassThru", vars);
                Assert.Empty(dry.Errors);
                var planned = dry.Output.Select(o => (ArchivalReceipt)o.BaseObject).ToList();
                Assert.Equal(5, planned.Count);
                Assert.All(planned, p => Assert.Equal(ArchivalStatus.Planned, p.Status));
                Assert.Contains("What if: Archive 5 trace(s)", dry.HostText);
                Assert.Equal(hash, ts.Fingerprint());
                Assert.False(Directory.Exists(Path.Combine(ts.Folder, "archive")));

                var real = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 5 -PassThru", vars);
                Assert.Empty(real.Errors);
                var done = real.Output.Select(o => (ArchivalReceipt)o.BaseObject).ToList();
                Assert.Equal(planned.Select(p => p.TraceId), done.Select(d => d.TraceId));
                Assert.All(done, d => Assert.Equal(ArchivalStatus.Archived, d.Status));

                using var store = ts.Open(StoreAccess.ReadOnly);
                foreach (var d in done)
                {
                    // Tags as MLflow's finalize writes them, content emptied, the payload holds the spans exactly.
                    Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = '{d.TraceId}' AND key = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'"));
                    Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = '{d.TraceId}' AND key = 'mlflow.trace.archiveLocation' AND value = '{d.ArchiveLocation}'"));
                    Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM spans WHERE trace_id = '{d.TraceId}' AND content <> ''"));
                    Assert.EndsWith($"/1/traces/{d.TraceId}/artifacts", d.ArchiveLocation);
                    var spans = TracePayload.Read(d.TraceId, FileArchiveRepository.Instance.Read(d.ArchiveLocation));
                    foreach (var s in spans) Assert.Equal(before[d.TraceId + "/" + s.SpanId], s.Content);
                }
                // The next pass takes the next five, oldest first; archived traces are not candidates again.
                var next = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 5", vars);
                var summary = (TraceArchiveSummary)next.Output.Single().BaseObject;
                Assert.Equal(5, summary.Archived);
                Assert.Equal(10, ts.Scalar("SELECT count(*) FROM trace_tags WHERE key = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'"));
                if (Kind == StoreKind.Sqlite)
                {
                    using var check = store.Command("PRAGMA integrity_check");
                    Assert.Equal("ok", check.ExecuteScalar());
                }
            }
        }

        /// <summary>A second writer appends a span while the payload is being written: the trace is not finalized,
        /// its new span is kept, the unfinished payload is removed, and a later pass archives it.</summary>
        private sealed class AppendingRepository : IArchiveRepository
        {
            private readonly TestStore _store;
            public bool Appended;
            public AppendingRepository(TestStore store) { _store = store; }
            public void Write(string folderUri, byte[] payload)
            {
                FileArchiveRepository.Instance.Write(folderUri, payload);
                if (Appended) return;
                Appended = true;
                string traceId = folderUri.Split('/')[^2];
                // A connection of its own, as another process (an MLflow server) has.
                using var other = _store.Open(StoreAccess.ReadWrite);
                var p = new SqlParameters();
                string t = p.Add(traceId);
                using var cmd = other.Command(
                    "INSERT INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content) " +
                    $"SELECT trace_id, experiment_id, 'ffffffffffffffff', span_id, 'late', 'TOOL', 'OK', start_time_unix_nano, end_time_unix_nano, content FROM spans WHERE trace_id = {t} LIMIT 1; " +
                    $"UPDATE trace_info SET db_payload_generation = db_payload_generation + 1 WHERE request_id = {t};", p);
                cmd.ExecuteNonQuery();
            }
            public byte[] Read(string folderUri) => FileArchiveRepository.Instance.Read(folderUri);
            public bool Exists(string folderUri) => FileArchiveRepository.Instance.Exists(folderUri);
            public bool Delete(string folderUri, System.Threading.CancellationToken cancel = default) => FileArchiveRepository.Instance.Delete(folderUri);
        }

        [RealStoreFact]
        public void SpansAppendedDuringArchivalAbortThatTraceAndAreKept()
        {
            var (ts, config) = Setup();
            using (ts)
            {
                var cfg = ArchivalServerConfig.Load(config);
                using var store = ts.Open(StoreAccess.ReadWrite);
                var plan = ArchivalPlanner.Plan(store, cfg, Experiments.Active(store), 1, DateTimeOffset.UtcNow);
                var repo = new AppendingRepository(ts);
                var result = new ArchivalExecutor(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment(), _ => repo).Archive(plan.Candidates().First());
                Assert.Equal(ArchivalStatus.LeftForNextPass, result.Status);
                string id = result.TraceId;
                Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM spans WHERE trace_id = '{id}' AND span_id = 'ffffffffffffffff' AND content <> ''"));
                Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM spans WHERE trace_id = '{id}' AND content = ''"));
                Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = '{id}' AND key = 'mlflow.trace.archiveLocation'"));
                Assert.False(FileArchiveRepository.Instance.Exists(result.ArchiveLocation));
                // A later pass archives it, new span included.
                var again = new ArchivalExecutor(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).Archive(ArchivalPlanner.Plan(store, cfg, Experiments.Active(store), 1, DateTimeOffset.UtcNow).Candidates().First());
                Assert.Equal((id, ArchivalStatus.Archived), (again.TraceId, again.Status));
                // The appended row's JSON is a copy of another span's, so it is counted, not looked up by id.
                long rows = ts.Scalar($"SELECT count(*) FROM spans WHERE trace_id = '{id}'");
                Assert.Equal(rows, TracePayload.Read(id, FileArchiveRepository.Instance.Read(again.ArchiveLocation)).Count);
            }
        }

        [RealStoreFact]
        public void MalformedPayloadsAreTaggedAndThePassGoesOn()
        {
            var (ts, config) = Setup();
            using (ts)
            using (var sh = new PsShell(ts))
            {
                string bad = ts.Scalar("SELECT count(*) FROM trace_info") > 0 ? FirstTraceByTime(ts) : "";
                Query.QueryTestSupport.Execute(ts, "UPDATE spans SET content = {0} WHERE trace_id = {1}", "{not json", bad);
                var r = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 3", new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config });
                var e = Assert.Single(r.Errors);
                Assert.Equal("MalformedTrace,MlTraces.Commands.InvokeTraceArchiveCommand", e.FullyQualifiedErrorId);
                Assert.Equal(bad, e.TargetObject);
                var summary = (TraceArchiveSummary)r.Output.Single().BaseObject;
                Assert.Equal((1, 2), (summary.Malformed, summary.Archived));
                Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = '{bad}' AND key = 'mlflow.trace.archivalFailure' AND value = 'MALFORMED_TRACE'"));
                Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM spans WHERE trace_id = '{bad}' AND content <> '{{not json'"));
            }
        }

        [RealStoreFact]
        public void ArchiveNowIsServedFirstAndClearedWhenDone()
        {
            var (ts, config) = Setup();
            using (ts)
            using (var sh = new PsShell(ts))
            {
                File.WriteAllText(config, File.ReadAllText(config).Replace("retention: 1d", "retention: 36500d"));
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                Assert.Empty(sh.Run("Set-ExperimentRetention -TrackingUri $uri -ExperimentId 1 -ArchiveNow", vars).Errors);
                var first = (TraceArchiveSummary)sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 10", vars).Output.Single().BaseObject;
                Assert.Equal((10, 0), (first.Archived, first.ArchiveNowRequestsCleared));
                Assert.Equal(1, ts.Scalar("SELECT count(*) FROM experiment_tags WHERE key = 'mlflow.trace.archiveNow'"));
                var rest = (TraceArchiveSummary)sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config", vars).Output.Single().BaseObject;
                Assert.Equal(1, rest.ArchiveNowRequestsCleared);
                Assert.Equal(0, ts.Scalar("SELECT count(*) FROM experiment_tags WHERE key = 'mlflow.trace.archiveNow'"));
                Assert.Equal(0, ts.Scalar("SELECT count(*) FROM spans WHERE content <> ''"));
            }
        }

        private string FirstTraceByTime(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT request_id FROM trace_info ORDER BY timestamp_ms, request_id LIMIT 1");
            return (string)cmd.ExecuteScalar()!;
        }
    }

    public class InvokeTraceArchiveTestsOnPostgres : InvokeTraceArchiveTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
