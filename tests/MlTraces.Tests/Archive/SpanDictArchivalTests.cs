using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Core.Archive.Otlp;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Archive.SpanDictRulesTests;

namespace MlTraces.Tests.Archive
{
    /// <summary>
    /// The span dicts MLflow writes and refuses, through the commands on a real store: what Get-Trace, Export-Trace,
    /// Invoke-TraceArchive and Import-Trace make of them, as MLflow's get_trace, archival pass
    /// (SqlAlchemyStore.archive_traces) and Trace.from_dict do (mlflow/entities/span.py Span.from_dict,
    /// mlflow/tracing/otel/translation translate_loaded_span).
    /// </summary>
    public class SpanDictArchivalTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static Span Row(string traceId, string spanId, string? parent, string name, string? type, long start, string content) => new Span
        {
            TraceId = traceId, SpanId = spanId, ParentSpanId = parent, Name = name, SpanType = type, Status = "OK",
            StartTimeUnixNano = start, EndTimeUnixNano = start + 500, Content = content,
        };

        private static Trace WithSpans(string traceId, string experimentId, params Span[] spans)
        {
            var t = TestStore.MakeTrace(traceId, experimentId, requestTime: 1000);
            t.Spans = spans.ToList();
            t.Tags[TraceTagKeys.SpansLocation] = SpansLocations.TrackingStore;
            return t;
        }

        private static string Attrs(string traceId, string more = "") =>
            "{\"mlflow.traceRequestId\": \"\\\"" + traceId + "\\\"\"" + more + "}";

        /// <summary>A version 3 span dict of trace <paramref name="traceId"/> (otel id = its hex part).</summary>
        private static string V3(string traceId, string spanHex, string? parentHex, string attributes) =>
            V3Dict(spanHex, parentHex, attributes).Replace(SpanJson.HexToBase64(OtelHex), SpanJson.HexToBase64(traceId.Substring(3)));

