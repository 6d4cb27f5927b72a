using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Export
{
    public class TraceJsonTests
    {
        private const string Id = "tr-0123456789abcdef0123456789abcdef";

        private static Trace HandMadeTrace()
        {
            var t = new Trace
            {
                TraceId = Id, ExperimentId = "7", State = "OK", TimestampMs = 1700000000123, ExecutionTimeMs = 1265,
                RequestPreview = "hi",
                Spans = new List<Span> { new Span { TraceId = Id, SpanId = "0001020304050607", Content = "{\"span_id\":\"AAECAwQFBgc=\",  \"name\": \"root\"}" } },
            };
            t.Tags["mlflow.traceName"] = "chat";
            t.Tags["b"] = null;
            t.Metadata["mlflow.trace.user"] = "alice";
            t.Metadata["long"] = new string('x', 300);
            t.Assessments.Add(new Assessment
            {
                AssessmentId = "a-1", TraceId = Id, Name = "helpfulness", AssessmentType = "feedback", Value = "5",
                SourceType = "HUMAN", SourceId = "bob", CreatedTimestampMs = 1700000001000, LastUpdatedTimestampMs = 1700000002500,
            });
            t.Assessments.Add(new Assessment
            {
                AssessmentId = "a-2", TraceId = Id, Name = "facts", AssessmentType = "expectation", Value = "[\"a\", 1]",
                SourceType = "HUMAN", Valid = false, Metadata = "{\"mlflow.assessment.sourceRunId\": \"r1\", \"n\": 3}",
                CreatedTimestampMs = 1700000001000, LastUpdatedTimestampMs = 1700000001000,
            });
            t.Assessments.Add(new Assessment
            {
                AssessmentId = "a-3", TraceId = Id, Name = "judge", AssessmentType = "feedback", Value = "null",
                Error = "{\"error_code\": \"E\", \"error_message\": null, \"stack_trace\": null}", SourceType = "LLM_JUDGE",
                SourceId = "judges/x", SpanId = "abcdef0123456789", Rationale = "", Overrides = "a-1",
                CreatedTimestampMs = 1700000001000, LastUpdatedTimestampMs = 1700000001000,
            });
            return t;
        }

        // Written by hand from MLflow's rules: protobuf field order, unset fields left out, RFC 3339 times,
        // execution_duration_ms last; unlike MLflow's to_proto, values are kept whole (numbers as stored,
        // NULL tag values as null, long metadata untruncated): an export is a backup.
        private static readonly string ExpectedLine =
            "{\"info\": {\"trace_id\": \"" + Id + "\", \"trace_location\": {\"type\": \"MLFLOW_EXPERIMENT\", \"mlflow_experiment\": {\"experiment_id\": \"7\"}}, " +
            "\"request_preview\": \"hi\", \"request_time\": \"2023-11-14T22:13:20.123Z\", \"state\": \"OK\", " +
            "\"trace_metadata\": {\"long\": \"" + new string('x', 300) + "\", \"mlflow.trace.user\": \"alice\"}, \"assessments\": [" +
            "{\"assessment_id\": \"a-1\", \"assessment_name\": \"helpfulness\", \"trace_id\": \"" + Id + "\", \"source\": {\"source_type\": \"HUMAN\", \"source_id\": \"bob\"}, " +
            "\"create_time\": \"2023-11-14T22:13:21Z\", \"last_update_time\": \"2023-11-14T22:13:22.500Z\", \"feedback\": {\"value\": 5}, \"valid\": true}, " +
            "{\"assessment_id\": \"a-2\", \"assessment_name\": \"facts\", \"trace_id\": \"" + Id + "\", \"source\": {\"source_type\": \"HUMAN\"}, " +
            "\"create_time\": \"2023-11-14T22:13:21Z\", \"last_update_time\": \"2023-11-14T22:13:21Z\", " +
            "\"expectation\": {\"serialized_value\": {\"serialization_format\": \"JSON_FORMAT\", \"value\": \"[\\\"a\\\", 1]\"}}, " +
            "\"metadata\": {\"mlflow.assessment.sourceRunId\": \"r1\", \"n\": \"3\"}, \"valid\": false}, " +
            "{\"assessment_id\": \"a-3\", \"assessment_name\": \"judge\", \"trace_id\": \"" + Id + "\", \"span_id\": \"abcdef0123456789\", " +
            "\"source\": {\"source_type\": \"LLM_JUDGE\", \"source_id\": \"judges/x\"}, \"create_time\": \"2023-11-14T22:13:21Z\", \"last_update_time\": \"2023-11-14T22:13:21Z\", " +
            "\"feedback\": {\"value\": null, \"error\": {\"error_code\": \"E\"}}, \"rationale\": \"\", \"overrides\": \"a-1\", \"valid\": true}], " +
            "\"tags\": {\"b\": null, \"mlflow.traceName\": \"chat\"}, \"execution_duration_ms\": 1265}, " +
            "\"data\": {\"spans\": [{\"span_id\": \"AAECAwQFBgc=\", \"name\": \"root\"}]}}";

        [Fact]
        public void WritesTraceToDictShape()
        {
            Assert.Equal(ExpectedLine, TraceJson.ToJsonLine(HandMadeTrace()));
        }

        [Fact]
        public void ReadsBackWhatItWrites()
        {
            var t = TraceJson.FromJson(ExpectedLine);
            Assert.Equal(Id, t.TraceId);
            Assert.Equal("7", t.ExperimentId);
            Assert.Equal(1700000000123, t.TimestampMs);
            Assert.Equal(1265, t.ExecutionTimeMs);
            Assert.Equal("OK", t.State);
            Assert.Equal("hi", t.RequestPreview);
            Assert.Null(t.ResponsePreview);
            Assert.Null(t.Tags["b"]);
            Assert.Equal(300, t.Metadata["long"]!.Length);
            Assert.Equal(3, t.Assessments.Count);
            var (a1, a2, a3) = (t.Assessments[0], t.Assessments[1], t.Assessments[2]);
            Assert.Equal(("feedback", "5", "HUMAN", "bob", 1700000002500L), (a1.AssessmentType, a1.Value, a1.SourceType, a1.SourceId, a1.LastUpdatedTimestampMs));
            Assert.Equal(("expectation", "[\"a\", 1]", false, "r1"), (a2.AssessmentType, a2.Value, a2.Valid, a2.RunId));
            Assert.Equal("{\"mlflow.assessment.sourceRunId\": \"r1\", \"n\": \"3\"}", a2.Metadata);
            Assert.Equal("null", a3.Value);
            Assert.Equal("{\"error_code\": \"E\", \"error_message\": null, \"stack_trace\": null}", a3.Error);
            Assert.Equal(("abcdef0123456789", "a-1", Id), (a3.SpanId, a3.Overrides, a3.TraceId));
            var span = Assert.Single(t.Spans!);
            Assert.Equal("0001020304050607", span.SpanId);
            Assert.Equal("{\"span_id\": \"AAECAwQFBgc=\", \"name\": \"root\"}", span.Content);
            Assert.Equal(ExpectedLine, TraceJson.ToJsonLine(t));
        }

        [Fact]
        public void InProgressTraceHasNoDurationAndEmptySpanList()
        {
            var t = new Trace { TraceId = "tr-1", ExperimentId = "0", State = "IN_PROGRESS", TimestampMs = 0 };
            string line = TraceJson.ToJsonLine(t);
            Assert.Equal("{\"info\": {\"trace_id\": \"tr-1\", \"trace_location\": {\"type\": \"MLFLOW_EXPERIMENT\", \"mlflow_experiment\": {\"experiment_id\": \"0\"}}, " +
                         "\"request_time\": \"1970-01-01T00:00:00Z\", \"state\": \"IN_PROGRESS\"}, \"data\": {\"spans\": []}}", line);
            var back = TraceJson.FromJson(line);
            Assert.Null(back.ExecutionTimeMs);
            Assert.Empty(back.Spans!);
            Assert.Equal(line, TraceJson.ToJsonLine(back));
        }

        [Fact]
        public void SampleFileRoundTripsByteForByte()
        {
            var lines = ExportTestSupport.SampleLines();
            Assert.InRange(lines.Length, 200, 1000);
            foreach (var line in lines)
            {
                var trace = TraceJson.FromJson(line);
                string again = TraceJson.ToJsonLine(trace);
                Assert.Equal(line, again);
                Assert.Equal(again, TraceJson.ToJsonLine(TraceJson.FromJson(again)));
            }
        }

        [Fact]
        public void SampleFileHasTheVarietyItPromises()
        {
            var traces = ExportTestSupport.SampleLines().Select(TraceJson.FromJson).ToList();
            var states = traces.Select(t => t.State).Distinct().ToList();
            Assert.Contains("OK", states);
            Assert.Contains("ERROR", states);
            Assert.Contains("IN_PROGRESS", states);
            Assert.Contains("STATE_UNSPECIFIED", states);
            Assert.All(traces.Where(t => t.State == "IN_PROGRESS"), t => Assert.Null(t.ExecutionTimeMs));
            Assert.All(traces, t => Assert.Matches("^tr-[0-9a-f]{32}$", t.TraceId));
            Assert.All(traces.SelectMany(t => t.Spans!), s => Assert.Matches("^[0-9a-f]{16}$", s.SpanId));
            var types = traces.SelectMany(t => t.Spans!).Select(s => s.SpanType).Distinct().ToList();
            foreach (var type in new[] { "LLM", "CHAIN", "RETRIEVER", "TOOL", "AGENT", "EMBEDDING" }) Assert.Contains(type, types);
            Assert.Contains(traces, t => t.State == "OK" && t.Spans!.Any(s => s.Status == "ERROR"));
            Assert.Contains(traces, t => t.Spans!.Any(s => s.Content.Contains("timeout")));
            Assert.Equal(new[] { "dev", "prod", "staging" }, traces.Select(t => t.Tags["env"]).Distinct().OrderBy(e => e, StringComparer.Ordinal).ToArray());
            Assert.True(traces.Select(t => t.Metadata["mlflow.trace.session"]).Distinct().Count() > 3);
            Assert.Contains(traces, t => t.Metadata.ContainsKey("mlflow.sourceRun"));
            var assessments = traces.SelectMany(t => t.Assessments).ToList();
            Assert.Contains(assessments, a => a.AssessmentType == "feedback" && a.Value == "true" && a.SourceType == "LLM_JUDGE");
            Assert.Contains(assessments, a => a.AssessmentType == "feedback" && a.Value.StartsWith("\"", StringComparison.Ordinal) && a.SourceType == "HUMAN");
            Assert.Contains(assessments, a => a.AssessmentType == "feedback" && double.TryParse(a.Value, out _));
            Assert.Contains(assessments, a => a.AssessmentType == "expectation");
        }

        [Fact]
        public void SampleRoundTripsThroughAStore()
        {
            var lines = ExportTestSupport.SampleLines();
            using var ts = TestStore.CreateEmpty();
            Assert.Equal("1", ts.AddExperiment("one"));
            Assert.Equal("2", ts.AddExperiment("two"));
            ts.AddTraces(lines.Select(TraceJson.FromJson));
            var back = ExportTestSupport.ReadAll(ts);
            Assert.Equal(lines.Length, back.Count);
            for (int i = 0; i < lines.Length; i++) Assert.Equal(lines[i], TraceJson.ToJsonLine(back[i]));
            // The span columns the writer fills from the parsed spans agree with the content.
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM spans WHERE status NOT IN ('OK', 'ERROR', 'UNSET') OR type IS NULL OR length(span_id) <> 16"));
            Assert.Equal(ts.Scalar("SELECT count(*) FROM spans WHERE content LIKE '%\"code\": \"STATUS_CODE_ERROR\"%'"),
                         ts.Scalar("SELECT count(*) FROM spans WHERE status = 'ERROR'"));
        }

        [Fact]
        public void ReadsV2InfoWithTagListAndStringNumbers()
        {
            string line = "{\"info\": {\"request_id\": \"0123456789abcdef0123456789abcdef\", \"experiment_id\": 3, \"timestamp_ms\": \"1700000000000\", " +
                          "\"execution_time_ms\": \"42\", \"status\": \"TRACE_STATUS_UNSPECIFIED\", \"request_metadata\": [{\"key\": \"mlflow.sourceRun\", \"value\": \"r9\"}], " +
                          "\"tags\": [{\"key\": \"mlflow.traceName\", \"value\": \"predict\"}, {\"key\": \"n\", \"value\": 5}]}, " +
                          "\"data\": {\"spans\": [], \"request\": \"{}\", \"response\": null}}";
            var t = TraceJson.FromJson(line);
            Assert.Equal("0123456789abcdef0123456789abcdef", t.TraceId);
            Assert.Equal("3", t.ExperimentId);
            Assert.Equal(1700000000000, t.TimestampMs);
            Assert.Equal(42, t.ExecutionTimeMs);
            Assert.Equal("STATE_UNSPECIFIED", t.State);
            Assert.Equal("r9", t.RunId);
            Assert.Equal("predict", t.Name);
            Assert.Equal("5", t.Tags["n"]);
            Assert.StartsWith("{\"info\": {\"trace_id\": \"0123456789abcdef0123456789abcdef\", ", TraceJson.ToJsonLine(t));
        }

        [Fact]
        public void ReadsV2InfoDictAsMlflow2WroteIt()
        {
            string line = "{\"info\": {\"request_id\": \"abc\", \"experiment_id\": \"0\", \"timestamp_ms\": 10, \"execution_time_ms\": null, " +
                          "\"status\": \"IN_PROGRESS\", \"request_metadata\": {\"a\": \"b\"}, \"tags\": {\"c\": \"d\"}}, \"data\": {\"spans\": []}}";
            var t = TraceJson.FromJson(line);
            Assert.Equal(("abc", "0", 10L, (long?)null, "IN_PROGRESS"), (t.TraceId, t.ExperimentId, t.TimestampMs, t.ExecutionTimeMs, t.State));
            Assert.Equal("b", t.Metadata["a"]);
            Assert.Equal("d", t.Tags["c"]);
        }

        [Fact]
        public void AcceptsTimesWithOffsetsAndMicroseconds()
        {
            var t = TraceJson.FromJson("{\"info\": {\"trace_id\": \"tr-x\", \"request_time\": \"2023-11-14T23:13:20.123456+01:00\", \"state\": \"OK\", " +
                                       "\"execution_duration\": \"1.500s\"}, \"data\": {\"spans\": []}}");
            Assert.Equal(1700000000123, t.TimestampMs);
            Assert.Equal(1500, t.ExecutionTimeMs);
            Assert.Equal("", t.ExperimentId);
        }

        [Fact]
        public void ReadsAssessmentsInTheOlderDataclassShape()
        {
            string line = "{\"info\": {\"request_id\": \"r\", \"experiment_id\": \"1\", \"timestamp_ms\": 1, \"execution_time_ms\": 2, \"status\": \"OK\", " +
                          "\"assessments\": [{\"name\": \"quality\", \"source\": {\"source_type\": \"AI_JUDGE\", \"source_id\": \"j\"}, \"create_time_ms\": 5, " +
                          "\"last_update_time_ms\": 6, \"feedback\": {\"value\": 0.5, \"error\": null}, \"run_id\": \"run-1\", \"assessment_id\": \"a-9\"}]}, \"data\": {\"spans\": []}}";
            var a = Assert.Single(TraceJson.FromJson(line).Assessments);
            Assert.Equal(("quality", "feedback", "0.5", "LLM_JUDGE", "j", 5L, 6L, "run-1", "a-9", "r"),
                (a.Name, a.AssessmentType, a.Value, a.SourceType, a.SourceId, a.CreatedTimestampMs, a.LastUpdatedTimestampMs, a.RunId, a.AssessmentId, a.TraceId));
        }

        [Theory]
        [InlineData("not json", "not valid JSON")]
        [InlineData("[1, 2]", "must be a JSON object")]
        [InlineData("{\"data\": {\"spans\": []}}", "has no \"info\"")]
        [InlineData("{\"info\": [], \"data\": {}}", "\"info\" must be an object")]
        [InlineData("{\"info\": {\"request_time\": \"2023-11-14T22:13:20Z\", \"state\": \"OK\"}}", "info.trace_id is missing")]
        [InlineData("{\"info\": {\"trace_id\": \"tr-1\", \"state\": \"OK\"}}", "info.request_time is missing")]
        [InlineData("{\"info\": {\"trace_id\": \"tr-1\", \"request_time\": \"yesterday\", \"state\": \"OK\"}}", "info.request_time is not an RFC 3339 time")]
        [InlineData("{\"info\": {\"trace_id\": \"tr-1\", \"request_time\": 5}}", "info.state is missing")]
        [InlineData("{\"info\": {\"request_id\": \"r\", \"timestamp_ms\": 5}}", "info.status is missing")]
        [InlineData("{\"info\": {\"trace_id\": \"tr-1\", \"request_time\": 5, \"state\": \"OK\", \"tags\": \"x\"}}", "info.tags must be an object")]
        [InlineData("{\"info\": {\"trace_id\": \"tr-1\", \"request_time\": 5, \"state\": \"OK\"}, \"data\": {\"spans\": {}}}", "data.spans must be a list")]
        [InlineData("{\"info\": {\"trace_id\": \"tr-1\", \"request_time\": 5, \"state\": \"OK\"}, \"data\": {\"spans\": [{\"name\": \"x\"}]}}", "data.spans[0]")]
        [InlineData("{\"info\": {\"trace_id\": \"tr-1\", \"request_time\": 5, \"state\": \"OK\", \"assessments\": [{\"assessment_name\": \"q\"}]}}", "neither \"feedback\" nor \"expectation\"")]
        [InlineData("{\"info\": {\"trace_id\": \"tr-1\", \"request_time\": 5, \"state\": \"OK\", \"execution_duration_ms\": \"soon\"}}", "info.execution_duration_ms is not an integer")]
        public void MalformedTraceJsonIsReportedClearly(string line, string expected)
        {
            var ex = Assert.Throws<MlTracesException>(() => TraceJson.FromJson(line));
            Assert.Equal("InvalidTraceJson", ex.ErrorId);
            Assert.Equal(ErrorKind.InvalidData, ex.Kind);
            Assert.Contains(expected, ex.Message);
        }

        [Fact]
        public void JsonLinesErrorsNameTheLine()
        {
            var lines = ExportTestSupport.SampleLines();
            string text = lines[0] + "\n\n" + lines[1] + "\n{\"info\": 1}\n";
            var read = TraceJson.ReadJsonLines(new StringReader(text), "traces.jsonl").ToList();
            Assert.Equal(new[] { 1, 3, 4 }, read.Select(l => l.Number));
            Assert.NotNull(read[0].Trace);
            Assert.StartsWith("traces.jsonl, line 4: Invalid trace JSON", read[2].Error!.Message);
            Assert.Equal(2, TraceJson.ReadJsonLines(new StringReader(lines[0] + "\n\n" + lines[1] + "\n")).Count(l => l.Trace != null));
        }

        [Theory]
        [InlineData(5.0, "5.0")]
        [InlineData(0.1 + 0.2, "0.30000000000000004")]
        [InlineData(0.85, "0.85")]
        [InlineData(1e16, "1e+16")]
        [InlineData(1e15, "1000000000000000.0")]
        [InlineData(0.0001, "0.0001")]
        [InlineData(0.00001, "1e-05")]
        [InlineData(1.5e-7, "1.5e-07")]
        [InlineData(123456789012345678.0, "1.2345678901234568e+17")]
        [InlineData(-2.5, "-2.5")]
        [InlineData(-0.0, "-0.0")]
        [InlineData(1e22, "1e+22")]
        [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
        [InlineData(5e-324, "5e-324")]
        public void FloatsAreWrittenAsPythonReprWritesThem(double value, string expected)
        {
            Assert.Equal(expected, MlTraces.Core.Json.PyJson.FloatRepr(value));
        }

        [Theory]
        [InlineData(0L, "1970-01-01T00:00:00Z")]
        [InlineData(1700000000123L, "2023-11-14T22:13:20.123Z")]
        [InlineData(1700000000100L, "2023-11-14T22:13:20.100Z")]
        [InlineData(-1L, "1969-12-31T23:59:59.999Z")]
        public void TimestampsAreWrittenAsProtobufWritesThem(long ms, string expected)
        {
            Assert.Equal(expected, PyFormat.TimestampJson(ms));
            Assert.True(PyFormat.TryParseTimestamp(expected, out long back));
            Assert.Equal(ms, back);
        }

        [Fact]
        public void LongValuesAreExportedWhole()
        {
            string emoji = "\U0001F600";
            var t = new Trace { TraceId = "tr-1", ExperimentId = "0", State = "OK" };
            t.Metadata["k"] = string.Concat(Enumerable.Repeat(emoji, 300));
            var back = TraceJson.FromJson(TraceJson.ToJsonLine(t));
            Assert.Equal(string.Concat(Enumerable.Repeat(emoji, 300)), back.Metadata["k"]);
            Assert.Contains("\\ud83d\\ude00", TraceJson.ToJsonLine(t));
        }
    }
}
