using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Json;
using MlTraces.Core.Store;

namespace MlTraces.Core.Query
{
    /// <summary>
    /// Turns parsed filter clauses into one SQL condition over <c>trace_info ti</c>. Values only ever appear as
    /// parameters; table and column names come from the fixed set below. Child tables are reached with correlated
    /// EXISTS on their primary keys, which gives MLflow's results (its inner joins never duplicate rows) and lets
    /// SQLite use the indexes. Where the store's layout lacks a table or column, the clause means what empty data
    /// would mean and a warning says so.
    /// </summary>
    public static class FilterCompiler
    {
        private const string True = "1 = 1", False = "1 = 0";

        /// <param name="orderedWalk">The condition filters an index walk that stops at a page: span conditions then
        /// stay per-trace checks, so the walk's cost follows the traces it reaches, not the planner's guess of how
        /// many spans match (see <see cref="SqlDialect.KeepCorrelated"/>).</param>
        public static string? CompileWhere(IReadOnlyList<FilterClause> clauses, StoreLayout layout, SqlDialect dialect,
            SqlParameters parameters, IList<string> warnings, bool orderedWalk = false)
        {
            var c = new Context(layout, dialect, parameters, warnings, orderedWalk);
            var conditions = new List<string>();
            var spanConditions = new List<string>();
            string? runId = null;
            foreach (var clause in clauses)
            {
                switch (clause.Entity)
                {
                    case FilterEntity.Attribute:
                        conditions.Add(c.Compare(c.AttributeColumn(clause.Key), clause));
                        break;
                    case FilterEntity.Metadata when clause.Key == TraceSearchKeys.SourceRunMetadata && clause.Comparator == "=":
                        // MLflow keeps the last run_id '=' clause, and an empty one filters nothing.
                        runId = clause.StringValue;
                        break;
                    case FilterEntity.Tag when clause.Key == TraceSearchKeys.LinkedPromptsTag:
                        conditions.Add(c.Prompt(clause.StringValue!));
                        break;
                    case FilterEntity.Tag when c.Promoted(clause) != null:
                    case FilterEntity.Metadata when c.Promoted(clause) != null:
                        conditions.Add(c.PromotedFilter(clause));
                        break;
                    case FilterEntity.Tag:
                    case FilterEntity.Metadata:
                        conditions.Add(c.KeyValue(clause.Entity == FilterEntity.Tag ? "trace_tags" : "trace_request_metadata", clause));
                        break;
                    case FilterEntity.Span:
                        spanConditions.Add(c.Span(clause));
                        break;
                    case FilterEntity.Feedback:
                    case FilterEntity.Expectation:
                        conditions.Add(c.Assessment(clause));
                        break;
                    case FilterEntity.Issue:
                        conditions.Add(c.Issue(clause.StringValue!));
                        break;
                    default:
                        throw new ArgumentException($"Unknown filter entity {clause.Entity}.");
                }
            }
            if (spanConditions.Count > 0) conditions.Add(c.Spans(spanConditions, SpanStartBound(clauses)));
            if (!string.IsNullOrEmpty(runId)) conditions.Add(c.RunId(runId!));
            if (conditions.Count == 0) return null;
            return string.Join(" AND ", conditions.Select(x => "(" + x + ")"));
        }

        /// <summary>How long before a trace's timestamp_ms lower bound its spans may start and still count: with
        /// timestamp_ms &gt; X or &gt;= X, MLflow's span subquery takes only spans starting at or after X - 10 s.</summary>
        public const long SpanStartSlackMs = 10_000;

