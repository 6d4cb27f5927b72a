using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>Traces whose spans live in the artifact store as traces.json (MLflow 3.0/3.1 and older clients).</summary>
    public class ArtifactSpansTests
    {
        // A traces.json as MLflow 2.x wrote it: ids as 0x-hex under "context", status_code, start_time.
        private const string V2TraceData = "{\"spans\": [{\"name\": \"predict\", \"context\": {\"span_id\": \"0x1a2b3c4d5e6f7081\", \"trace_id\": \"0x0123456789abcdef0123456789abcdef\"}, " +
            "\"parent_id\": null, \"start_time\": 1700000000000000000, \"end_time\": 1700000001500000000, \"status_code\": \"OK\", \"status_message\": \"\", " +
            "\"attributes\": {\"mlflow.traceRequestId\": \"\\\"ab12\\\"\", \"mlflow.spanType\": \"\\\"CHAIN\\\"\", \"mlflow.spanInputs\": \"{\\\"q\\\": \\\"hi\\\"}\"}, \"events\": []}, " +
            "{\"name\": \"llm\", \"context\": {\"span_id\": \"0x00000000000000ff\", \"trace_id\": \"0x0123456789abcdef0123456789abcdef\"}, \"parent_id\": \"0x1a2b3c4d5e6f7081\", " +
            "\"start_time\": 1700000000100000000, \"end_time\": 1700000001400000000, \"status_code\": \"ERROR\", \"status_message\": \"rate limited\", " +
            "\"attributes\": {\"mlflow.traceRequestId\": \"\\\"ab12\\\"\", \"mlflow.spanType\": \"\\\"LLM\\\"\"}, \"events\": []}]}";

        [RealStoreFact]
        public void SpansComeFromALocalTracesJsonOnTheOldestLayout()
        {
            using var ts = TestStore.CopyOfFixture("cobbie-gen-a.sqlite");
            string id, experiment;
            using (var store = ts.Open(Core.Store.StoreAccess.ReadOnly))
            using (var cmd = store.Command("SELECT request_id, experiment_id FROM trace_info ORDER BY timestamp_ms DESC LIMIT 1"))
            using (var row = cmd.ExecuteReader())
            {
                row.Read();
                id = row.GetString(0);
                experiment = System.Convert.ToString(row.GetValue(1), System.Globalization.CultureInfo.InvariantCulture)!;
            }
            string folder = Path.Combine(ts.Folder, "mlruns", experiment, "traces", id, "artifacts");
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "traces.json"), V2TraceData.Replace("ab12", id));
            // The experiment's artifacts are local here, as they are on a server with a file artifact root.
            Query.QueryTestSupport.Execute(ts, "UPDATE experiments SET artifact_location = {0} WHERE experiment_id = {1}",
                new System.Uri(Path.Combine(ts.Folder, "mlruns", experiment)).AbsoluteUri, long.Parse(experiment));
            Query.QueryTestSupport.Execute(ts, "UPDATE trace_tags SET value = {0} WHERE request_id = {1} AND key = 'mlflow.artifactLocation'",
                new System.Uri(folder).AbsoluteUri, id);

            using var sh = new PsShell(ts.Folder);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.Path, ["id"] = id };
            var r = sh.Run("Get-Trace $id -TrackingUri $uri", vars);
            Assert.Empty(r.Errors);
            Assert.Empty(r.Warnings);
            var spans = ((Trace)r.Output.Single().BaseObject).Spans!;
            Assert.Equal(new[] { "predict", "llm" }, spans.Select(s => s.Name));
            Assert.Equal("1a2b3c4d5e6f7081", spans[0].SpanId);
            Assert.Equal("1a2b3c4d5e6f7081", spans[1].ParentSpanId);
            Assert.Equal("LLM", spans[1].SpanType);
            Assert.Equal("ERROR", spans[1].Status);
            Assert.Equal(System.TimeSpan.FromMilliseconds(1500), spans[0].Duration);

            // A trace whose artifacts are behind the MLflow server (mlflow-artifacts:/) is said to be unreadable.
            var other = sh.Run("Search-Trace -TrackingUri $uri -First 2 | Get-Trace", vars);
            Assert.Contains(other.Warnings, w => w.Message.Contains("mlflow-artifacts:/"));
        }
    }
}
