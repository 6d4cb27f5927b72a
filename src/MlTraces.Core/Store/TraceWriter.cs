using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.Data.Sqlite;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Inserts whole traces (info, tags, metadata, assessments, spans) into a store of any layout that can hold
    /// them. Commands are prepared once and reused, so callers can write many traces in one transaction.
    /// </summary>
    public sealed class TraceWriter : IDisposable
    {
        private readonly TraceStore _store;
        private readonly System.Data.Common.DbTransaction _tx;
        private readonly System.Data.Common.DbCommand _exists, _info, _tag, _meta;
        private readonly System.Data.Common.DbCommand? _assessment, _span;

        public TraceWriter(TraceStore store, System.Data.Common.DbTransaction transaction)
        {
            _store = store; _tx = transaction;
            var layout = store.Layout;
            _exists = Prepare("SELECT 1 FROM trace_info WHERE request_id = @id", "@id");
            var infoCols = new List<string> { "request_id", "experiment_id", "timestamp_ms", "execution_time_ms", "status" };
            if (layout.HasTraceInfoV3Columns) infoCols.AddRange(new[] { "client_request_id", "request_preview", "response_preview" });
            // MLflow's analytics layout (75868b020152): the name, session, tokens and cost go into these columns.
            _promoted = TraceAnalytics.PromotedColumns.Where(layout.HasPromotedColumn).ToList();
            infoCols.AddRange(_promoted);
            _info = Insert("trace_info", infoCols);
            _tag = Insert("trace_tags", new[] { "key", "value", "request_id" });
            _meta = Insert("trace_request_metadata", new[] { "key", "value", "request_id" });
            if (layout.HasAssessments)
                _assessment = Insert("assessments", new[] { "assessment_id", "trace_id", "name", "assessment_type", "value", "error",
                    "created_timestamp", "last_updated_timestamp", "source_type", "source_id", "run_id", "span_id", "rationale",
                    "overrides", "valid", "assessment_metadata" }
                    .Concat(layout.HasAssessmentAnalytics ? AssessmentAnalyticsColumns : new string[0]).ToList());
            if (layout.HasSpans)
                // duration_ns is a stored generated column and is never named in an INSERT.
                _span = Insert("spans", new[] { "trace_id", "experiment_id", "span_id", "parent_span_id", "name", "type", "status",
                    "start_time_unix_nano", "end_time_unix_nano", "content" }
                    .Concat(layout.HasSpanAnalytics ? SpanAnalyticsColumns : new string[0]).ToList());
        }

        private readonly List<string> _promoted;
        private static readonly string[] AssessmentAnalyticsColumns = { "experiment_id", "trace_timestamp_ms", "aggregate_value", "is_numeric_value" };
        private static readonly string[] SpanAnalyticsColumns = { "input_cost", "output_cost", "total_cost", "model_name", "model_provider" };

        private System.Data.Common.DbCommand Prepare(string sql, params string[] parameterNames)
        {
            var cmd = _store.Connection.CreateCommand();
            cmd.Transaction = _tx;
            cmd.CommandText = sql;
            foreach (var name in parameterNames) TraceStore.AddParameter(cmd, name, null);
            return cmd;
        }

        private System.Data.Common.DbCommand Insert(string table, IList<string> columns)
        {
            var names = new List<string>();
            for (int i = 0; i < columns.Count; i++) names.Add("@c" + i.ToString(CultureInfo.InvariantCulture));
            var quoted = new List<string>();
            foreach (var c in columns) quoted.Add("\"" + c + "\"");
            return Prepare($"INSERT INTO {table} ({string.Join(", ", quoted)}) VALUES ({string.Join(", ", names)})", names.ToArray());
        }

        private static void Run(System.Data.Common.DbCommand cmd, params object?[] values)
        {
            for (int i = 0; i < values.Length; i++) cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
            cmd.ExecuteNonQuery();
        }

        public bool Exists(string traceId)
        {
            _exists.Parameters[0].Value = traceId;
            return _exists.ExecuteScalar() != null;
        }

        /// <summary>What this store cannot hold of the trace, or null when it can hold all of it.</summary>
        public string? WhatCannotBeStored(Trace trace)
        {
            var layout = _store.Layout;
            if (trace.Spans != null && trace.Spans.Count > 0 && !layout.HasSpans)
                return $"the store has no spans table (an MLflow layout older than 3.2) and cannot hold the trace's {trace.Spans.Count} span(s)";
            if (trace.Assessments.Count > 0 && !layout.HasAssessments)
                return $"the store has no assessments table and cannot hold the trace's {trace.Assessments.Count} assessment(s)";
            // Previews and the client request id are not refused on an old layout: it simply has no columns for them.
            return null;
        }

        /// <summary>Inserts the trace; the caller has checked <see cref="Exists"/> and <see cref="WhatCannotBeStored"/>.</summary>
        public void Write(Trace trace)
        {
            long experimentId = long.Parse(trace.ExperimentId, NumberStyles.Integer, CultureInfo.InvariantCulture);
            var info = new List<object?> { trace.TraceId, experimentId, trace.TimestampMs, trace.ExecutionTimeMs, trace.State };
            if (_store.Layout.HasTraceInfoV3Columns) info.AddRange(new object?[] { trace.ClientRequestId, trace.RequestPreview, trace.ResponsePreview });
            // As MLflow's start_trace writes them on this layout (analytics_columns_from_metadata): the columns, and
            // no tag or metadata row for what they hold.
            var promoted = TraceAnalytics.ColumnsFrom(trace.Tags, trace.Metadata, _promoted);
            foreach (var c in _promoted) info.Add(promoted.TryGetValue(c, out var v) ? v : null);
            Run(_info, info.ToArray());
            foreach (var tag in trace.Tags)
                if (!TraceAnalytics.IsHeldInColumns(tag.Key, isTag: true, _promoted)) Run(_tag, tag.Key, tag.Value, trace.TraceId);
            foreach (var meta in trace.Metadata)
                if (!TraceAnalytics.IsHeldInColumns(meta.Key, isTag: false, _promoted)) Run(_meta, meta.Key, meta.Value, trace.TraceId);
            bool assessmentAnalytics = _store.Layout.HasAssessmentAnalytics;
            if (_assessment != null)
                foreach (var a in trace.Assessments)
                {
                    var row = new List<object?> { a.AssessmentId, trace.TraceId, a.Name, a.AssessmentType, a.Value, a.Error,
                        a.CreatedTimestampMs, a.LastUpdatedTimestampMs, a.SourceType, a.SourceId, a.RunId, a.SpanId,
                        a.Rationale, a.Overrides, a.Valid, a.Metadata };
                    if (assessmentAnalytics)
                    {
                        var (value, numeric) = TraceAnalytics.AssessmentAggregate(a.Value);
                        row.AddRange(new object?[] { experimentId, trace.TimestampMs, value, numeric });
                    }
                    Run(_assessment, row.ToArray());
                }
            bool spanAnalytics = _store.Layout.HasSpanAnalytics;
            if (_span != null && trace.Spans != null)
                foreach (var s in trace.Spans)
                {
                    var row = new List<object?> { trace.TraceId, experimentId, s.SpanId, s.ParentSpanId, s.Name, s.SpanType, s.Status,
                        s.StartTimeUnixNano, s.EndTimeUnixNano, s.Content };
                    if (spanAnalytics) row.AddRange(TraceAnalytics.SpanColumns(s.Attributes));
                    Run(_span, row.ToArray());
                }
        }

        public void Dispose()
        {
            _exists.Dispose(); _info.Dispose(); _tag.Dispose(); _meta.Dispose();
            _assessment?.Dispose(); _span?.Dispose();
        }
    }
}
