using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using MlTraces.Core.Locations;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>
    /// Spans that live in the artifact store as traces.json (the oldest layout, and MLflow 3.0/3.1 clients), read
    /// where MLflow put them: a local folder, S3, Azure Blob, addressed directly or through mlflow-artifacts:/ and
    /// the server's --artifacts-destination. Through the module (Get-Trace, Search-Trace | Export-Trace), on SQLite
    /// and PostgreSQL stores.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class ArtifactSpansOnObjectStoresTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        /// <summary>A traces.json as MLflow 2.x wrote it; every span names its trace (mlflow.traceRequestId), as MLflow's spans do.</summary>
        internal const string TraceData = "{\"spans\": [{\"name\": \"predict\", \"context\": {\"span_id\": \"0x1a2b3c4d5e6f7081\", \"trace_id\": \"0x0123456789abcdef0123456789abcdef\"}, " +
            "\"parent_id\": null, \"start_time\": 1700000000000000000, \"end_time\": 1700000001500000000, \"status_code\": \"OK\", \"status_message\": \"\", " +
            "\"attributes\": {\"mlflow.traceRequestId\": \"\\\"TRACEID\\\"\", \"mlflow.spanType\": \"\\\"CHAIN\\\"\"}, \"events\": []}, " +
            "{\"name\": \"llm\", \"context\": {\"span_id\": \"0x00000000000000ff\", \"trace_id\": \"0x0123456789abcdef0123456789abcdef\"}, \"parent_id\": \"0x1a2b3c4d5e6f7081\", " +
            "\"start_time\": 1700000000100000000, \"end_time\": 1700000001400000000, \"status_code\": \"ERROR\", \"status_message\": \"rate limited\", " +
            "\"attributes\": {\"mlflow.traceRequestId\": \"\\\"TRACEID\\\"\", \"mlflow.spanType\": \"\\\"LLM\\\"\"}, \"events\": []}]}";

        /// <summary>Get-Trace of traces whose traces.json is in a bucket or container whose server takes connections
        /// and never answers: the first read waits out its tries (MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT each), every
        /// later trace is not asked again, so the command ends in bounded time with each trace and a warning for each.
        /// Each trace waited out its own tries before.</summary>
        [ObjectStoreTheory]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void AHungArtifactStoreCostsOneRoundOfTriesNotOnePerTrace(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            string experiment = ts.AddExperiment("hung");
            string root = place.Uri + "/" + experiment;
            Query.QueryTestSupport.Execute(ts, "UPDATE experiments SET artifact_location = {0} WHERE experiment_id = {1}", root, long.Parse(experiment));
            var ids = Enumerable.Range(0, 6).Select(i => $"tr-hung{i}").ToArray();
            ts.AddTraces(ids.Select(id => TestStore.MakeTrace(id, experiment, 0, tags: new Dictionary<string, string>
            {
                ["mlflow.artifactLocation"] = $"{root}/traces/{id}/artifacts",
                ["mlflow.trace.spansLocation"] = "ARTIFACT_REPO",
            })));
            string endpointVariable = kind == TestLocation.S3 ? "MLFLOW_S3_ENDPOINT_URL" : "AZURE_STORAGE_CONNECTION_STRING";
            using var proxy = new SlowProxy(place.Environment[endpointVariable], TimeSpan.Zero, _ => SlowProxy.Mode.BlackHole);
            using (place.UseEnvironment(new Dictionary<string, string>
            {
                [endpointVariable] = proxy.Route(place.Environment[endpointVariable]),
                [ObjectStoreSettings.TimeoutVariable] = "1",
            }))
            {
                using var sh = new PsShell(ts);
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var r = sh.Run("Get-Trace -TrackingUri $uri -TraceId $ids", new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids });
                // Six tries of 1 s with their pauses (about 12 s) once, not once per trace.
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"Get-Trace took {watch.Elapsed}.");
                Assert.Empty(r.Errors);
                Assert.Equal(ids, r.Output.Select(o => ((Trace)o.BaseObject).TraceId));
                Assert.All(r.Output, o => Assert.Null(((Trace)o.BaseObject).Spans));
                Assert.Equal(ids.Length, r.Warnings.Count);
                Assert.All(r.Warnings.Zip(ids), x => { Assert.Contains(x.Second, x.First.Message); Assert.Contains("cannot be read", x.First.Message); });
            }
        }

        [ObjectStoreTheory(RealStores = true)]
        [InlineData(TestLocation.Folder, false)]
        [InlineData(TestLocation.Folder, true)]
        [InlineData(TestLocation.S3, false)]
        [InlineData(TestLocation.S3, true)]
        [InlineData(TestLocation.Azure, false)]
        [InlineData(TestLocation.Azure, true)]
        public void SpansComeFromTracesJsonWhereverTheArtifactsAre(string kind, bool throughServer)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CopyOfFixture("cobbie-gen-a.sqlite", Kind);
            var rows = new List<(string Id, string Experiment)>();
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var cmd = store.Command("SELECT request_id, experiment_id FROM trace_info ORDER BY timestamp_ms DESC, request_id LIMIT 3"))
            using (var row = cmd.ExecuteReader())
                while (row.Read()) rows.Add((row.GetString(0), Convert.ToString(row.GetValue(1), System.Globalization.CultureInfo.InvariantCulture)!));
            Assert.Equal(3, rows.Select(r => r.Experiment).Count());
            string experiment = rows[0].Experiment;
            Assert.All(rows, r => Assert.Equal(experiment, r.Experiment));
            // The experiment's root as the server records it: the bucket itself, or mlflow-artifacts:/ in front of it.
            string root = throughServer ? "mlflow-artifacts:/" + experiment : place.Uri + "/" + experiment;
            Query.QueryTestSupport.Execute(ts, "UPDATE experiments SET artifact_location = {0} WHERE experiment_id = {1}", root, long.Parse(experiment));
            string Folder(string id) => root + "/traces/" + id + "/artifacts";
            // Trace 0 has its spans in place; trace 1 has none there; trace 2's tag names trace 0's folder.
            place.PutRaw(place.FullKey(experiment + "/traces/" + rows[0].Id + "/artifacts/traces.json"), Encoding.UTF8.GetBytes(TraceData.Replace("TRACEID", rows[0].Id)));
            foreach (var (id, tagged) in new[] { (rows[0].Id, rows[0].Id), (rows[1].Id, rows[1].Id), (rows[2].Id, rows[0].Id) })
                Query.QueryTestSupport.Execute(ts, "UPDATE trace_tags SET value = {0} WHERE request_id = {1} AND key = 'mlflow.artifactLocation'", Folder(tagged), id);

            using (place.UseEnvironment(new Dictionary<string, string> { [ObjectStoreSettings.ArtifactsDestinationVariable] = place.Uri }))
            {
                using var sh = new PsShell(ts);
                string export = Path.Combine(ts.Folder, "export.jsonl");
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = rows.Select(r => r.Id).ToArray(), ["id"] = rows[0].Id, ["export"] = export };
                var r = sh.Run("Get-Trace -TrackingUri $uri -TraceId $ids", vars);
                Assert.Empty(r.Errors);
                var traces = r.Output.Select(o => (Trace)o.BaseObject).ToList();
                Assert.True(traces[0].Spans != null, string.Join("\n", r.Warnings.Select(x => x.Message)));
                var spans = traces[0].Spans!;
                Assert.Equal(new[] { "predict", "llm" }, spans.Select(s => s.Name));
                Assert.Equal("1a2b3c4d5e6f7081", spans[1].ParentSpanId);
                Assert.Equal("ERROR", spans[1].Status);
                Assert.Null(traces[1].Spans);
                Assert.Null(traces[2].Spans);
                var w = r.Warnings.Select(x => x.Message).ToList();
                Assert.Equal(2, w.Count);
                Assert.Contains(rows[1].Id, w[0]); Assert.Contains("does not exist", w[0]);
                Assert.Contains(rows[2].Id, w[1]); Assert.Contains("not the trace's own folder", w[1]);

                var exported = sh.Run("Search-Trace -TrackingUri $uri -Filter \"trace.request_id = '$id'\" | Export-Trace -Path $export", vars);
                Assert.Empty(exported.Errors);
                string line = Assert.Single(File.ReadAllLines(export));
                Assert.Contains("\"rate limited\"", line);
            }
        }
    }

    public class ArtifactSpansOnObjectStoresTestsOnPostgres : ArtifactSpansOnObjectStoresTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
