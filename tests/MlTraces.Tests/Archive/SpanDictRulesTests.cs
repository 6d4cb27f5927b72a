using System;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using MlTraces.Core.Archive;
using MlTraces.Core.Archive.Otlp;
using MlTraces.Core.Export;

namespace MlTraces.Tests.Archive
{
    /// <summary>
    /// What the archival pass makes of a stored span dict, as MLflow's does: SqlAlchemyStore.archive_traces reads the
    /// spans ORDER BY span_id and serializes Span.from_dict(translate_loaded_span(json.loads(content))) with
    /// spans_to_traces_data_pb (mlflow/tracing/otel/otel_archival.py); what from_dict refuses is MALFORMED_TRACE.
    /// </summary>
    public class SpanDictRulesTests
    {
        internal const string TraceId = "tr-0123456789abcdef0123456789abcdef";
        internal const string OtelHex = "0123456789abcdef0123456789abcdef";
        internal static readonly string RequestIdAttribute = "\"mlflow.traceRequestId\": \"\\\"" + TraceId + "\\\"\"";

        /// <summary>The span dict of MLflow 3.5 (mlflow/entities/span.py Span.to_dict, dict version 4): trace_id is the
        /// MLflow id, span ids are hex, the OTel trace id is otel_trace_id. 3.5.0 wrote the status code as the enum's
        /// value ("OK"); 3.5.1 went back to the proto name (PR #18439). MLflow tells the version by a version key
        /// written beside otel_trace_id, whose name the indexed source does not show; MlTraces keys on otel_trace_id.</summary>
        internal static string V4Dict(string spanHex, string? parentHex, string name, long start, string statusCode = "OK", string attributes = "")
            => "{\"trace_id\": \"" + TraceId + "\", \"span_id\": \"" + spanHex + "\", \"parent_span_id\": "
               + (parentHex == null ? "null" : "\"" + parentHex + "\"") + ", \"name\": \"" + name + "\", \"start_time_unix_nano\": " + start
               + ", \"end_time_unix_nano\": " + (start + 500) + ", \"events\": [], \"status\": {\"code\": \"" + statusCode + "\", \"message\": \"\"}, "
               + "\"attributes\": {" + RequestIdAttribute + ", \"mlflow.spanType\": \"\\\"CHAIN\\\"\"" + attributes + "}, \"otel_trace_id\": \"" + OtelHex + "\"}";

        /// <summary>A current (version 3) span dict of the trace: base64 ids, STATUS_CODE_*, attributes as given.</summary>
        internal static string V3Dict(string spanHex, string? parentHex, string attributes, string events = "[]", long start = 10)
            => "{\"trace_id\": \"" + SpanJson.HexToBase64(OtelHex) + "\", \"span_id\": \"" + SpanJson.HexToBase64(spanHex) + "\", \"parent_span_id\": "
               + (parentHex == null ? "null" : "\"" + SpanJson.HexToBase64(parentHex) + "\"") + ", \"name\": \"s\", \"start_time_unix_nano\": " + start
               + ", \"end_time_unix_nano\": " + (start + 10) + ", \"events\": " + events + ", \"status\": {\"code\": \"STATUS_CODE_OK\", \"message\": \"\"}, "
               + "\"attributes\": " + attributes + "}";

        private static Core.Archive.Otlp.Span OnlySpan(byte[] payload) =>
            Assert.Single(Assert.Single(Assert.Single(TracesData.Parser.ParseFrom(payload).ResourceSpans).ScopeSpans).Spans);

        private static byte[] Write(params string[] contents) =>
            TracePayload.Write(TraceId, contents.Select(c => SpanJson.FromContent(TraceId, c)).ToList());

        [Theory]
        [InlineData("OK")]
        [InlineData("STATUS_CODE_OK")]
        public void Version4DictsOfMlflow35AreArchivedWithTheirOtelTraceId(string statusCode)
        {
            string root = V4Dict("00000000000000a1", null, "root", 100, statusCode), child = V4Dict("00000000000000b2", "00000000000000a1", "child", 200, statusCode);
            var data = TracesData.Parser.ParseFrom(Write(child, root));
            var spans = data.ResourceSpans[0].ScopeSpans[0].Spans;
            Assert.Equal(new[] { "00000000000000a1", "00000000000000b2" }, spans.Select(s => Convert.ToHexString(s.SpanId.ToByteArray()).ToLowerInvariant()));
            Assert.All(spans, s => Assert.Equal(OtelHex, Convert.ToHexString(s.TraceId.ToByteArray()).ToLowerInvariant()));
            Assert.Equal("00000000000000a1", Convert.ToHexString(spans[1].ParentSpanId.ToByteArray()).ToLowerInvariant());
            Assert.All(spans, s => Assert.Equal(Status.Types.StatusCode.Ok, s.Status.Code));
            // Read back as MLflow reads traces.pb: the same spans, as current (version 3) dicts of the same trace.
            var back = TracePayload.Read(TraceId, data.ToByteArray());
            Assert.Equal(new[] { "root", "child" }, back.Select(s => s.Name));
            Assert.Equal(new[] { null, "00000000000000a1" }, back.Select(s => s.ParentSpanId));
            Assert.All(back, s => Assert.Contains("\"trace_id\": \"" + SpanJson.HexToBase64(OtelHex) + "\"", s.Content));
        }

