using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Store;

namespace MlTraces.Generator
{
    /// <summary>
    /// A large benchmark store in MLflow's newest layout. Per trace: 3 spans (root CHAIN/AGENT, a RETRIEVER or TOOL,
    /// an LLM) of about 1-2 KB of content each, 5 tags, 10 metadata entries and 1 assessment. Known shares, counted
    /// exactly and printed: status ERROR ~5%, tag env = 'prod' ~1/3, an LLM span with ERROR status in ~2% of traces,
    /// the word "timeout" in the span contents of ~1%, IN_PROGRESS ~0.5%. Timestamps spread over 90 days.
    ///
    /// Speed: one thread builds traces while the other inserts them with reused multi-row statements; journal off,
    /// no fsync, foreign-key checks off, a large page cache, and the secondary indexes with random keys dropped during
    /// the load and created again afterwards from their own stored SQL, so the final schema is exactly what it was.
    /// Trace ids stay random and rows go in in time order, as in a real store, so the random-key primary-key indexes
    /// are the main cost; one transaction (the default --batch) writes their pages once instead of at every commit.
    /// </summary>
    internal static class StoreGenerator
    {
        private const int ChunkSize = 5_000;
        private static readonly DateTime Start = new DateTime(2025, 10, 2, 0, 0, 0, DateTimeKind.Utc);
        private const long SpreadMs = 90L * 24 * 3600 * 1000;

        private sealed class SpanRow
        {
            public SpanData Span = new SpanData();
            public string Content = "";
            public string? Dimensions;
        }

        private sealed class TraceRow
        {
            public string Id = "";
            public int Experiment;
            public long TimestampMs;
            public long? DurationMs;
            public string Status = "OK";
            public string RequestPreview = "";
            public string? ResponsePreview;
            public string[] Tags = new string[5];
            public string[] Metadata = new string[10];
            public string AssessmentId = "", AssessmentName = "", AssessmentType = "", AssessmentValue = "", SourceType = "", SourceId = "";
            public string? AssessmentRationale, AssessmentMetadata, AssessmentRunId;
            public SpanRow[] Spans = { new SpanRow(), new SpanRow(), new SpanRow() };
        }

        private static readonly string[] TagKeys = { "mlflow.traceName", "mlflow.trace.spansLocation", "mlflow.artifactLocation", "env", "mlflow.user" };
        private static readonly string[] MetadataKeys =
        {
            "mlflow.trace_schema.version", "mlflow.trace.session", "mlflow.trace.user", "mlflow.sourceRun", "mlflow.traceInputs",
            "mlflow.traceOutputs", "mlflow.trace.tokenUsage", "mlflow.trace.sizeBytes", "mlflow.trace.infoFinalized", "mlflow.source.type",
        };

        private sealed class Counts
        {
            public long Traces, Spans, Tags, Metadata, Assessments, Error, InProgress, Prod, LlmError, Timeout, ContentChars;
        }

