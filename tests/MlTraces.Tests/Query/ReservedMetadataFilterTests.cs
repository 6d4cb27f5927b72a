using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Query
{
    /// <summary>
    /// The reserved metadata of token usage and cost (mlflow.trace.tokenUsage, mlflow.trace.cost) take only '=', '!=',
    /// 'IS NULL' and 'IS NOT NULL', as in MLflow's mlflow/store/tracking/utils/trace_analytics.py,
    /// get_trace_analytics_metadata_filter, which the SQL store reaches after its general metadata comparator check
    /// (so '>' still gets that check's message) with the comparator upper-cased. MlTraces refuses the same on every
    /// layout, older ones included (where the values are still metadata rows and MLflow releases before the analytics
    /// columns took LIKE): a filter means one thing in every store. Search-Trace and Remove-Trace -Filter share the one
    /// compiler; the refusal comes before anything is read or deleted.
    /// </summary>
    public class ReservedMetadataFilterTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private const string Usage = "{\"input_tokens\": 10, \"output_tokens\": 5, \"total_tokens\": 15}";
        private const string Cost = "{\"input_cost\": 0.5, \"output_cost\": 0.25, \"total_cost\": 0.75}";

        private TestStore Store()
        {
            var ts = TestStore.CreateEmpty(Kind);
            string e = ts.AddExperiment("usage");
            ts.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-used", e, 1, 1, "OK", null, D("mlflow.trace.tokenUsage", Usage, "mlflow.trace.cost", Cost, "mlflow.trace.user", "ann")),
                TestStore.MakeTrace("tr-other", e, 2, 1, "OK", null, D("mlflow.trace.tokenUsage", "{\"input_tokens\": 1}", "mlflow.trace.user", "bob")),
                TestStore.MakeTrace("tr-none", e, 3, 1, "OK", null, D("mlflow.trace.user", "cy")),
            });
            return ts;
        }

        [Theory]
        [InlineData("metadata.mlflow.trace.tokenUsage LIKE '%input%'", "LIKE", "mlflow.trace.tokenUsage")]
        [InlineData("metadata.mlflow.trace.tokenUsage like '%input%'", "LIKE", "mlflow.trace.tokenUsage")]
        [InlineData("metadata.mlflow.trace.cost ILIKE '%COST%'", "ILIKE", "mlflow.trace.cost")]
        [InlineData("metadata.`mlflow.trace.cost` RLIKE 'total'", "RLIKE", "mlflow.trace.cost")]
        [InlineData("request_metadata.mlflow.trace.tokenUsage rlike '.'", "RLIKE", "mlflow.trace.tokenUsage")]
        [InlineData("status = 'OK' AND metadata.mlflow.trace.cost LIKE '%'", "LIKE", "mlflow.trace.cost")]
        public void OtherComparatorsAreRefusedWithMlflowsMessageAndNothingIsTouched(string filter, string comparator, string key)
        {
            using var ts = Store();
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["filter"] = filter };
            string message = $"Comparator '{comparator}' is not supported for reserved metadata '{key}'. Only '=', '!=', 'IS NULL', and 'IS NOT NULL' are supported.";
            string hash = ts.Fingerprint();
            foreach (var (script, command) in new[]
            {
                ("Search-Trace -TrackingUri $uri -Filter $filter", "SearchTraceCommand"),
                ("Remove-Trace -TrackingUri $uri -Filter $filter -WhatIf", "RemoveTraceCommand"),
                ("Remove-Trace -TrackingUri $uri -Filter $filter -Confirm:$false", "RemoveTraceCommand"),
            })
            {
                var r = sh.Run(script, vars);
                Assert.Empty(r.Output);
                var error = Assert.Single(r.Errors);
                Assert.Equal($"InvalidParameterValue,MlTraces.Commands.{command}", error.FullyQualifiedErrorId);
                Assert.Contains(message, error.Exception.Message);
            }
            Assert.Equal(hash, ts.Fingerprint());
        }

        [Fact]
        public void TheFourComparatorsMlflowAllowsStillMatch()
        {
            using var ts = Store();
            using var sh = new PsShell(ts);
            List<string> Ids(string filter) => sh.Ids("Search-Trace -TrackingUri $uri -Filter $filter",
                new Dictionary<string, object?> { ["uri"] = ts.UriText, ["filter"] = filter }).OrderBy(x => x).ToList();
            Assert.Equal(new[] { "tr-used" }, Ids($"metadata.mlflow.trace.tokenUsage = '{Usage}'"));
            Assert.Equal(new[] { "tr-other" }, Ids($"metadata.mlflow.trace.tokenUsage != '{Usage}'"));
            Assert.Equal(new[] { "tr-none" }, Ids("metadata.mlflow.trace.tokenUsage IS NULL"));
            Assert.Equal(new[] { "tr-used" }, Ids("metadata.mlflow.trace.cost IS NOT NULL"));
            Assert.Equal(new[] { "tr-other", "tr-used" }, Ids("metadata.mlflow.trace.tokenUsage is not null"));
            // Other metadata keep every comparator; the reserved keys are matched exactly, as MLflow's `key in (...)`.
            Assert.Equal(new[] { "tr-other", "tr-used" }, Ids("metadata.mlflow.trace.user RLIKE '^(ann|bob)$'"));
            Assert.Empty(Ids("metadata.mlflow.trace.TokenUsage LIKE '%'"));
            Assert.Empty(Ids("tag.mlflow.trace.cost LIKE '%'"));
        }

        /// <summary>A comparator no metadata takes fails MLflow's general check first, with its message.</summary>
        [Fact]
        public void ANumericComparatorGetsTheGeneralMetadataMessage()
        {
            using var ts = Store();
            using var sh = new PsShell(ts);
            var r = sh.Run("Search-Trace -TrackingUri $uri -Filter \"metadata.mlflow.trace.cost > '1'\"", new Dictionary<string, object?> { ["uri"] = ts.UriText });
            Assert.StartsWith("Invalid comparator '>' not one of '{", Assert.Single(r.Errors).Exception.Message);
        }
    }

    public class ReservedMetadataFilterTestsOnPostgres : ReservedMetadataFilterTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