        [Fact]
        public void Version4IdsAreHexAsDecodeIdReadsThem()
        {
            // decode_id is int(x, 16): a short id is zero-padded; base64 or a bad id is not a version 4 id.
            var s = OnlySpan(Write(V4Dict("a1", null, "r", 1)));
            Assert.Equal("00000000000000a1", Convert.ToHexString(s.SpanId.ToByteArray()).ToLowerInvariant());
            var bad = Assert.Throws<ArchivedTraceException>(() => Write(V4Dict(SpanJson.HexToBase64("00000000000000a1"), null, "r", 1)));
            Assert.Contains("span_id", bad.Message);
            var bad2 = Assert.Throws<ArchivedTraceException>(() => Write(V4Dict("00000000000000a1", null, "r", 1).Replace(OtelHex, "tr-" + OtelHex)));
            Assert.Contains("otel_trace_id", bad2.Message);
        }

        /// <summary>Span.from_dict: request_id = data.get("attributes", {}).get(REQUEST_ID); if not request_id: raise.
        /// Python's truthiness of the stored value decides, before any JSON decoding.</summary>
        [Theory]
        [InlineData("{}")]
        [InlineData("{\"mlflow.traceRequestId\": \"\"}")]
        [InlineData("{\"mlflow.traceRequestId\": null}")]
        [InlineData("{\"mlflow.traceRequestId\": 0}")]
        [InlineData("{\"mlflow.traceRequestId\": false}")]
        [InlineData("{\"mlflow.traceRequestId\": []}")]
        [InlineData("{\"other\": \"\\\"tr-0123456789abcdef0123456789abcdef\\\"\"}")]
        [InlineData("null")]
        [InlineData("[]")]
        public void ASpanThatDoesNotNameItsTraceIsMalformedAsForMlflow(string attributes)
        {
            string good = V3Dict("00000000000000a1", null, "{" + RequestIdAttribute + "}");
            var ex = Assert.Throws<ArchivedTraceException>(() => Write(good, V3Dict("00000000000000b2", "00000000000000a1", attributes)));
            Assert.Equal(ArchivedTraceException.WriteErrorId, ex.ErrorId);
            Assert.Equal("Failed to create a Span object from the given dictionary: the mlflow.traceRequestId attribute of span "
                + "'00000000000000b2' is empty or missing.", ex.Message);
            // Without any attributes at all: from_dict's data.get("attributes", {}) is empty too.
            string none = V3Dict("00000000000000c3", null, "{}").Replace(", \"attributes\": {}", "");
            Assert.Throws<ArchivedTraceException>(() => Write(good, none));
        }

        [Theory]
        [InlineData("\"\\\"\\\"\"")]   // the JSON text of an empty string: a non-empty stored value
        [InlineData("\"tr-0123456789abcdef0123456789abcdef\"")] // not JSON-encoded, as some exporters write it
        public void ATruthyStoredRequestIdIsEnough(string value)
        {
            var s = OnlySpan(Write(V3Dict("00000000000000a1", null, "{\"mlflow.traceRequestId\": " + value + "}")));
            Assert.Equal("mlflow.traceRequestId", s.Attributes.Single().Key);
        }

