using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using MlTraces.Core.Export;

namespace MlTraces.Generator
{
    /// <summary>
    /// The shipped sample: a few hundred varied traces in MLflow's trace JSON, one per line. Deterministic for a seed
    /// (System.Random with a seed gives the same sequence on every .NET), so the committed file can be regenerated.
    /// </summary>
    internal static class SampleGenerator
    {
        private static readonly DateTime Start = new DateTime(2025, 9, 1, 0, 0, 0, DateTimeKind.Utc);
        private const long SpanOfTimeMs = 30L * 24 * 3600 * 1000;

        public static int Run(string outPath, int count, int seed)
        {
            var rng = new Random(seed);
            var sessions = new string[12];
            for (int i = 0; i < sessions.Length; i++) sessions[i] = "session-" + Vocabulary.Hex(rng, 4);
            var runs = new string[4];
            for (int i = 0; i < runs.Length; i++) runs[i] = Vocabulary.Hex(rng, 16);

            long startMs = new DateTimeOffset(Start).ToUnixTimeMilliseconds();
            string? dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (dir != null) Directory.CreateDirectory(dir);
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            using (var writer = new StreamWriter(outPath, false, new UTF8Encoding(false)) { NewLine = "\n" })
            {
                for (int i = 0; i < count; i++)
                {
                    long ts = startMs + SpanOfTimeMs * i / Math.Max(1, count) + rng.Next(0, 60_000);
                    var trace = BuildTrace(rng, ts, sessions, runs);
                    counts[trace.State] = counts.TryGetValue(trace.State, out int n) ? n + 1 : 1;
                    writer.WriteLine(TraceJson.ToJsonLine(trace));
                }
            }
            var parts = new List<string>();
            foreach (var kv in counts) parts.Add($"{kv.Key} {kv.Value}");
            Console.WriteLine($"Wrote {count} traces to {outPath} ({new FileInfo(outPath).Length:N0} bytes; {string.Join(", ", parts)}).");
            return 0;
        }

        private enum Kind { Rag, Agent, Chat, Summarize, Support }

