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
