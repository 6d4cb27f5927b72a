using System.IO;
using MlTraces.Core;
using MlTraces.Core.Export;
using MlTraces.Core.Json;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Export
{
    public class SpanJsonTests
    {
        /// <summary>Every span MLflow wrote into the fixtures parses to exactly the values of its own row.</summary>
        [RealStoreTheory]
        [InlineData("week5-lab-gen-e.db", 124)]
        [InlineData("week5-lab-traces-gen-e.db", 18)]
        [InlineData("customer-service-agent-gen-b.db", 20)]
        public void RealSpanContentMatchesItsRow(string fixture, int expectedSpans)
        {
            using var ts = TestStore.CopyOfFixture(fixture);
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT trace_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content FROM spans");
            using var r = cmd.ExecuteReader();
            int n = 0, errors = 0;
            while (r.Read())
            {
                string content = r.GetString(8);
                var span = SpanJson.FromContent(r.GetString(0), content);
                Assert.Equal(r.GetString(0), span.TraceId);
                Assert.Equal(r.GetString(1), span.SpanId);
                Assert.Equal(r.IsDBNull(2) ? null : r.GetString(2), span.ParentSpanId);
                Assert.Equal(r.GetString(3), span.Name);
                Assert.Equal(r.IsDBNull(4) ? null : r.GetString(4), span.SpanType);
                Assert.Equal(r.GetString(5), span.Status);
                Assert.Equal(r.GetInt64(6), span.StartTimeUnixNano);
                Assert.Equal(r.IsDBNull(7) ? (long?)null : r.GetInt64(7), span.EndTimeUnixNano);
                Assert.Same(content, span.Content);
                Assert.Equal("\"" + r.GetString(0) + "\"", span.Attributes[SpanJson.TraceRequestIdAttribute]);
                // MLflow writes "" (never null) for a missing message, also on ERROR spans.
                Assert.NotNull(span.StatusMessage);
                if (span.Status == "ERROR") errors++;
                // Re-writing the content as json.dumps does gives MLflow's own bytes back.
                Assert.Equal(content, JsonNode.Parse(content).ToPythonJson());
                n++;
            }
            Assert.Equal(expectedSpans, n);
            if (fixture == "week5-lab-traces-gen-e.db") Assert.Equal(5, errors);
        }

        [RealStoreFact]
        public void ReadsFixtureAttributesAsStoredJsonText()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT trace_id, content FROM spans WHERE type = 'LLM' LIMIT 1");
            using var r = cmd.ExecuteReader();
            Assert.True(r.Read());
            var span = SpanJson.FromContent(r.GetString(0), r.GetString(1));
            Assert.Equal("\"LLM\"", span.Attributes["mlflow.spanType"]);
            Assert.StartsWith("{\"messages\": [", span.Inputs);
            Assert.StartsWith("{\"choices\": [", span.Outputs);
            Assert.Equal("LLM", span.SpanType);
        }

        private const string V2Span =
            "{\"name\": \"predict\", \"context\": {\"span_id\": \"0x5a92335085ae4f60\", \"trace_id\": \"0x54b9f924996842a8fd8068327f575162\"}, " +
            "\"parent_id\": \"0x0000000000000001\", \"start_time\": 1700000000000000000, \"end_time\": 1700000000500000000, " +
            "\"status_code\": \"ERROR\", \"status_message\": \"boom\", " +
            "\"attributes\": {\"mlflow.traceRequestId\": \"\\\"54b9f924996842a8fd8068327f575162\\\"\", \"mlflow.spanType\": \"\\\"RETRIEVER\\\"\", \"mlflow.spanInputs\": \"{\\\"q\\\": 1}\"}, " +
            "\"events\": [{\"name\": \"exception\", \"timestamp\": 1700000000400000000, \"attributes\": {\"exception.type\": \"ValueError\"}}]}";

        [Fact]
        public void ReadsTheMlflow2SpanDict()
        {
            var span = SpanJson.FromContent("54b9f924996842a8fd8068327f575162", V2Span);
            Assert.Equal("5a92335085ae4f60", span.SpanId);
            Assert.Equal("0000000000000001", span.ParentSpanId);
            Assert.Equal("predict", span.Name);
            Assert.Equal("RETRIEVER", span.SpanType);
            Assert.Equal("ERROR", span.Status);
            Assert.Equal("boom", span.StatusMessage);
            Assert.Equal(1700000000000000000, span.StartTimeUnixNano);
            Assert.Equal(1700000000500000000, span.EndTimeUnixNano);
            Assert.Equal("{\"q\": 1}", span.Inputs);
            Assert.Same(V2Span, span.Content);
        }

        [Fact]
        public void ConvertsTheMlflow2SpanDictToTheCurrentForm()
        {
            string current = SpanJson.ToCurrentContent("54b9f924996842a8fd8068327f575162", V2Span);
            Assert.Equal(
                "{\"trace_id\": \"VLn5JJloQqj9gGgyf1dRYg==\", \"span_id\": \"WpIzUIWuT2A=\", \"parent_span_id\": \"AAAAAAAAAAE=\", \"name\": \"predict\", " +
                "\"start_time_unix_nano\": 1700000000000000000, \"end_time_unix_nano\": 1700000000500000000, " +
                "\"events\": [{\"name\": \"exception\", \"time_unix_nano\": 1700000000400000000, \"attributes\": {\"exception.type\": \"ValueError\"}}], " +
                "\"status\": {\"code\": \"STATUS_CODE_ERROR\", \"message\": \"boom\"}, " +
                "\"attributes\": {\"mlflow.traceRequestId\": \"\\\"54b9f924996842a8fd8068327f575162\\\"\", \"mlflow.spanType\": \"\\\"RETRIEVER\\\"\", \"mlflow.spanInputs\": \"{\\\"q\\\": 1}\"}, " +
                "\"links\": []}", current);
            var a = SpanJson.FromContent("t", V2Span);
            var b = SpanJson.FromContent("t", current);
            Assert.Equal((a.SpanId, a.ParentSpanId, a.Name, a.SpanType, a.Status, a.StatusMessage, a.StartTimeUnixNano, a.EndTimeUnixNano),
                         (b.SpanId, b.ParentSpanId, b.Name, b.SpanType, b.Status, b.StatusMessage, b.StartTimeUnixNano, b.EndTimeUnixNano));
            // A current dict is left as it is.
            Assert.Same(current, SpanJson.ToCurrentContent("t", current));
        }

        [Fact]
        public void ToleratesMissingFieldsAndNumbersAsStrings()
        {
            var span = SpanJson.FromContent("tr-1", "{\"span_id\": \"AAECAwQFBgc=\", \"parent_span_id\": \"\", \"start_time_unix_nano\": \"1700000000000000001\", " +
                                                     "\"end_time_unix_nano\": null, \"attributes\": {\"n\": 5, \"flag\": true, \"mlflow.spanType\": \"CHAIN\"}}");
            Assert.Equal("0001020304050607", span.SpanId);
            Assert.Null(span.ParentSpanId);
            Assert.Null(span.Name);
            Assert.Equal(1700000000000000001, span.StartTimeUnixNano);
            Assert.Null(span.EndTimeUnixNano);
            Assert.Equal("UNSET", span.Status);
            Assert.Equal("5", span.Attributes["n"]);
            Assert.Equal("true", span.Attributes["flag"]);
            // An attribute written raw (not JSON-encoded) is taken as it is.
            Assert.Equal("CHAIN", span.SpanType);
        }

        [Fact]
        public void ReadsTheOlderProtobufJsonSpan()
        {
            // MLflow 3.0/3.1 wrote MessageToDict output: "" for a root's parent, int64 as strings, a trace_state.
            var span = SpanJson.FromContent("tr-1", "{\"trace_id\": \"VLn5JJloQqj9gGgyf1dRYg==\", \"span_id\": \"WpIzUIWuT2A=\", \"trace_state\": \"\", " +
                                                     "\"parent_span_id\": \"\", \"name\": \"root\", \"start_time_unix_nano\": \"1700000000000000000\", " +
                                                     "\"end_time_unix_nano\": \"1700000000000000009\", \"status\": {\"code\": \"STATUS_CODE_OK\"}, \"attributes\": {}}");
            Assert.Equal(("5a92335085ae4f60", (string?)null, "OK", (string?)null, 1700000000000000009L), (span.SpanId, span.ParentSpanId, span.Status, span.StatusMessage, span.EndTimeUnixNano!.Value));
        }

        [Theory]
        [InlineData("\"STATUS_CODE_OK\"", "OK")]
        [InlineData("\"STATUS_CODE_ERROR\"", "ERROR")]
        [InlineData("\"STATUS_CODE_UNSET\"", "UNSET")]
        [InlineData("\"OK\"", "OK")]
        [InlineData("\"error\"", "ERROR")]
        [InlineData("1", "OK")]
        [InlineData("2", "ERROR")]
        [InlineData("0", "UNSET")]
        [InlineData("null", "UNSET")]
        public void NormalizesStatusCodes(string json, string expected)
        {
            Assert.Equal(expected, SpanJson.NormalizeStatusCode(JsonNode.Parse(json)));
        }

        [Theory]
        [InlineData("IqHALMiQst4=", 8, "22a1c02cc890b2de")]
        [InlineData("0x22a1c02cc890b2de", 8, "22a1c02cc890b2de")]
        [InlineData("22A1C02CC890B2DE", 8, "22a1c02cc890b2de")]
        [InlineData("0x1", 8, "0000000000000001")]
        [InlineData("/BTPhfPHVN7OM6rnUruT5Q==", 16, "fc14cf85f3c754dece33aae752bb93e5")]
        [InlineData("", 8, null)]
        public void DecodesIdsInEveryForm(string id, int bytes, string? expected)
        {
            Assert.Equal(expected, SpanJson.DecodeId(id, bytes));
        }

        [Fact]
        public void ReadsTraceDataArtifacts()
        {
            const string id = "54b9f924996842a8fd8068327f575162";
            string current = SpanJson.ToCurrentContent(id, V2Span);
            string folder = TestStore.NewFolder();
            string file = Path.Combine(folder, "traces.json");
            File.WriteAllText(file, "{\"spans\": [" + V2Span + ", " + current + "], \"request\": \"{}\", \"response\": \"{}\"}");
            var spans = SpanJson.ReadTraceDataFile(id, folder);
            Assert.Equal(2, spans.Count);
            Assert.All(spans, s => Assert.Equal("5a92335085ae4f60", s.SpanId));
            Assert.Equal(current, spans[1].Content);
            Assert.Single(SpanJson.FromTraceData("t", "[" + current + "]"));
            Assert.Empty(SpanJson.FromTraceData("t", "{\"spans\": []}"));
        }

        [Theory]
        [InlineData("{\"span_id\": ", "not valid JSON")]
        [InlineData("[]", "must be a JSON object")]
        [InlineData("{\"name\": \"x\"}", "no valid span_id")]
        public void MalformedSpanJsonIsReportedClearly(string content, string expected)
        {
            var ex = Assert.Throws<MlTracesException>(() => SpanJson.FromContent("tr-1", content));
            Assert.Equal("InvalidSpanJson", ex.ErrorId);
            Assert.Equal(ErrorKind.InvalidData, ex.Kind);
            Assert.Contains("tr-1", ex.Message);
            Assert.Contains(expected, ex.Message);
        }

        [Fact]
        public void TraceDataErrorsNameTheSpan()
        {
            var ex = Assert.Throws<MlTracesException>(() => SpanJson.FromTraceData("tr-1", "{\"spans\": [" + V2Span + ", {\"name\": \"x\"}]}"));
            Assert.Contains("span 1 of trace 'tr-1'", ex.Message);
            ex = Assert.Throws<MlTracesException>(() => SpanJson.FromTraceData("tr-1", "{\"other\": 1}"));
            Assert.Contains("no \"spans\" list", ex.Message);
            ex = Assert.Throws<MlTracesException>(() => SpanJson.ReadTraceDataFile("tr-1", "/nonexistent"));
            Assert.Equal("TraceDataMissing", ex.ErrorId);
        }
    }
}
