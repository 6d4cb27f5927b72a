using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Export;
using MlTraces.Core.Store;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// Stores the tests build themselves, one per MLflow schema generation the real stores exercise, so that a clone
    /// with nothing beside it still runs the command-level store tests on every layout. The schema is MLflow's own
    /// DDL for the revision (tests/MlTraces.Tests/Schemas/&lt;revision&gt;.sql, read from stores MLflow created; the
    /// current one is the module's embedded schema), and the rows are written here with plain SQL, column by column
    /// as the layout has them, not by the code under test: the repository's sample traces (MLflow's trace JSON) with
    /// their tags, metadata, assessments and spans, in two experiments of which one is deleted, plus a trace in
    /// progress, trace metrics and entity associations where the layout has those tables.
    /// </summary>
    public static class GeneratedStores
    {
        /// <summary>The generations, oldest first.</summary>
        public static readonly string[] Revisions =
        {
            "6953534de441", // 5-column trace_info; spans in each trace's traces.json artifact
            "d3e4f5a6b7c8", // first spans layout, assessments, trace_metrics, entity_associations
            StoreSchema.AlembicRevision, // db_payload_generation, workspaces, span_metrics (the module's own schema)
            "a1d2e3f4b5c6", // spans.links
            "6f8d9c3b2a1e", // MLflow 3.15/3.16: trace_info's experiment FK cascades, the span start-time index
            "75868b020152", // MLflow 3.17+: name, session, tokens and cost in trace_info columns, assessment and span analytics columns
        };

        public static IEnumerable<object[]> All() => Revisions.Select(r => new object[] { r });

        private const int TraceCount = 30;

        private static string Py(double d) => MlTraces.Core.Json.PyJson.FloatRepr(d);

        /// <summary>MLflow's DDL for the revision, one statement each.</summary>
        public static List<string> Schema(string revision)
        {
            if (revision == StoreSchema.AlembicRevision) return StoreSchema.SqliteStatements().ToList();
            string file = Path.Combine(ModuleManifest.RepoRoot, "tests", "MlTraces.Tests", "Schemas", revision + ".sql");
            var statements = new List<string>();
            var current = new System.Text.StringBuilder();
            foreach (var line in File.ReadLines(file))
            {
                // A file may start from another revision's schema and add what its own revision adds.
                if (line.StartsWith("-- base: ", StringComparison.Ordinal)) { statements.AddRange(Schema(line.Substring(9).Trim())); continue; }
                if (line.StartsWith("--", StringComparison.Ordinal) && current.Length == 0) continue;
                if (line == ";") { if (current.Length > 0) statements.Add(current.ToString()); current.Clear(); continue; }
                current.AppendLine(line);
            }
            return statements;
        }

        /// <summary>Builds the store of this generation as <paramref name="file"/>, with its artifacts under
        /// <paramref name="folder"/>/mlruns.</summary>
        public static void Build(string revision, string file, string folder)
        {
            SqliteRuntime.EnsureInitialized();
            using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString());
            c.Open();
            using var tx = c.BeginTransaction();
            void Exec(string sql, params object?[] values)
            {
                using var cmd = c.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = sql;
                for (int i = 0; i < values.Length; i++) cmd.Parameters.AddWithValue("@p" + i, values[i] ?? DBNull.Value);
                cmd.ExecuteNonQuery();
            }
            foreach (var sql in Schema(revision)) Exec(sql);
            var columns = new Dictionary<string, HashSet<string>>(StringComparer.OrdinalIgnoreCase);
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    if (!columns.TryGetValue(r.GetString(0), out var set)) columns[r.GetString(0)] = set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                    set.Add(r.GetString(1));
                }
            }
            bool Has(string table, string column = "") => columns.TryGetValue(table, out var set) && (column.Length == 0 || set.Contains(column));
            // A row of whichever of these columns the table has (a generation lacks some).
            void Insert(string table, params (string Column, object? Value)[] values)
            {
                var present = values.Where(v => Has(table, v.Column)).ToList();
                Exec($"INSERT INTO {table} ({string.Join(", ", present.Select(v => "\"" + v.Column + "\""))}) VALUES ({string.Join(", ", present.Select((_, i) => "@p" + i))})",
                    present.Select(v => v.Value).ToArray());
            }
            string Uri(string path) => new Uri(path).AbsoluteUri;

            Exec("INSERT INTO alembic_version (version_num) VALUES (@p0)", revision);
            bool workspaces = Has("workspaces");
            if (workspaces)
            {
                Insert("workspaces", ("name", "default"), ("description", "Default workspace for legacy resources"));
                Insert("workspaces", ("name", "team-b"), ("description", "a second workspace"));
            }
            var experiments = new List<(long Id, string Name, string Stage, string Workspace)> { (0L, "Default", "active", "default"), (1L, "agent", "active", "default"), (2L, "retired", "deleted", "default") };
            if (workspaces) experiments.Add((3L, "agent", "active", "team-b"));
            foreach (var e in experiments)
                Insert("experiments", ("experiment_id", e.Id), ("name", e.Name), ("artifact_location", Uri(Path.Combine(folder, "mlruns", e.Id.ToString()))),
                    ("lifecycle_stage", e.Stage), ("creation_time", 1_700_000_000_000L), ("last_update_time", 1_700_000_000_000L), ("workspace", e.Workspace));

            bool spansInRows = Has("spans");
            var samples = File.ReadLines(Path.Combine(ModuleManifest.RepoRoot, "samples", "traces.jsonl")).Take(TraceCount).Select(TraceJson.FromJson).ToList();
            for (int i = 0; i < samples.Count; i++)
            {
                var t = samples[i];
                // MLflow 2.x request ids are 32 hex digits without the tr- prefix.
                string id = Has("trace_info", "request_preview") ? t.TraceId : t.TraceId.Substring(3);
                long experiment = experiments[1 + i % (experiments.Count - 1)].Id;
                bool inProgress = i == 3;
                string artifacts = Path.Combine(folder, "mlruns", experiment.ToString(), "traces", id, "artifacts");
                var tags = new Dictionary<string, string>(t.Tags) { ["mlflow.artifactLocation"] = Uri(artifacts) };
                if (!spansInRows) tags.Remove("mlflow.trace.spansLocation");
                var metadata = new Dictionary<string, string>(t.Metadata);
                // A cost on every third trace, in the shape json.dumps gives floats (so it reads back byte for byte).
                if (i % 3 == 0) metadata["mlflow.trace.cost"] = $"{{\"input_cost\": {Py(i / 8.0)}, \"output_cost\": {Py(i / 4.0)}, \"total_cost\": {Py(i * 3 / 8.0)}}}";
                // On MLflow's analytics layout the name, session, tokens and cost are trace_info columns and their rows
                // are gone (75868b020152's backfill and _cleanup_legacy_analytics); elsewhere they are rows.
                bool analytics = Has("trace_info", "trace_name");
                var promoted = new List<(string, object?)>();
                if (analytics)
                {
                    if (tags.Remove("mlflow.traceName", out var name)) promoted.Add(("trace_name", name));
                    if (metadata.Remove("mlflow.trace.session", out var session)) promoted.Add(("session_id", session));
                    if (metadata.Remove("mlflow.trace.tokenUsage", out var usage))
                        foreach (var p in System.Text.Json.JsonDocument.Parse(usage).RootElement.EnumerateObject()) promoted.Add((p.Name, p.Value.GetInt64()));
                    if (metadata.Remove("mlflow.trace.cost", out var cost))
                        foreach (var p in System.Text.Json.JsonDocument.Parse(cost).RootElement.EnumerateObject()) promoted.Add((p.Name, p.Value.GetDouble()));
                }
                Insert("trace_info", new[] { ("request_id", (object?)id), ("experiment_id", experiment), ("timestamp_ms", t.TimestampMs),
                    ("execution_time_ms", inProgress ? null : t.ExecutionTimeMs), ("status", inProgress ? "IN_PROGRESS" : t.State),
                    ("client_request_id", t.ClientRequestId), ("request_preview", t.RequestPreview), ("response_preview", t.ResponsePreview) }.Concat(promoted).ToArray());
                foreach (var kv in tags) Insert("trace_tags", ("key", kv.Key), ("value", kv.Value), ("request_id", id));
                foreach (var kv in metadata) Insert("trace_request_metadata", ("key", kv.Key), ("value", kv.Value), ("request_id", id));
                if (Has("assessments"))
                    foreach (var a in t.Assessments)
                    {
                        // assessment_aggregate (mlflow/store/tracking/utils/trace_analytics.py), written out by hand here.
                        var v = System.Text.Json.JsonDocument.Parse(a.Value).RootElement;
                        (object? Value, bool Numeric) aggregate = v.ValueKind switch
                        {
                            System.Text.Json.JsonValueKind.True => (1.0, false),
                            System.Text.Json.JsonValueKind.False => (0.0, false),
                            System.Text.Json.JsonValueKind.Number => (v.GetDouble(), true),
                            System.Text.Json.JsonValueKind.String when v.GetString()!.Trim().ToLowerInvariant() is "yes" or "no" => (v.GetString()!.Trim().ToLowerInvariant() == "yes" ? 1.0 : 0.0, false),
                            _ => (null, false),
                        };
                        Insert("assessments", ("assessment_id", a.AssessmentId), ("trace_id", id), ("name", a.Name), ("assessment_type", a.AssessmentType),
                            ("value", a.Value), ("error", a.Error), ("created_timestamp", a.CreatedTimestampMs), ("last_updated_timestamp", a.LastUpdatedTimestampMs),
                            ("source_type", a.SourceType), ("source_id", a.SourceId), ("run_id", a.RunId), ("span_id", a.SpanId), ("rationale", a.Rationale),
                            ("overrides", a.Overrides), ("valid", a.Valid), ("assessment_metadata", a.Metadata),
                            ("experiment_id", experiment), ("trace_timestamp_ms", t.TimestampMs), ("aggregate_value", aggregate.Value), ("is_numeric_value", aggregate.Numeric));
                    }
                var spans = t.Spans ?? new List<Span>();
                if (spansInRows)
                    for (int k = 0; k < spans.Count; k++)
                    {
                        var s = spans[k];
                        // The first span's cost: a span_metrics row before the analytics layout, a spans column on it. The
                        // model and provider columns hold the span's mlflow.llm.model / mlflow.llm.provider attributes (as
                        // 75868b020152's backfill takes them from dimension_attributes, and log_spans from the span).
                        string? Attr(string key) => System.Text.Json.JsonDocument.Parse(s.Content).RootElement.TryGetProperty("attributes", out var a)
                            && a.TryGetProperty(key, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String
                            && System.Text.Json.JsonDocument.Parse(v.GetString()!).RootElement is var d && d.ValueKind == System.Text.Json.JsonValueKind.String ? d.GetString() : null;
                        Insert("spans", ("trace_id", id), ("experiment_id", experiment), ("span_id", s.SpanId), ("parent_span_id", s.ParentSpanId), ("name", s.Name),
                            ("type", s.SpanType), ("status", s.Status), ("start_time_unix_nano", s.StartTimeUnixNano), ("end_time_unix_nano", s.EndTimeUnixNano), ("content", s.Content),
                            ("input_cost", k == 0 ? 0.5 : (object?)null), ("model_name", Attr("mlflow.llm.model")), ("model_provider", Attr("mlflow.llm.provider")));
                    }
                else
                {
                    // Before the spans table, MLflow's client uploaded the spans as the trace's traces.json artifact.
                    Directory.CreateDirectory(artifacts);
                    File.WriteAllText(Path.Combine(artifacts, "traces.json"), "{\"spans\": [" + string.Join(", ", spans.Select(s => s.Content.Replace(t.TraceId, id))) + "]}");
                }
                // Token and cost metrics are columns on the analytics layout (the upgrade deleted these rows); another
                // metric stays a row there.
                if (Has("trace_metrics")) Insert("trace_metrics", ("request_id", id), ("key", analytics ? "latency_p50" : "total_tokens"), ("value", 42.0 + i));
                if (Has("span_metrics") && spans.Count > 0 && !Has("spans", "input_cost")) Insert("span_metrics", ("trace_id", id), ("span_id", spans[0].SpanId), ("key", "input_cost"), ("value", 0.5));
                if (Has("entity_associations") && i % 4 == 0)
                {
                    Insert("entity_associations", ("association_id", "ea-s-" + i), ("source_type", "trace"), ("source_id", id), ("destination_type", "run"), ("destination_id", "run-1"), ("created_time", 0L));
                    Insert("entity_associations", ("association_id", "ea-d-" + i), ("source_type", "evaluation_dataset"), ("source_id", "d-1"), ("destination_type", "trace"), ("destination_id", id), ("created_time", 0L));
                }
            }
            tx.Commit();
        }
    }
}