        public static int Run(string outPath, long traces, int experiments, int seed, int batch, bool force)
        {
            var total = Stopwatch.StartNew();
            string full = Path.GetFullPath(outPath);
            if (File.Exists(full))
            {
                if (!force) { Console.Error.WriteLine($"{full} exists; pass --force to replace it."); return 2; }
                File.Delete(full);
                foreach (var extra in new[] { "-journal", "-wal", "-shm" }) if (File.Exists(full + extra)) File.Delete(full + extra);
            }
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            string artifactRoot = Path.Combine(Path.GetDirectoryName(full)!, "mlruns");
            var uri = TrackingUri.Parse(full, Directory.GetCurrentDirectory());

            using var store = TraceStore.Create(uri, new Uri(Path.Combine(artifactRoot, "0")).AbsoluteUri);
            var connection = (SqliteConnection)store.Connection;
            AddExperiments(connection, experiments, artifactRoot);

            Exec(connection, "PRAGMA foreign_keys = OFF; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; " +
                             "PRAGMA cache_size = -2000000; PRAGMA temp_store = MEMORY; PRAGMA locking_mode = EXCLUSIVE;");
            var indexes = DropSecondaryIndexes(connection);

            var counts = new Counts();
            var queue = new BlockingCollection<TraceRow[]>(boundedCapacity: 4);
            long chunks = (traces + ChunkSize - 1) / ChunkSize;
            var producer = Task.Run(() =>
            {
                try
                {
                    var sb = new StringBuilder(4096);
                    for (long c = 0; c < chunks; c++)
                    {
                        int n = (int)Math.Min(ChunkSize, traces - c * ChunkSize);
                        queue.Add(MakeChunk(seed, c, n, traces, experiments, sb));
                    }
                }
                finally { queue.CompleteAdding(); }
            });

            var load = Stopwatch.StartNew();
            TimeSpan waitTime;
            using (var writer = new BulkWriter(connection))
            {
                SqliteTransaction? tx = null;
                long inTx = 0, lastReport = 0;
                var waited = new Stopwatch();
                while (true)
                {
                    waited.Start();
                    bool more = queue.TryTake(out var chunk, Timeout.Infinite);
                    waited.Stop();
                    if (!more || chunk == null) break;
                    if (tx == null) { tx = connection.BeginTransaction(); writer.Use(tx); }
                    foreach (var t in chunk) { writer.Write(t); Count(counts, t); }
                    inTx += chunk.Length;
                    if (inTx >= batch) { tx.Commit(); tx.Dispose(); tx = null; inTx = 0; }
                    if (counts.Traces - lastReport >= 100_000)
                    {
                        lastReport = counts.Traces;
                        Console.WriteLine($"  {counts.Traces:N0} traces, {load.Elapsed.TotalSeconds:F0} s");
                    }
                }
                if (tx != null) { tx.Commit(); tx.Dispose(); }
                waitTime = waited.Elapsed;
            }
            producer.GetAwaiter().GetResult();
            var loadTime = load.Elapsed;

            var indexTime = Stopwatch.StartNew();
            foreach (var sql in indexes) Exec(connection, sql);
            Exec(connection, "PRAGMA journal_mode = DELETE;");
            indexTime.Stop();
            store.Dispose();
            total.Stop();

            long bytes = new FileInfo(full).Length;
            string summary = Summary(full, counts, experiments, seed, bytes, loadTime, waitTime, indexTime.Elapsed, total.Elapsed);
            Console.WriteLine(summary);
            File.WriteAllText(full + ".summary.txt", summary + "\n");
            return 0;
        }

        private static string Summary(string path, Counts c, int experiments, int seed, long bytes, TimeSpan load, TimeSpan wait, TimeSpan index, TimeSpan total)
        {
            string Pct(long n) => (100.0 * n / Math.Max(1, c.Traces)).ToString("F2", CultureInfo.InvariantCulture) + "%";
            var sb = new StringBuilder();
            sb.AppendLine($"Wrote {path}");
            sb.AppendLine($"  traces {c.Traces:N0} in experiments 1..{experiments} (seed {seed}); spans {c.Spans:N0}; tags {c.Tags:N0}; metadata {c.Metadata:N0}; assessments {c.Assessments:N0}");
            sb.AppendLine($"  status = 'ERROR': {c.Error:N0} ({Pct(c.Error)}); IN_PROGRESS: {c.InProgress:N0} ({Pct(c.InProgress)})");
            sb.AppendLine($"  tag env = 'prod': {c.Prod:N0} ({Pct(c.Prod)})");
            sb.AppendLine($"  traces with an LLM span in ERROR: {c.LlmError:N0} ({Pct(c.LlmError)})");
            sb.AppendLine($"  traces with 'timeout' in span content: {c.Timeout:N0} ({Pct(c.Timeout)})");
            sb.AppendLine($"  average span content {c.ContentChars / Math.Max(1, c.Spans):N0} chars");
            sb.Append($"  file {bytes / 1048576.0:N0} MiB; load {load.TotalSeconds:F1} s (of which {wait.TotalSeconds:F1} s waiting for generated traces), indexes {index.TotalSeconds:F1} s, total {total.TotalSeconds:F1} s");
            return sb.ToString();
        }

        private static void Count(Counts c, TraceRow t)
        {
            c.Traces++; c.Spans += 3; c.Tags += 5; c.Metadata += 10; c.Assessments++;
            if (t.Status == "ERROR") c.Error++;
            if (t.Status == "IN_PROGRESS") c.InProgress++;
            if (t.Tags[3] == "prod") c.Prod++;
            if (t.Spans[2].Span.Status == "ERROR") c.LlmError++;
            bool timeout = false;
            foreach (var s in t.Spans)
            {
                c.ContentChars += s.Content.Length;
                if (s.Content.IndexOf("timeout", StringComparison.Ordinal) >= 0) timeout = true;
            }
            if (timeout) c.Timeout++;
        }

