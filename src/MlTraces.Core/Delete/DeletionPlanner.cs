using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using MlTraces.Core.Query;
using MlTraces.Core.Store;

namespace MlTraces.Core.Delete
{
    /// <summary>A deletion by age or by filter, over experiments already resolved (Experiments.Resolve).</summary>
    public sealed class DeletionQuery
    {
        public IReadOnlyList<string> ExperimentIds { get; set; } = Array.Empty<string>();
        /// <summary>MLflow filter string, compiled by the same compiler as Search-Trace.</summary>
        public string? Filter { get; set; }
        /// <summary>Traces that started at or before this time (inclusive, as MLflow's max_timestamp_millis; 0 means 0).</summary>
        public long? MaxTimestampMs { get; set; }
        /// <summary>At most this many, oldest first (MLflow's max_traces). Held traces do not count.</summary>
        public int? MaxTraces { get; set; }
    }

    /// <summary>
    /// Computes deletion plans. By id: the traces named, in the order named, each found once. By age or filter:
    /// Search-Trace's own query (SearchCompiler, FilterCompiler) ordered oldest first with MLflow's tie-breaker,
    /// so a filter selects exactly what Search-Trace returns for it. Then, a chunk at a time, one statement reads
    /// what the plan shows of each trace: experiment, time, state, the legal hold, its file locations and how many
    /// rows hang on it.
    /// </summary>
    public sealed class DeletionPlanner
    {
        public const int ChunkSize = 500;
        private readonly TraceStore _store;
        private readonly Dictionary<string, Experiment> _experiments;

        /// <param name="visible">The experiments the command may see (its workspace's, or all).</param>
        public DeletionPlanner(TraceStore store, IEnumerable<Experiment> visible)
        {
            _store = store;
            _experiments = visible.ToDictionary(e => e.ExperimentId, StringComparer.Ordinal);
        }

        /// <param name="experimentIds">Only traces of these experiments; null for any visible one.</param>
        public DeletionPlan ForIds(IReadOnlyList<string> ids, IReadOnlyCollection<string>? experimentIds, CancellationToken cancel = default)
        {
            var plan = new DeletionPlan(_store.Uri.Original);
            var wanted = ids.Distinct(StringComparer.Ordinal).ToList();
            var found = new Dictionary<string, PlannedTrace>(StringComparer.Ordinal);
            foreach (var chunk in TraceReader.Chunks(wanted, ChunkSize))
            {
                cancel.ThrowIfCancellationRequested();
                foreach (var t in Details(chunk)) found[t.TraceId] = t;
            }
            foreach (var id in wanted)
            {
                // Outside the workspace or the named experiments reads exactly like not there.
                if (!found.TryGetValue(id, out var t) || !_experiments.ContainsKey(t.ExperimentId)
                    || (experimentIds != null && !experimentIds.Contains(t.ExperimentId)))
                    plan.NotFound.Add(id);
                else (t.Held ? plan.Held : plan.Traces).Add(t);
            }
            return plan;
        }

        public DeletionPlan ForQuery(DeletionQuery query, CancellationToken cancel = default)
        {
            var plan = new DeletionPlan(_store.Uri.Original);
            var experimentIds = query.ExperimentIds.Where(_experiments.ContainsKey)
                .Select(id => long.Parse(id, CultureInfo.InvariantCulture)).ToList();
            var compiled = SearchCompiler.Compile(new SearchSpec
            {
                ExperimentIds = experimentIds,
                Filter = query.Filter,
                MaxTimestampMs = query.MaxTimestampMs,
                OrderBy = new[] { "timestamp_ms ASC" },
            }, _store.Layout, _store.Dialect, "ti.request_id, " + LegalHold.Condition("ti"));
            plan.Warnings.AddRange(compiled.Warnings);

            var chosen = new List<string>();
            var held = new List<string>();
            if (experimentIds.Count > 0 && query.MaxTraces != 0)
            {
                _store.Translate(() =>
                {
                    using var cmd = _store.Command(compiled.Sql, compiled.Parameters);
                    using var r = cmd.ExecuteReader();
                    // The limit counts traces that can go: a held trace must not stop the oldest others from going.
                    while ((query.MaxTraces == null || chosen.Count < query.MaxTraces) && r.Read())
                    {
                        if ((chosen.Count & 1023) == 0) cancel.ThrowIfCancellationRequested();
                        (r.GetBoolean(1) ? held : chosen).Add(r.GetString(0));
                    }
                    return 0;
                });
            }
            plan.Traces.AddRange(DetailsInOrder(chosen, cancel));
            plan.Held.AddRange(DetailsInOrder(held, cancel));
            return plan;
        }

