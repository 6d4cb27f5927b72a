using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Query;
using MlTraces.Core.Store;
using MlTraces.Core.Spans;

namespace MlTraces.Core.Search
{
    public sealed class SearchOptions
    {
        public IReadOnlyList<string> ExperimentIds { get; set; } = Array.Empty<string>();
        public string? Filter { get; set; }
        /// <summary>The filter already parsed: a command parses its filter once (null: parse <see cref="Filter"/>).</summary>
        public IReadOnlyList<FilterClause>? Clauses { get; set; }
        public IReadOnlyList<string>? OrderBy { get; set; }
        public long Offset { get; set; }
        public long? Limit { get; set; }
        public bool IncludeSpans { get; set; }
        /// <summary>Only traces under legal hold.</summary>
        public bool LegalHoldOnly { get; set; }
    }

    /// <summary>
    /// Runs MLflow's trace search on a store and streams the results in batches: a batch of trace_info rows, then
    /// their tags, metadata, assessments (and spans) in a few queries. Memory stays flat however many traces match.
    /// </summary>
    public sealed class TraceSearch
    {
        private readonly TraceStore _store;
        private readonly TraceReader _reader;
        private readonly Locations.ObjectStoreSettings _settings;
        public List<string> Warnings { get; } = new List<string>();

        /// <param name="settings">How spans in object stores are reached (-IncludeSpans): the command's.</param>
        public TraceSearch(TraceStore store, Locations.ObjectStoreSettings settings)
        {
            _store = store;
            _reader = new TraceReader(store);
            _settings = settings;
        }

        public IEnumerable<Trace> Run(SearchOptions options, CancellationToken cancel = default) =>
            RunBatches(options, cancel).SelectMany(batch => batch);

        /// <summary>The results in batches, each with its children loaded. Parses and compiles everything first,
        /// so a bad filter fails before any row is read.</summary>
        public IEnumerable<IReadOnlyList<Trace>> RunBatches(SearchOptions options, CancellationToken cancel = default)
        {
            var clauses = options.Clauses ??= FilterParser.Parse(options.Filter, numericAssessments: true);
            var order = OrderByParser.Parse(options.OrderBy);
            var experimentIds = options.ExperimentIds.Select(Experiments.NormalizeId).Distinct().Select(id => long.Parse(id, CultureInfo.InvariantCulture)).ToList();
            if (experimentIds.Count == 0) return Enumerable.Empty<IReadOnlyList<Trace>>();
            WarnAboutArchivedPayloads(clauses, experimentIds);
            bool defaultOrder = OrderByParser.IsDefault(order);
            var rows = defaultOrder && experimentIds.Count > 1
                ? MergedPerExperiment(clauses, experimentIds, options.Offset, options.Limit, options.LegalHoldOnly, cancel)
                : SingleQuery(options, experimentIds, cancel);
            return Hydrated(rows, options.IncludeSpans, cancel);
        }

        /// <summary>
        /// Archived traces keep their span rows but not the span content, so a filter on span payloads
        /// (span.content, span.attributes.*, trace.text) cannot match them. MLflow misses them silently; we say so.
        /// </summary>
        private void WarnAboutArchivedPayloads(IReadOnlyList<FilterClause> clauses, List<long> experimentIds)
        {
            var payload = clauses.FirstOrDefault(c => c.Entity == FilterEntity.Span
                && (c.Key == "content" || c.Key.StartsWith("attributes.", StringComparison.Ordinal)));
            if (payload == null || !_store.Layout.HasSpans) return;
            var p = new SqlParameters();
            // Driven from the archiveLocation key (an index seek that finds nothing on a store never archived),
            // not from spansLocation's value, which no index covers.
            string sql = $"SELECT count(*) FROM trace_tags a WHERE a.\"key\" = {p.Add(TraceTagKeys.ArchiveLocation)} " +
                         $"AND EXISTS (SELECT 1 FROM trace_tags s WHERE s.\"key\" = {p.Add(TraceTagKeys.SpansLocation)} AND s.request_id = a.request_id AND s.value = {p.Add(SpansLocations.ArchiveRepo)}) " +
                         $"AND EXISTS (SELECT 1 FROM trace_info ti WHERE ti.request_id = a.request_id AND {SearchCompiler.TracesOf(experimentIds, p)})";
            using var cmd = _store.Command(sql, p);
            long archived = _store.Translate(() => Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture));
            if (archived > 0)
                Warnings.Add($"{archived:N0} archived trace(s) are in scope. Their span payloads are in the archive, so '{payload.Text}' cannot match them " +
                             "(MLflow misses them silently too). Restore-Trace brings payloads back into the store; filters on trace fields, tags, metadata, assessments and span name, type and status still see archived traces.");
        }