        private static void AddExperiments(SqliteConnection connection, int experiments, string artifactRoot)
        {
            long now = new DateTimeOffset(Start.AddDays(-1)).ToUnixTimeMilliseconds();
            using var tx = connection.BeginTransaction();
            using var cmd = connection.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) " +
                              "VALUES (@id, @name, @loc, 'active', @now, @now, 'default')";
            var id = cmd.Parameters.Add("@id", SqliteType.Integer);
            var name = cmd.Parameters.Add("@name", SqliteType.Text);
            var loc = cmd.Parameters.Add("@loc", SqliteType.Text);
            TraceStore.AddParameter(cmd, "@now", now);
            for (int e = 1; e <= experiments; e++)
            {
                id.Value = e;
                name.Value = "bench-" + e.ToString(CultureInfo.InvariantCulture);
                loc.Value = new Uri(Path.Combine(artifactRoot, e.ToString(CultureInfo.InvariantCulture))).AbsoluteUri;
                cmd.ExecuteNonQuery();
            }
            tx.Commit();
        }

        // Indexes whose keys arrive in random order (trace ids, durations) are cheaper to build once after the load by
        // sorting; the others (experiment, status, type, timestamps that grow) only ever append and stay in place.
        private static readonly string[] DeferredIndexes =
        {
            "index_trace_tags_request_id", "index_trace_request_metadata_request_id",
            "index_assessments_trace_id_created_timestamp", "index_spans_experiment_id_duration",
        };

        /// <summary>Drops the deferred indexes and returns their CREATE statements exactly as the schema stored them.</summary>
        private static List<string> DropSecondaryIndexes(SqliteConnection connection)
        {
            var result = new List<(string Name, string Sql)>();
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND name IN ('" +
                                  string.Join("', '", DeferredIndexes) + "') ORDER BY rowid";
                using var reader = cmd.ExecuteReader();
                while (reader.Read()) result.Add((reader.GetString(0), reader.GetString(1)));
            }
            foreach (var (name, _) in result) Exec(connection, $"DROP INDEX \"{name}\"");
            return result.ConvertAll(r => r.Sql);
        }