        private static Trace BuildTrace(Random rng, long timestampMs, string[] sessions, string[] runs)
        {
            string otelHex = Vocabulary.Hex(rng, 16);
            string traceId = "tr-" + otelHex;
            string otelB64 = SpanContent.HexToBase64(otelHex);
            string experimentId = rng.NextDouble() < 0.7 ? "1" : "2";

            double r = rng.NextDouble();
            string state = r < 0.74 ? "OK" : r < 0.89 ? "ERROR" : r < 0.96 ? "IN_PROGRESS" : "STATE_UNSPECIFIED";
            bool timeout = rng.NextDouble() < 0.10;
            var kind = (Kind)rng.Next(5);
            string question = timeout ? Vocabulary.Pick(rng, Vocabulary.TimeoutQuestions) : Vocabulary.Pick(rng, Vocabulary.Questions);
            string answer = timeout ? Vocabulary.Pick(rng, Vocabulary.TimeoutAnswers) : Vocabulary.Pick(rng, Vocabulary.AnswerBodies);
            long durationMs = 150 + rng.Next(0, 7000);
            var model = Vocabulary.Pick(rng, Vocabulary.Models);

            var spans = new List<SpanData>();
            var plan = Plan(kind);
            var root = new SpanData { SpanId = Vocabulary.Hex(rng, 8), Name = plan.RootName, Type = plan.RootType };
            root.Start = timestampMs * 1_000_000 + rng.Next(0, 1000) * 1000L;
            root.End = root.Start + durationMs * 1_000_000;
            root.InputsJson = kind == Kind.Agent || kind == Kind.Support ? QueryJson(question) : Vocabulary.UserMessages(question);
            root.OutputsJson = kind == Kind.Agent || kind == Kind.Support ? AnswerJson(answer) : Vocabulary.AssistantChoice(answer);
            spans.Add(root);

            // Children run one after another inside the root; an ERROR trace stops at the failing child.
            int children = plan.Children.Length;
            int failAt = state == "ERROR" ? rng.Next(children) : -1;
            int handledErrorAt = state == "OK" && rng.NextDouble() < 0.12 ? FirstOf(plan.Children, "TOOL", "RETRIEVER") : -1;
            long slot = (root.End.Value - root.Start) / (children + 1);
            int inputTokens = 0, outputTokens = 0;
            for (int c = 0; c < children; c++)
            {
                var (name, type) = plan.Children[c];
                if (type == "RERANKER" && c != failAt && rng.NextDouble() < 0.5) continue;
                var s = new SpanData { SpanId = Vocabulary.Hex(rng, 8), ParentId = root.SpanId, Name = name, Type = type };
                s.Start = root.Start + slot * c + rng.Next(1000, 900_000);
                s.End = s.Start + slot - rng.Next(1000, 900_000);
                FillPayload(rng, s, question, answer, model, timeout, ref inputTokens, ref outputTokens);
                spans.Add(s);
                if (type == "TOOL" && rng.NextDouble() < 0.3)
                {
                    // A nested span under the tool, so traces are more than one level deep.
                    var http = new SpanData { SpanId = Vocabulary.Hex(rng, 8), ParentId = s.SpanId, Name = "http.get", Type = "UNKNOWN" };
                    http.Start = s.Start + 200_000;
                    http.End = s.End - 200_000;
                    http.InputsJson = "{\"url\": \"https://api.example.com/v1/" + name + "\"}";
                    http.OutputsJson = "{\"status_code\": 200}";
                    spans.Add(http);
                }
                if (c == failAt || c == handledErrorAt)
                {
                    var err = timeout ? Vocabulary.TimeoutError : Vocabulary.Pick(rng, Vocabulary.Errors);
                    s.Status = "ERROR"; s.ExceptionType = err.Type; s.Message = err.Message; s.OutputsJson = null;
                    if (c == failAt)
                    {
                        root.Status = "ERROR"; root.ExceptionType = err.Type; root.Message = err.Message; root.OutputsJson = null;
                        root.End = s.End + 300_000;
                        break;
                    }
                }
            }
            if (state == "IN_PROGRESS")
            {
                root.End = null; root.Status = "UNSET"; root.OutputsJson = null;
                var last = spans[spans.Count - 1];
                if (last != root) { last.End = null; last.Status = "UNSET"; last.OutputsJson = null; }
            }
            if (state == "STATE_UNSPECIFIED")
                foreach (var s in spans) if (s.Status == "OK") s.Status = "UNSET";

            var trace = new Trace
            {
                TraceId = traceId,
                ExperimentId = experimentId,
                State = state,
                TimestampMs = timestampMs,
                ExecutionTimeMs = state == "IN_PROGRESS" ? (long?)null : ((root.End ?? root.Start) - root.Start) / 1_000_000,
                ClientRequestId = rng.NextDouble() < 0.1 ? "req-" + Vocabulary.Hex(rng, 6) : null,
                RequestPreview = question,
                ResponsePreview = root.OutputsJson == null ? null : answer,
                Spans = new List<Span>(),
            };
            foreach (var s in spans) trace.Spans.Add(SpanJson.FromContent(traceId, SpanContent.Build(traceId, otelB64, s)));

            string user = Vocabulary.Pick(rng, Vocabulary.Users);
            trace.Tags["mlflow.traceName"] = root.Name;
            trace.Tags["mlflow.trace.spansLocation"] = "TRACKING_STORE";
            trace.Tags["mlflow.artifactLocation"] = $"mlflow-artifacts:/{experimentId}/traces/{traceId}/artifacts";
            double e = rng.NextDouble();
            trace.Tags["env"] = e < 0.45 ? "prod" : e < 0.75 ? "staging" : "dev";
            trace.Tags["mlflow.user"] = "svc-agent";
            if (rng.NextDouble() < 0.4) trace.Tags["team"] = Vocabulary.Pick(rng, new[] { "search", "support", "growth" });
            if (kind == Kind.Support) trace.Tags["mlflow.linkedPrompts"] = "[{\"name\": \"support-reply\", \"version\": \"3\"}]";

            trace.Metadata["mlflow.trace_schema.version"] = "3";
            trace.Metadata["mlflow.trace.session"] = Vocabulary.Pick(rng, sessions);
            trace.Metadata["mlflow.trace.user"] = user;
            trace.Metadata["mlflow.source.type"] = "LOCAL";
            string? run = rng.NextDouble() < 0.3 ? Vocabulary.Pick(rng, runs) : null;
            if (run != null) trace.Metadata["mlflow.sourceRun"] = run;
            if (rng.NextDouble() < 0.15) trace.Metadata["mlflow.modelId"] = "m-" + Vocabulary.Hex(rng, 16);
            trace.Metadata["mlflow.traceInputs"] = Preview(root.InputsJson!);
            if (root.OutputsJson != null) trace.Metadata["mlflow.traceOutputs"] = Preview(root.OutputsJson);
            if (inputTokens > 0 && state != "IN_PROGRESS") trace.Metadata["mlflow.trace.tokenUsage"] = Vocabulary.TokenUsage(inputTokens, outputTokens);
            if (state != "IN_PROGRESS") trace.Metadata["mlflow.trace.infoFinalized"] = "true";

            if (state != "IN_PROGRESS" && rng.NextDouble() < 0.6)
                AddAssessments(rng, trace, root.SpanId, run, answer, (root.End ?? root.Start) / 1_000_000);
            return trace;
        }