        /// <summary>translate_loaded_span (mlflow/tracing/otel/translation/__init__.py) with the translators of
        /// open_inference.py, genai_semconv.py, traceloop.py and vercel_ai.py, in _TRANSLATORS' order.</summary>
        [Theory]
        [InlineData("\"openinference.span.kind\": \"\\\"LLM\\\"\"", "LLM")]
        [InlineData("\"openinference.span.kind\": \"RETRIEVER\"", "RETRIEVER")]
        [InlineData("\"openinference.span.kind\": \"GUARDRAIL\"", "GUARDRAIL")]
        [InlineData("\"gen_ai.operation.name\": \"\\\"chat\\\"\"", "CHAT_MODEL")]
        [InlineData("\"gen_ai.operation.name\": \"execute_tool\"", "TOOL")]
        [InlineData("\"traceloop.span.kind\": \"\\\"workflow\\\"\"", "WORKFLOW")]
        [InlineData("\"traceloop.span.kind\": \"task\"", "TASK")]
        [InlineData("\"ai.operationId\": \"\\\"ai.embedMany\\\"\"", "EMBEDDING")]
        [InlineData("\"ai.operationId\": \"ai.streamText.doStream\"", "LLM")]
        // The first translator that names a known kind wins; an unknown kind lets the next one try.
        [InlineData("\"traceloop.span.kind\": \"\\\"agent\\\"\", \"openinference.span.kind\": \"\\\"TOOL\\\"\"", "TOOL")]
        [InlineData("\"openinference.span.kind\": \"\\\"BOGUS\\\"\", \"gen_ai.operation.name\": \"\\\"embeddings\\\"\"", "EMBEDDING")]
        [InlineData("\"openinference.span.kind\": \"\", \"traceloop.span.kind\": \"\\\"tool\\\"\"", "TOOL")]
        // No type: kinds MLflow does not map, and a list (unhashable: MLflow's translation gives up on the span).
        [InlineData("\"openinference.span.kind\": \"\\\"llm\\\"\"", null)]
        [InlineData("\"gen_ai.operation.name\": 5", null)]
        [InlineData("\"openinference.span.kind\": \"[\\\"LLM\\\"]\", \"traceloop.span.kind\": \"\\\"tool\\\"\"", null)]
        public void OtlpSpansKeepTheirTypeThroughTranslateLoadedSpan(string attributes, string? expected)
        {
            var s = OnlySpan(Write(V3Dict("00000000000000a1", null, "{" + RequestIdAttribute + ", " + attributes + "}")));
            var type = s.Attributes.Where(a => a.Key == "mlflow.spanType").ToList();
            if (expected == null) { Assert.Empty(type); return; }
            // Appended after the span's own attributes, JSON-encoded as MLflow stores it (decoded into the string).
            Assert.Equal("mlflow.spanType", s.Attributes.Last().Key);
            Assert.Equal(expected, Assert.Single(type).Value.StringValue);
        }

        [Fact]
        public void ASpanTypeAlreadyThereIsKept()
        {
            // SPAN_TYPE in attributes, whatever its value (even null), stops the translation.
            foreach (var stored in new[] { "\"\\\"TOOL\\\"\"", "null" })
            {
                var s = OnlySpan(Write(V3Dict("00000000000000a1", null, "{" + RequestIdAttribute + ", \"mlflow.spanType\": " + stored + ", \"openinference.span.kind\": \"\\\"LLM\\\"\"}")));
                Assert.Equal(new[] { "mlflow.traceRequestId", "mlflow.spanType", "openinference.span.kind" }, s.Attributes.Select(a => a.Key));
                Assert.Equal(stored == "null" ? null : "TOOL", s.Attributes[1].Value?.StringValue);
            }
        }

        [Fact]
        public void SpansAreWrittenInSpanIdOrderAndReadRootFirst()
        {
            // archive_traces: SELECT ... ORDER BY span_id; spans_to_traces_data_pb keeps the order. The reader
            // (_sort_spans_for_trace_output) sorts root-first, by start time, then span id.
            string root = V3Dict("00000000000000f0", null, "{" + RequestIdAttribute + "}", start: 10);
            string late = V3Dict("0000000000000001", "00000000000000f0", "{" + RequestIdAttribute + "}", start: 30);
            string early = V3Dict("00000000000000a0", "00000000000000f0", "{" + RequestIdAttribute + "}", start: 20);
            byte[] payload = Write(root, late, early);
            var written = TracesData.Parser.ParseFrom(payload).ResourceSpans[0].ScopeSpans[0].Spans;
            Assert.Equal(new[] { "0000000000000001", "00000000000000a0", "00000000000000f0" },
                written.Select(s => Convert.ToHexString(s.SpanId.ToByteArray()).ToLowerInvariant()));
            Assert.Equal(new[] { "00000000000000f0", "00000000000000a0", "0000000000000001" }, TracePayload.Read(TraceId, payload).Select(s => s.SpanId));
        }

