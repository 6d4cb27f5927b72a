using System;
using System.Collections.Generic;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// What tab completion offers from a store: read-only, index-driven queries that stay quick on stores with
    /// millions of traces (tag and metadata keys come from a loose index scan of the (key, request_id) primary
    /// key, a few index steps per distinct key, never a scan of the rows).
    /// </summary>
    public static class Completion
    {
        public const int MaxResults = 200;

        public static List<Experiment> Experiments(TraceStore store) => Store.Experiments.Active(store);

        public static List<string> TagKeys(TraceStore store) => DistinctKeys(store, "trace_tags");

        public static List<string> MetadataKeys(TraceStore store) => DistinctKeys(store, "trace_request_metadata");

        private static List<string> DistinctKeys(TraceStore store, string table)
        {
            // table is one of two constants above, never user text.
            string sql =
                $"WITH RECURSIVE k(key) AS (SELECT min(\"key\") FROM {table} " +
                $"UNION ALL SELECT (SELECT min(\"key\") FROM {table} WHERE \"key\" > k.key) FROM k WHERE k.key IS NOT NULL) " +
                $"SELECT key FROM k WHERE key IS NOT NULL LIMIT {MaxResults}";
            var keys = new List<string>();
            using var cmd = store.Command(sql);
            using var r = store.Translate(() => cmd.ExecuteReader());
            while (r.Read()) keys.Add(r.GetString(0));
            return keys;
        }

        /// <summary>The order_by keys MLflow accepts for traces.</summary>
        public static readonly IReadOnlyList<string> OrderKeys = new[]
        {
            "timestamp_ms", "execution_time_ms", "end_time", "status", "name", "run_id", "request_id", "experiment_id",
        };

        /// <summary>The fields of MLflow's trace filter language, as they are typed.</summary>
        public static readonly IReadOnlyList<string> FilterFields = new[]
        {
            "status", "name", "timestamp_ms", "execution_time_ms", "end_time", "run_id", "request_id", "client_request_id",
            "trace.text", "prompt", "span.name", "span.type", "span.status", "span.content", "span.attributes.",
            "tag.", "metadata.", "feedback.", "expectation.", "issue.id",
        };
    }
}