        private sealed class TracePlan
        {
            public string RootName = "", RootType = "";
            public (string Name, string Type)[] Children = Array.Empty<(string, string)>();
        }

        private static TracePlan Plan(Kind kind)
        {
            switch (kind)
            {
                case Kind.Rag:
                    return new TracePlan { RootName = "rag_pipeline", RootType = "CHAIN",
                        Children = new[] { ("embed_query", "EMBEDDING"), ("retrieve_docs", "RETRIEVER"), ("rerank", "RERANKER"), ("chat.completions.create", "LLM") } };
                case Kind.Agent:
                    return new TracePlan { RootName = "agent", RootType = "AGENT",
                        Children = new[] { ("plan", "CHAT_MODEL"), ("web_search", "TOOL"), ("run_sql_query", "TOOL"), ("respond", "LLM") } };
                case Kind.Chat:
                    return new TracePlan { RootName = "chat", RootType = "CHAIN", Children = new[] { ("chat.completions.create", "CHAT_MODEL") } };
                case Kind.Summarize:
                    return new TracePlan { RootName = "summarize_document", RootType = "CHAIN",
                        Children = new[] { ("parse_pdf", "PARSER"), ("summarize", "LLM") } };
                default:
                    return new TracePlan { RootName = "support_agent", RootType = "AGENT",
                        Children = new[] { ("load_history", "MEMORY"), ("get_customer_record", "TOOL"), ("messages.create", "LLM") } };
            }
        }

        private static int FirstOf((string Name, string Type)[] children, params string[] types)
        {
            for (int i = 0; i < children.Length; i++)
                if (Array.IndexOf(types, children[i].Type) >= 0) return i;
            return -1;
        }