        /// <summary>The earliest start (ns) of a span that span conditions look at: the tightest timestamp_ms &gt; / &gt;=
        /// bound less <see cref="SpanStartSlackMs"/>, or null without one.</summary>
        private static long? SpanStartBound(IReadOnlyList<FilterClause> clauses)
        {
            long? bound = null;
            foreach (var clause in clauses)
            {
                if (clause.Entity != FilterEntity.Attribute || clause.Key != "timestamp_ms" || (clause.Comparator != ">" && clause.Comparator != ">=")) continue;
                // Nanoseconds of (X - slack), rounded up: a start is an integer, so start >= ceil(b) means start >= b.
                double ns = (Convert.ToDouble(clause.Value, System.Globalization.CultureInfo.InvariantCulture) - SpanStartSlackMs) * 1_000_000d;
                long b = clause.Value is long ms ? Saturated(ms) : ns >= long.MaxValue ? long.MaxValue : ns <= long.MinValue ? long.MinValue : (long)Math.Ceiling(ns);
                if (bound == null || b > bound) bound = b;
            }
            return bound;

            static long Saturated(long ms)
            {
                try { return checked((ms - SpanStartSlackMs) * 1_000_000); }
                catch (OverflowException) { return ms > 0 ? long.MaxValue : long.MinValue; }
            }
        }

        private sealed class Context
        {
            private readonly StoreLayout _layout;
            private readonly SqlDialect _dialect;
            private readonly SqlParameters _p;
            private readonly IList<string> _warnings;
            private readonly bool _orderedWalk;

            public Context(StoreLayout layout, SqlDialect dialect, SqlParameters parameters, IList<string> warnings, bool orderedWalk)
            {
                _layout = layout; _dialect = dialect; _p = parameters; _warnings = warnings; _orderedWalk = orderedWalk;
            }

            private void Warn(string message)
            {
                if (!_warnings.Contains(message)) _warnings.Add(message);
            }

            public string AttributeColumn(string key)
            {
                switch (key)
                {
                    case "request_id": return "ti.request_id";
                    case "timestamp_ms": return "ti.timestamp_ms";
                    case "execution_time_ms": return "ti.execution_time_ms";
                    case "end_time_ms": return "(ti.timestamp_ms + COALESCE(ti.execution_time_ms, 0))";
                    case "status": return "ti.status";
                    case "client_request_id":
                        if (_layout.HasTraceInfoV3Columns) return "ti.client_request_id";
                        Warn("This store's trace_info table has no client_request_id column (MLflow before 3.0): client_request_id filters see it as empty and match no trace.");
                        return "NULL";
                }
                throw new ArgumentException($"Unknown trace attribute '{key}'.");
            }

            /// <summary>expr &lt;comparator&gt; value, with MLflow's case rules: = != LIKE case-sensitive,
            /// ILIKE not, RLIKE an unanchored regular-expression search.</summary>
            public string Compare(string expr, FilterClause clause) => Compare(expr, clause.Comparator, clause.Value);

            public string Compare(string expr, string comparator, object? value)
            {
                switch (comparator)
                {
                    case "=": case "!=": case "<": case "<=": case ">": case ">=":
                        return $"{expr} {comparator} {_p.Add(value)}";
                    case "LIKE": return _dialect.Like(expr, _p.Add(value));
                    case "ILIKE": return _dialect.ILike(expr, _p.Add(value));
                    case "RLIKE": return _dialect.Regexp(expr, _p.Add(value));
                    case "IN": return $"{expr} IN ({_p.AddList(((IReadOnlyList<string>)value!).Cast<object?>())})";
                    case "NOT IN": return $"{expr} NOT IN ({_p.AddList(((IReadOnlyList<string>)value!).Cast<object?>())})";
                }
                throw new ArgumentException($"Unknown comparator '{comparator}'.");
            }

            /// <summary>A tag or metadata clause. A trace without the key never matches, not even with !=.</summary>
            public string KeyValue(string table, FilterClause clause)
            {
                string key = _p.Add(clause.Key);
                string row = $"SELECT 1 FROM {table} kv WHERE kv.request_id = ti.request_id AND kv.\"key\" = {key}";
                switch (clause.Comparator)
                {
                    case "IS NULL": return $"NOT EXISTS ({row})";
                    case "IS NOT NULL": return $"EXISTS ({row})";
                    default: return $"EXISTS ({row} AND {Compare("kv.value", clause)})";
                }
            }