        private static void Exec(SqliteConnection connection, string sql)
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }

        // ------------------------------------------------------------------ making traces

        private static TraceRow[] MakeChunk(int seed, long chunk, int n, long total, int experiments, StringBuilder sb)
        {
            // Each chunk has its own seeded generator, so the store is the same however the work is scheduled.
            var rng = new Random(unchecked(seed * 1_000_003 + (int)chunk * 7_919));
            long startMs = new DateTimeOffset(Start).ToUnixTimeMilliseconds();
            var rows = new TraceRow[n];
            for (int i = 0; i < n; i++)
            {
                long index = chunk * ChunkSize + i;
                long ts = startMs + SpreadMs * index / total + rng.Next(0, (int)Math.Max(1, Math.Min(int.MaxValue, SpreadMs / total)));
                rows[i] = MakeTrace(rng, ts, experiments, sb);
            }
            return rows;
        }

        private static TraceRow MakeTrace(Random rng, long timestampMs, int experiments, StringBuilder sb)
        {
            var t = new TraceRow();
            string otelHex = Vocabulary.Hex(rng, 16);
            t.Id = "tr-" + otelHex;
            string otelB64 = SpanContent.HexToBase64(otelHex);
            t.Experiment = 1 + rng.Next(experiments);
            t.TimestampMs = timestampMs;

            bool error = rng.NextDouble() < 0.05;
            bool llmError = rng.NextDouble() < 0.02;
            bool inProgress = !error && rng.NextDouble() < 0.005;
            bool timeout = rng.NextDouble() < 0.01;
            bool rag = rng.Next(2) == 0;
            t.Status = error ? "ERROR" : inProgress ? "IN_PROGRESS" : "OK";

            string question = Vocabulary.Pick(rng, Vocabulary.Questions);
            string answer = Vocabulary.Answer(rng);
            var model = Vocabulary.Pick(rng, Vocabulary.Models);
            long durationMs = rng.NextDouble() < 0.02 ? 20_000 + rng.Next(0, 40_000) : 200 + rng.Next(0, 5_000);

            var root = t.Spans[0].Span;
            var step = t.Spans[1].Span;
            var llm = t.Spans[2].Span;
            root.SpanId = Vocabulary.Hex(rng, 8);
            root.Name = rag ? "rag_pipeline" : "agent";
            root.Type = rag ? "CHAIN" : "AGENT";
            root.Start = timestampMs * 1_000_000 + rng.Next(0, 1000) * 1000L;
            root.End = root.Start + durationMs * 1_000_000;
            root.InputsJson = Vocabulary.UserMessages(question);
            root.OutputsJson = Vocabulary.AssistantChoice(answer);

            long third = durationMs * 1_000_000 / 3;
            step.SpanId = Vocabulary.Hex(rng, 8);
            step.ParentId = root.SpanId;
            step.Start = root.Start + rng.Next(100_000, 2_000_000);
            step.End = step.Start + third;
            string[]? context = null;
            if (rag)
            {
                step.Name = "retrieve_docs"; step.Type = "RETRIEVER";
                step.InputsJson = "{\"query\": " + Core.Json.PyJson.DumpString(question) + ", \"top_k\": 3}";
                step.OutputsJson = Vocabulary.RetrievedDocuments(rng, 3,
                    timeout ? "Partial results only: the vector index hit a timeout on shard 4, so 1 of 5 shards did not answer." : null, out context);
            }
            else
            {
                string tool = Vocabulary.Pick(rng, Vocabulary.Tools);
                step.Name = tool; step.Type = "TOOL";
                step.InputsJson = "{\"tool\": " + Core.Json.PyJson.DumpString(tool) + ", \"arguments\": {\"query\": " + Core.Json.PyJson.DumpString(question) + ", \"limit\": 5}}";
                step.OutputsJson = "{\"result\": " + Core.Json.PyJson.DumpString(timeout
                    ? "Partial results: the upstream search hit a timeout after 30s. " + Vocabulary.Pick(rng, Vocabulary.DocSnippets)
                    : Vocabulary.Pick(rng, Vocabulary.DocSnippets) + " " + Vocabulary.Pick(rng, Vocabulary.DocSnippets)) + "}";
            }

            int inTok = 200 + rng.Next(0, 1500), outTok = 30 + rng.Next(0, 500);
            llm.SpanId = Vocabulary.Hex(rng, 8);
            llm.ParentId = root.SpanId;
            llm.Name = model.Provider == "anthropic" ? "messages.create" : "chat.completions.create";
            llm.Type = "LLM";
            llm.Start = step.End.Value + rng.Next(100_000, 2_000_000);
            llm.End = root.End.Value - rng.Next(100_000, 1_000_000);
            llm.InputsJson = Vocabulary.LlmInputs(rng, question, model.Model, context);
            llm.OutputsJson = Vocabulary.LlmOutputs(answer, model.Model, inTok, outTok);
            llm.Extra.Add(new KeyValuePair<string, string>("mlflow.chat.tokenUsage", Vocabulary.TokenUsage(inTok, outTok)));
            llm.Extra.Add(new KeyValuePair<string, string>("mlflow.llm.model", Core.Json.PyJson.DumpString(model.Model)));
            llm.Extra.Add(new KeyValuePair<string, string>("mlflow.llm.provider", Core.Json.PyJson.DumpString(model.Provider)));
            llm.LlmModel = model.Model; llm.LlmProvider = model.Provider;

            if (llmError)
            {
                var e = Vocabulary.Errors[rng.Next(2)];
                Fail(llm, e.Type, e.Message);
            }
            if (error)
            {
                // The trace fails at the retrieval / tool step, unless its LLM call already failed.
                if (!llmError)
                {
                    var e = timeout ? Vocabulary.TimeoutError : Vocabulary.Pick(rng, Vocabulary.Errors);
                    Fail(step, e.Type, e.Message);
                }
                Fail(root, llmError ? llm.ExceptionType! : step.ExceptionType!, llmError ? llm.Message : step.Message);
            }
            if (inProgress)
            {
                root.End = null; root.Status = "UNSET"; root.OutputsJson = null;
                if (!llmError) { llm.End = null; llm.Status = "UNSET"; llm.OutputsJson = null; }
            }
            t.DurationMs = root.End.HasValue ? (root.End.Value - root.Start) / 1_000_000 : (long?)null;
            t.RequestPreview = question;
            t.ResponsePreview = root.OutputsJson == null ? null : answer;

            long size = 0;
            foreach (var s in t.Spans)
            {
                s.Content = SpanContent.Build(t.Id, otelB64, s.Span, sb);
                size += s.Content.Length;
            }
            t.Spans[2].Dimensions = "{\"mlflow.llm.model\": " + Core.Json.PyJson.DumpString(model.Model) + ", \"mlflow.llm.provider\": " + Core.Json.PyJson.DumpString(model.Provider) + "}";

            t.Tags[0] = root.Name;
            t.Tags[1] = "TRACKING_STORE";
            t.Tags[2] = "mlflow-artifacts:/" + t.Experiment.ToString(CultureInfo.InvariantCulture) + "/traces/" + t.Id + "/artifacts";
            int env = rng.Next(3);
            t.Tags[3] = env == 0 ? "prod" : env == 1 ? "staging" : "dev";
            t.Tags[4] = "svc-agent";

            string user = "user-" + rng.Next(500).ToString("000", CultureInfo.InvariantCulture) + "@example.com";
            string run = RunId(rng.Next(200));
            t.Metadata[0] = "3";
            t.Metadata[1] = "session-" + rng.Next(50_000).ToString("00000", CultureInfo.InvariantCulture);
            t.Metadata[2] = user;
            t.Metadata[3] = run;
            t.Metadata[4] = Preview(root.InputsJson);
            t.Metadata[5] = root.OutputsJson == null ? "" : Preview(root.OutputsJson);
            t.Metadata[6] = Vocabulary.TokenUsage(inTok, outTok);
            t.Metadata[7] = size.ToString(CultureInfo.InvariantCulture);
            t.Metadata[8] = inProgress ? "false" : "true";
            t.Metadata[9] = "LOCAL";

            t.AssessmentId = "a-" + Vocabulary.Hex(rng, 16);
            double a = rng.NextDouble();
            if (a < 0.4)
            {
                bool correct = rng.NextDouble() < 0.8;
                Judge(t, "correctness", correct ? "true" : "false", run, correct ? "The response is supported by the context." : "The response contradicts the context.");
            }
            else if (a < 0.7)
                Judge(t, "relevance", Core.Json.PyJson.FloatRepr(Math.Round(rng.NextDouble(), 2)), run, "Scored by the relevance judge.");
            else if (a < 0.9)
            {
                t.AssessmentName = "helpfulness"; t.AssessmentType = "feedback";
                t.AssessmentValue = (1 + rng.Next(5)).ToString(CultureInfo.InvariantCulture);
                t.SourceType = "HUMAN"; t.SourceId = user;
            }
            else
            {
                t.AssessmentName = "expected_response"; t.AssessmentType = "expectation";
                t.AssessmentValue = Core.Json.PyJson.DumpString(answer);
                t.SourceType = "HUMAN"; t.SourceId = user;
            }
            return t;
        }

        private static void Judge(TraceRow t, string name, string value, string run, string rationale)
        {
            t.AssessmentName = name; t.AssessmentType = "feedback"; t.AssessmentValue = value;
            t.SourceType = "LLM_JUDGE"; t.SourceId = "judges/" + name; t.AssessmentRationale = rationale;
            t.AssessmentMetadata = "{\"mlflow.assessment.sourceRunId\": \"" + run + "\"}";
            t.AssessmentRunId = run;
        }

        private static void Fail(SpanData s, string type, string message)
        {
            s.Status = "ERROR"; s.ExceptionType = type; s.Message = message; s.OutputsJson = null;
        }

        private static string RunId(int i) => "0000000000000000000000000000" + i.ToString("x4", CultureInfo.InvariantCulture);

        private static string Preview(string json) => json.Length <= 250 ? json : json.Substring(0, 247) + "...";

        // ------------------------------------------------------------------ writing

        /// <summary>Prepared multi-row inserts: one statement per table per trace, the constant keys inlined.</summary>
        private sealed class BulkWriter : IDisposable
        {
            private readonly SqliteCommand _info, _tags, _metadata, _assessment, _spans;
            private readonly SqliteParameter[] _infoP, _tagsP, _metadataP, _assessmentP, _spansP;

            public BulkWriter(SqliteConnection connection)
            {
                (_info, _infoP) = Make(connection, "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, request_preview, response_preview) VALUES (@p0, @p1, @p2, @p3, @p4, NULL, @p5, @p6)", 7);
                (_tags, _tagsP) = Make(connection, "INSERT INTO trace_tags (key, value, request_id) VALUES " + KeyRows(TagKeys), TagKeys.Length + 1);
                (_metadata, _metadataP) = Make(connection, "INSERT INTO trace_request_metadata (key, value, request_id) VALUES " + KeyRows(MetadataKeys), MetadataKeys.Length + 1);
                (_assessment, _assessmentP) = Make(connection, "INSERT INTO assessments (assessment_id, trace_id, name, assessment_type, value, error, created_timestamp, last_updated_timestamp, source_type, source_id, run_id, span_id, rationale, overrides, valid, assessment_metadata) " +
                    "VALUES (@p0, @p1, @p2, @p3, @p4, NULL, @p5, @p5, @p6, @p7, @p8, @p9, @p10, NULL, 1, @p11)", 12);
                var rows = new List<string>();
                for (int s = 0; s < 3; s++)
                {
                    int b = 2 + s * 9;
                    rows.Add($"(@p0, @p1, @p{b}, @p{b + 1}, @p{b + 2}, @p{b + 3}, @p{b + 4}, @p{b + 5}, @p{b + 6}, @p{b + 7}, @p{b + 8})");
                }
                (_spans, _spansP) = Make(connection, "INSERT INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content, dimension_attributes) VALUES " + string.Join(", ", rows), 2 + 3 * 9);
            }

            // The last parameter is the trace id; the others are the values in key order.
            private static string KeyRows(string[] keys)
            {
                var rows = new List<string>();
                for (int i = 0; i < keys.Length; i++) rows.Add($"('{keys[i]}', @p{i}, @p{keys.Length})");
                return string.Join(", ", rows);
            }

            private static (SqliteCommand, SqliteParameter[]) Make(SqliteConnection connection, string sql, int count)
            {
                var cmd = connection.CreateCommand();
                cmd.CommandText = sql;
                var ps = new SqliteParameter[count];
                // No declared type: each value binds as what it is (integer, text or NULL).
                for (int i = 0; i < count; i++) { ps[i] = new SqliteParameter("@p" + i.ToString(CultureInfo.InvariantCulture), null); cmd.Parameters.Add(ps[i]); }
                return (cmd, ps);
            }

            public void Use(SqliteTransaction tx)
            {
                foreach (var c in new[] { _info, _tags, _metadata, _assessment, _spans }) c.Transaction = tx;
            }

            private static object V(object? v) => v ?? DBNull.Value;

            public void Write(TraceRow t)
            {
                _infoP[0].Value = t.Id; _infoP[1].Value = t.Experiment; _infoP[2].Value = t.TimestampMs; _infoP[3].Value = V(t.DurationMs);
                _infoP[4].Value = t.Status; _infoP[5].Value = t.RequestPreview; _infoP[6].Value = V(t.ResponsePreview);
                _info.ExecuteNonQuery();

                for (int i = 0; i < t.Tags.Length; i++) _tagsP[i].Value = t.Tags[i];
                _tagsP[t.Tags.Length].Value = t.Id;
                _tags.ExecuteNonQuery();

                for (int i = 0; i < t.Metadata.Length; i++) _metadataP[i].Value = t.Metadata[i];
                _metadataP[t.Metadata.Length].Value = t.Id;
                _metadata.ExecuteNonQuery();

                var a = _assessmentP;
                a[0].Value = t.AssessmentId; a[1].Value = t.Id; a[2].Value = t.AssessmentName; a[3].Value = t.AssessmentType;
                a[4].Value = t.AssessmentValue; a[5].Value = (t.Spans[0].Span.End ?? t.Spans[0].Span.Start) / 1_000_000 + 5_000;
                a[6].Value = t.SourceType; a[7].Value = t.SourceId; a[8].Value = V(t.AssessmentRunId); a[9].Value = t.Spans[0].Span.SpanId;
                a[10].Value = V(t.AssessmentRationale); a[11].Value = V(t.AssessmentMetadata);
                _assessment.ExecuteNonQuery();

                _spansP[0].Value = t.Id; _spansP[1].Value = t.Experiment;
                for (int s = 0; s < 3; s++)
                {
                    var row = t.Spans[s];
                    var p = 2 + s * 9;
                    _spansP[p].Value = row.Span.SpanId; _spansP[p + 1].Value = V(row.Span.ParentId); _spansP[p + 2].Value = row.Span.Name;
                    _spansP[p + 3].Value = row.Span.Type; _spansP[p + 4].Value = row.Span.Status; _spansP[p + 5].Value = row.Span.Start;
                    _spansP[p + 6].Value = V(row.Span.End); _spansP[p + 7].Value = row.Content; _spansP[p + 8].Value = V(row.Dimensions);
                }
                _spans.ExecuteNonQuery();
            }

            public void Dispose()
            {
                foreach (var c in new[] { _info, _tags, _metadata, _assessment, _spans }) c.Dispose();
            }
        }
    }
}