        public long Count(SearchOptions options)
        {
            var clauses = options.Clauses ??= FilterParser.Parse(options.Filter, numericAssessments: true);
            var ids = options.ExperimentIds.Select(Experiments.NormalizeId).Distinct().ToList();
            if (ids.Count == 0) return 0;
            var p = new SqlParameters();
            string sql = $"SELECT count(*) FROM trace_info ti WHERE " + SearchCompiler.TracesOf(ids.Select(i => long.Parse(i, CultureInfo.InvariantCulture)), p,
                () => SearchCompiler.Condition(clauses, null, options.LegalHoldOnly, _store.Layout, _store.Dialect, p, Warnings));
            using var cmd = _store.Command(sql, p);
            return _store.Translate(() => Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture));
        }

        private IEnumerable<Trace> SingleQuery(SearchOptions options, List<long> experimentIds, CancellationToken cancel)
        {
            var compiled = SearchCompiler.Compile(new SearchSpec
            {
                ExperimentIds = experimentIds,
                Filter = options.Filter,
                Clauses = options.Clauses,
                OrderBy = options.OrderBy,
                Offset = options.Offset,
                Limit = options.Limit,
                LegalHoldOnly = options.LegalHoldOnly,
            }, _store.Layout, _store.Dialect, _reader.InfoColumns);
            Warnings.AddRange(compiled.Warnings);
            foreach (var trace in _store.Stream(compiled.Sql, compiled.Parameters, _reader.ReadInfo, options.Limit))
            {
                cancel.ThrowIfCancellationRequested();
                yield return trace;
            }
        }

        /// <summary>
        /// MLflow's default order (newest first, then id) over several experiments, answered by walking each
        /// experiment's (experiment_id, timestamp_ms) index in order and merging lazily: the first page costs a
        /// few index steps instead of sorting every matching trace of every experiment.
        /// </summary>
        private IEnumerable<Trace> MergedPerExperiment(IReadOnlyList<FilterClause> clauses, List<long> experimentIds,
            long offset, long? limit, bool legalHoldOnly, CancellationToken cancel)
        {
            bool first = true;
            var rows = PerExperimentWalk.Run(_store, experimentIds, (id, p) =>
            {
                // The filter's warnings are the same for every experiment: keep one copy.
                var warnings = first ? Warnings : new List<string>();
                first = false;
                return $"SELECT {_reader.InfoColumns} FROM trace_info ti WHERE " + SearchCompiler.TracesOf(new[] { id }, p,
                    () => SearchCompiler.Condition(clauses, null, legalHoldOnly, _store.Layout, _store.Dialect, p, warnings, orderedWalk: limit.HasValue))
                    + " ORDER BY ti.timestamp_ms DESC, ti.request_id ASC";
            }, PerExperimentWalk.NewestFirst, cancel, limit.HasValue ? offset + limit.Value : (long?)null).Skip((int)Math.Min(offset, int.MaxValue));
            return limit.HasValue ? rows.Take((int)Math.Min(limit.Value, int.MaxValue)) : rows;
        }

        private IEnumerable<IReadOnlyList<Trace>> Hydrated(IEnumerable<Trace> rows, bool includeSpans, CancellationToken cancel)
        {
            var batch = new List<Trace>(TraceReader.BatchSize);
            var spanLoader = new SpanLoader(_store, _settings);
            bool firstDone = false;
            foreach (var t in rows)
            {
                batch.Add(t);
                // The first batch is small so that the first result shows at once; later ones are full size.
                if (batch.Count >= (firstDone ? TraceReader.BatchSize : 100))
                {
                    yield return Flush(batch, includeSpans, spanLoader);
                    firstDone = true;
                    cancel.ThrowIfCancellationRequested();
                }
            }
            if (batch.Count > 0) yield return Flush(batch, includeSpans, spanLoader);
        }

        private List<Trace> Flush(List<Trace> batch, bool includeSpans, SpanLoader spanLoader)
        {
            var done = new List<Trace>(batch);
            batch.Clear();
            _reader.Hydrate(done);
            if (includeSpans) spanLoader.Load(done);
            Warnings.AddRange(spanLoader.Warnings);
            spanLoader.Warnings.Clear();
            return done;
        }
    }
}