        [Fact]
        public void Mlflow35SpansAreReadExportedArchivedAndReadBack()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string exp = ts.AddExperiment("e");
            // A trace MLflow 3.5 logged (version 4 span dicts), and one that came over OTLP (OpenInference kind, no mlflow.spanType).
            const string otlp = "tr-00000000000000000000000000000abc";
            string root = V4Dict("00000000000000a1", null, "root", 100), child = V4Dict("00000000000000b2", "00000000000000a1", "child", 200);
            string otlpSpan = V3(otlp, "00000000000000c3", null, Attrs(otlp, ", \"openinference.span.kind\": \"LLM\""));
            ts.AddTraces(new[]
            {
                WithSpans(TraceId, exp, Row(TraceId, "00000000000000a1", null, "root", "CHAIN", 100, root), Row(TraceId, "00000000000000b2", "00000000000000a1", "child", "CHAIN", 200, child)),
                WithSpans(otlp, exp, Row(otlp, "00000000000000c3", null, "s", null, 10, otlpSpan)),
            });
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = new[] { TraceId, otlp } };

            var read = sh.Run("Get-Trace -TrackingUri $uri -TraceId $ids", vars);
            Assert.Empty(read.Errors);
            Assert.Empty(read.Warnings);
            var before = read.Output.Select(o => (Trace)o.BaseObject).ToList();
            Assert.Equal(new[] { "root|00000000000000a1||CHAIN|OK", "child|00000000000000b2|00000000000000a1|CHAIN|OK" },
                before[0].Spans!.Select(s => $"{s.Name}|{s.SpanId}|{s.ParentSpanId}|{s.SpanType}|{s.Status}"));
            Assert.Equal(new[] { root, child }, before[0].Spans!.Select(s => s.Content));
            // get_trace loads spans through translate_loaded_span: the OTLP span is an LLM span.
            Assert.Equal("LLM", Assert.Single(before[1].Spans!).SpanType);

            string exported = Path.Combine(ts.Folder, "out.jsonl");
            vars["out"] = exported;
            Assert.Empty(sh.Run("Get-Trace -TrackingUri $uri -TraceId $ids | Export-Trace -LiteralPath $out", vars).Errors);
            // Trace.to_dict() carries each span dict as it is: the version 4 dicts go out unchanged.
            Assert.Equal(new[] { root, child }, TraceJson.FromJson(File.ReadLines(exported).First()).Spans!.Select(sp => sp.Content));

            // Archived as MLflow's own pass would: not MALFORMED_TRACE.
            string config = ArchiveTestSupport.Config(ts, new System.Uri(ArchiveTestSupport.ArchiveRoot(ts)).AbsoluteUri);
            vars["config"] = config;
            string hash = ts.Fingerprint();
            var plan = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -WhatIf -PassThru", vars);
            Assert.Empty(plan.Errors);
            Assert.Equal(new[] { otlp, TraceId }.OrderBy(x => x), plan.Output.Select(o => ((ArchivalReceipt)o.BaseObject).TraceId).OrderBy(x => x));
            Assert.Equal(hash, ts.Fingerprint());
            var run = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru", vars);
            Assert.Empty(run.Errors);
            var receipts = run.Output.Select(o => (ArchivalReceipt)o.BaseObject).ToList();
            Assert.Equal(plan.Output.Select(o => ((ArchivalReceipt)o.BaseObject).TraceId), receipts.Select(r => r.TraceId));
            Assert.All(receipts, r => Assert.Equal(ArchivalStatus.Archived, r.Status));
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_tags WHERE key = 'mlflow.trace.archivalFailure'"));

            // The payload holds the OTel trace id of the version 4 dict, and the OTLP span's translated type.
            var v4Payload = TracesData.Parser.ParseFrom(FileArchiveRepository.Instance.Read(receipts.Single(r => r.TraceId == TraceId).ArchiveLocation));
            Assert.All(v4Payload.ResourceSpans[0].ScopeSpans[0].Spans, s => Assert.Equal(OtelHex, System.Convert.ToHexString(s.TraceId.ToByteArray()).ToLowerInvariant()));
            var otlpPayload = TracesData.Parser.ParseFrom(FileArchiveRepository.Instance.Read(receipts.Single(r => r.TraceId == otlp).ArchiveLocation));
            Assert.Equal("LLM", otlpPayload.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes.Single(a => a.Key == "mlflow.spanType").Value.StringValue);

            var after = sh.Objects<Trace>("Get-Trace -TrackingUri $uri -TraceId $ids", vars);
            Assert.All(after, t => Assert.Equal(SpansLocations.ArchiveRepo, t.SpansLocation));
            foreach (var (b, a) in before.Zip(after))
                Assert.Equal(b.Spans!.Select(s => $"{s.Name}|{s.SpanId}|{s.ParentSpanId}|{s.SpanType}|{s.Status}|{s.StartTimeUnixNano}|{s.EndTimeUnixNano}"),
                    a.Spans!.Select(s => $"{s.Name}|{s.SpanId}|{s.ParentSpanId}|{s.SpanType}|{s.Status}|{s.StartTimeUnixNano}|{s.EndTimeUnixNano}"));
        }

        [Fact]
        public void SpansThatDoNotNameTheirTraceAreMalformedAsForMlflow()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string exp = ts.AddExperiment("e");
            var ids = new[] { "tr-000000000000000000000000000000a1", "tr-000000000000000000000000000000a2", "tr-000000000000000000000000000000a3", "tr-000000000000000000000000000000a4" };
            var attributes = new[] { Attrs(ids[0]), "{}", "{\"mlflow.traceRequestId\": \"\"}", "{\"mlflow.traceRequestId\": null}" };
            ts.AddTraces(ids.Select((id, i) => WithSpans(id, exp,
                Row(id, "0000000000000001", null, "root", null, 10, V3(id, "0000000000000001", null, Attrs(id))),
                Row(id, "0000000000000002", "0000000000000001", "child", null, 20, V3(id, "0000000000000002", "0000000000000001", attributes[i])))));
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = ArchiveTestSupport.Config(ts, new System.Uri(ArchiveTestSupport.ArchiveRoot(ts)).AbsoluteUri) };
            string hash = ts.Fingerprint();
            var plan = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -WhatIf -PassThru", vars);
            Assert.Equal(ids, plan.Output.Select(o => ((ArchivalReceipt)o.BaseObject).TraceId).OrderBy(x => x));
            Assert.Equal(hash, ts.Fingerprint());

            var run = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config", vars);
            Assert.Equal(ids.Skip(1), run.Errors.Select(e => (string)e.TargetObject).OrderBy(x => x));
            Assert.All(run.Errors, e =>
            {
                Assert.Equal("MalformedTrace,MlTraces.Commands.InvokeTraceArchiveCommand", e.FullyQualifiedErrorId);
                Assert.Contains("mlflow.traceRequestId attribute of span '0000000000000002' is empty or missing", e.Exception.Message);
            });
            var summary = (TraceArchiveSummary)run.Output.Single().BaseObject;
            Assert.Equal((1, 3), (summary.Archived, summary.Malformed));
            foreach (var id in ids.Skip(1))
            {
                Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = '{id}' AND key = 'mlflow.trace.archivalFailure' AND value = 'MALFORMED_TRACE'"));
                Assert.Equal(2, ts.Scalar($"SELECT count(*) FROM spans WHERE trace_id = '{id}' AND content <> ''"));
            }
            Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM spans WHERE trace_id = '{ids[0]}' AND content <> ''"));
        }

        [Fact]
        public void ImportRefusesSpansMlflowCannotLoadAndSaysSoInTheDryRun()
        {
            using var source = TestStore.CreateEmpty(Kind);
            string exp = source.AddExperiment("e");
            const string good = "tr-000000000000000000000000000000b1", bad = "tr-000000000000000000000000000000b2";
            source.AddTraces(new[]
            {
                WithSpans(good, exp, Row(good, "0000000000000001", null, "root", null, 10, V3(good, "0000000000000001", null, Attrs(good)))),
                WithSpans(bad, exp, Row(bad, "0000000000000001", null, "root", null, 10, V3(bad, "0000000000000001", null, "{\"mlflow.spanType\": \"\\\"LLM\\\"\"}"))),
            });
            string file = Path.Combine(source.Folder, "traces.jsonl");
            using (var sh = new PsShell(source))
                Assert.Empty(sh.Run("Search-Trace -TrackingUri $uri -IncludeSpans | Export-Trace -LiteralPath $out",
                    new Dictionary<string, object?> { ["uri"] = source.UriText, ["out"] = file }).Errors);

            using var target = TestStore.CreateEmpty(Kind);
            using var shell = new PsShell(target);
            var vars = new Dictionary<string, object?> { ["uri"] = target.UriText, ["file"] = file };
            foreach (var targetParameter in new[] { "-ExperimentName imported", "-ExperimentId 0" })
            {
                string hash = target.Fingerprint();
                var dry = shell.Run($"Import-Trace -TrackingUri $uri -LiteralPath $file {targetParameter} -WhatIf", vars);
                Assert.Equal(hash, target.Fingerprint());
                var dryError = Assert.Single(dry.Errors);
                Assert.Equal("MalformedSpan,MlTraces.Commands.ImportTraceCommand", dryError.FullyQualifiedErrorId);
                Assert.Contains($"What if: Performing the operation \"Import trace\" on target \"trace {good}", dry.HostText);
                Assert.DoesNotContain(bad, dry.HostText);
            }
            var real = shell.Run("Import-Trace -TrackingUri $uri -LiteralPath $file -ExperimentName imported -PassThru", vars);
            var error = Assert.Single(real.Errors);
            Assert.Equal("MalformedSpan,MlTraces.Commands.ImportTraceCommand", error.FullyQualifiedErrorId);
            Assert.Contains($"Trace '{bad}' was not imported: its span '0000000000000001' has no mlflow.traceRequestId attribute", error.Exception.Message);
            Assert.Equal(good, ((Trace)Assert.Single(real.Output).BaseObject).TraceId);
            Assert.Equal(0, target.Scalar($"SELECT count(*) FROM trace_info WHERE request_id = '{bad}'"));
        }
    }

    public class SpanDictArchivalTestsOnPostgres : SpanDictArchivalTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
