using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.Data.Sqlite;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Reads traces: the trace_info row, then tags, metadata, assessments and (optionally) spans for a whole batch
    /// of traces at once, so that streaming a million traces costs a few queries per batch, not per trace.
    /// </summary>
    public sealed class TraceReader
    {
        public const int BatchSize = 500;
        private readonly TraceStore _store;

        public TraceReader(TraceStore store) { _store = store; }

        /// <summary>The trace_info columns every trace query selects, in the order <see cref="ReadInfo"/> reads.</summary>
        public string InfoColumns =>
            "ti.request_id, ti.experiment_id, ti.timestamp_ms, ti.execution_time_ms, ti.status"
            + (_store.Layout.HasTraceInfoV3Columns ? ", ti.client_request_id, ti.request_preview, ti.response_preview" : "");

        /// <summary>The columns that identify and order a trace, for questions that need no previews.</summary>
        public const string BaseColumns = "ti.request_id, ti.experiment_id, ti.timestamp_ms, ti.execution_time_ms, ti.status";

        /// <summary>Reads a row of <see cref="InfoColumns"/> or of <see cref="BaseColumns"/>.</summary>
        public Trace ReadInfo(System.Data.Common.DbDataReader r)
        {
            var t = new Trace
            {
                TraceId = r.GetString(0),
                ExperimentId = Convert.ToString(r.GetValue(1), CultureInfo.InvariantCulture) ?? "",
                TimestampMs = r.GetInt64(2),
                ExecutionTimeMs = r.IsDBNull(3) ? (long?)null : r.GetInt64(3),
                State = r.GetString(4),
                TrackingUri = _store.Uri.Original,
            };
            if (_store.Layout.HasTraceInfoV3Columns && r.FieldCount >= 8)
            {
                t.ClientRequestId = r.IsDBNull(5) ? null : r.GetString(5);
                t.RequestPreview = r.IsDBNull(6) ? null : r.GetString(6);
                t.ResponsePreview = r.IsDBNull(7) ? null : r.GetString(7);
            }
            return t;
        }

        /// <summary>The traces with these ids that exist, in the order asked, without children.</summary>
        public List<Trace> GetInfos(IReadOnlyList<string> ids)
        {
            var found = new Dictionary<string, Trace>(StringComparer.Ordinal);
            foreach (var chunk in Chunks(ids.Distinct(StringComparer.Ordinal).ToList(), BatchSize))
            {
                var p = new SqlParameters();
                using var cmd = _store.Command($"SELECT {InfoColumns} FROM trace_info ti WHERE {_store.Dialect.IsAnyOf("ti.request_id", p, chunk)}", p);
                using var r = _store.Translate(() => cmd.ExecuteReader());
                while (r.Read()) { var t = ReadInfo(r); found[t.TraceId] = t; }
            }
            var result = new List<Trace>();
            foreach (var id in ids) if (found.TryGetValue(id, out var t)) result.Add(t);
            return result;
        }

        /// <summary>Fills tags, metadata and assessments of a batch of traces (spans: Spans.SpanLoader, which reads
        /// archives and artifacts too).</summary>
        public void Hydrate(IReadOnlyList<Trace> traces)
        {
            if (traces.Count == 0) return;
            var byId = new Dictionary<string, Trace>(StringComparer.Ordinal);
            foreach (var t in traces) byId[t.TraceId] = t;
            foreach (var chunk in Chunks(byId.Keys.ToList(), BatchSize))
                ReadChildren(chunk, byId, _store.Layout.HasAssessments);
            // Sorted here rather than by SQLite, which would sort the whole batch in a temporary B-tree.
            foreach (var t in traces)
                if (t.Assessments.Count > 1)
                    t.Assessments.Sort((a, b) => a.CreatedTimestampMs != b.CreatedTimestampMs
                        ? a.CreatedTimestampMs.CompareTo(b.CreatedTimestampMs) : string.CompareOrdinal(a.AssessmentId, b.AssessmentId));
        }

        /// <summary>Reads the tags and metadata of these traces again, replacing what they hold (a trace whose
        /// spans moved while it was being read).</summary>
        public void RefreshTags(IReadOnlyList<Trace> traces)
        {
            var byId = new Dictionary<string, Trace>(StringComparer.Ordinal);
            foreach (var t in traces) { t.Tags.Clear(); t.Metadata.Clear(); byId[t.TraceId] = t; }
            foreach (var chunk in Chunks(byId.Keys.ToList(), BatchSize)) ReadChildren(chunk, byId, assessments: false);
        }

        /// <summary>
        /// The tags, metadata and assessments of a batch as three statements of one command: one round trip to a
        /// database server per batch.
        /// </summary>
        private void ReadChildren(List<string> ids, Dictionary<string, Trace> byId, bool assessments)
        {
            var p = new SqlParameters();
            var dialect = _store.Dialect;
            string sql = $"SELECT request_id, \"key\", value FROM trace_tags WHERE {dialect.IsAnyOf("request_id", p, ids)}; " +
                         $"SELECT request_id, \"key\", value FROM trace_request_metadata WHERE {dialect.IsAnyOf("request_id", p, ids)}";
            if (assessments)
                sql += "; SELECT assessment_id, trace_id, name, assessment_type, value, error, created_timestamp, last_updated_timestamp, " +
                       "source_type, source_id, run_id, span_id, rationale, overrides, valid, assessment_metadata " +
                       $"FROM assessments WHERE {dialect.IsAnyOf("trace_id", p, ids)}";
            var promoted = _store.Layout.PromotedTraceColumns;
            if (promoted.Count > 0)
                sql += $"; SELECT request_id, {string.Join(", ", promoted)} FROM trace_info WHERE {dialect.IsAnyOf("request_id", p, ids)}";
            using var cmd = _store.Command(sql, p);
            using var r = _store.Translate(() => cmd.ExecuteReader());
            ReadKeyValues(r, byId, t => t.Tags);
            if (_store.Translate(() => r.NextResult())) ReadKeyValues(r, byId, t => t.Metadata);
            if (assessments && _store.Translate(() => r.NextResult())) ReadAssessments(r, byId);
            if (promoted.Count > 0 && _store.Translate(() => r.NextResult())) ReadPromoted(r, byId, promoted);
        }

        /// <summary>On MLflow's analytics layout, the name tag and the session, token usage and cost metadata as MLflow's
        /// API shows them, synthesized from their trace_info columns (compatibility_metadata_from_columns); a value in a
        /// column wins over a row left from before the upgrade.</summary>
        private static void ReadPromoted(System.Data.Common.DbDataReader r, Dictionary<string, Trace> byId, IReadOnlyCollection<string> promoted)
        {
            while (r.Read())
            {
                if (!byId.TryGetValue(r.GetString(0), out var t)) continue;
                var values = new Dictionary<string, object?>(StringComparer.Ordinal);
                for (int i = 1; i < r.FieldCount; i++) values[r.GetName(i)] = r.IsDBNull(i) ? null : r.GetValue(i);
                TraceAnalytics.Synthesize(c => values.TryGetValue(c, out var v) ? v : null, promoted, t.Tags, t.Metadata);
            }
        }

        private static void ReadKeyValues(System.Data.Common.DbDataReader r, Dictionary<string, Trace> byId, Func<Trace, IDictionary<string, string?>> target)
        {
            while (r.Read())
                if (byId.TryGetValue(r.GetString(0), out var t))
                    target(t)[r.GetString(1)] = r.IsDBNull(2) ? null : r.GetString(2);
        }

        private static void ReadAssessments(System.Data.Common.DbDataReader r, Dictionary<string, Trace> byId)
        {
            while (r.Read())
            {
                if (!byId.TryGetValue(r.GetString(1), out var t)) continue;
                string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
                t.Assessments.Add(new Assessment
                {
                    AssessmentId = r.GetString(0), TraceId = r.GetString(1), Name = r.GetString(2), AssessmentType = r.GetString(3),
                    Value = r.GetString(4), Error = S(5), CreatedTimestampMs = r.GetInt64(6), LastUpdatedTimestampMs = r.GetInt64(7),
                    SourceType = r.GetString(8), SourceId = S(9), RunId = S(10), SpanId = S(11), Rationale = S(12), Overrides = S(13),
                    Valid = !r.IsDBNull(14) && Convert.ToInt64(r.GetValue(14), CultureInfo.InvariantCulture) != 0, Metadata = S(15),
                });
            }
        }

        public static IEnumerable<List<T>> Chunks<T>(IReadOnlyList<T> items, int size)
        {
            for (int i = 0; i < items.Count; i += size)
            {
                var chunk = new List<T>(Math.Min(size, items.Count - i));
                for (int j = i; j < items.Count && j < i + size; j++) chunk.Add(items[j]);
                yield return chunk;
            }
        }
    }
}
