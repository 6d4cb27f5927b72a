using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using MlTraces.Core;
using MlTraces.Core.Query;
using MlTraces.Core.Search;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>Searches traces with MLflow's filter language, order and paging; results stream.</summary>
    [Cmdlet(VerbsCommon.Search, "Trace", SupportsPaging = true, DefaultParameterSetName = "All")]
    [OutputType(typeof(Trace))]
    public sealed class SearchTraceCommand : PayloadStoreCmdlet
    {
        /// <summary>An MLflow filter string, e.g. "status = 'ERROR' AND tag.env = 'prod'".</summary>
        [Parameter(Position = 0)]
        [AllowEmptyString]
        [ArgumentCompleter(typeof(FilterCompleter))]
        public string? Filter { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentIdCompleter))]
        public string[]? ExperimentId { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentNameCompleter))]
        public string[]? ExperimentName { get; set; }

        /// <summary>Only experiments of this MLflow workspace; one outside it is treated as one that does not exist.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Workspace { get; set; }

        /// <summary>MLflow order_by clauses, e.g. "timestamp_ms DESC", "tag.priority".</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(OrderByCompleter))]
        public string[]? OrderBy { get; set; }

        /// <summary>Only traces of this run: metadata mlflow.sourceRun or a trace-to-run link, as MLflow's run_id.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? RunId { get; set; }

        /// <summary>MLflow's max_results: the size of one page (1 to 50000). With it, a full page sets the next page token.</summary>
        [Parameter]
        public int? MaxResults { get; set; }

        /// <summary>A page token from a previous page (MlTraces' or MLflow's: they are the same format).</summary>
        [Parameter]
        [AllowEmptyString]
        public string? PageToken { get; set; }

        /// <summary>The name of a variable that receives the next page token, or $null after the last page.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? NextPageTokenVariable { get; set; }

        /// <summary>Loads each trace's spans too (slower; Get-Trace always does).</summary>
        [Parameter]
        public SwitchParameter IncludeSpans { get; set; }

        /// <summary>Only traces under legal hold (tag mltraces.legalHold with any value but false, 0, no, off or
        /// empty): exactly the traces Remove-Trace leaves. Combines with -Filter and the other parameters.</summary>
        [Parameter]
        public SwitchParameter LegalHold { get; set; }


        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        // The filter (with -RunId's condition), parsed once for every store the pipeline names.
        private string? _filter;
        private IReadOnlyList<FilterClause>? _clauses;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            Terminating(() =>
            {
                _filter = RunId != null ? WithRunId(Filter, RunId) : Filter;
                // Parsed before touching any store: a bad filter is the user's to fix, whatever the store.
                _clauses = FilterParser.Parse(_filter, numericAssessments: true);
                OrderByParser.Parse(OrderBy);
            }, Filter);
        }

        protected override void ProcessInput()
        {
            string? filter = _filter;
            long offset = 0;
            long? limit = null;
            Terminating(() =>
            {
                if (MaxResults.HasValue) SearchLimits.ValidateMaxResults(MaxResults.Value);
                offset = Core.Query.PageToken.Decode(PageToken) + (long)Math.Min(PagingParameters.Skip, long.MaxValue);
                if (PagingParameters.First != ulong.MaxValue) limit = (long)Math.Min(PagingParameters.First, long.MaxValue);
                if (MaxResults.HasValue) limit = Math.Min(limit ?? long.MaxValue, MaxResults.Value);
            }, filter);

            List<string> ids = new List<string>();
            TraceStore? store = null;
            Terminating(() => { store = OpenStore(); ids = ResolveExperiments(store, ExperimentId, ExperimentName, Workspace).Ids; });
            if (store == null) return;
            WriteVerbose($"Searching {ids.Count} experiment(s) of '{store.Uri.Original}'" + (string.IsNullOrEmpty(filter) ? "" : $" for: {filter}") + (LegalHold ? ", traces under legal hold only." : "."));

            var search = new TraceSearch(store, ObjectSettings);
            var options = new SearchOptions
            {
                ExperimentIds = ids, Filter = filter, Clauses = _clauses, OrderBy = OrderBy, Offset = offset, Limit = limit, IncludeSpans = IncludeSpans,
                LegalHoldOnly = LegalHold,
            };
            long? total = null;
            if (PagingParameters.IncludeTotalCount)
            {
                long count = 0;
                Terminating(() => count = search.Count(options));
                total = count;
                WriteObject(PagingParameters.NewTotalCount((ulong)count, 1.0));
            }
            long written = 0;
            var progress = new ProgressReporter(this, "Searching traces of " + store.Name, ProgressAfterMs);
            IEnumerator<IReadOnlyList<Trace>>? results = null;
            Terminating(() => results = search.RunBatches(options, _cancel.Token).GetEnumerator());
            try
            {
                while (true)
                {
                    bool more = false;
                    Terminating(() => more = results!.MoveNext());
                    WriteWarnings(search.Warnings);
                    if (!more) break;
                    WriteObject(results!.Current, enumerateCollection: true);
                    written += results.Current.Count;
                    if (progress.Due) progress.Report(written, Estimate(search, options, filter, limit, ref total), "traces");
                }
            }
            finally
            {
                results?.Dispose();
                progress.Complete();
            }
            if (MaxResults.HasValue || NextPageTokenVariable != null)
            {
                // MLflow returns a next token whenever the page is full.
                string? next = limit.HasValue && written == limit.Value ? Core.Query.PageToken.Encode(offset + written) : null;
                if (next != null) WriteVerbose($"Next page token: {next}");
                if (NextPageTokenVariable != null) SessionState.PSVariable.Set(NextPageTokenVariable, next);
            }
        }

        /// <summary>A search shows progress only once it has streamed this long (a slow pipeline, a large store).</summary>
        private const long ProgressAfterMs = 1000;

        /// <summary>How many traces the search writes, for progress: the page size when there is one, else the
        /// count when it is cheap (no filter: the experiment index alone), else unknown (0: counts only).</summary>
        private long Estimate(TraceSearch search, SearchOptions options, string? filter, long? limit, ref long? total)
        {
            if (total == null && limit == null && string.IsNullOrEmpty(filter))
            {
                long count = 0;
                Terminating(() => count = search.Count(options));
                total = count;
            }
            long remaining = total.HasValue ? Math.Max(0, total.Value - options.Offset) : 0;
            return limit.HasValue ? (total.HasValue ? Math.Min(limit.Value, remaining) : limit.Value) : remaining;
        }

        /// <summary>As MLflow's client: run_id becomes an AND-ed attribute.run_id clause.</summary>
        private static string WithRunId(string? filter, string runId)
        {
            if (filter != null && filter.Contains("mlflow.sourceRun"))
                throw new InvalidParameterException(
                    "Cannot specify both `run_id` and a filter on `mlflow.sourceRun` in the search_traces call.", "InvalidRunIdFilter");
            if (runId.IndexOf('\'') >= 0)
                throw new InvalidParameterException($"Invalid run ID '{runId}'.", "InvalidRunId");
            string clause = $"attribute.run_id = '{runId}'";
            return string.IsNullOrWhiteSpace(filter) ? clause : $"{filter} AND {clause}";
        }

        protected override void StopProcessing()
        {
            _cancel.Cancel();
            base.StopProcessing();
        }
    }
}