        [Fact]
        public void NullValuesLeaveTheValueFieldUnset()
        {
            // _set_otel_proto_anyvalue(attr.value, None) sets nothing: the KeyValue has no value. In a list, the item
            // exists (values.add()) and is empty.
            string attrs = "{" + RequestIdAttribute + ", \"n\": \"null\", \"e\": \"\", \"raw\": null, \"d\": \"{\\\"k\\\": null, \\\"l\\\": [null]}\"}";
            string events = "[{\"name\": \"ev\", \"time_unix_nano\": 15, \"attributes\": {\"x\": null, \"y\": 1}}]";
            var s = OnlySpan(Write(V3Dict("00000000000000a1", null, attrs, events)));
            var byKey = s.Attributes.ToDictionary(a => a.Key, a => a.Value);
            Assert.Null(byKey["n"]);
            Assert.Null(byKey["e"]);
            Assert.Null(byKey["raw"]);
            var kv = byKey["d"].KvlistValue.Values;
            Assert.Null(kv[0].Value);
            var item = Assert.Single(kv[1].Value.ArrayValue.Values);
            Assert.Equal(AnyValue.ValueOneofCase.None, item.ValueCase);
            Assert.Null(s.Events[0].Attributes[0].Value);
            Assert.Equal(1, s.Events[0].Attributes[1].Value.IntValue);
        }

        [Fact]
        public void NaNAndInfinityAreFloatsAsPythonsJsonReadsThem()
        {
            string attrs = "{" + RequestIdAttribute + ", \"nan\": \"NaN\", \"inf\": \"Infinity\", \"ninf\": \"-Infinity\", \"l\": \"[NaN]\", \"huge\": \"-1e400\"}";
            var byKey = OnlySpan(Write(V3Dict("00000000000000a1", null, attrs))).Attributes.ToDictionary(a => a.Key, a => a.Value);
            // float('nan') has the sign bit clear (0x7ff8000000000000); .NET's double.NaN has it set.
            Assert.Equal(0x7FF8000000000000, BitConverter.DoubleToInt64Bits(byKey["nan"].DoubleValue));
            Assert.Equal(double.PositiveInfinity, byKey["inf"].DoubleValue);
            Assert.Equal(double.NegativeInfinity, byKey["ninf"].DoubleValue);
            Assert.Equal(0x7FF8000000000000, BitConverter.DoubleToInt64Bits(byKey["l"].ArrayValue.Values[0].DoubleValue));
            // float("-1e400") is -inf.
            Assert.Equal(double.NegativeInfinity, byKey["huge"].DoubleValue);
        }

        /// <summary>What Python's protobuf refuses while to_otel_proto fills the message (a ValueError or TypeError,
        /// which the archival pass turns into MALFORMED_TRACE), and what OTelEvent cannot be built without.</summary>
        [Theory]
        [InlineData("attributes", ", \"s\": \"\\\"\\\\ud800\\\"\"", "lone surrogate")]           // a str json.loads makes from "\ud800"
        [InlineData("attributes", ", \"\\udc00\": \"1\"", "lone surrogate")]                             // in a key
        [InlineData("name", "\\udc00x", "lone surrogate")]
        [InlineData("start", "-5", "negative start_time_unix_nano")]
        [InlineData("end", "-5", "negative end_time_unix_nano")]
        [InlineData("events", "[{\"name\": \"e\", \"time_unix_nano\": -1, \"attributes\": {}}]", "negative event time_unix_nano")]
        [InlineData("events", "[{\"time_unix_nano\": 1, \"attributes\": {}}]", "an event without a name")]
        [InlineData("events", "[{\"name\": null, \"time_unix_nano\": 1}]", "an event without a name")]
        [InlineData("events", "[{\"name\": \"e\", \"attributes\": {}}]", "an event without a valid time_unix_nano")]
        public void WhatPythonsProtobufRefusesIsMalformedToo(string part, string value, string expected)
        {
            string dict = part switch
            {
                "attributes" => V3Dict("00000000000000a1", null, "{" + RequestIdAttribute + value + "}"),
                "events" => V3Dict("00000000000000a1", null, "{" + RequestIdAttribute + "}", value),
                _ => V3Dict("00000000000000a1", null, "{" + RequestIdAttribute + "}"),
            };
            if (part == "name") dict = dict.Replace("\"name\": \"s\"", "\"name\": \"" + value + "\"");
            if (part == "start") dict = dict.Replace("\"start_time_unix_nano\": 10", "\"start_time_unix_nano\": " + value);
            if (part == "end") dict = dict.Replace("\"end_time_unix_nano\": 20", "\"end_time_unix_nano\": " + value);
            var ex = Assert.Throws<ArchivedTraceException>(() => Write(dict));
            Assert.Equal(ArchivedTraceException.WriteErrorId, ex.ErrorId);
            Assert.Contains(expected, ex.Message);
            // A surrogate pair is a character like any other.
            OnlySpan(Write(V3Dict("00000000000000a1", null, "{" + RequestIdAttribute + ", \"s\": \"\\\"\\\\ud83d\\\\ude00\\\"\"}")));
        }
    }
}
