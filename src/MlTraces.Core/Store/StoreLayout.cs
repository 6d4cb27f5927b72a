using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Linq;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Which of MLflow's schema generations a store has, read from the tables and columns present (never from a
    /// list of versions), so stores from versions we have not seen still work as far as their tables allow.
    /// </summary>
    public sealed class StoreLayout
    {
        public string? AlembicRevision { get; private set; }
        public bool HasExperimentWorkspace { get; private set; }
        /// <summary>client_request_id, request_preview and response_preview on trace_info (MLflow 3.0+).</summary>
        public bool HasTraceInfoV3Columns { get; private set; }
        public bool HasDbPayloadGeneration { get; private set; }
        public bool HasSpans { get; private set; }
        public bool HasSpanDimensionAttributes { get; private set; }
        public bool HasSpanLinks { get; private set; }
        public bool HasAssessments { get; private set; }
        public bool HasTraceMetrics { get; private set; }
        public bool HasSpanMetrics { get; private set; }
        public bool HasSpanAttributes { get; private set; }
        public bool HasEntityAssociations { get; private set; }
        public bool HasWorkspaces { get; private set; }
        public bool HasWorkspaceArchivalColumns { get; private set; }

        /// <summary>The trace_info columns MLflow's "add sql trace analytics schema" (75868b020152, MLflow 3.17) moved
        /// the trace name, session id, token usage and cost into, as far as this store has them (a sixth token column,
        /// cache_creation_input_tokens_above_1hr, came in a later version of the same revision). Empty before it.</summary>
        public IReadOnlyCollection<string> PromotedTraceColumns { get; private set; } = Array.Empty<string>();
        /// <summary>trace_info.trace_name and its siblings exist: the name, session, tokens and cost of a trace live
        /// in columns, and MLflow no longer writes (and its upgrade deleted) their tag and metadata rows.</summary>
        public bool HasPromotedTraceColumns => PromotedTraceColumns.Count > 0;
        /// <summary>The analytics columns of 75868b020152 exist but, as in that revision's first version, the tag and
        /// metadata rows and spans.dimension_attributes are kept and stay authoritative: the columns are then treated
        /// as absent (PromotedTraceColumns empty, no assessment, span or rollup analytics).</summary>
        public bool HasLegacyAnalyticsRows { get; private set; }
        /// <summary>assessments.experiment_id, trace_timestamp_ms, aggregate_value and is_numeric_value (75868b020152).</summary>
        public bool HasAssessmentAnalytics { get; private set; }
        /// <summary>spans.input_cost, output_cost, total_cost, model_name and model_provider (75868b020152).</summary>
        public bool HasSpanAnalytics { get; private set; }
        /// <summary>sql_trace_rollup_rebuild_queue, where writers mark a day's rollups stale (75868b020152).</summary>
        public bool HasRollupQueue { get; private set; }

        /// <summary>The review-queue table whose rows name a trace, and that column: review_queue_items.item_id (or, in
        /// an earlier version of b7e4c1a90f23, review_queue_traces.target_id); null where the store has neither. No
        /// foreign key ties them to trace_info, so MLflow's _delete_traces deletes them itself (PR #23913).</summary>
        public (string Table, string Column)? ReviewQueueItems { get; private set; }

        /// <summary>Whether trace_info has this promoted column.</summary>
        public bool HasPromotedColumn(string column) => PromotedTraceColumns.Contains(column);

        /// <summary>Tables that hang on a trace, children first, as far as this layout has them.</summary>
        public IReadOnlyList<string> TraceChildTables
        {
            get
            {
                var t = new List<string>();
                if (HasSpanAttributes) t.Add("span_attributes");
                if (HasSpanMetrics) t.Add("span_metrics");
                if (HasSpans) t.Add("spans");
                if (HasTraceMetrics) t.Add("trace_metrics");
                if (HasAssessments) t.Add("assessments");
                t.Add("trace_request_metadata");
                t.Add("trace_tags");
                return t;
            }
        }

        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, StoreLayout> Cache =
            new System.Collections.Concurrent.ConcurrentDictionary<string, StoreLayout>();

        /// <summary>
        /// Reads the layout, or reuses the one read before for the same store at the same schema: on SQLite the same
        /// file at the same schema_version (SQLite bumps it on every schema change); on PostgreSQL, which has no such
        /// counter, the same database (its oid: one dropped and made again is a new one) at the same alembic revision,
        /// which MLflow stamps with every schema change it makes. A store without alembic_version is read every time.
        /// So a command does not pay for the catalog query on every call.
        /// </summary>
        public static StoreLayout Detect(DbConnection connection, TrackingUri uri)
        {
            string storeName = uri.Original;
            var dialect = uri.Kind == StoreKind.Postgres ? (SqlDialect)PostgresDialect.Instance : SqliteDialect.Instance;
            string? key = uri.Kind == StoreKind.Postgres ? PostgresSchemaKey(connection, uri) : SqliteSchemaKey(connection, uri);
            if (key != null && Cache.TryGetValue(key, out var cached)) return cached;
            var detected = DetectUncached(connection, storeName, dialect);
            if (uri.Kind == StoreKind.Postgres && detected.AlembicRevision != null)
            {
                AlembicStores[storeName] = true;
                // Read after the layout: cached only if no upgrade stamped another revision in between.
                key ??= PostgresSchemaKey(connection, uri);
                if (key != null && !key.EndsWith("|" + detected.AlembicRevision, StringComparison.Ordinal)) key = null;
            }
            if (key != null) Cache[key] = detected;
            return detected;
        }

        /// <summary>PostgreSQL stores (by URI) last seen with an alembic_version table.</summary>
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> AlembicStores =
            new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(StringComparer.Ordinal);

        private static string SqliteSchemaKey(DbConnection connection, TrackingUri uri)
        {
            using var v = connection.CreateCommand();
            v.CommandText = "PRAGMA schema_version";
            return uri.FilePath + "|" + Convert.ToString(v.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }

        private static string? PostgresSchemaKey(DbConnection connection, TrackingUri uri)
        {
            // Only asked of a store known to have the table: the query fails where it is missing.
            if (!AlembicStores.ContainsKey(uri.Original)) return null;
            using var v = connection.CreateCommand();
            v.CommandText = "SELECT d.oid::text || '|' || coalesce((SELECT version_num FROM alembic_version LIMIT 1), '') " +
                            "FROM pg_catalog.pg_database d WHERE d.datname = current_database()";
            try
            {
                return uri.Original + "|" + v.ExecuteScalar();
            }
            catch (Npgsql.PostgresException ex) when (ex.SqlState == "42P01")
            {
                // The table is gone since (undefined_table): read the whole layout.
                AlembicStores.TryRemove(uri.Original, out _);
                return null;
            }
        }

        private static StoreLayout DetectUncached(DbConnection connection, string storeName, SqlDialect dialect)
        {
            var tables = new Dictionary<string, HashSet<string>>(StringComparer.OrdinalIgnoreCase);
            using (var cmd = connection.CreateCommand())
            {
                // One query for the tables and the columns of those whose columns matter.
                cmd.CommandText = dialect.TablesAndColumnsQuery;
                string[] detailed = { "trace_info", "experiments", "spans", "workspaces", "assessments" };
                for (int i = 0; i < detailed.Length; i++) TraceStore.AddParameter(cmd, "@t" + i, detailed[i]);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    string table = r.GetString(0);
                    if (!tables.TryGetValue(table, out var columns)) tables[table] = columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                    if (!r.IsDBNull(1)) columns.Add(r.GetString(1));
                }
            }
            if (!tables.ContainsKey("trace_info") || !tables.ContainsKey("experiments"))
            {
                throw new MlTracesException(ErrorKind.NotMlflowStore, "NotAnMlflowStore",
                    tables.ContainsKey("experiments")
                        ? $"The store '{storeName}' is an MLflow tracking store from before MLflow 2.14 and has no trace tables. Upgrade it with 'mlflow db upgrade <uri>' or name a newer store."
                        : $"The database '{storeName}' is not an MLflow tracking store (it has no trace_info or experiments table). Name the database an MLflow server uses, e.g. sqlite:///mlflow.db or postgresql://user@host:5432/mlflow.");
            }

            var layout = new StoreLayout();
            if (tables.ContainsKey("alembic_version"))
            {
                using var cmd = connection.CreateCommand();
                cmd.CommandText = "SELECT version_num FROM alembic_version LIMIT 1";
                layout.AlembicRevision = cmd.ExecuteScalar() as string;
            }
            bool Has(string table, string column) => tables.TryGetValue(table, out var cols) && cols.Contains(column);
            foreach (var required in new[] { "request_id", "experiment_id", "timestamp_ms", "execution_time_ms", "status" })
                if (!Has("trace_info", required))
                    throw new MlTracesException(ErrorKind.UnsupportedStore, "UnsupportedStoreLayout",
                        $"The store '{storeName}' has a trace_info table without the column '{required}'; MlTraces does not recognise this layout.");
            layout.HasExperimentWorkspace = Has("experiments", "workspace");
            layout.HasTraceInfoV3Columns = Has("trace_info", "client_request_id") && Has("trace_info", "request_preview");
            layout.HasDbPayloadGeneration = Has("trace_info", "db_payload_generation");
            layout.HasSpans = tables.ContainsKey("spans");
            layout.HasSpanDimensionAttributes = Has("spans", "dimension_attributes");
            layout.HasSpanLinks = Has("spans", "links");
            layout.HasAssessments = tables.ContainsKey("assessments");
            layout.HasTraceMetrics = tables.ContainsKey("trace_metrics");
            layout.HasSpanMetrics = tables.ContainsKey("span_metrics");
            layout.HasSpanAttributes = tables.ContainsKey("span_attributes");
            layout.HasEntityAssociations = tables.ContainsKey("entity_associations");
            layout.HasWorkspaces = tables.ContainsKey("workspaces");
            layout.HasWorkspaceArchivalColumns = Has("workspaces", "trace_archival_location");
            // 75868b020152 as first merged (PR #24588) added and backfilled the columns but kept the tag, metadata and
            // metric rows and spans.dimension_attributes "for follow-up reader and writer changes": MLflow of that
            // version still read and wrote the rows, so there they stay what is searched, read and written. The
            // released version (PR #24760) deletes the rows and drops dimension_attributes in the same migration.
            layout.HasLegacyAnalyticsRows = Has("trace_info", "trace_name") && layout.HasSpanDimensionAttributes;
            // Each promoted column on its own: versions of the same revision differ in which token columns exist.
            if (Has("trace_info", "trace_name") && !layout.HasLegacyAnalyticsRows)
                layout.PromotedTraceColumns = new HashSet<string>(
                    TraceAnalytics.PromotedColumns.Where(c => Has("trace_info", c)), StringComparer.Ordinal);
            layout.HasAssessmentAnalytics = !layout.HasLegacyAnalyticsRows && Has("assessments", "aggregate_value") && Has("assessments", "is_numeric_value")
                && Has("assessments", "experiment_id") && Has("assessments", "trace_timestamp_ms");
            layout.HasSpanAnalytics = !layout.HasLegacyAnalyticsRows && Has("spans", "model_name") && Has("spans", "total_cost");
            layout.HasRollupQueue = !layout.HasLegacyAnalyticsRows && tables.ContainsKey("sql_trace_rollup_rebuild_queue");
            if (tables.ContainsKey("review_queue_items")) layout.ReviewQueueItems = ("review_queue_items", "item_id");
            else if (tables.ContainsKey("review_queue_traces")) layout.ReviewQueueItems = ("review_queue_traces", "target_id");
            return layout;
        }
    }
}
