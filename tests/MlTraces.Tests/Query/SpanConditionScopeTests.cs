using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Query
{
    /// <summary>
    /// Which spans a span condition (span.name, span.type, span.status, span.attributes.*) looks at, as MLflow's SQL
    /// store's search_traces builds its span subquery (mlflow/store/tracking/sqlalchemy_store.py,
    /// _get_filter_clauses_for_search_traces; the index c1d2e3f4a5b6 "add span experiment and start time index" on
    /// spans (experiment_id, start_time_unix_nano) serves it): only spans of the trace's experiment, and with a
    /// timestamp_ms &gt; X or &gt;= X bound only spans that started at or after X - 10 s. Search-Trace, Remove-Trace
    /// -Filter and the archival candidates share the one compiler.
    /// </summary>
    public class SpanConditionScopeTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private const long Ms = 1_000_000; // ns per ms
        private const long X = 100_000;    // the timestamp_ms bound the filters use

        private (TestStore ts, string a, string b) Store()
        {
            var ts = TestStore.CreateEmpty(Kind);
            string a = ts.AddExperiment("a"), b = ts.AddExperiment("b");
            Trace T(string id, string exp, long ms, params (string Name, long StartNs)[] spans)
            {
                var t = TestStore.MakeTrace(id, exp, ms, 1);
                t.Spans = spans.Select((s, i) => MakeSpan(id, "000000000000000" + i, s.Name, "LLM", "OK", start: s.StartNs)).ToList();
                return t;
            }
            ts.AddTraces(new[]
            {
                // Started exactly 10 s before the bound: still looked at.
                T("tr-edge", a, X, ("x", (X - 10_000) * Ms)),
                // One nanosecond earlier: ignored once the filter bounds timestamp_ms from below. Its other span is
                // late enough but does not meet the condition (all span conditions hold for one span).
                T("tr-early", a, X + 5, ("x", (X - 10_000) * Ms - 1), ("y", X * Ms)),
                T("tr-late", a, X + 10, ("x", (X + 10) * Ms)),
                // A span row filed under another experiment than its trace's: MLflow's subquery never sees it.
                T("tr-elsewhere", a, X + 20, ("x", (X + 20) * Ms)),
                T("tr-b", b, X + 30, ("x", (X + 30) * Ms)),
            });
            Execute(ts, "UPDATE spans SET experiment_id = {0} WHERE trace_id = 'tr-elsewhere'", long.Parse(b));
            return (ts, a, b);
        }

        [Theory]
        // No lower bound on timestamp_ms: every span of the trace's experiment counts.
        [InlineData("span.name = 'x'", "tr-b,tr-late,tr-early,tr-edge")]
        [InlineData("timestamp_ms <= 200000 AND span.name = 'x'", "tr-b,tr-late,tr-early,tr-edge")]
        // timestamp_ms >= X: spans from X - 10 s on.
        [InlineData("timestamp_ms >= 100000 AND span.name = 'x'", "tr-b,tr-late,tr-edge")]
        [InlineData("span.name = 'x' AND timestamp >= 100000", "tr-b,tr-late,tr-edge")]
        [InlineData("trace.timestamp_ms > 99999 AND span.name = 'x'", "tr-b,tr-late,tr-early,tr-edge")]
        [InlineData("timestamp_ms > 100000 AND span.name = 'x'", "tr-b,tr-late")]
        // The tightest bound decides; the span's other conditions still hold for that one span.
        [InlineData("timestamp_ms >= 1 AND timestamp_ms >= 100000 AND span.name = 'x'", "tr-b,tr-late,tr-edge")]
        [InlineData("timestamp_ms >= 100000 AND span.name = 'y'", "tr-early")]
        [InlineData("timestamp_ms >= 100000 AND span.type = 'LLM' AND span.name LIKE 'x%'", "tr-b,tr-late,tr-edge")]
        [InlineData("timestamp_ms >= 100000 AND span.status = 'OK' AND span.name = 'x'", "tr-b,tr-late,tr-edge")]
        public void SpanConditionsLookAtMlflowsSpans(string filter, string expected)
        {
            var (ts, a, b) = Store();
            using (ts)
            {
                Assert.Equal(expected.Split(','), Search(ts, new[] { a, b }, filter));
                // One experiment walked newest first with a page (the per-trace check kept correlated) gives the same.
                Assert.Equal(expected.Split(',').Where(id => id != "tr-b"), Search(ts, new[] { a }, filter, limit: 10));
            }
        }

        [Fact]
        public void RemoveTraceByFilterDeletesWhatSearchFindsAndItsDryRunSaysSo()
        {
            var (ts, a, b) = Store();
            using (ts)
            using (var sh = new PsShell(ts))
            {
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["filter"] = "timestamp_ms >= 100000 AND span.name = 'x'" };
                string hash = ts.Fingerprint();
                var dry = sh.Run("Remove-Trace -TrackingUri $uri -Filter $filter -WhatIf", vars);
                Assert.Empty(dry.Errors);
                Assert.Equal(hash, ts.Fingerprint());
                foreach (var id in new[] { "tr-edge", "tr-late", "tr-b" }) Assert.Contains(id, dry.HostText);
                foreach (var id in new[] { "tr-early", "tr-elsewhere" }) Assert.DoesNotContain(id, dry.HostText);
                var run = sh.Run("Remove-Trace -TrackingUri $uri -Filter $filter -Confirm:$false", vars);
                Assert.Empty(run.Errors);
                Assert.Equal(new[] { "tr-early", "tr-elsewhere" }, Search(ts, new[] { a, b }, null).OrderBy(x => x));
            }
        }
    }

    public class SpanConditionScopeTestsOnPostgres : SpanConditionScopeTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
