using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Store
{
    /// <summary>
    /// Writes and deletes on MLflow's analytics layout (75868b020152, MLflow 3.17+) as MLflow's store makes them:
    /// Import-Trace fills trace_info's promoted columns as start_trace does (analytics_columns_from_metadata in
    /// mlflow/store/tracking/utils/trace_analytics.py) without the tag and metadata rows, the assessment columns as
    /// assessment_aggregate, and the span cost and model columns from the span's attributes; Remove-Trace removes the
    /// review-queue items of deleted traces (_delete_traces, PR #23913) and marks the affected rollup days stale
    /// (enqueue_rollup_rebuild_partitions, mlflow/store/tracking/utils/sql_trace_rollups.py).
    /// </summary>
    public class AnalyticsWriteTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static List<string> Rows(TestStore ts, string sql)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command(sql);
            using var r = cmd.ExecuteReader();
            var rows = new List<string>();
            while (r.Read())
                rows.Add(string.Join("|", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "NULL"
                    : r.GetValue(i) is DateTime d ? d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
                    : r.GetValue(i) is bool b ? (b ? "1" : "0")
                    : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture))));
            return rows;
        }

        private static void Exec(TestStore ts, string sql)
        {
            using var c = TraceStore.OpenConnection(ts.Uri, StoreAccess.ReadWrite);
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }

        private const string Promoted = "SELECT request_id, trace_name, session_id, input_tokens, output_tokens, total_tokens, cache_read_input_tokens, " +
            "cache_creation_input_tokens, input_cost, output_cost, total_cost FROM trace_info ORDER BY request_id";
        private const string AssessmentColumns = "SELECT assessment_id, experiment_id, trace_timestamp_ms, aggregate_value, is_numeric_value FROM assessments ORDER BY assessment_id";
        private const string SpanModels = "SELECT trace_id, span_id, model_name, model_provider FROM spans ORDER BY trace_id, span_id";

        private static string ExportAll(TestStore ts, PsShell sh)
        {
            var ids = Rows(ts, "SELECT request_id FROM trace_info ORDER BY request_id");
            var r = sh.Run("$ids | Get-Trace -WarningAction SilentlyContinue | Export-Trace -Path all.jsonl", new Dictionary<string, object?> { ["ids"] = ids.ToArray() });
            Assert.Empty(r.Errors);
            return Path.Combine(ts.Folder, "all.jsonl");
        }

        private static void EmptyTraces(TestStore ts) =>
            Exec(ts, "DELETE FROM span_metrics; DELETE FROM spans; DELETE FROM assessments; DELETE FROM trace_tags; DELETE FROM trace_request_metadata; " +
                     "DELETE FROM trace_metrics; DELETE FROM entity_associations; DELETE FROM trace_info; DELETE FROM sql_trace_rollup_rebuild_queue");

        /// <summary>Export, empty, import: the promoted columns, the assessment columns and the span model columns
        /// come back as the store built from MLflow's migration had them (written independently by GeneratedStores),
        /// and no tag or metadata row holds the name, session, token usage or cost.</summary>
        [Fact]
        public void ImportFillsTheColumnsAsStartTraceDoesAndWritesNoLegacyRows()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            var promoted = Rows(ts, Promoted);
            var assessments = Rows(ts, AssessmentColumns);
            var models = Rows(ts, SpanModels);
            Assert.Contains(promoted, r => !r.Contains("|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL"));
            using var sh = AnalyticsLayoutTests.Shell(ts);
            string file = ExportAll(ts, sh);
            EmptyTraces(ts);
            var r = sh.Run("Import-Trace -Path $f", new Dictionary<string, object?> { ["f"] = file });
            Assert.True(r.Errors.Count == 0, string.Join("\n", r.Errors.Take(3)));
            Assert.Equal(promoted, Rows(ts, Promoted));
            Assert.Equal(assessments, Rows(ts, AssessmentColumns));
            Assert.Equal(models, Rows(ts, SpanModels));
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_tags WHERE \"key\" = 'mlflow.traceName'"));
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_request_metadata WHERE \"key\" IN ('mlflow.trace.session', 'mlflow.trace.tokenUsage', 'mlflow.trace.cost')"));
            Assert.True(ts.Scalar("SELECT count(*) FROM trace_request_metadata") > 0);
        }

        /// <summary>The conversions of analytics_columns_from_metadata and the span columns: token counts through
        /// token_count_or_none (50.0 and "7" are 50 and 7; a boolean, 1.5 and a number past BIGINT are NULL), costs
        /// through finite_float_or_none, a key missing from the JSON leaves its column NULL; the span's
        /// mlflow.llm.cost gives its cost columns and a model name is cut to 500 characters
        /// (bounded_model_dimension). An unparseable token usage sets no column and, as in MLflow, is not kept.</summary>
        [Fact]
        public void ImportConvertsValuesAsMlflowDoes()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            using var sh = AnalyticsLayoutTests.Shell(ts);
            string file = ExportAll(ts, sh);
            var lines = File.ReadAllLines(file);
            var first = JsonNode.Parse(lines[0])!;
            string id = (string)first["info"]!["trace_id"]!;
            var meta = first["info"]!["trace_metadata"]!.AsObject();
            meta["mlflow.trace.tokenUsage"] = "{\"input_tokens\": 50.0, \"output_tokens\": \"7\", \"total_tokens\": true, \"cache_read_input_tokens\": 1.5, \"cache_creation_input_tokens\": 1e30}";
            meta["mlflow.trace.cost"] = "{\"total_cost\": 1, \"input_cost\": \"0.25\"}";
            meta["mlflow.trace.session"] = "s-new";
            var span = first["data"]!["spans"]![0]!["attributes"]!.AsObject();
            span["mlflow.llm.cost"] = "{\"input_cost\": 0.125, \"output_cost\": 0.5, \"total_cost\": 0.625}";
            // 499 + 101 characters in Python's count: cut after the first emoji, never inside its surrogate pair.
            span["mlflow.llm.model"] = System.Text.Json.JsonSerializer.Serialize(new string('m', 499) + string.Concat(Enumerable.Repeat("\U0001F600", 101)));
            var second = JsonNode.Parse(lines[1])!;
            string other = (string)second["info"]!["trace_id"]!;
            second["info"]!["trace_metadata"]!.AsObject()["mlflow.trace.tokenUsage"] = "not json";
            File.WriteAllLines(file, new[] { first.ToJsonString(), second.ToJsonString() });
            EmptyTraces(ts);
            var r = sh.Run("Import-Trace -Path $f", new Dictionary<string, object?> { ["f"] = file });
            Assert.True(r.Errors.Count == 0, string.Join("\n", r.Errors.Take(3)));
            Assert.Equal($"{id}|s-new|50|7|NULL|NULL|NULL|0.25|NULL|1", Rows(ts,
                $"SELECT request_id, session_id, input_tokens, output_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens, input_cost, output_cost, total_cost FROM trace_info WHERE request_id = '{id}'").Single());
            Assert.Equal("0.125|0.5|0.625|" + new string('m', 499) + "\U0001F600", Rows(ts,
                $"SELECT input_cost, output_cost, total_cost, model_name FROM spans WHERE trace_id = '{id}' AND input_cost IS NOT NULL").Single());
            Assert.Equal($"{other}|NULL|NULL|NULL", Rows(ts, $"SELECT request_id, input_tokens, output_tokens, total_tokens FROM trace_info WHERE request_id = '{other}'").Single());
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_request_metadata WHERE \"key\" = 'mlflow.trace.tokenUsage'"));
        }

        /// <summary>A span that arrived over OTLP names its model in an OpenInference or GenAI attribute, not in
        /// mlflow.llm.model: MLflow's translate_span_when_storing (mlflow/tracing/otel/translation/__init__.py,
        /// _get_model_name / _get_model_provider over _TRANSLATORS, OtelSchemaTranslator.get_model_name with
        /// _try_decode_if_json in base.py, MODEL_NAME_KEYS / LLM_PROVIDER_KEY of open_inference.py and
        /// genai_semconv.py, after sanitize_attributes) sets mlflow.llm.model / .provider from them when the span has
        /// none, falling back to the "model" of its inputs or outputs, and the span's model_name / model_provider
        /// columns hold those values (bounded_model_dimension, as the migration takes them from the same attributes).
        /// Import-Trace fills the columns the same way; the span's stored content is kept as exported.</summary>
        [Fact]
        public void ImportFillsSpanModelColumnsFromTheOtelTranslatorsKeys()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            using var sh = AnalyticsLayoutTests.Shell(ts);
            string file = ExportAll(ts, sh);
            var cases = new (Dictionary<string, string> Attributes, string Expected)[]
            {
                (new() { ["gen_ai.request.model"] = "\"gpt-4o\"", ["gen_ai.provider.name"] = "\"openai\"" }, "gpt-4o|openai"),
                // OpenInference comes first in _TRANSLATORS, and its provider key is its own.
                (new() { ["llm.model_name"] = "\"claude\"", ["gen_ai.response.model"] = "\"other\"", ["llm.provider"] = "\"anthropic\"" }, "claude|anthropic"),
                (new() { ["gen_ai.response.model"] = "\"resp\"", ["gen_ai.request.model"] = "\"req\"" }, "resp|NULL"),
                // A span's own mlflow.llm.model wins, and the translators are not asked.
                (new() { ["mlflow.llm.model"] = "\"explicit\"", ["gen_ai.request.model"] = "\"x\"", ["gen_ai.provider.name"] = "\"p\"" }, "explicit|p"),
                (new() { ["mlflow.spanInputs"] = "{\"model\": \"from-inputs\"}", ["mlflow.spanOutputs"] = "{\"model\": \"from-outputs\"}" }, "from-inputs|NULL"),
                (new() { ["mlflow.spanOutputs"] = "{\"model\": \"from-outputs\"}" }, "from-outputs|NULL"),
                // Dumped twice (spans logged through the OTel API): sanitize_attributes reads it once less.
                (new() { ["gen_ai.request.model"] = "\"\\\"twice\\\"\"" }, "twice|NULL"),
                // An empty OpenInference name is no name: the next translator's key is used.
                (new() { ["llm.model_name"] = "\"\"", ["gen_ai.request.model"] = "\"g\"" }, "g|NULL"),
                // A number is a model MLflow dumps, not a string bounded_model_dimension keeps.
                (new() { ["gen_ai.request.model"] = "5" }, "NULL|NULL"),
            };
            var lines = File.ReadAllLines(file).Take(cases.Length).Select(l => JsonNode.Parse(l)!).ToList();
            var expected = new List<string>();
            for (int i = 0; i < cases.Length; i++)
            {
                var span = lines[i]["data"]!["spans"]![0]!.AsObject();
                var attributes = span["attributes"]!.AsObject();
                foreach (var key in new[] { "mlflow.llm.model", "mlflow.llm.provider", "mlflow.spanInputs", "mlflow.spanOutputs" }) attributes.Remove(key);
                foreach (var kv in cases[i].Attributes) attributes[kv.Key] = kv.Value;
                // The export's span ids are base64 (Span.to_dict); the spans table holds them as hex.
                string spanId = string.Concat(Convert.FromBase64String((string)span["span_id"]!).Select(b => b.ToString("x2")));
                expected.Add($"{(string)lines[i]["info"]!["trace_id"]!}|{spanId}|{cases[i].Expected}");
            }
            File.WriteAllLines(file, lines.Select(l => l.ToJsonString()));
            EmptyTraces(ts);
            var r = sh.Run("Import-Trace -Path $f", new Dictionary<string, object?> { ["f"] = file });
            Assert.True(r.Errors.Count == 0, string.Join("\n", r.Errors.Take(3)));
            for (int i = 0; i < cases.Length; i++)
            {
                string traceId = expected[i].Split('|')[0];
                var rows = Rows(ts, $"SELECT trace_id, span_id, model_name, model_provider FROM spans WHERE trace_id = '{traceId}'");
                Assert.True(rows.Contains(expected[i]), expected[i] + " not in " + string.Join("; ", rows));
            }
        }

        /// <summary>On this layout MLflow's start_trace checks the session id and the name before it writes them to their
        /// columns: validate_session_id / validate_trace_name (mlflow/store/tracking/utils/trace_analytics.py) call
        /// _validate_length_limit with MAX_CHARS_IN_TRACE_INFO_METADATA (250) and MAX_CHARS_IN_TRACE_INFO_TAGS_VALUE
        /// (4096) from mlflow/tracing/constant.py, counting code points, and raise "'Session ID' exceeds the maximum
        /// length of 250 characters". Import-Trace refuses such a trace the same way on both databases, before
        /// writing (SQLite stored any length; PostgreSQL's VARCHAR(8000) refused only past 8000), also under -WhatIf and
        /// -ExperimentName, and imports the rest; a value at the limit, or of 250 code points in 500 UTF-16 units, goes in.</summary>
        [Fact]
        public void ImportRefusesASessionIdOrNameMlflowWouldRefuseAsTooLong()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            using var sh = AnalyticsLayoutTests.Shell(ts);
            string file = ExportAll(ts, sh);
            var lines = File.ReadAllLines(file).Take(5).Select(l => JsonNode.Parse(l)!).ToList();
            string Id(int i) => (string)lines[i]["info"]!["trace_id"]!;
            void Session(int i, string v) => lines[i]["info"]!["trace_metadata"]!.AsObject()["mlflow.trace.session"] = v;
            void Name(int i, string v) => lines[i]["info"]!["tags"]!.AsObject()["mlflow.traceName"] = v;
            Session(0, new string('s', 251));
            Name(1, new string('n', 9000));
            Session(2, new string('s', 250)); Name(2, new string('n', 4096));
            Session(3, string.Concat(Enumerable.Repeat("\U0001F600", 250)));
            Name(4, new string('n', 4097));
            File.WriteAllLines(file, lines.Select(l => l.ToJsonString()));
            EmptyTraces(ts);
            var f = new Dictionary<string, object?> { ["f"] = file };

            void AssertRefused(System.Collections.Generic.IReadOnlyCollection<System.Management.Automation.ErrorRecord> errors)
            {
                Assert.Equal(3, errors.Count);
                Assert.All(errors, e => Assert.StartsWith("TraceValueTooLong,", e.FullyQualifiedErrorId));
                string Of(int i) => errors.Single(e => e.Exception.Message.Contains(Id(i))).Exception.Message;
                Assert.Contains("has 251 characters, and MLflow refuses more than 250 on this store ('Session ID' exceeds the maximum length of 250 characters)", Of(0));
                Assert.Contains("'Trace name' exceeds the maximum length of 4096 characters", Of(1));
                Assert.Contains("has 4097 characters", Of(4));
                Assert.DoesNotContain(new string('s', 251), Of(0));
            }
            var dry = sh.Run("Import-Trace -Path $f -WhatIf", f);
            AssertRefused(dry.Errors);
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_info"));
            var named = sh.Run("Import-Trace -Path $f -ExperimentName other", f);
            AssertRefused(named.Errors);
            EmptyTraces(ts);
            var r = sh.Run("Import-Trace -Path $f", f);
            AssertRefused(r.Errors);
            Assert.Equal(new[] { Id(2), Id(3) }.OrderBy(x => x, StringComparer.Ordinal), Rows(ts, "SELECT request_id FROM trace_info").OrderBy(x => x, StringComparer.Ordinal));
            Assert.Equal("250|4096", Rows(ts, $"SELECT length(session_id), length(trace_name) FROM trace_info WHERE request_id = '{Id(2)}'").Single());
        }

        /// <summary>Remove-Trace deletes the review-queue items of the traces it deletes (no foreign key takes them:
        /// MLflow's _delete_traces does it, PR #23913), on 3.15/3.16's layout and on the analytics one; on the analytics
        /// layout it queues the rollup days of the deleted traces, their assessments and spans (older than a day) for a
        /// rebuild. -WhatIf touches nothing and lists exactly the traces the real run deletes.</summary>
        [Theory]
        [InlineData("6f8d9c3b2a1e")]
        [InlineData("75868b020152")]
        public void RemoveDeletesReviewQueueItemsAndQueuesRollupRebuilds(string revision)
        {
            using var ts = TestStore.Generated(revision, Kind);
            var ids = Rows(ts, "SELECT request_id FROM trace_info WHERE experiment_id = 1 AND status <> 'IN_PROGRESS' ORDER BY request_id").Take(3).ToList();
            string kept = Rows(ts, "SELECT max(request_id) FROM trace_info WHERE experiment_id = 1").Single();
            Exec(ts, "INSERT INTO review_queues (queue_id, experiment_id, name, queue_type, creation_time_ms, last_update_time_ms, name_key) VALUES ('q1', 1, 'Default', 'CUSTOM', 0, 0, 'default')");
            foreach (var id in ids.Append(kept))
                Exec(ts, $"INSERT INTO review_queue_items (queue_id, item_type, item_id, status, creation_time_ms, last_update_time_ms) VALUES ('q1', 'TRACE', '{id}', 'PENDING', 0, 0)");
            using var sh = AnalyticsLayoutTests.Shell(ts);
            var vars = new Dictionary<string, object?> { ["ids"] = ids.ToArray() };
            string before = ts.Fingerprint();
            var dry = sh.Run("$ids | Remove-Trace -WhatIf", vars);
            Assert.Empty(dry.Errors);
            Assert.Equal(before, ts.Fingerprint());
            foreach (var id in ids) Assert.Contains(id, dry.HostText);
            var real = sh.Run("$ids | Remove-Trace -Confirm:$false -PassThru", vars);
            Assert.Empty(real.Errors);
            Assert.Equal(ids.OrderBy(i => i), real.Output.Select(o => (string)o.Properties["TraceId"].Value).OrderBy(i => i));
            Assert.Equal(new[] { kept }, Rows(ts, "SELECT item_id FROM review_queue_items"));
            // The plan counts each trace's review-queue item with its links, in the dry run and the receipt alike.
            using (var copy = TestStore.Generated(revision, Kind))
                foreach (var o in real.Output)
                {
                    string id = (string)o.Properties["TraceId"].Value;
                    long links = copy.Scalar($"SELECT count(*) FROM entity_associations WHERE (source_type = 'trace' AND source_id = '{id}') OR (destination_type = 'trace' AND destination_id = '{id}')");
                    Assert.Equal((int)links + 1, (int)o.Properties["Associations"].Value);
                }
            foreach (var id in ids) Assert.Matches(System.Text.RegularExpressions.Regex.Escape(id) + @" \([^)]*\d+ links?\b", dry.HostText);
            if (revision != "75868b020152") return;
            // One entry per experiment, UTC day and family, as MLflow's writers queue them (the samples are older than a day).
            var expected = new SortedSet<string>();
            using (var copy = TestStore.Generated(revision, Kind))
            {
                string inIds = string.Join(", ", ids.Select(i => $"'{i}'"));
                foreach (var row in Rows(copy, $"SELECT experiment_id, timestamp_ms FROM trace_info WHERE request_id IN ({inIds})"))
                    expected.Add(Key(row, "trace_metric"));
                foreach (var row in Rows(copy, $"SELECT DISTINCT ti.experiment_id, ti.timestamp_ms FROM trace_info ti JOIN assessments a ON a.trace_id = ti.request_id WHERE ti.request_id IN ({inIds})"))
                    expected.Add(Key(row, "assessment"));
                foreach (var row in Rows(copy, $"SELECT experiment_id, start_time_unix_nano / 1000000 FROM spans WHERE trace_id IN ({inIds})"))
                    expected.Add(Key(row, "span_cost"));
            }
            Assert.Contains(expected, e => e.EndsWith("|span_cost"));
            Assert.Equal(expected, new SortedSet<string>(Rows(ts, "SELECT experiment_id, rollup_day, rollup_family FROM sql_trace_rollup_rebuild_queue")));
        }

        /// <summary>Archive and restore on the analytics layout: the archival pass keeps the span rows but their
        /// content (so the span cost and model columns stay), the trace's promoted columns are untouched, and the
        /// traces read the same name, session, token usage and cost, archived and restored.</summary>
        [Fact]
        public void ArchiveAndRestoreKeepTheAnalyticsColumns()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            var promoted = Rows(ts, Promoted);
            var spans = Rows(ts, "SELECT trace_id, span_id, input_cost, model_name, model_provider FROM spans ORDER BY trace_id, span_id");
            using var sh = AnalyticsLayoutTests.Shell(ts);
            var vars = new Dictionary<string, object?> { ["config"] = Archive.ArchiveTestSupport.Config(ts, new Uri(Archive.ArchiveTestSupport.ArchiveRoot(ts)).AbsoluteUri) };
            var before = sh.Objects<Trace>("Search-Trace -ExperimentId 1");
            var archived = sh.Run("Invoke-TraceArchive -ExperimentId 1 -ConfigPath $config -Confirm:$false", vars);
            Assert.True(archived.Errors.Count == 0, string.Join("\n", archived.Errors.Take(3)));
            Assert.True(ts.Scalar("SELECT count(*) FROM trace_tags WHERE \"key\" = 'mlflow.trace.archiveLocation'") > 0);
            var whileArchived = sh.Objects<Trace>("Search-Trace -ExperimentId 1 -IncludeSpans");
            Assert.Equal(before.Select(t => t.Metadata), whileArchived.Select(t => t.Metadata));
            Assert.Equal(before.Select(t => t.Name), whileArchived.Select(t => t.Name));
            var restored = sh.Run("Restore-Trace -ExperimentId 1 -Confirm:$false", vars);
            Assert.True(restored.Errors.Count == 0, string.Join("\n", restored.Errors.Take(3)));
            var after = sh.Objects<Trace>("Search-Trace -ExperimentId 1");
            Assert.Equal(before.Select(t => t.Tags), after.Select(t => t.Tags));
            Assert.Equal(before.Select(t => t.Metadata), after.Select(t => t.Metadata));
            Assert.Equal(promoted, Rows(ts, Promoted));
            Assert.Equal(spans, Rows(ts, "SELECT trace_id, span_id, input_cost, model_name, model_provider FROM spans ORDER BY trace_id, span_id"));
        }

        private static string Key(string row, string family)
        {
            var parts = row.Split('|');
            string day = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(parts[1], CultureInfo.InvariantCulture)).UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            return $"{parts[0]}|{day}|{family}";
        }
    }

    public class AnalyticsWriteTestsOnPostgres : AnalyticsWriteTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
