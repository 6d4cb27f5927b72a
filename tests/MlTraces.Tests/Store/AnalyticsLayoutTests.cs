using System.Collections.Generic;
using System.Linq;
using MlTraces.Core;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Store
{
    /// <summary>
    /// MLflow's layouts after b7e4c1a90f23, built from MLflow's DDL for each revision (tests/MlTraces.Tests/Schemas):
    /// 6f8d9c3b2a1e (3.15/3.16: no trace column changes) and 75868b020152 (3.17+, "add sql trace analytics schema",
    /// mlflow/store/db_migrations/versions/75868b020152_add_sql_trace_analytics_schema.py), on SQLite and PostgreSQL.
    /// </summary>
    public class AnalyticsLayoutTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        /// <summary>The layout is read from the columns present: 75868b020152's _add_analytics_columns (trace_info,
        /// assessments, spans), _create_rollup_tables and _drop_dimension_attributes.</summary>
        [Theory]
        [InlineData("a1d2e3f4b5c6", false)]
        [InlineData("6f8d9c3b2a1e", false)]
        [InlineData("75868b020152", true)]
        public void AnalyticsColumnsAreDetectedFromTheColumnsPresent(string revision, bool analytics)
        {
            using var ts = TestStore.Generated(revision, Kind);
            using var store = ts.Open(StoreAccess.ReadOnly);
            var layout = store.Layout;
            Assert.Equal(revision, layout.AlembicRevision);
            Assert.Equal(analytics, layout.HasPromotedTraceColumns);
            Assert.Equal(analytics, layout.HasAssessmentAnalytics);
            Assert.Equal(analytics, layout.HasSpanAnalytics);
            Assert.Equal(analytics, layout.HasRollupQueue);
            // _drop_dimension_attributes: gone on the analytics layout, there before.
            Assert.Equal(!analytics, layout.HasSpanDimensionAttributes);
            Assert.True(layout.HasSpanLinks);
            var expected = analytics
                ? new[] { "trace_name", "session_id", "input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens",
                          "cache_creation_input_tokens", "input_cost", "output_cost", "total_cost" }
                : new string[0];
            Assert.Equal(expected.OrderBy(c => c), layout.PromotedTraceColumns.OrderBy(c => c));
        }

        /// <summary>The sixth token column (TOKEN_COLUMN_BY_KEY's cache_creation_input_tokens_above_1hr, in a later
        /// version of the same revision) is detected by itself, and a store without it still reads.</summary>
        [Fact]
        public void EachPromotedColumnIsDetectedByItself()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            // Before the store is first opened: the layout of a PostgreSQL store is cached per alembic revision.
            using (var c = TraceStore.OpenConnection(ts.Uri, StoreAccess.ReadWrite))
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = "ALTER TABLE trace_info ADD COLUMN cache_creation_input_tokens_above_1hr BIGINT";
                cmd.ExecuteNonQuery();
            }
            using var again = ts.Open(StoreAccess.ReadOnly);
            Assert.Contains("cache_creation_input_tokens_above_1hr", again.Layout.PromotedTraceColumns);
            Assert.Equal(11, again.Layout.PromotedTraceColumns.Count);
        }

        /// <summary>The id of one generated trace, and a raw write to its trace_info row.</summary>
        private static string SomeTrace(TestStore ts, string set)
        {
            string id;
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var q = store.Command("SELECT min(request_id) FROM trace_info WHERE status <> 'IN_PROGRESS' AND experiment_id = 1"))
                id = (string)q.ExecuteScalar()!;
            using var c = TraceStore.OpenConnection(ts.Uri, StoreAccess.ReadWrite);
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"UPDATE trace_info SET {set} WHERE request_id = '{id}'";
            Assert.Equal(1, cmd.ExecuteNonQuery());
            return id;
        }

        /// <summary>Get-Trace, Search-Trace and Export-Trace show the name tag and the session, token usage and cost
        /// metadata as MLflow's API does on this layout: synthesized from the columns by
        /// compatibility_metadata_from_columns (mlflow/store/tracking/utils/trace_analytics.py): json.dumps of ints in
        /// TOKEN_COLUMN_BY_KEY order, of floats (Python repr) in COST_COLUMN_BY_KEY order, a key only where a column of
        /// it is set; a float in a token column is written as the int token_count_or_none gives.</summary>
        [Fact]
        public void ReadsSynthesizeTheNameSessionTokensAndCostFromTheColumns()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            string id = SomeTrace(ts, "trace_name = 'n\u00e9 \"x\"', session_id = 's-1', input_tokens = 10, output_tokens = NULL, total_tokens = 15, " +
                "cache_read_input_tokens = 0, cache_creation_input_tokens = NULL, input_cost = 0.1, output_cost = NULL, total_cost = 3");
            using var sh = Shell(ts);
            var vars = new Dictionary<string, object?> { ["id"] = id };
            var t = sh.Objects<Trace>("Get-Trace $id", vars).Single();
            Assert.Equal("n\u00e9 \"x\"", t.Tags["mlflow.traceName"]);
            Assert.Equal("n\u00e9 \"x\"", t.Name);
            Assert.Equal("s-1", t.Metadata["mlflow.trace.session"]);
            Assert.Equal("{\"input_tokens\": 10, \"total_tokens\": 15, \"cache_read_input_tokens\": 0}", t.Metadata["mlflow.trace.tokenUsage"]);
            Assert.Equal("{\"input_cost\": 0.1, \"total_cost\": 3.0}", t.Metadata["mlflow.trace.cost"]);
            var searched = sh.Objects<Trace>("Search-Trace -Filter \"request_id = '$id'\"", vars).Single();
            Assert.Equal(t.Metadata, searched.Metadata);
            Assert.Equal(t.Tags, searched.Tags);
            var line = System.IO.File.ReadAllText(System.IO.Path.Combine(ts.Folder, Export(sh, id)));
            Assert.Contains("\"mlflow.trace.tokenUsage\": \"{\\\"input_tokens\\\": 10, \\\"total_tokens\\\": 15, \\\"cache_read_input_tokens\\\": 0}\"", line);
            Assert.Contains("\"mlflow.trace.session\": \"s-1\"", line);

            // No column set: no key at all, not an empty object.
            string bare = SomeTrace(ts, "trace_name = NULL, session_id = NULL, input_tokens = NULL, output_tokens = NULL, total_tokens = NULL, " +
                "cache_read_input_tokens = NULL, cache_creation_input_tokens = NULL, input_cost = NULL, output_cost = NULL, total_cost = NULL");
            Assert.Equal(id, bare);
            var none = sh.Objects<Trace>("Get-Trace $id", vars).Single();
            Assert.DoesNotContain("mlflow.traceName", none.Tags.Keys);
            Assert.DoesNotContain(none.Metadata.Keys, k => k is "mlflow.trace.session" or "mlflow.trace.tokenUsage" or "mlflow.trace.cost");
        }

        private static List<string> SqlIds(TestStore ts, string where, string order = "timestamp_ms DESC, request_id")
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command($"SELECT request_id FROM trace_info ti WHERE experiment_id IN (SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'active') AND ({where}) ORDER BY {order}");
            using var r = cmd.ExecuteReader();
            var ids = new List<string>();
            while (r.Read()) ids.Add(r.GetString(0));
            return ids;
        }

        private static List<string> Ids(PsShell sh, string filter, string? orderBy = null) =>
            sh.Ids("Search-Trace -Filter $f" + (orderBy == null ? "" : " -OrderBy $o"), new Dictionary<string, object?> { ["f"] = filter, ["o"] = orderBy });

        /// <summary>name, tag.mlflow.traceName and metadata.mlflow.trace.session filter and order on the trace_info
        /// columns MLflow moved them into (75868b020152; PR #24760 "use authoritative SQL columns for trace analytics"):
        /// on this layout their rows are gone, and a filter on the rows found nothing. NULL is "no such key", as the
        /// row's absence was: != and LIKE never match it, and ORDER BY puts it last both ways.</summary>
        [Fact]
        public void NameAndSessionFilterAndOrderOnTheirColumns()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            SomeTrace(ts, "trace_name = NULL");
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_tags WHERE \"key\" = 'mlflow.traceName'"));
            using var sh = Shell(ts);
            string name, session;
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var q = store.Command("SELECT max(trace_name) FROM trace_info WHERE experiment_id = 1"))
                name = (string)q.ExecuteScalar()!;
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var q = store.Command("SELECT max(session_id) FROM trace_info WHERE experiment_id = 1"))
                session = (string)q.ExecuteScalar()!;
            var byName = SqlIds(ts, $"trace_name = '{name}'");
            Assert.NotEmpty(byName);
            Assert.Equal(byName, Ids(sh, $"name = '{name}'"));
            Assert.Equal(byName, Ids(sh, $"tag.mlflow.traceName = '{name}'"));
            Assert.Equal(SqlIds(ts, $"trace_name <> '{name}'"), Ids(sh, $"name != '{name}'"));
            Assert.Equal(SqlIds(ts, "trace_name LIKE '%a%'"), Ids(sh, "name LIKE '%a%'"));
            Assert.Equal(SqlIds(ts, "trace_name IS NULL"), Ids(sh, "tag.mlflow.traceName IS NULL"));
            Assert.Single(SqlIds(ts, "trace_name IS NULL"));
            var bySession = SqlIds(ts, $"session_id = '{session}'");
            Assert.True(bySession.Count > 1);
            Assert.Equal(bySession, Ids(sh, $"metadata.mlflow.trace.session = '{session}'"));
            Assert.Equal(SqlIds(ts, "session_id IS NOT NULL"), Ids(sh, "metadata.mlflow.trace.session IS NOT NULL"));
            // MLflow's order: NULLs last in both directions, then request_id after the key (its tie-breakers).
            Assert.Equal(SqlIds(ts, "1 = 1", "CASE WHEN trace_name IS NULL THEN 1 ELSE 0 END, trace_name ASC, timestamp_ms DESC, request_id"),
                Ids(sh, "status != 'x'", "name ASC"));
            Assert.Equal(SqlIds(ts, "1 = 1", "CASE WHEN trace_name IS NULL THEN 1 ELSE 0 END, trace_name DESC, timestamp_ms DESC, request_id"),
                Ids(sh, "status != 'x'", "name DESC"));
            Assert.Equal(SqlIds(ts, "1 = 1", "CASE WHEN session_id IS NULL THEN 1 ELSE 0 END, session_id ASC, timestamp_ms DESC, request_id"),
                Ids(sh, "status != 'x'", "metadata.mlflow.trace.session"));
        }

        /// <summary>metadata.mlflow.trace.tokenUsage / cost as get_trace_analytics_metadata_filter
        /// (mlflow/store/tracking/utils/trace_analytics.py) compares them on this layout: '=' matches only the exact
        /// JSON compatibility_metadata_from_columns synthesizes (other spacing, key order or an int cost match
        /// nothing), with every other column NULL; '!=' needs one of the columns set; IS NULL / IS NOT NULL look at
        /// all of them; another comparator is refused with MLflow's message.</summary>
        [Fact]
        public void TokenUsageAndCostFiltersCompareTheColumnsAsMlflowDoes()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            string id = SomeTrace(ts, "input_tokens = 7, output_tokens = 3, total_tokens = NULL, cache_read_input_tokens = NULL, " +
                "cache_creation_input_tokens = NULL, input_cost = 0.5, output_cost = NULL, total_cost = 2");
            using var sh = Shell(ts);
            var one = new List<string> { id };
            Assert.Equal(one, Ids(sh, "metadata.mlflow.trace.tokenUsage = '{\"input_tokens\": 7, \"output_tokens\": 3}'"));
            Assert.Empty(Ids(sh, "metadata.mlflow.trace.tokenUsage = '{\"input_tokens\":7,\"output_tokens\":3}'"));
            Assert.Empty(Ids(sh, "metadata.mlflow.trace.tokenUsage = '{\"output_tokens\": 3, \"input_tokens\": 7}'"));
            Assert.Empty(Ids(sh, "metadata.mlflow.trace.tokenUsage = '{\"input_tokens\": 7}'"));
            Assert.Empty(Ids(sh, "metadata.mlflow.trace.tokenUsage = '{\"input_tokens\": 7, \"output_tokens\": 3, \"bogus\": 1}'"));
            Assert.Equal(one, Ids(sh, "metadata.mlflow.trace.cost = '{\"input_cost\": 0.5, \"total_cost\": 2.0}'"));
            Assert.Empty(Ids(sh, "metadata.mlflow.trace.cost = '{\"input_cost\": 0.5, \"total_cost\": 2}'"));
            const string anyToken = "coalesce(input_tokens, output_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens) IS NOT NULL";
            Assert.Equal(SqlIds(ts, $"{anyToken} AND request_id <> '{id}'"),
                Ids(sh, "metadata.mlflow.trace.tokenUsage != '{\"input_tokens\": 7, \"output_tokens\": 3}'"));
            Assert.Equal(SqlIds(ts, anyToken), Ids(sh, "metadata.mlflow.trace.tokenUsage != 'not json'"));
            Assert.Equal(SqlIds(ts, "NOT " + anyToken), Ids(sh, "metadata.mlflow.trace.tokenUsage IS NULL"));
            Assert.Equal(SqlIds(ts, "coalesce(input_cost, output_cost, total_cost) IS NOT NULL"), Ids(sh, "metadata.mlflow.trace.cost IS NOT NULL"));
            var r = sh.Run("Search-Trace -Filter \"metadata.mlflow.trace.cost LIKE '%1%'\"");
            Assert.Contains("Comparator 'LIKE' is not supported for reserved metadata 'mlflow.trace.cost'. Only '=', '!=', 'IS NULL', and 'IS NOT NULL' are supported.",
                r.Terminating?.Message ?? string.Join("\n", r.Errors));
        }

        /// <summary>An assessment made for a session (its metadata names mlflow.trace.session) covers every trace
        /// of that session; on this layout a trace's session is trace_info.session_id, the only place it is.</summary>
        [Fact]
        public void SessionAssessmentsCoverTheSessionsTracesThroughTheColumn()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            string session;
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var q = store.Command("SELECT session_id FROM trace_info WHERE experiment_id = 1 GROUP BY session_id HAVING count(*) > 1 ORDER BY session_id LIMIT 1"))
                session = (string)q.ExecuteScalar()!;
            string id;
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var q = store.Command($"SELECT min(request_id) FROM trace_info WHERE session_id = '{session}'"))
                id = (string)q.ExecuteScalar()!;
            using (var c = TraceStore.OpenConnection(ts.Uri, StoreAccess.ReadWrite))
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "INSERT INTO assessments (assessment_id, trace_id, name, assessment_type, value, created_timestamp, last_updated_timestamp, " +
                    "source_type, valid, assessment_metadata, experiment_id, trace_timestamp_ms, is_numeric_value) SELECT 'a-session', request_id, 'session_quality', " +
                    $"'feedback', '\"good\"', 1, 1, 'HUMAN', {(Kind == StoreKind.Postgres ? "true" : "1")}, '{{\"mlflow.trace.session\": \"{session}\"}}', experiment_id, timestamp_ms, " +
                    $"{(Kind == StoreKind.Postgres ? "false" : "0")} FROM trace_info WHERE request_id = '{id}'";
                Assert.Equal(1, cmd.ExecuteNonQuery());
            }
            using var sh = Shell(ts);
            var expected = SqlIds(ts, $"session_id = '{session}'");
            Assert.True(expected.Count > 1);
            Assert.Equal(expected, Ids(sh, "feedback.session_quality = 'good'"));
            Assert.Equal(SqlIds(ts, $"session_id IS NULL OR session_id <> '{session}'"), Ids(sh, "feedback.session_quality IS NULL"));
        }

        /// <summary>Numeric comparators on assessments (feedback.score >= 4), which MLflow's newer parser takes for
        /// feedback/expectation with a number (_validate_assessment_comparison_value, NUMERIC_ASSESSMENT_COMPARATORS),
        /// compare the aggregate_value that 75868b020152 keeps per assessment (assessment_aggregate in
        /// mlflow/store/tracking/utils/trace_analytics.py). Only finite numbers (is_numeric_value) take part: a boolean
        /// or "yes" is 1.0 in aggregate_value but not a number. MLflow's own SQL for these comparisons was not in the
        /// searchable source; this is MlTraces' reading of the columns it added for them.</summary>
        [Fact]
        public void NumericAssessmentComparatorsUseAggregateValue()
        {
            using var ts = TestStore.Generated("75868b020152", Kind);
            using (var c = TraceStore.OpenConnection(ts.Uri, StoreAccess.ReadWrite))
            using (var cmd = c.CreateCommand())
            {
                string t = Kind == StoreKind.Postgres ? "true" : "1", f = Kind == StoreKind.Postgres ? "false" : "0";
                cmd.CommandText = string.Join("; ", new[] { ("a-bool", "true", "1.0", f), ("a-yes", "\"yes\"", "1.0", f), ("a-big", "5", "5.0", t), ("a-stale", "9", "9.0", t) }
                    .Select((a, i) => "INSERT INTO assessments (assessment_id, trace_id, name, assessment_type, value, created_timestamp, last_updated_timestamp, " +
                        "source_type, valid, experiment_id, trace_timestamp_ms, aggregate_value, is_numeric_value) SELECT " +
                        $"'{a.Item1}', request_id, 'relevance', 'feedback', '{a.Item2}', 1, 1, 'HUMAN', {(a.Item1 == "a-stale" ? f : t)}, experiment_id, timestamp_ms, {a.Item3}, {a.Item4} " +
                        $"FROM trace_info WHERE experiment_id = 1 ORDER BY request_id LIMIT 1 OFFSET {i + 2}"));
                Assert.Equal(4, cmd.ExecuteNonQuery());
            }
            using var sh = Shell(ts);
            string Numeric(string op, string v) => $"request_id IN (SELECT trace_id FROM assessments WHERE name = 'relevance' AND assessment_type = 'feedback' " +
                $"AND valid = {(Kind == StoreKind.Postgres ? "true" : "1")} AND is_numeric_value = {(Kind == StoreKind.Postgres ? "true" : "1")} AND aggregate_value {op} {v})";
            var high = SqlIds(ts, Numeric(">=", "0.9"));
            Assert.True(high.Count > 1);
            Assert.Equal(high, Ids(sh, "feedback.relevance >= 0.9"));
            Assert.Equal(SqlIds(ts, Numeric(">", "4")), Ids(sh, "feedback.relevance > 4"));
            Assert.Single(Ids(sh, "feedback.relevance > 4"));
            Assert.Equal(SqlIds(ts, Numeric("<", "0.5")), Ids(sh, "feedback.relevance < 0.5"));
            Assert.Equal(SqlIds(ts, Numeric("<=", "1")), Ids(sh, "feedback.relevance <= 1 AND status != 'x'"));
            // Neither the boolean, "yes", nor the invalid (overridden) 9 is a match for a number.
            Assert.Empty(Ids(sh, "feedback.relevance >= 6"));
            var both = sh.Ids("Search-Trace -Filter \"feedback.relevance >= 1\" | Where-Object TraceId -in $ids", new Dictionary<string, object?>
                { ["ids"] = SqlIds(ts, "request_id IN (SELECT trace_id FROM assessments WHERE assessment_id IN ('a-bool', 'a-yes'))").ToArray() });
            Assert.Empty(both);
        }

        /// <summary>Before the analytics layout the same filter is refused with the message it has always had (the
        /// value is not a quoted string), before anything is read or deleted.</summary>
        [Theory]
        [InlineData("6f8d9c3b2a1e", "feedback.relevance >= 4", "Expected a quoted string value for feedback (e.g. 'my-value'). Got value 4")]
        [InlineData("a1d2e3f4b5c6", "expectation.x<-1.5 AND status = 'OK'", "Expected a quoted string value for expectation (e.g. 'my-value'). Got value -1.5")]
        [InlineData("75868b020152", "feedback.relevance > 'a'", "assessment.relevance comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE', 'RLIKE', 'IS NULL', 'IS NOT NULL'}'")]
        [InlineData("75868b020152", "feedback.relevance = 4", "Expected a quoted string value for feedback (e.g. 'my-value'). Got value 4")]
        public void NumericAssessmentComparatorsAreRefusedElsewhere(string revision, string filter, string message)
        {
            using var ts = TestStore.Generated(revision, Kind);
            using var sh = Shell(ts);
            string before = ts.Fingerprint();
            foreach (var script in new[] { "Search-Trace -Filter $f", "Remove-Trace -Filter $f -Confirm:$false" })
            {
                var r = sh.Run(script, new Dictionary<string, object?> { ["f"] = filter });
                Assert.Empty(r.Output);
                Assert.Equal(message, r.Terminating?.Message ?? string.Join("\n", r.Errors.Select(e => e.ToString())));
            }
            Assert.Equal(before, ts.Fingerprint());
        }

        /// <summary>
        /// 75868b020152 as PR #24588 first merged it (…/75868b020152_add_sql_trace_analytics_schema.py @ 81a5ab4b, down
        /// a8b9c0d1e2f3: _add_analytics_columns and the backfills, no _cleanup_legacy_analytics, no
        /// _drop_dimension_attributes; VARCHAR(500) name and session, FLOAT tokens, rollups with a workspace column)
        /// "preserves legacy data for follow-up reader and writer changes": the store code of that version still
        /// searched, read and wrote the mlflow.traceName tag and the mlflow.trace.session metadata rows, and left the
        /// columns NULL for traces it wrote after the upgrade (PR #24760 moved reads and writes to the columns and made
        /// the migration delete the rows). So on that layout MlTraces follows the rows: name, session and ORDER BY name
        /// find a trace written after the upgrade, Get-Trace shows its row values, and Import-Trace writes rows.
        /// </summary>
        [Fact]
        public void TheFirstVersionOfTheRevisionKeepsTheRowsAuthoritative()
        {
            using var ts = TestStore.Generated("6f8d9c3b2a1e", Kind);
            string id;
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var q = store.Command("SELECT min(request_id) FROM trace_info ti WHERE status <> 'IN_PROGRESS' AND experiment_id = 1 " +
                "AND EXISTS (SELECT 1 FROM trace_tags t WHERE t.request_id = ti.request_id AND t.\"key\" = 'mlflow.traceName')"))
                id = (string)q.ExecuteScalar()!;
            // Before the store is first opened again: the layout of a PostgreSQL store is cached per alembic revision.
            using (var c = TraceStore.OpenConnection(ts.Uri, StoreAccess.ReadWrite))
            {
                void Exec(string sql) { using var cmd = c.CreateCommand(); cmd.CommandText = sql; cmd.ExecuteNonQuery(); }
                foreach (var column in new[] { "trace_name VARCHAR(500)", "session_id VARCHAR(500)", "input_tokens FLOAT", "output_tokens FLOAT",
                    "total_tokens FLOAT", "cache_read_input_tokens FLOAT", "cache_creation_input_tokens FLOAT", "input_cost FLOAT", "output_cost FLOAT", "total_cost FLOAT" })
                    Exec("ALTER TABLE trace_info ADD COLUMN " + column);
                foreach (var column in new[] { "experiment_id INTEGER", "trace_timestamp_ms BIGINT", "aggregate_value FLOAT",
                    "is_numeric_value BOOLEAN DEFAULT " + (Kind == StoreKind.Postgres ? "false" : "0") + " NOT NULL" })
                    Exec("ALTER TABLE assessments ADD COLUMN " + column);
                foreach (var column in new[] { "input_cost FLOAT", "output_cost FLOAT", "total_cost FLOAT", "model_name VARCHAR(500)", "model_provider VARCHAR(500)" })
                    Exec("ALTER TABLE spans ADD COLUMN " + column);
                Exec("CREATE TABLE sql_trace_rollup_rebuild_queue (workspace VARCHAR(63) DEFAULT 'default' NOT NULL, experiment_id INTEGER NOT NULL, " +
                    "rollup_day DATE NOT NULL, rollup_family VARCHAR(50) NOT NULL, " +
                    "CONSTRAINT sql_trace_rollup_rebuild_queue_pk PRIMARY KEY (workspace, experiment_id, rollup_day, rollup_family))");
                // _backfill_trace_analytics: the rows copied into the columns, the rows kept.
                Exec("UPDATE trace_info SET trace_name = (SELECT value FROM trace_tags t WHERE t.request_id = trace_info.request_id AND t.\"key\" = 'mlflow.traceName'), " +
                    "session_id = (SELECT value FROM trace_request_metadata m WHERE m.request_id = trace_info.request_id AND m.\"key\" = 'mlflow.trace.session')");
                Exec("UPDATE alembic_version SET version_num = '75868b020152'");
                // A trace MLflow of that version wrote after the upgrade: rows only, the columns NULL.
                Exec($"UPDATE trace_info SET trace_name = NULL, session_id = NULL WHERE request_id = '{id}'");
                Exec($"UPDATE trace_tags SET value = 'after-upgrade' WHERE request_id = '{id}' AND \"key\" = 'mlflow.traceName'");
                Exec($"DELETE FROM trace_request_metadata WHERE request_id = '{id}' AND \"key\" = 'mlflow.trace.session'");
                Exec($"INSERT INTO trace_request_metadata (\"key\", value, request_id) VALUES ('mlflow.trace.session', 'session-after-upgrade', '{id}')");
            }
            using (var store = ts.Open(StoreAccess.ReadOnly))
            {
                var layout = store.Layout;
                Assert.Equal("75868b020152", layout.AlembicRevision);
                Assert.True(layout.HasLegacyAnalyticsRows && layout.HasSpanDimensionAttributes);
                Assert.False(layout.HasPromotedTraceColumns || layout.HasAssessmentAnalytics || layout.HasSpanAnalytics || layout.HasRollupQueue);
            }
            using var sh = Shell(ts);
            Assert.Equal(new[] { id }, Ids(sh, "name = 'after-upgrade'"));
            Assert.Equal(new[] { id }, Ids(sh, "tag.mlflow.traceName LIKE 'after-%'"));
            Assert.Equal(new[] { id }, Ids(sh, "metadata.mlflow.trace.session = 'session-after-upgrade'"));
            Assert.DoesNotContain(id, Ids(sh, "tag.mlflow.traceName IS NULL"));
            const string Name = "(SELECT value FROM trace_tags t WHERE t.request_id = ti.request_id AND t.\"key\" = 'mlflow.traceName')";
            Assert.Equal(SqlIds(ts, "1 = 1", $"CASE WHEN {Name} IS NULL THEN 1 ELSE 0 END, {Name} ASC, timestamp_ms DESC, request_id"),
                Ids(sh, "status != 'x'", "name ASC"));
            var vars = new Dictionary<string, object?> { ["id"] = id };
            var t = sh.Objects<Trace>("Get-Trace $id", vars).Single();
            Assert.Equal("after-upgrade", t.Tags["mlflow.traceName"]);
            Assert.Equal("session-after-upgrade", t.Metadata["mlflow.trace.session"]);

            // Import-Trace writes as that version's start_trace did: the rows, the columns left NULL.
            string file = Export(sh, id);
            Assert.Empty(sh.Run("Remove-Trace -TraceId $id -Confirm:$false", vars).Errors);
            var imported = sh.Run("Import-Trace -Path $f", new Dictionary<string, object?> { ["f"] = file });
            Assert.True(imported.Errors.Count == 0, string.Join("\n", imported.Errors));
            Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = '{id}' AND \"key\" = 'mlflow.traceName' AND value = 'after-upgrade'"));
            Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM trace_request_metadata WHERE request_id = '{id}' AND \"key\" = 'mlflow.trace.session'"));
            Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM trace_info WHERE request_id = '{id}' AND trace_name IS NULL AND session_id IS NULL"));
            Assert.Equal(new[] { id }, Ids(sh, "name = 'after-upgrade'"));
        }

        /// <summary>A shell whose commands use this store (a generated store's file is not mlflow.db).</summary>
        internal static PsShell Shell(TestStore ts)
        {
            var sh = new PsShell(ts);
            sh.Run("$PSDefaultParameterValues['*:TrackingUri'] = $uri", new Dictionary<string, object?> { ["uri"] = ts.UriText });
            return sh;
        }

        private static string Export(PsShell sh, string id)
        {
            var r = sh.Run("Get-Trace $id | Export-Trace -Path one.jsonl", new Dictionary<string, object?> { ["id"] = id });
            Assert.Empty(r.Errors);
            return "one.jsonl";
        }
    }

    public class AnalyticsLayoutTestsOnPostgres : AnalyticsLayoutTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