        private static void FillPayload(Random rng, SpanData s, string question, string answer, (string Model, string Provider) model,
            bool timeout, ref int inputTokens, ref int outputTokens)
        {
            switch (s.Type)
            {
                case "EMBEDDING":
                    s.InputsJson = "{\"text\": " + Core.Json.PyJson.DumpString(question) + "}";
                    var emb = new StringBuilder("{\"embedding\": [");
                    for (int i = 0; i < 5; i++) emb.Append(i > 0 ? ", " : "").Append(Core.Json.PyJson.FloatRepr(Math.Round(rng.NextDouble() * 2 - 1, 6)));
                    s.OutputsJson = emb.Append("], \"dimensions\": 384}").ToString();
                    break;
                case "RETRIEVER":
                    // Two documents, not passed on to the LLM span: keeps the shipped file small.
                    s.InputsJson = "{\"query\": " + Core.Json.PyJson.DumpString(question) + ", \"top_k\": 2}";
                    s.OutputsJson = Vocabulary.RetrievedDocuments(rng, 2, null, out _);
                    break;
                case "RERANKER":
                    s.InputsJson = "{\"query\": " + Core.Json.PyJson.DumpString(question) + ", \"documents\": 3}";
                    s.OutputsJson = "{\"ranked\": [{\"index\": 0, \"score\": " + Core.Json.PyJson.FloatRepr(Math.Round(0.6 + rng.NextDouble() * 0.39, 2)) + "}, {\"index\": 2, \"score\": 0.41}]}";
                    break;
                case "TOOL":
                    s.InputsJson = "{\"tool\": " + Core.Json.PyJson.DumpString(s.Name) + ", \"arguments\": {\"query\": " + Core.Json.PyJson.DumpString(question) + "}}";
                    s.OutputsJson = timeout
                        ? "{\"result\": \"partial results: the upstream search hit a timeout after 30s\"}"
                        : "{\"result\": " + Core.Json.PyJson.DumpString(Vocabulary.Pick(rng, Vocabulary.DocSnippets)) + "}";
                    break;
                case "PARSER":
                    s.InputsJson = "{\"path\": \"s3://docs/contracts/" + Vocabulary.Hex(rng, 3) + ".pdf\"}";
                    s.OutputsJson = "{\"pages\": " + rng.Next(1, 40).ToString(CultureInfo.InvariantCulture) + ", \"text\": " + Core.Json.PyJson.DumpString(Vocabulary.Pick(rng, Vocabulary.DocSnippets)) + "}";
                    break;
                case "MEMORY":
                    s.InputsJson = "{\"operation\": \"load\", \"max_turns\": 10}";
                    s.OutputsJson = "{\"history_turns\": " + rng.Next(0, 10).ToString(CultureInfo.InvariantCulture) + "}";
                    break;
                case "LLM":
                case "CHAT_MODEL":
                    int inTok = 40 + rng.Next(0, 900), outTok = 20 + rng.Next(0, 400);
                    inputTokens += inTok; outputTokens += outTok;
                    s.InputsJson = "{\"messages\": [{\"role\": \"user\", \"content\": " + Core.Json.PyJson.DumpString(question) + "}], \"model\": " + Core.Json.PyJson.DumpString(model.Model) + "}";
                    s.OutputsJson = Vocabulary.AssistantChoice(answer);
                    s.Extra.Add(new KeyValuePair<string, string>("mlflow.chat.tokenUsage", Vocabulary.TokenUsage(inTok, outTok)));
                    s.Extra.Add(new KeyValuePair<string, string>("mlflow.llm.model", Core.Json.PyJson.DumpString(model.Model)));
                    s.Extra.Add(new KeyValuePair<string, string>("mlflow.llm.provider", Core.Json.PyJson.DumpString(model.Provider)));
                    break;
            }
        }

        private static string QueryJson(string question) => "{\"query\": " + Core.Json.PyJson.DumpString(question) + "}";
        private static string AnswerJson(string answer) => "{\"answer\": " + Core.Json.PyJson.DumpString(answer) + "}";

        /// <summary>MLflow keeps the first 250 characters of the root inputs and outputs in metadata.</summary>
        private static string Preview(string json) => json.Length <= 250 ? json : json.Substring(0, 247) + "...";