        private List<PlannedTrace> DetailsInOrder(List<string> ids, CancellationToken cancel)
        {
            var result = new List<PlannedTrace>(ids.Count);
            foreach (var chunk in TraceReader.Chunks(ids, ChunkSize))
            {
                cancel.ThrowIfCancellationRequested();
                var byId = Details(chunk).ToDictionary(t => t.TraceId, StringComparer.Ordinal);
                // A trace deleted by someone else since the candidate query simply drops out of the plan.
                foreach (var id in chunk) if (byId.TryGetValue(id, out var t)) result.Add(t);
            }
            return result;
        }

        private List<PlannedTrace> Details(IReadOnlyList<string> ids)
        {
            var layout = _store.Layout;
            string Count(bool has, string table, string column) =>
                has ? $"(SELECT count(*) FROM {table} c WHERE c.{column} = ti.request_id)" : "0";
            string Tag(string key) => $"(SELECT t.value FROM trace_tags t WHERE t.request_id = ti.request_id AND t.\"key\" = '{key}')";
            string links = layout.HasEntityAssociations
                ? "(SELECT count(*) FROM entity_associations a WHERE a.source_type = 'trace' AND a.source_id = ti.request_id) + " +
                  "(SELECT count(*) FROM entity_associations a WHERE a.destination_type = 'trace' AND a.destination_id = ti.request_id)"
                : "0";
            var p = new SqlParameters();
            string sql = "SELECT ti.request_id, ti.experiment_id, ti.timestamp_ms, ti.status, " + LegalHold.Condition("ti") + ", "
                + Tag(TraceTagKeys.ArtifactLocation) + ", " + Tag(TraceTagKeys.ArchiveLocation) + ", "
                + Count(true, "trace_tags", "request_id") + ", " + Count(true, "trace_request_metadata", "request_id") + ", "
                + Count(layout.HasSpans, "spans", "trace_id") + ", " + Count(layout.HasAssessments, "assessments", "trace_id") + ", "
                + Count(layout.HasTraceMetrics, "trace_metrics", "request_id") + " + " + Count(layout.HasSpanMetrics, "span_metrics", "trace_id") + ", "
                + links
                + $" FROM trace_info ti WHERE {_store.Dialect.IsAnyOf("ti.request_id", p, ids)}";
            return _store.Translate(() =>
            {
                var result = new List<PlannedTrace>(ids.Count);
                using var cmd = _store.Command(sql, p);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    string id = r.GetString(0);
                    string experimentId = Convert.ToString(r.GetValue(1), CultureInfo.InvariantCulture) ?? "";
                    result.Add(new PlannedTrace
                    {
                        TraceId = id,
                        ExperimentId = experimentId,
                        ExperimentName = _experiments.TryGetValue(experimentId, out var e) ? e.Name : null,
                        TimestampMs = r.GetInt64(2),
                        State = r.GetString(3),
                        Held = r.GetBoolean(4),
                        Files = TraceFiles.Locate(id, r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6)),
                        Tags = r.GetInt32(7),
                        Metadata = r.GetInt32(8),
                        Spans = r.GetInt32(9),
                        Assessments = r.GetInt32(10),
                        Metrics = r.GetInt32(11),
                        Associations = r.GetInt32(12),
                    });
                }
                return result;
            });
        }
    }
}
