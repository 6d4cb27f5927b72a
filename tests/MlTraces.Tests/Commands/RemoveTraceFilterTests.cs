using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Tests.Query;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// Every search of MLflow's acceptance tables, asked of Search-Trace and of Remove-Trace -Filter -WhatIf with
    /// the same filter and experiments: the traces Remove-Trace would delete are exactly the ones Search-Trace
    /// returns, and a filter one refuses the other refuses with the same message.
    /// </summary>
    internal sealed class RemoveAgreesWithSearch : IDisposable
    {
        private readonly CmdletSearcher _search = new CmdletSearcher();
        private readonly PsShell _shell = new PsShell();

        public List<string> Find(TestStore store, IEnumerable<string> experimentIds, string? filter, IReadOnlyList<string>? orderBy, long? limit, long offset)
        {
            var ids = experimentIds.ToArray();
            // Remove-Trace -Filter takes a filter and experiments; paging and order are Search-Trace's alone.
            bool comparable = !string.IsNullOrEmpty(filter) && ids.Length > 0 && orderBy == null && limit == null && offset == 0;
            List<string> found;
            try
            {
                found = _search.Find(store, ids, filter, orderBy, limit, offset);
            }
            catch (Exception ex) when (comparable)
            {
                var refused = WhatIf(store, ids, filter!);
                Assert.Equal(ex.Message, (refused.Terminating ?? refused.Errors.FirstOrDefault()?.Exception)?.Message);
                throw;
            }
            if (comparable)
            {
                var r = WhatIf(store, ids, filter!);
                Assert.True(r.Terminating == null && r.Errors.Count == 0, r.Terminating?.Message ?? string.Join("\n", r.Errors));
                Assert.Equal(found.OrderBy(x => x, StringComparer.Ordinal), WhatIfIds(r.HostText).OrderBy(x => x, StringComparer.Ordinal));
            }
            return found;
        }

        private Shell.RunResult WhatIf(TestStore store, string[] experimentIds, string filter) =>
            _shell.Run("Remove-Trace -TrackingUri $uri -ExperimentId $ids -Filter $filter -WhatIf",
                new Dictionary<string, object?> { ["uri"] = store.Path, ["ids"] = experimentIds, ["filter"] = filter });

        public void Dispose() { _search.Dispose(); _shell.Dispose(); }
    }

    public sealed class StoreWithTracesViaRemove : StoreWithTraces
    {
        private readonly RemoveAgreesWithSearch _check = new RemoveAgreesWithSearch();
        public override List<string> Find(IEnumerable<string> experimentIds, string? filter, IReadOnlyList<string>? orderBy = null, long? limit = null, long offset = 0) =>
            _check.Find(Store, experimentIds, filter, orderBy, limit, offset);
        public override void Dispose() { _check.Dispose(); base.Dispose(); }
    }

    public sealed class SeededCasesViaRemove : SeededCases
    {
        private readonly RemoveAgreesWithSearch _check = new RemoveAgreesWithSearch();
        public override List<string> Find(IEnumerable<string> experimentIds, string? filter, IReadOnlyList<string>? orderBy = null, long? limit = null, long offset = 0) =>
            _check.Find(Store, experimentIds, filter, orderBy, limit, offset);
        public override void Dispose() { _check.Dispose(); base.Dispose(); }
    }

    /// <summary>MLflow's store_with_traces filters: Remove-Trace -Filter selects what Search-Trace returns.</summary>
    public class RemoveTraceFilterAcceptanceTests : SearchSqlTests, IClassFixture<StoreWithTracesViaRemove>
    {
        public RemoveTraceFilterAcceptanceTests(StoreWithTracesViaRemove s) : base(s) { }
    }

    /// <summary>MLflow's seeded search cases (spans, assessments, run links, sessions...): the same agreement.</summary>
    public class RemoveTraceFilterSeededCasesTests : SearchCasesTests, IClassFixture<SeededCasesViaRemove>
    {
        private readonly SeededCasesViaRemove _s;
        public RemoveTraceFilterSeededCasesTests(SeededCasesViaRemove s) : base(s) { _s = s; }

        [Theory]
        [InlineData("trace.timestamp_ms >= 0", 3)]
        [InlineData("span.status != 'ERROR'", 2)]
        [InlineData("feedback.correctness IS NOT NULL", 1)]
        public void MaxTracesTakesTheOldestOfWhatSearchTraceReturns(string filter, int max)
        {
            using var sh = new PsShell();
            var vars = new Dictionary<string, object?> { ["uri"] = _s.Store.Path, ["filter"] = filter, ["max"] = max };
            var oldest = sh.Ids("Search-Trace -TrackingUri $uri -Filter $filter -OrderBy 'timestamp_ms ASC' -First $max", vars);
            Assert.Equal(max, oldest.Count);
            var r = sh.Run("Remove-Trace -TrackingUri $uri -Filter $filter -MaxTraces $max -WhatIf", vars);
            Assert.Equal(oldest, WhatIfIds(r.HostText));
        }
    }
}
