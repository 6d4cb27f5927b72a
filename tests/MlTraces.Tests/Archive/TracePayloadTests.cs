using System;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using MlTraces.Core;
using MlTraces.Core.Archive;
using MlTraces.Core.Archive.Otlp;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Archive
{
    public class TracePayloadTests
    {
        /// <summary>Every trace's spans of a real MLflow store, as (trace id, spans from stored content).</summary>
        internal static List<(string TraceId, List<Span> Spans)> FixtureTraces(string fileName = "week5-lab-gen-e.db")
        {
            using var ts = TestStore.CopyOfFixture(fileName);
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT trace_id, content FROM spans ORDER BY trace_id, span_id");
            using var r = cmd.ExecuteReader();
            var byTrace = new List<(string, List<Span>)>();
            while (r.Read())
            {
                string traceId = r.GetString(0);
                if (byTrace.Count == 0 || byTrace[^1].Item1 != traceId) byTrace.Add((traceId, new List<Span>()));
                byTrace[^1].Item2.Add(SpanJson.FromContent(traceId, r.GetString(1)));
            }
            return byTrace;
        }

        [RealStoreFact]
        public void EveryFixtureSpanRoundTripsByteForByte()
        {
            var traces = FixtureTraces();
            Assert.True(traces.Count > 10);
            int spans = 0;
            foreach (var (traceId, original) in traces)
            {
                byte[] payload = TracePayload.Write(traceId, original);
                var back = TracePayload.Read(traceId, payload);
                Assert.Equal(original.Count, back.Count);
                var byId = original.ToDictionary(s => s.SpanId);
                foreach (var s in back)
                {
                    Assert.Equal(byId[s.SpanId].Content, s.Content);
                    Assert.Equal(traceId, s.TraceId);
                    Assert.Equal(byId[s.SpanId].ParentSpanId, s.ParentSpanId);
                    spans++;
                }
                // Writing what was read gives the same bytes again.
                Assert.Equal(payload, TracePayload.Write(traceId, back));
            }
            Assert.Equal(124, spans);
        }

        /// <summary>archive_traces reads the spans ORDER BY span_id and spans_to_traces_data_pb keeps that order;
        /// traces_data_pb_to_spans sorts root-first (mlflow/tracing/otel/otel_archival.py).</summary>
        [RealStoreFact]
        public void PayloadHasMlflowsShapeSpanIdOrderAndReadsRootFirst()
        {
            var (traceId, spans) = FixtureTraces().First(t => t.Spans.Count > 2);
            var shuffled = spans.AsEnumerable().Reverse().ToList();
            var data = TracesData.Parser.ParseFrom(TracePayload.Write(traceId, shuffled));
            var rs = Assert.Single(data.ResourceSpans);
            Assert.NotNull(rs.Resource);
            Assert.Empty(rs.Resource.Attributes);
            var ss = Assert.Single(rs.ScopeSpans);
            Assert.Null(ss.Scope);
            var bySpanId = spans.Select(s => s.SpanId).OrderBy(id => id, StringComparer.Ordinal).ToList();
            Assert.Equal(bySpanId, ss.Spans.Select(s => Convert.ToHexString(s.SpanId.ToByteArray()).ToLowerInvariant()).ToList());
            var rootFirst = spans.OrderBy(s => s.IsRoot ? 0 : 1).ThenBy(s => s.StartTimeUnixNano).ThenBy(s => s.SpanId, StringComparer.Ordinal)
                .Select(s => s.SpanId).ToList();
            Assert.NotEqual(bySpanId, rootFirst);
            Assert.Equal(rootFirst, TracePayload.Read(traceId, data.ToByteArray()).Select(s => s.SpanId).ToList());
            var root = ss.Spans.Single(s => s.ParentSpanId.IsEmpty);
            Assert.Equal(Status.Types.StatusCode.Ok, root.Status.Code);
            // Attribute values are decoded from their JSON: a dict becomes a kvlist, a JSON string a string, an int an int.
            var attrs = root.Attributes.ToDictionary(a => a.Key, a => a.Value);
            Assert.Equal(AnyValue.ValueOneofCase.KvlistValue, attrs["mlflow.spanInputs"].ValueCase);
            Assert.Equal(traceId, attrs["mlflow.traceRequestId"].StringValue);
            Assert.Equal(AnyValue.ValueOneofCase.IntValue, attrs["mlflow.spanStartTimeNs"].ValueCase);
        }

        private static Span FromDict(string json) => SpanJson.FromContent("tr-00000000000000000000000000000001", json);

        private const string Tid = "AAAAAAAAAAAAAAAAAAAAAQ==";
        /// <summary>The attribute naming the span's trace, which Span.from_dict requires (see SpanDictRulesTests).</summary>
        private const string Rid = "\"mlflow.traceRequestId\": \"\\\"tr-00000000000000000000000000000001\\\"\"";

        private static string SpanDict(string spanIdB64, string? parent = null, string attributes = "{" + Rid + "}", string events = "[]",
            string status = "{\"code\": \"STATUS_CODE_OK\", \"message\": \"\"}", string links = "[]", string traceId = Tid) =>
            "{\"trace_id\": \"" + traceId + "\", \"span_id\": \"" + spanIdB64 + "\", \"parent_span_id\": "
            + (parent == null ? "null" : "\"" + parent + "\"") + ", \"name\": \"s\", \"start_time_unix_nano\": 10, "
            + "\"end_time_unix_nano\": 20, \"events\": " + events + ", \"status\": " + status + ", \"attributes\": "
            + attributes + ", \"links\": " + links + "}";

        [Fact]
        public void EventsLinksErrorStatusAndValueTypesRoundTrip()
        {
            string json = SpanDict("AAAAAAAAAAE=",
                attributes: "{\"mlflow.traceRequestId\": \"\\\"tr-00000000000000000000000000000001\\\"\", \"f\": \"1.5e-07\", "
                    + "\"b\": \"true\", \"n\": \"null\", \"l\": \"[1, \\\"x\\\", [], {}]\", \"u\": \"\\\"caf\\u00e9\\\"\", \"big\": \"1e+300\"}",
                events: "[{\"name\": \"exception\", \"time_unix_nano\": 15, \"attributes\": {\"exception.message\": \"boom\", \"n\": 3, \"x\": 0.5}}]",
                status: "{\"code\": \"STATUS_CODE_ERROR\", \"message\": \"ValueError: boom\"}",
                links: "[{\"trace_id\": \"tr-0000000000000000000000000000abcd\", \"span_id\": \"00000000000000ef\", \"attributes\": {\"k\": \"v\"}}, "
                    + "{\"trace_id\": \"tr-0000000000000000000000000000abce\", \"span_id\": \"00000000000000f0\", \"attributes\": null}]");
            var span = FromDict(json);
            var back = Assert.Single(TracePayload.Read(span.TraceId, TracePayload.Write(span.TraceId, new[] { span })));
            Assert.Equal(json, back.Content);
            Assert.Equal("ERROR", back.Status);
        }

        [Fact]
        public void WhatMlflowItselfDoesNotKeep()
        {
            // OpenTelemetry keeps a status description only for ERROR; "" and falsy raw attribute values become null;
            // JSON is re-dumped from its value (1e5 -> 100000.0, spacing normalised). (A payload's span without a
            // request id gets one on reading: ReadsForeignOtlpFieldsItDoesNotKeep.)
            string json = SpanDict("AAAAAAAAAAE=", attributes: "{" + Rid + ", \"e\": \"\", \"z\": 0, \"f\": \"1e5\", \"d\": \"{\\\"a\\\":1}\", \"raw\": 7}",
                status: "{\"code\": \"STATUS_CODE_OK\", \"message\": \"ignored\"}");
            var span = FromDict(json);
            var back = Assert.Single(TracePayload.Read(span.TraceId, TracePayload.Write(span.TraceId, new[] { span })));
            Assert.Equal(SpanDict("AAAAAAAAAAE=",
                attributes: "{" + Rid + ", \"e\": \"null\", \"z\": \"null\", \"f\": \"100000.0\", \"d\": \"{\\\"a\\\": 1}\", \"raw\": \"7\"}"), back.Content);
        }

        private static ArchivedTraceException WriteFails(params string[] dicts)
        {
            var spans = dicts.Select(FromDict).ToList();
            var ex = Assert.Throws<ArchivedTraceException>(() => TracePayload.Write("tr-x", spans));
            Assert.Equal("ArchivedTraceMalformed", ex.ErrorId);
            Assert.Equal("tr-x", ex.TraceId);
            return ex;
        }

        [Fact]
        public void WriteErrorsAreMlflows()
        {
            Assert.Equal("Archived trace payload must include at least one span.", WriteFails().Message);
            Assert.Equal("Archived spans must belong to a single OTLP trace, but got distinct trace IDs: "
                + "['00000000000000000000000000000001', '00000000000000000000000000000002']",
                WriteFails(SpanDict("AAAAAAAAAAI=", traceId: "AAAAAAAAAAAAAAAAAAAAAg=="), SpanDict("AAAAAAAAAAE=")).Message);
            Assert.Contains("int64", WriteFails(SpanDict("AAAAAAAAAAE=", attributes: "{" + Rid + ", \"n\": \"99999999999999999999\"}")).Message);
            Assert.Contains("name", WriteFails(SpanDict("AAAAAAAAAAE=").Replace("\"name\": \"s\"", "\"name\": null")).Message);
        }

        private static void ReadFails(byte[] payload, string message)
        {
            var ex = Assert.Throws<ArchivedTraceException>(() => TracePayload.Read("tr-x", payload));
            Assert.Equal("ArchivedTracePayloadInvalid", ex.ErrorId);
            Assert.Equal(message, ex.Message);
        }

        private static Core.Archive.Otlp.Span OtelSpan(byte trace, byte span) => new Core.Archive.Otlp.Span
        {
            TraceId = ByteString.CopyFrom(new byte[15].Append(trace).ToArray()),
            SpanId = ByteString.CopyFrom(new byte[7].Append(span).ToArray()),
            Name = "s",
        };

        [Fact]
        public void ReadErrorsAreMlflows()
        {
            ReadFails(Array.Empty<byte>(), "Archived trace payload must be a non-empty OTLP TracesData protobuf.");
            ReadFails(new byte[] { 0x0a, 0x05, 0x01 }, "Archived trace payload must be a valid OTLP TracesData protobuf.");
            ReadFails(new byte[] { 0xff, 0xff }, "Archived trace payload must be a valid OTLP TracesData protobuf.");

            var two = new TracesData();
            two.ResourceSpans.Add(new ResourceSpans());
            two.ResourceSpans.Add(new ResourceSpans());
            ReadFails(two.ToByteArray(), "Archived trace payload must contain exactly one ResourceSpans group.");
            var noScope = new TracesData();
            noScope.ResourceSpans.Add(new ResourceSpans());
            ReadFails(noScope.ToByteArray(), "Archived trace payload must contain exactly one ScopeSpans group.");

            var empty = new TracesData();
            empty.ResourceSpans.Add(new ResourceSpans { ScopeSpans = { new ScopeSpans() } });
            ReadFails(empty.ToByteArray(), "Archived trace payload must contain at least one span.");

            var mixed = new TracesData();
            mixed.ResourceSpans.Add(new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { OtelSpan(2, 1), OtelSpan(1, 2) } } } });
            ReadFails(mixed.ToByteArray(), "Archived trace payload must contain spans for a single OTLP trace, but got distinct trace IDs: "
                + "['00000000000000000000000000000001', '00000000000000000000000000000002']");
        }

        [Fact]
        public void ReadsForeignOtlpFieldsItDoesNotKeep()
        {
            // Kind, flags, trace_state, a resource and a scope are legal OTLP that MLflow's span dict has no place for.
            var s = OtelSpan(1, 1);
            s.Kind = Core.Archive.Otlp.Span.Types.SpanKind.Server;
            s.Flags = 0x301;
            s.TraceState = "a=b";
            s.DroppedAttributesCount = 2;
            s.Attributes.Add(new KeyValue { Key = "bytes", Value = new AnyValue { BytesValue = ByteString.CopyFrom(0x41, 0x00) } });
            var data = new TracesData();
            data.ResourceSpans.Add(new ResourceSpans
            {
                Resource = new Core.Archive.Otlp.Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "svc" } } } },
                ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "lib" }, Spans = { s } } },
            });
            var span = Assert.Single(TracePayload.Read("tr-x", data.ToByteArray()));
            Assert.Equal("{\"trace_id\": \"AAAAAAAAAAAAAAAAAAAAAQ==\", \"span_id\": \"AAAAAAAAAAE=\", \"parent_span_id\": null, \"name\": \"s\", "
                + "\"start_time_unix_nano\": 0, \"end_time_unix_nano\": null, \"events\": [], \"status\": {\"code\": \"STATUS_CODE_UNSET\", "
                + "\"message\": \"\"}, \"attributes\": {\"bytes\": \"\\\"b'A\\\\\\\\x00'\\\"\", \"mlflow.traceRequestId\": "
                + "\"\\\"tr-00000000000000000000000000000001\\\"\"}, \"links\": []}", span.Content);
        }
    }
}