        private static void AddAssessments(Random rng, Trace trace, string rootSpanId, string? run, string answer, long endMs)
        {
            int n = 1 + rng.Next(3);
            var used = new HashSet<int>();
            for (int k = 0; k < n; k++)
            {
                int which = rng.Next(8);
                if (!used.Add(which)) continue;
                long created = endMs + rng.Next(1_000, 600_000);
                var a = new Assessment
                {
                    AssessmentId = "a-" + Vocabulary.Hex(rng, 16),
                    TraceId = trace.TraceId,
                    CreatedTimestampMs = created,
                    LastUpdatedTimestampMs = created,
                };
                string judgeRunMetadata = run == null ? null! : "{\"mlflow.assessment.sourceRunId\": " + Core.Json.PyJson.DumpString(run) + "}";
                switch (which)
                {
                    case 0:
                    case 1:
                        bool correct = rng.NextDouble() < 0.7;
                        Judge(a, "correctness", correct ? "true" : "false", run, judgeRunMetadata,
                            correct ? "The response matches the expected facts." : "The response contradicts the retrieved context.");
                        a.SpanId = rootSpanId;
                        trace.Assessments.Add(a);
                        if (which == 1 && rng.NextDouble() < 0.5)
                        {
                            // A human correction that overrides the judge's verdict.
                            a.Valid = false;
                            var human = new Assessment
                            {
                                AssessmentId = "a-" + Vocabulary.Hex(rng, 16), TraceId = trace.TraceId, Name = "correctness",
                                AssessmentType = "feedback", Value = correct ? "false" : "true", SourceType = "HUMAN",
                                SourceId = Vocabulary.Pick(rng, Vocabulary.Users), Rationale = "Checked manually against the source document.",
                                Overrides = a.AssessmentId, CreatedTimestampMs = created + 3_600_000, LastUpdatedTimestampMs = created + 3_600_000,
                            };
                            trace.Assessments.Add(human);
                        }
                        continue;
                    case 2:
                        Judge(a, "relevance", Core.Json.PyJson.FloatRepr(Math.Round(rng.NextDouble(), 2)), run, judgeRunMetadata, "Scored by the relevance judge.");
                        break;
                    case 3:
                        Human(rng, a, "feedback", "helpfulness", (1 + rng.Next(5)).ToString(CultureInfo.InvariantCulture));
                        break;
                    case 4:
                        Human(rng, a, "feedback", "tone", Core.Json.PyJson.DumpString(Vocabulary.Pick(rng, new[] { "friendly", "neutral", "curt" })));
                        a.Rationale = "Reviewed in the weekly quality session.";
                        break;
                    case 5:
                        Human(rng, a, "expectation", "expected_response", Core.Json.PyJson.DumpString(answer));
                        break;
                    case 6:
                        Human(rng, a, "expectation", "expected_facts", "[\"cites a source\", \"answers in under 100 words\"]");
                        break;
                    default:
                        // A judge that failed: no value, an error instead.
                        Judge(a, "groundedness", "null", run, judgeRunMetadata, null);
                        a.Error = "{\"error_code\": \"RATE_LIMIT_EXCEEDED\", \"error_message\": \"Rate limit for the judge model exceeded.\", \"stack_trace\": null}";
                        break;
                }
                trace.Assessments.Add(a);
            }
        }

        private static void Judge(Assessment a, string name, string value, string? run, string? metadata, string? rationale)
        {
            a.Name = name; a.AssessmentType = "feedback"; a.Value = value;
            a.SourceType = "LLM_JUDGE"; a.SourceId = "judges/" + name; a.Rationale = rationale;
            a.Metadata = metadata; a.RunId = run;
        }

        private static void Human(Random rng, Assessment a, string type, string name, string value)
        {
            a.Name = name; a.AssessmentType = type; a.Value = value;
            a.SourceType = "HUMAN"; a.SourceId = Vocabulary.Pick(rng, Vocabulary.Users);
        }
    }
}
