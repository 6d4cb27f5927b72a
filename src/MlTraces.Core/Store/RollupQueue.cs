using System.Collections.Generic;
using System.Data.Common;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Marks the daily trace-analytics rollups of MLflow's analytics layout (75868b020152) stale where a write or a
    /// delete changed their source rows, as MLflow's writers do (enqueue_rollup_rebuild_partitions in
    /// mlflow/store/tracking/utils/sql_trace_rollups.py): one sql_trace_rollup_rebuild_queue row per experiment, UTC
    /// day and family (trace_metric by the trace's timestamp, assessment by the assessed trace's timestamp, span_cost
    /// by the span's start), only for days old enough that the maintenance job may have published them
    /// (ROLLUP_ELIGIBILITY_LAG_MS, one day). MLflow does this only where its server runs with
    /// MLFLOW_SQL_TRACE_ROLLUPS_ENABLED, which MlTraces cannot see: it always does, as a queued day only sends a
    /// dashboard to the raw rows, while a missing entry would leave a stale rollup served as current.
    /// </summary>
    public static class RollupQueue
    {
        public const long EligibilityLagMs = 86_400_000;

        /// <summary>Queues the partitions of these traces, in the caller's transaction and while their rows exist.</summary>
        public static void Invalidate(TraceStore store, DbTransaction tx, IReadOnlyCollection<string> traceIds, long nowMs)
        {
            if (!store.Layout.HasRollupQueue || traceIds.Count == 0) return;
            var p = new SqlParameters();
            string cutoff = p.Add(nowMs - EligibilityLagMs);
            string ids = store.Dialect.IsAnyOf("ti.request_id", p, traceIds);
            bool pg = store.Kind == StoreKind.Postgres;
            // MLflow's rollup_day is a DATE: 'YYYY-MM-DD' text on SQLite, a date on PostgreSQL.
            string Day(string epochMs) => pg ? $"(to_timestamp({epochMs} / 1000.0) AT TIME ZONE 'UTC')::date" : $"date({epochMs} / 1000, 'unixepoch')";
            const string insert = "INSERT INTO sql_trace_rollup_rebuild_queue (experiment_id, rollup_day, rollup_family) ";
            const string conflict = " ON CONFLICT DO NOTHING";
            var statements = new List<string>
            {
                insert + $"SELECT DISTINCT ti.experiment_id, {Day("ti.timestamp_ms")}, 'trace_metric' FROM trace_info ti WHERE {ids} AND ti.timestamp_ms <= {cutoff}" + conflict,
            };
            if (store.Layout.HasAssessments)
                statements.Add(insert + $"SELECT DISTINCT ti.experiment_id, {Day("ti.timestamp_ms")}, 'assessment' FROM trace_info ti WHERE {ids} AND ti.timestamp_ms <= {cutoff} "
                    + "AND EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = ti.request_id)" + conflict);
            if (store.Layout.HasSpans)
                statements.Add(insert + $"SELECT DISTINCT s.experiment_id, {Day("(s.start_time_unix_nano / 1000000)")}, 'span_cost' FROM spans s JOIN trace_info ti ON ti.request_id = s.trace_id "
                    + $"WHERE {ids} AND s.start_time_unix_nano / 1000000 <= {cutoff}" + conflict);
            foreach (var sql in statements)
            {
                using var cmd = store.Command(sql, p);
                cmd.Transaction = tx;
                cmd.ExecuteNonQuery();
            }
        }
    }
}