            /// <summary>On MLflow's analytics layout (75868b020152): the trace_info columns that hold this tag or
            /// metadata key (the name, the session, or the token usage / cost columns), else null.</summary>
            public IReadOnlyList<string>? Promoted(FilterClause clause)
            {
                if (!_layout.HasPromotedTraceColumns) return null;
                string key = clause.Key;
                if (clause.Entity == FilterEntity.Tag)
                    return key == TraceSearchKeys.TraceNameTag && _layout.HasPromotedColumn(TraceAnalytics.TraceNameColumn) ? new[] { TraceAnalytics.TraceNameColumn } : null;
                if (key == TraceSearchKeys.SessionMetadata)
                    return _layout.HasPromotedColumn(TraceAnalytics.SessionColumn) ? new[] { TraceAnalytics.SessionColumn } : null;
                if (key == TraceSearchKeys.TokenUsageMetadata) return TraceAnalytics.TokenColumns;
                if (key == TraceSearchKeys.CostMetadata) return TraceAnalytics.CostColumns;
                return null;
            }

            /// <summary>A clause on a promoted key. The name and the session compare their column as the row's value
            /// was compared (NULL: no such key). Token usage and cost follow get_trace_analytics_metadata_filter
            /// (mlflow/store/tracking/utils/trace_analytics.py): '=' matches only the exact JSON MLflow synthesizes for
            /// the columns (compatibility_metadata_from_columns), '!=' needs one of the columns set.</summary>
            public string PromotedFilter(FilterClause clause)
            {
                var columns = Promoted(clause)!;
                if (columns.Count == 1 && (columns[0] == TraceAnalytics.TraceNameColumn || columns[0] == TraceAnalytics.SessionColumn))
                {
                    string column = "ti." + columns[0];
                    switch (clause.Comparator)
                    {
                        case "IS NULL": return column + " IS NULL";
                        case "IS NOT NULL": return column + " IS NOT NULL";
                        default: return Compare(column, clause);
                    }
                }
                bool tokens = clause.Key == TraceSearchKeys.TokenUsageMetadata;
                var present = columns.Where(_layout.HasPromotedColumn).ToList();
                string exists = present.Count == 0 ? False : "(" + string.Join(" OR ", present.Select(col => $"ti.{col} IS NOT NULL")) + ")";
                switch (clause.Comparator)
                {
                    case "IS NULL": return "NOT " + exists;
                    case "IS NOT NULL": return exists;
                }
                // The value as MLflow normalizes it: a JSON object whose keys are all this key's, each converted as
                // the columns store it; a match only if the text is exactly json.dumps of that.
                var normalized = new List<(string Column, object Value, string Json)>();
                JsonNode? parsed = null;
                try { parsed = JsonNode.Parse(clause.StringValue ?? ""); } catch (JsonException) { }
                if (parsed is JsonObject o && o.Items.All(kv => columns.Contains(kv.Key)))
                    foreach (var col in columns)
                    {
                        if (tokens && TraceAnalytics.TokenCountOrNone(o.Get(col)) is long n) normalized.Add((col, n, n.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                        if (!tokens && TraceAnalytics.FiniteFloatOrNone(o.Get(col)) is double d) normalized.Add((col, d, PyJson.FloatRepr(d)));
                    }
                string canonical = "{" + string.Join(", ", normalized.Select(v => PyJson.DumpString(v.Column) + ": " + v.Json)) + "}";
                string matches = False;
                if (normalized.Count > 0 && clause.StringValue == canonical && normalized.All(v => _layout.HasPromotedColumn(v.Column)))
                    matches = "(" + string.Join(" AND ", present.Select(col =>
                    {
                        int i = normalized.FindIndex(v => v.Column == col);
                        return i >= 0 ? $"ti.{col} = {_p.Add(normalized[i].Value)}" : $"ti.{col} IS NULL";
                    })) + ")";
                return clause.Comparator == "=" ? matches : $"{exists} AND NOT {matches}";
            }

            /// <summary>run_id = R: the run's own traces (metadata mlflow.sourceRun) and the traces linked to it.</summary>
            public string RunId(string runId)
            {
                string v = _p.Add(runId);
                string metadata = $"EXISTS (SELECT 1 FROM trace_request_metadata rm WHERE rm.request_id = ti.request_id AND rm.\"key\" = '{TraceSearchKeys.SourceRunMetadata}' AND rm.value = {v})";
                if (!_layout.HasEntityAssociations)
                {
                    Warn("This store has no entity_associations table (MLflow before 3.0): run_id filters match the run's own traces (metadata mlflow.sourceRun) only, as no trace can be linked to a run here.");
                    return metadata;
                }
                return $"EXISTS (SELECT 1 FROM entity_associations ea WHERE ea.source_type = 'trace' AND ea.source_id = ti.request_id AND ea.destination_type = 'run' AND ea.destination_id = {v}) OR {metadata}";
            }

            public string Prompt(string nameVersion)
            {
                if (!_layout.HasEntityAssociations)
                {
                    Warn("This store has no entity_associations table (MLflow before 3.0), where MLflow records linked prompts: prompt filters match no trace.");
                    return False;
                }
                return $"EXISTS (SELECT 1 FROM entity_associations ea WHERE ea.source_type = 'trace' AND ea.source_id = ti.request_id AND ea.destination_type = 'prompt_version' AND ea.destination_id = {_p.Add(nameVersion)})";
            }

            /// <summary>One condition on a span row; all span conditions of a filter hold for the same span.</summary>
            public string Span(FilterClause clause)
            {
                const string attrs = "attributes.";
                if (!clause.Key.StartsWith(attrs, StringComparison.Ordinal))
                {
                    switch (clause.Key)
                    {
                        case "name": return Compare("s.name", clause);
                        case "type": return Compare("s.type", clause);
                        case "status": return Compare("s.status", clause);
                        case "content": return Compare("s.content", clause);
                    }
                    throw new ArgumentException($"Unknown span key '{clause.Key}'.");
                }
                // Attributes are searched in the span's JSON, where each value is itself JSON text:
                // "model": "\"gpt-4\"".
                string name = TraceSearchKeys.TrimBackticks(clause.Key.Substring(attrs.Length));
                if (clause.Comparator == "RLIKE")
                {
                    string value = clause.StringValue!, prefix = "\"\\\\\".*", suffix = "";
                    if (value.StartsWith("^")) { value = value.Substring(1); prefix = "\"\\\\\""; }
                    if (value.EndsWith("$")) { value = value.Substring(0, value.Length - 1); suffix = "\\\\\""; }
                    return _dialect.Regexp("s.content", _p.Add($"\"{name}\": {prefix}{value}{suffix}"));
                }
                // Other comparators take MLflow's LIKE pattern as their value (only LIKE/ILIKE make sense).
                string shown = clause.Value is IReadOnlyList<string> list ? PyRepr.List(list) : clause.StringValue!;
                string pattern = $"%\"{name}\"{shown}%";
                bool isList = clause.Comparator == "IN" || clause.Comparator == "NOT IN";
                return Compare("s.content", clause.Comparator, isList ? (object)new[] { pattern } : pattern);
            }

            /// <summary>A span of the trace meets every span condition. As in MLflow's span subquery, only spans of the
            /// trace's experiment count, and with a timestamp_ms lower bound only spans starting at or after
            /// <paramref name="earliestStartNs"/>. (Both columns stay out of SQLite's index choice: the trace's own
            /// rows, by primary key, are few; an experiment's spans of a type and status are many.)</summary>
            public string Spans(List<string> conditions, long? earliestStartNs)
            {
                if (!_layout.HasSpans)
                {
                    Warn("This store has no spans table (MLflow before 3.2): span filters match no trace.");
                    return False;
                }
                string scope = $"{_dialect.Unindexed("s.experiment_id")} = ti.experiment_id"
                    + (earliestStartNs.HasValue ? $" AND {_dialect.Unindexed("s.start_time_unix_nano")} >= {_p.Add(earliestStartNs.Value)}" : "");
                return $"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = ti.request_id AND {scope} AND {string.Join(" AND ", conditions)}"
                    + (_orderedWalk ? _dialect.KeepCorrelated : "") + ")";
            }

            private bool NeedAssessments()
            {
                if (_layout.HasAssessments) return true;
                Warn("This store has no assessments table (MLflow before 3.0): feedback, expectation and issue filters see no assessments.");
                return false;
            }

            /// <summary>feedback.x / expectation.x: valid (not overridden) assessments of that name. A match on an
            /// assessment made for a session (its metadata names mlflow.trace.session) covers every trace of the
            /// session.</summary>
            public string Assessment(FilterClause clause)
            {
                bool isNull = clause.Comparator == "IS NULL";
                string type = clause.Entity == FilterEntity.Feedback ? "feedback" : "expectation";
                bool numeric = FilterParser.IsNumericAssessment(clause);
                if (numeric && !_layout.HasAssessmentAnalytics)
                    // As the parser before them refuses it (the first such clause's value, which ends the clause's text).
                    throw new InvalidParameterException(
                        $"Expected a quoted string value for {type} (e.g. 'my-value'). Got value {System.Text.RegularExpressions.Regex.Match(clause.Text, @"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$").Value.Trim()}");
                if (!NeedAssessments()) return isNull ? True : False;
                string name = _p.Add(clause.Key);
                string? valueFilter = null;
                if (numeric)
                    // MLflow's analytics layout keeps each assessment's value as a number (assessment_aggregate):
                    // finite JSON numbers only, not booleans or "yes"/"no" (is_numeric_value false).
                    valueFilter = $"a.is_numeric_value = {_dialect.True} AND a.aggregate_value {clause.Comparator} {_p.Add(Convert.ToDouble(clause.Value, System.Globalization.CultureInfo.InvariantCulture))}";
                else if (clause.Comparator != "IS NULL" && clause.Comparator != "IS NOT NULL")
                {
                    if (clause.Comparator == "=" || clause.Comparator == "!=")
                    {
                        // The stored value is JSON: "5" matches 5 and true, "high" matches "\"high\"".
                        string raw = _p.Add(clause.StringValue), json = _p.Add(PyJson.DumpString(clause.StringValue!));
                        string either = $"(a.value = {raw} OR a.value = {json})";
                        valueFilter = clause.Comparator == "=" ? either : "NOT " + either;
                    }
                    else valueFilter = Compare("a.value", clause);
                }
                string filters = $"{_dialect.Unindexed("a.assessment_type")} = '{type}' AND a.name = {name} AND a.valid = {_dialect.True}"
                    + (valueFilter == null ? "" : " AND " + valueFilter);
                string direct = $"EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = ti.request_id AND {filters})";
                string sessionKey = $"'{TraceSearchKeys.SessionMetadata}'";
                string sessionAssessment = $"{filters} AND a.assessment_metadata IS NOT NULL AND "
                    + _dialect.Like("a.assessment_metadata", _p.Add($"%\"{TraceSearchKeys.SessionMetadata}\":%"));
                string inSession;
                if (_layout.HasPromotedColumn(TraceAnalytics.SessionColumn))
                    // On MLflow's analytics layout a trace's session is trace_info.session_id (75868b020152).
                    inSession = $"ti.session_id IN (SELECT st.session_id FROM trace_info st JOIN assessments a ON a.trace_id = st.request_id "
                        + $"WHERE st.session_id IS NOT NULL AND {sessionAssessment})";
                else
                {
                    string sessions = $"SELECT sm.value FROM trace_request_metadata sm JOIN assessments a ON a.trace_id = sm.request_id "
                        + $"WHERE sm.\"key\" = {sessionKey} AND {sessionAssessment}";
                    inSession = $"EXISTS (SELECT 1 FROM trace_request_metadata ts WHERE ts.request_id = ti.request_id AND ts.\"key\" = {sessionKey} AND ts.value IN ({sessions}))";
                }
                return isNull ? $"NOT {direct} AND NOT {inSession}" : $"{direct} OR {inSession}";
            }

            public string Issue(string issueId)
            {
                if (!NeedAssessments()) return False;
                return $"EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = ti.request_id AND {_dialect.Unindexed("a.assessment_type")} = 'issue' AND a.name = {_p.Add(issueId)})";
            }
        }
    }
}
