using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Query;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>Runs a search through Search-Trace in the hosted engine, so every case of MLflow's acceptance
    /// tables (written once, in Query/) is checked through the cmdlet as well as at the SQL level.</summary>
    internal sealed class CmdletSearcher : IDisposable
    {
        private readonly PsShell _shell = new PsShell();

        public List<string> Find(TestStore store, IEnumerable<string> experimentIds, string? filter, IReadOnlyList<string>? orderBy, long? limit, long offset)
        {
            var vars = new Dictionary<string, object?>
            {
                ["uri"] = store.UriText,
                ["ids"] = experimentIds.ToArray(),
                ["filter"] = filter,
                ["order"] = orderBy?.ToArray(),
                ["first"] = limit,
                ["skip"] = offset,
            };
            var r = _shell.Run(
                "$p = @{ TrackingUri = $uri; ExperimentId = $ids; Skip = $skip }; " +
                "if ($filter) { $p.Filter = $filter }; if ($order) { $p.OrderBy = $order }; if ($null -ne $first) { $p.First = $first }; " +
                "if ($ids.Count -eq 0) { return }; Search-Trace @p", vars);
            if (r.Terminating != null) throw r.Terminating;
            if (r.Errors.Count > 0) throw r.Errors[0].Exception;
            return r.Output.Select(o => ((Trace)o.BaseObject).TraceId).ToList();
        }

        public void Dispose() => _shell.Dispose();
    }

    public class StoreWithTracesViaCmdlets : StoreWithTraces
    {
        public StoreWithTracesViaCmdlets() : this(StoreKind.Sqlite) { }
        protected StoreWithTracesViaCmdlets(StoreKind kind) : base(kind) { }
        private readonly CmdletSearcher _searcher = new CmdletSearcher();
        public override List<string> Find(IEnumerable<string> experimentIds, string? filter, IReadOnlyList<string>? orderBy = null, long? limit = null, long offset = 0) =>
            _searcher.Find(Store, experimentIds, filter, orderBy, limit, offset);
        public override void Dispose() { _searcher.Dispose(); base.Dispose(); }
    }

    public class SeededCasesViaCmdlets : SeededCases
    {
        public SeededCasesViaCmdlets() : this(StoreKind.Sqlite) { }
        protected SeededCasesViaCmdlets(StoreKind kind) : base(kind) { }
        private readonly CmdletSearcher _searcher = new CmdletSearcher();
        public override List<string> Find(IEnumerable<string> experimentIds, string? filter, IReadOnlyList<string>? orderBy = null, long? limit = null, long offset = 0) =>
            _searcher.Find(Store, experimentIds, filter, orderBy, limit, offset);
        public override void Dispose() { _searcher.Dispose(); base.Dispose(); }
    }

    /// <summary>MLflow's store_with_traces cases (order-by, filters, pagination, injection) through Search-Trace.</summary>
    public class SearchTraceAcceptanceTests : SearchSqlTests, IClassFixture<StoreWithTracesViaCmdlets>
    {
        public SearchTraceAcceptanceTests(StoreWithTracesViaCmdlets s) : base(s) { }
    }

    /// <summary>MLflow's seeded search cases (spans, assessments, run links, ties...) through Search-Trace.</summary>
    public class SearchTraceSeededCasesTests : SearchCasesTests, IClassFixture<SeededCasesViaCmdlets>
    {
        public SearchTraceSeededCasesTests(SeededCasesViaCmdlets s) : base(s) { }
    }

    public sealed class StoreWithTracesViaCmdletsOnPostgres : StoreWithTracesViaCmdlets
    {
        public StoreWithTracesViaCmdletsOnPostgres() : base(StoreKind.Postgres) { }
    }

    public sealed class SeededCasesViaCmdletsOnPostgres : SeededCasesViaCmdlets
    {
        public SeededCasesViaCmdletsOnPostgres() : base(StoreKind.Postgres) { }
    }

    public class SearchTraceAcceptanceTestsOnPostgres : SearchSqlTests, IClassFixture<StoreWithTracesViaCmdletsOnPostgres>
    {
        public SearchTraceAcceptanceTestsOnPostgres(StoreWithTracesViaCmdletsOnPostgres s) : base(s) { }
    }

    public class SearchTraceSeededCasesTestsOnPostgres : SearchCasesTests, IClassFixture<SeededCasesViaCmdletsOnPostgres>
    {
        public SearchTraceSeededCasesTestsOnPostgres(SeededCasesViaCmdletsOnPostgres s) : base(s) { }
    }
}
