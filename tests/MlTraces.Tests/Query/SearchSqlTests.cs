using MlTraces.Core.Store;
using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces;
using MlTraces.Core;
using MlTraces.Core.Query;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Query
{
    /// <summary>MLflow's store_with_traces fixture (test_sqlalchemy_store.py) and the cases run on it.</summary>
    public class StoreWithTraces : IDisposable
    {
        public TestStore Store { get; }
        public string Exp1 { get; }
        public string Exp2 { get; }

        public StoreWithTraces() : this(StoreKind.Sqlite) { }

        protected StoreWithTraces(StoreKind kind)
        {
            Store = TestStore.CreateEmpty(kind);
            Exp1 = Store.AddExperiment("exp1");
            Exp2 = Store.AddExperiment("exp2");
            Store.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-0", Exp2, 0, 6, "OK", D("mlflow.traceName", "ddd"), D("mlflow.sourceRun", "run0")),
                TestStore.MakeTrace("tr-1", Exp2, 1, 2, "ERROR", D("mlflow.traceName", "aaa", "fruit", "apple", "color", "red"), D("mlflow.sourceRun", "run1")),
                TestStore.MakeTrace("tr-2", Exp1, 2, 4, "STATE_UNSPECIFIED", D("mlflow.traceName", "bbb", "fruit", "apple", "color", "green")),
                TestStore.MakeTrace("tr-3", Exp1, 3, 10, "OK", D("mlflow.traceName", "ccc", "fruit", "orange")),
                TestStore.MakeTrace("tr-4", Exp1, 4, 10, "OK", D("mlflow.traceName", "ddd", "color", "blue")),
            });
        }

        public List<int> Ids(string? filter, IReadOnlyList<string>? orderBy = null, long? limit = null, long offset = 0) =>
            Find(new[] { Exp1, Exp2 }, filter, orderBy, limit, offset).Select(id => int.Parse(id.Substring(3))).ToList();

        /// <summary>The search under test: the compiled SQL here; Search-Trace in the cmdlet subclass.</summary>
        public virtual List<string> Find(IEnumerable<string> experimentIds, string? filter, IReadOnlyList<string>? orderBy = null,
            long? limit = null, long offset = 0) => Search(Store, experimentIds, filter, orderBy, limit, offset);

        public virtual void Dispose() => Store.Dispose();
    }

    public class SearchSqlTests : IClassFixture<StoreWithTraces>
    {
        private readonly StoreWithTraces _s;
        public SearchSqlTests(StoreWithTraces s) { _s = s; }

        [Theory]
        [InlineData(new string[0], new[] { 4, 3, 2, 1, 0 })]
        [InlineData(new[] { "timestamp" }, new[] { 0, 1, 2, 3, 4 })]
        [InlineData(new[] { "timestamp DESC" }, new[] { 4, 3, 2, 1, 0 })]
        [InlineData(new[] { "execution_time DESC", "timestamp ASC" }, new[] { 3, 4, 0, 2, 1 })]
        [InlineData(new[] { "experiment_id" }, new[] { 4, 3, 2, 1, 0 })]
        [InlineData(new[] { "status" }, new[] { 1, 4, 3, 0, 2 })]
        [InlineData(new[] { "name" }, new[] { 1, 2, 3, 4, 0 })]
        [InlineData(new[] { "tag.fruit" }, new[] { 2, 1, 3, 4, 0 })]
        [InlineData(new[] { "tag.fruit", "tag.color" }, new[] { 2, 1, 3, 4, 0 })]
        [InlineData(new[] { "tag.nonexistent" }, new[] { 4, 3, 2, 1, 0 })]
        [InlineData(new[] { "run_id" }, new[] { 0, 1, 4, 3, 2 })]
        // Beyond MLflow's table: NULLs last in descending order too, metadata and end_time ordering.
        [InlineData(new[] { "tag.fruit DESC" }, new[] { 3, 2, 1, 4, 0 })]
        [InlineData(new[] { "run_id DESC" }, new[] { 1, 0, 4, 3, 2 })]
        [InlineData(new[] { "metadata.mlflow.sourceRun DESC" }, new[] { 1, 0, 4, 3, 2 })]
        [InlineData(new[] { "end_time" }, new[] { 1, 2, 0, 3, 4 })]
        [InlineData(new[] { "request_id DESC" }, new[] { 4, 3, 2, 1, 0 })]
        public void OrderBy(string[] orderBy, int[] expected) => Assert.Equal(expected, _s.Ids(null, orderBy, 5));

        [Theory]
        [InlineData("name = 'aaa'", new[] { 1 })]
        [InlineData("name != 'aaa'", new[] { 4, 3, 2, 0 })]
        [InlineData("status = 'OK'", new[] { 4, 3, 0 })]
        [InlineData("status != 'OK'", new[] { 2, 1 })]
        [InlineData("attributes.status = 'OK'", new[] { 4, 3, 0 })]
        [InlineData("trace.status = 'OK'", new[] { 4, 3, 0 })]
        [InlineData("attributes.name != 'aaa'", new[] { 4, 3, 2, 0 })]
        [InlineData("trace.name != 'aaa'", new[] { 4, 3, 2, 0 })]
        [InlineData("`timestamp` >= 1 AND execution_time < 10", new[] { 2, 1 })]
        [InlineData("tag.fruit = 'apple'", new[] { 2, 1 })]
        [InlineData("tags.fruit = 'apple' and tags.color != 'red'", new[] { 2 })]
        [InlineData("run_id = 'run0'", new[] { 0 })]
        [InlineData("request_metadata.mlflow.sourceRun = 'run0'", new[] { 0 })]
        [InlineData("request_metadata.mlflow.sourceRun = 'run1'", new[] { 1 })]
        [InlineData("request_metadata.`mlflow.sourceRun` = 'run0'", new[] { 0 })]
        [InlineData("metadata.mlflow.sourceRun = 'run0'", new[] { 0 })]
        [InlineData("metadata.mlflow.sourceRun != 'run0'", new[] { 1 })]
        // More of the language on the same data.
        [InlineData("timestamp > 2", new[] { 4, 3 })]
        [InlineData("timestamp_ms <= 1", new[] { 1, 0 })]
        [InlineData("end_time >= 13", new[] { 4, 3 })]
        [InlineData("status IN ('ERROR', 'STATE_UNSPECIFIED')", new[] { 2, 1 })]
        [InlineData("status NOT IN ('OK')", new[] { 2, 1 })]
        [InlineData("request_id IN ('tr-1', 'tr-3', 'nope')", new[] { 3, 1 })]
        [InlineData("status RLIKE 'R+O'", new[] { 1 })]
        [InlineData("status ILIKE 'ok'", new[] { 4, 3, 0 })]
        [InlineData("status LIKE 'ok'", new int[0])]
        [InlineData("tag.fruit LIKE 'app%'", new[] { 2, 1 })]
        [InlineData("tag.color RLIKE 'e'", new[] { 4, 2, 1 })]
        [InlineData("tag.color IS NULL", new[] { 3, 0 })]
        [InlineData("tag.color IS NOT NULL", new[] { 4, 2, 1 })]
        [InlineData("metadata.mlflow.sourceRun IS NULL", new[] { 4, 3, 2 })]
        [InlineData("run_id != 'run0'", new[] { 1 })]
        [InlineData("run_id = ''", new[] { 4, 3, 2, 1, 0 })]
        [InlineData("name = 'ddd' AND status = 'OK' AND timestamp < 4", new[] { 0 })]
        public void Filter(string filter, int[] expected) => Assert.Equal(expected, _s.Ids(filter, null, 100));

        [Fact]
        public void PagesFollowMlflowTokens()
        {
            var pages = new List<List<int>>();
            string? token = null;
            do
            {
                long offset = PageToken.Decode(token);
                var page = _s.Ids(null, null, 2, offset);
                pages.Add(page);
                token = page.Count == 2 ? PageToken.Encode(offset + 2) : null;
            } while (token != null);
            Assert.Equal(new[] { new List<int> { 4, 3 }, new List<int> { 2, 1 }, new List<int> { 0 } }, pages);
        }

        [Fact]
        public void SqlInjectionIsRefusedOrInert()
        {
            string[] refused =
            {
                "status = 'x' OR 1=1",
                "status = 'OK' OR status != 'OK'",
                "status = 'x'; DROP TABLE trace_info",
                "status = 'x' -- ",
                "status = 'x' /* */",
                "status = 'x' AND 1=1",
                "status = 'x' UNION SELECT request_id FROM trace_info",
                "tag.`a` = 'x' OR '1'='1'",
            };
            foreach (var f in refused) Assert.Throws<InvalidParameterException>(() => _s.Ids(f));

            string[] inert =
            {
                // A Python literal: adjacent strings join, giving the values "OK) OR (1=1" and "x".
                "status IN ('OK'') OR (''1''=''1', 'x')",
                "status = 'x'' OR ''1''=''1'",
                "status = 'x''; DROP TABLE trace_info; --'",
                "status = \"x' OR '1'='1\"",
                "tag.`fruit' OR 1=1 --` = 'apple'",
                "metadata.\"k\"\"; DROP TABLE trace_tags; --\" = 'v'",
                "status IN ('x\\' OR \\'1\\'=\\'1', 'y); DELETE FROM trace_info; --')",
                "span.name = 'a\"; DROP TABLE spans; --'",
                "feedback.`x'; DROP TABLE assessments; --` = 'v'",
                "status RLIKE '.*'' OR 1=1 --'",
            };
            foreach (var f in inert)
            {
                Assert.Empty(_s.Ids(f));
                using var store = _s.Store.Open(Core.Store.StoreAccess.ReadOnly);
                var compiled = SearchCompiler.Compile(new SearchSpec { ExperimentIds = new[] { 1L }, Filter = f }, store.Layout, store.Dialect, "ti.request_id");
                Assert.DoesNotContain("DROP", compiled.Sql);
                Assert.DoesNotContain("DELETE", compiled.Sql);
                Assert.DoesNotContain("1=1", compiled.Sql);
            }
            // Order keys are values too.
            Assert.Equal(new[] { 4, 3, 2, 1, 0 }, _s.Ids(null, new[] { "tag.`x';DROP--`" }));
            Assert.Equal(5, _s.Store.Scalar("SELECT count(*) FROM trace_info"));
            Assert.Equal(11, _s.Store.Scalar("SELECT count(*) FROM trace_tags"));
        }

        [Fact]
        public void NoExperimentsMatchNothing() => Assert.Empty(_s.Find(new string[0], null));
    }

    public sealed class StoreWithTracesOnPostgres : StoreWithTraces
    {
        public StoreWithTracesOnPostgres() : base(StoreKind.Postgres) { }
    }

    /// <summary>MLflow's store_with_traces cases on PostgreSQL, same expectations.</summary>
    public class SearchSqlTestsOnPostgres : SearchSqlTests, IClassFixture<StoreWithTracesOnPostgres>
    {
        public SearchSqlTestsOnPostgres(StoreWithTracesOnPostgres s) : base(s) { }
    }
}
