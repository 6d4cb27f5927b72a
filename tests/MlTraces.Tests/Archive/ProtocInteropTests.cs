using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Archive
{
    /// <summary>The real protoc reads what we write: with our .proto files by message and field name, and with
    /// --decode_raw (no .proto at all) by field number, so a wrong number in our .proto files cannot hide.</summary>
    public class ProtocInteropTests
    {
        private static string ProtoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MlTraces.slnx")))
                    return Path.Combine(dir.FullName, "src", "MlTraces.Core", "Archive", "Proto");
            throw new DirectoryNotFoundException("The repository root (MlTraces.slnx) was not found.");
        }

        private static string Protoc(string protoc, string args, byte[] input)
        {
            var psi = new ProcessStartInfo(protoc, args)
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            p.StandardInput.BaseStream.Write(input, 0, input.Length);
            p.StandardInput.Close();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"protoc {args} failed: {stderr.Result}");
            return stdout.Result;
        }

        /// <summary>protoc with text on standard input and binary on standard output (--encode).</summary>
        private static byte[] ProtocEncode(string protoc, string args, string text)
        {
            var psi = new ProcessStartInfo(protoc, args)
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            using var output = new MemoryStream();
            var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
            var stderr = p.StandardError.ReadToEndAsync();
            p.StandardInput.Write(text);
            p.StandardInput.Close();
            p.WaitForExit();
            copy.Wait();
            Assert.True(p.ExitCode == 0, $"protoc {args} failed: {stderr.Result}");
            return output.ToArray();
        }

        /// <summary>
        /// The bytes of traces.pb are those of the message MLflow's pass builds (spans_to_traces_data_pb over
        /// Span.from_dict(translate_loaded_span(...)).to_otel_proto() for the spans read ORDER BY span_id), written
        /// here field by field as that code sets them, encoded by the real protoc: spans in span-id order; the
        /// resource and each status present even when empty; the end time only when set; an attribute whose value is
        /// None without a value field, a None in a list an empty AnyValue; the derived mlflow.spanType appended; NaN
        /// with Python's bits.
        /// What can still differ from MLflow's bytes, and why MLflow reads it anyway: on .NET Framework (Windows
        /// PowerShell 5.1) a decimal float is not always parsed to the nearest double, so a double attribute may
        /// differ from Python's float() in its last bit; it is still a double, read like any other. Everything else
        /// MLflow refuses (see SpanDictRulesTests) MlTraces refuses too.
        /// </summary>
        [ProtocFact]
        public void PayloadBytesAreTheMessageMlflowBuilds()
        {
            string protoc = ProtocFactAttribute.Protoc() ?? throw new FileNotFoundException("protoc is not on PATH; .ci/run installs Debian's protobuf-compiler.");
            const string traceId = "tr-0123456789abcdef0123456789abcdef";
            string rid = "\"mlflow.traceRequestId\": \"\\\"" + traceId + "\\\"\"";
            string Dict(string span, string? parent, string name, long start, long? end, string status, string attributes, string events = "[]") =>
                "{\"trace_id\": \"ASNFZ4mrze8BI0VniavN7w==\", \"span_id\": \"" + Core.Export.SpanJson.HexToBase64(span) + "\", \"parent_span_id\": "
                + (parent == null ? "null" : "\"" + Core.Export.SpanJson.HexToBase64(parent) + "\"") + ", \"name\": \"" + name + "\", \"start_time_unix_nano\": " + start
                + ", \"end_time_unix_nano\": " + (end?.ToString() ?? "null") + ", \"events\": " + events + ", \"status\": " + status + ", \"attributes\": {" + rid + attributes + "}}";
            var spans = new[]
            {
                Dict("00000000000000f0", null, "root", 10, null, "{\"code\": \"STATUS_CODE_OK\", \"message\": \"dropped\"}",
                    ", \"mlflow.spanType\": \"\\\"CHAIN\\\"\", \"i\": \"7\", \"f\": \"0.5\", \"b\": \"true\", \"n\": \"null\", \"l\": \"[1, null, \\\"x\\\"]\", "
                    + "\"d\": \"{\\\"k\\\": null, \\\"v\\\": 2.5}\", \"nan\": \"NaN\", \"raw\": 3"),
                Dict("0000000000000001", "00000000000000f0", "child", 15, 18, "{\"code\": \"STATUS_CODE_ERROR\", \"message\": \"boom\"}",
                    ", \"openinference.span.kind\": \"\\\"LLM\\\"\"",
                    "[{\"name\": \"exception\", \"time_unix_nano\": 16, \"attributes\": {\"exception.message\": \"boom\", \"x\": null, \"n\": 3}}]"),
                Dict("0000000000000002", "00000000000000f0", "unset", 16, 17, "{\"code\": \"STATUS_CODE_UNSET\", \"message\": \"\"}", ""),
            }.Select(c => Core.Export.SpanJson.FromContent(traceId, c)).ToList();

            string Id(string hex) => OctalEscaped(Convert.FromHexString(hex));
            string trace = Id("0123456789abcdef0123456789abcdef"), root = Id("00000000000000f0");
            string Attr(string key, string? value) => $"attributes {{ key: \"{key}\"" + (value == null ? "" : $" value {{ {value} }}") + " }\n";
            string requestId = Attr("mlflow.traceRequestId", $"string_value: \"{traceId}\"");
            string text =
                "resource_spans {\n resource {\n }\n scope_spans {\n"
                + $"  spans {{\n trace_id: \"{trace}\"\n span_id: \"{Id("0000000000000001")}\"\n parent_span_id: \"{root}\"\n name: \"child\"\n"
                + " start_time_unix_nano: 15\n end_time_unix_nano: 18\n" + requestId
                + Attr("openinference.span.kind", "string_value: \"LLM\"") + Attr("mlflow.spanType", "string_value: \"LLM\"")
                + " events {\n time_unix_nano: 16\n name: \"exception\"\n" + Attr("exception.message", "string_value: \"boom\"") + Attr("x", null)
                + Attr("n", "int_value: 3") + " }\n status {\n message: \"boom\"\n code: STATUS_CODE_ERROR\n }\n  }\n"
                + $"  spans {{\n trace_id: \"{trace}\"\n span_id: \"{Id("0000000000000002")}\"\n parent_span_id: \"{root}\"\n name: \"unset\"\n"
                + " start_time_unix_nano: 16\n end_time_unix_nano: 17\n" + requestId + " status {\n }\n  }\n"
                + $"  spans {{\n trace_id: \"{trace}\"\n span_id: \"{root}\"\n name: \"root\"\n start_time_unix_nano: 10\n" + requestId
                + Attr("mlflow.spanType", "string_value: \"CHAIN\"") + Attr("i", "int_value: 7") + Attr("f", "double_value: 0.5")
                + Attr("b", "bool_value: true") + Attr("n", null)
                + Attr("l", "array_value { values { int_value: 1 } values { } values { string_value: \"x\" } }")
                + Attr("d", "kvlist_value { values { key: \"k\" } values { key: \"v\" value { double_value: 2.5 } } }")
                + Attr("nan", "double_value: nan") + Attr("raw", "int_value: 3")
                + " status {\n code: STATUS_CODE_OK\n }\n  }\n }\n}\n";
            byte[] mlflows = ProtocEncode(protoc, $"--encode=opentelemetry.proto.trace.v1.TracesData -I \"{ProtoRoot()}\" opentelemetry/proto/trace/v1/trace.proto", text);
            Assert.Equal(Convert.ToHexString(mlflows), Convert.ToHexString(TracePayload.Write(traceId, spans)));
        }

        /// <summary>Bytes as protoc's text format writes them (C escaping: \n \r \t \" \' \\, octal for the rest).</summary>
        private static string OctalEscaped(byte[] bytes) => string.Concat(bytes.Select(b => b switch
        {
            (byte)'\n' => "\\n", (byte)'\r' => "\\r", (byte)'\t' => "\\t",
            (byte)'"' => "\\\"", (byte)'\'' => "\\'", (byte)'\\' => "\\\\",
            _ => b >= 0x20 && b < 0x7f ? ((char)b).ToString() : "\\" + Convert.ToString(b, 8).PadLeft(3, '0'),
        }));

        [ProtocFact]
        public void ProtocDecodesWrittenPayloads()
        {
            string protoc = ProtocFactAttribute.Protoc() ?? throw new FileNotFoundException("protoc is not on PATH; .ci/run installs Debian's protobuf-compiler.");
            string root = ProtoRoot();
            // The repository's sample traces (MLflow's trace JSON): the test needs nothing from outside the clone.
            var samples = File.ReadLines(Path.Combine(ModuleManifest.RepoRoot, "samples", "traces.jsonl"))
                .Select(MlTraces.Core.Export.TraceJson.FromJson).Where(t => t.Spans is { Count: > 1 } && t.Spans.Any(s => s.Content.Contains("STATUS_CODE_OK"))).Take(5).ToList();
            Assert.Equal(5, samples.Count);
            foreach (var (traceId, spans) in samples.Select(t => (t.TraceId, t.Spans!)))
            {
                byte[] payload = TracePayload.Write(traceId, spans);
                string text = Protoc(protoc, $"--decode=opentelemetry.proto.trace.v1.TracesData -I \"{root}\" opentelemetry/proto/trace/v1/trace.proto", payload);
                string raw = Protoc(protoc, "--decode_raw", payload);
                Assert.StartsWith("resource_spans {", text);
                Assert.Equal(1, text.Split('\n').Count(l => l.StartsWith("resource_spans {")));
                Assert.Contains("\n  resource {\n  }\n", text);
                Assert.Equal(spans.Count, text.Split('\n').Count(l => l == "    spans {"));
                foreach (var s in spans)
                {
                    string spanId = OctalEscaped(Convert.FromHexString(s.SpanId));
                    Assert.Contains($"      span_id: \"{spanId}\"\n", text);
                    Assert.Contains($"      name: \"{s.Name}\"\n", text);
                    Assert.Contains($"      start_time_unix_nano: {s.StartTimeUnixNano}\n", text);
                    // OTLP numbers, independent of our .proto: Span.span_id = 2, name = 5, start_time_unix_nano = 7 (fixed64).
                    Assert.Contains($"      2: \"{spanId}\"\n", raw);
                    Assert.Contains($"      5: \"{s.Name}\"\n", raw);
                    Assert.Contains($"      7: 0x{s.StartTimeUnixNano:x16}\n", raw);
                }
                string traceHex = Convert.ToHexString(Convert.FromBase64String(
                    Core.Json.JsonNode.Parse(spans[0].Content)["trace_id"]!.AsString()!));
                Assert.Contains($"trace_id: \"{OctalEscaped(Convert.FromHexString(traceHex))}\"", text);
                Assert.Contains("key: \"mlflow.traceRequestId\"", text);
                Assert.Contains($"string_value: \"{traceId}\"", text);
                Assert.Contains("code: STATUS_CODE_OK", text);
            }
        }

        /// <summary>What an archival writes to each kind of location, fetched back with that store's own SDK, is a
        /// TracesData protoc decodes, with the trace's spans.</summary>
        [ObjectStoreTheory(Protoc = true)]
        [InlineData(TestLocation.Folder)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void ProtocDecodesPayloadsReadBackFromEachServer(string kind)
        {
            string protoc = ProtocFactAttribute.Protoc() ?? throw new FileNotFoundException("protoc is not on PATH; .ci/run installs Debian's protobuf-compiler.");
            var trace = File.ReadLines(Path.Combine(ModuleManifest.RepoRoot, "samples", "traces.jsonl"))
                .Select(MlTraces.Core.Export.TraceJson.FromJson).First(t => t.Spans is { Count: > 1 });
            using var place = TestLocation.Create(kind);
            string folder = $"{place.Uri}/{trace.ExperimentId}/traces/{trace.TraceId}/artifacts";
            ArchiveRepositories.For(folder, place.Settings).Write(folder, TracePayload.Write(trace.TraceId, trace.Spans!));
            byte[] stored = place.GetRaw(place.FullKey($"{trace.ExperimentId}/traces/{trace.TraceId}/artifacts/traces.pb"))!;
            string text = Protoc(protoc, $"--decode=opentelemetry.proto.trace.v1.TracesData -I \"{ProtoRoot()}\" opentelemetry/proto/trace/v1/trace.proto", stored);
            Assert.Equal(trace.Spans!.Count, text.Split('\n').Count(l => l == "    spans {"));
            foreach (var s in trace.Spans!) Assert.Contains($"      name: \"{s.Name}\"\n", text);
            Assert.Contains($"string_value: \"{trace.TraceId}\"", text);
        }
    }
}
