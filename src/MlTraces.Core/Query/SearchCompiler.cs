using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;

namespace MlTraces.Core.Query
{
    /// <summary>What to search: experiments, MLflow filter and order_by, and the page.</summary>
    public sealed class SearchSpec
    {
        public IReadOnlyList<long> ExperimentIds { get; set; } = Array.Empty<long>();
        public string? Filter { get; set; }
        /// <summary>The filter already parsed: a command parses its filter once (null: parse <see cref="Filter"/>).</summary>
        public IReadOnlyList<FilterClause>? Clauses { get; set; }
        /// <summary>Only traces that started at or before this time (MLflow's inclusive max_timestamp_millis).</summary>
        public long? MaxTimestampMs { get; set; }
        /// <summary>Only traces under legal hold (<see cref="LegalHold.Condition"/>, the test every deletion makes).</summary>
        public bool LegalHoldOnly { get; set; }
        public IReadOnlyList<string>? OrderBy { get; set; }
        /// <summary>Rows to skip (a decoded page token).</summary>
        public long Offset { get; set; }
        /// <summary>Rows to return; null for all.</summary>
        public long? Limit { get; set; }
    }

    public sealed class CompiledSearch
    {
        public CompiledSearch(string sql, SqlParameters parameters, IReadOnlyList<string> warnings, bool isDefaultOrder,
            IReadOnlyList<FilterClause> clauses, IReadOnlyList<OrderTerm> order)
        {
            Sql = sql; Parameters = parameters; Warnings = warnings; IsDefaultOrder = isDefaultOrder;
            Clauses = clauses; Order = order;
        }

        public string Sql { get; }
        public SqlParameters Parameters { get; }
        /// <summary>Sentences about clauses this store's layout cannot fully answer.</summary>
        public IReadOnlyList<string> Warnings { get; }
        /// <summary>The order is timestamp_ms DESC, request_id ASC (MLflow's default).</summary>
        public bool IsDefaultOrder { get; }
        public IReadOnlyList<FilterClause> Clauses { get; }
        public IReadOnlyList<OrderTerm> Order { get; }
    }

    /// <summary>The single query MLflow's search_traces issues: trace_info rows of the experiments that match the
    /// filter, in the requested order with MLflow's tie-breakers, one page of them.</summary>
    public static class SearchCompiler
    {
        /// <summary>
        /// What a trace of the experiments must also meet: the filter, MLflow's inclusive max_timestamp_millis, and
        /// being under legal hold when only held traces are asked for. One place for every query that selects traces
        /// (a page, a count, one experiment's walk); null when nothing more is asked.
        /// </summary>
        public static string? Condition(IReadOnlyList<FilterClause> clauses, long? maxTimestampMs, bool legalHoldOnly, StoreLayout layout,
            SqlDialect dialect, SqlParameters parameters, List<string> warnings, bool orderedWalk = false)
        {
            string? where = FilterCompiler.CompileWhere(clauses, layout, dialect, parameters, warnings, orderedWalk);
            if (maxTimestampMs.HasValue)
                where = (where == null ? "" : where + " AND ") + $"ti.timestamp_ms <= {parameters.Add(maxTimestampMs.Value)}";
            return legalHoldOnly ? LegalHold.Only(where) : where;
        }

        /// <summary>
        /// The WHERE of every query that selects traces (alias ti) of some experiments, in MLflow's shape: the
        /// experiments (experiment_id IN (...); none selects nothing), then the <see cref="Condition"/> the callback
        /// compiles, if any, so the parameters come in the statement's order.
        /// </summary>
        public static string TracesOf(IEnumerable<long> experimentIds, SqlParameters parameters, Func<string?>? condition = null)
        {
            var ids = experimentIds.ToList();
            string experiments = ids.Count == 0 ? "1 = 0" : $"ti.experiment_id IN ({parameters.AddList(ids.Select(e => (object?)e))})";
            string? where = condition?.Invoke();
            return where == null ? experiments : $"{experiments} AND ({where})";
        }

        /// <param name="selectColumns">The select list over alias ti (e.g. "ti.request_id, ti.timestamp_ms").</param>
        public static CompiledSearch Compile(SearchSpec spec, StoreLayout layout, SqlDialect dialect, string selectColumns)
        {
            // MLflow reads order_by before the filter, so its errors come first.
            var order = OrderByParser.Parse(spec.OrderBy);
            var clauses = spec.Clauses ?? FilterParser.Parse(spec.Filter, numericAssessments: true);

            var parameters = new SqlParameters();
            var warnings = new List<string>();
            var compiledOrder = OrderCompiler.Compile(order, layout, dialect, parameters);
            // One experiment, newest first, one page: the experiment's time index is walked and stops at the page.
            bool orderedWalk = compiledOrder.IsDefault && spec.Limit.HasValue && spec.ExperimentIds.Count == 1;
            string tracesOf = TracesOf(spec.ExperimentIds, parameters,
                () => Condition(clauses, spec.MaxTimestampMs, spec.LegalHoldOnly, layout, dialect, parameters, warnings, orderedWalk));
            string? limit = spec.Limit.HasValue ? parameters.Add(spec.Limit.Value) : null;
            // A negative offset (possible in an MLflow token) reads as 0, as SQLite treats it.
            string? offset = spec.Offset > 0 ? parameters.Add(spec.Offset) : null;

            string sql = $"SELECT {selectColumns} FROM trace_info ti{compiledOrder.Joins} WHERE {tracesOf}"
                + " " + compiledOrder.OrderBy
                + dialect.LimitOffset(limit, offset);
            return new CompiledSearch(sql, parameters, warnings, compiledOrder.IsDefault, clauses, order);
        }
    }
}
