using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using MlTraces.Core;
using MlTraces.Core.Query;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Query
{
    public class PageTokenTests
    {
        [Theory]
        [InlineData(2, "eyJvZmZzZXQiOiAyfQ==")]
        [InlineData(100, "eyJvZmZzZXQiOiAxMDB9")]
        [InlineData(0, "eyJvZmZzZXQiOiAwfQ==")]
        public void EncodesAsPythonDoes(long offset, string token)
        {
            Assert.Equal(token, PageToken.Encode(offset));
            if (offset > 0) Assert.Equal(offset, PageToken.Decode(token));
        }

        [Theory]
        [InlineData(null, 0)]
        [InlineData("", 0)]
        [InlineData("eyJvZmZzZXQiOiAyfQ==junk!", 2)]       // Python ignores what follows the padding
        [InlineData("eyJvZmZz ZXQiOiAyfQ==", 2)]            // and characters outside the alphabet
        public void DecodesLikePython(string? token, long offset) => Assert.Equal(offset, PageToken.Decode(token));

        private static string B64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json));

        [Theory]
        [InlineData("{\"offset\": \"7\"}", 7)]
        [InlineData("{\"offset\": \" 1_000 \"}", 1000)]
        [InlineData("{\"offset\": 2.9}", 2)]
        [InlineData("{\"offset\": true}", 1)]
        [InlineData("{\"offset\": 5, \"other\": 1}", 5)]
        public void OffsetIsReadWithPythonsInt(string json, long offset) => Assert.Equal(offset, PageToken.Decode(B64(json)));

        [Fact]
        public void BadTokensFailWithMlflowsMessages()
        {
            string Err(string t) => Assert.Throws<InvalidParameterException>(() => PageToken.Decode(t)).Message;
            Assert.Equal("Invalid page token, could not base64-decode", Err("eyJvZmZzZXQiOiAyfQ"));
            Assert.Equal("Invalid page token, could not base64-decode", Err("abc"));
            Assert.Equal("Invalid page token, decoded value=b'not json'", Err(B64("not json")));
            Assert.Equal("Invalid page token, decoded value=b'{\"offset\": '", Err(B64("{\"offset\": ")));
            Assert.Equal("Invalid page token, parsed value={'offset': 0}", Err(B64("{\"offset\": 0}")));
            Assert.Equal("Invalid page token, parsed value={'other': 'x'}", Err(B64("{\"other\": \"x\"}")));
            Assert.Equal("Invalid page token, parsed value={'offset': None}", Err(B64("{\"offset\": null}")));
            Assert.Equal("Invalid page token, not stringable abc", Err(B64("{\"offset\": \"abc\"}")));
        }

        [Theory]
        [InlineData(1)]
        [InlineData(100)]
        [InlineData(50000)]
        public void AcceptsMaxResults(long n) => SearchLimits.ValidateMaxResults(n);

        [Theory]
        [InlineData(0, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer")]
        [InlineData(-1, "Invalid value -1 for parameter 'max_results' supplied. It must be a positive integer")]
        [InlineData(50001, "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000")]
        public void RejectsMaxResults(long n, string message) =>
            Assert.Equal(message, Assert.Throws<InvalidParameterException>(() => SearchLimits.ValidateMaxResults(n)).Message);

        [Fact]
        public void RejectsMissingMaxResults() =>
            Assert.StartsWith("Invalid value None for parameter 'max_results'",
                Assert.Throws<InvalidParameterException>(() => SearchLimits.ValidateMaxResults((long?)null)).Message);
    }

    public class OrderAndSqlShapeTests
    {
        [Fact]
        public void TieBreakersAreAppended()
        {
            Assert.Equal(new[] { "timestamp_ms DESC", "request_id ASC" }, OrderByParser.Parse(null).Select(t => t.ToString()));
            Assert.Equal(new[] { "status ASC", "timestamp_ms DESC", "request_id ASC" }, OrderByParser.Parse(new[] { "status" }).Select(t => t.ToString()));
            Assert.Equal(new[] { "timestamp_ms ASC", "request_id ASC" }, OrderByParser.Parse(new[] { "timestamp" }).Select(t => t.ToString()));
            Assert.Equal(new[] { "request_id DESC", "timestamp_ms DESC" }, OrderByParser.Parse(new[] { "request_id DESC" }).Select(t => t.ToString()));
            Assert.Equal(new[] { "tag.mlflow.traceName ASC", "metadata.mlflow.sourceRun DESC", "timestamp_ms DESC", "request_id ASC" },
                OrderByParser.Parse(new[] { "name", "run_id DESC" }).Select(t => t.ToString()));
        }

        [Theory]
        [InlineData(null, true)]
        [InlineData(new[] { "timestamp DESC" }, true)]
        [InlineData(new[] { "timestamp_ms DESC", "request_id" }, true)]
        [InlineData(new[] { "timestamp" }, false)]
        [InlineData(new[] { "request_id" }, false)]
        [InlineData(new[] { "status" }, false)]
        public void DefaultOrderIsRecognised(string[]? orderBy, bool isDefault)
        {
            var terms = OrderByParser.Parse(orderBy);
            Assert.Equal(isDefault, OrderByParser.IsDefault(terms));
            Assert.Equal(isDefault, OrderCompiler.Compile(terms, new StoreLayout(), SqliteDialect.Instance, new SqlParameters()).IsDefault);
        }

        [Fact]
        public void OrderByErrorsQuoteMlflow()
        {
            string Err(params string[] o) => Assert.Throws<InvalidParameterException>(() => OrderByParser.Parse(o)).Message;
            Assert.Equal("`order_by` contains duplicate fields: ['timestamp', 'timestamp_ms DESC']", Err("timestamp", "timestamp_ms DESC"));
            Assert.Equal("Invalid ordering key in order_by clause 'name sideways'.", Err("name sideways"));
            Assert.Equal("Invalid order_by clause 'name ASC DESC'. Could not be parsed.", Err("name ASC DESC"));
            Assert.Equal("Invalid order_by clause 'name, status'. Could not be parsed.", Err("name, status"));
            Assert.Equal("Invalid identifier type 'span'", Err("span.name"));
            Assert.StartsWith("Invalid attribute key 'bogus' specified. Valid keys are '{'experiment_id', ", Err("bogus"));
        }

        [Fact]
        public void SearchSqlHasMlflowsShape()
        {
            var layout = new StoreLayout();
            var c = SearchCompiler.Compile(new SearchSpec
            {
                ExperimentIds = new[] { 1L, 2L }, Filter = "status = 'OK' AND tag.env = 'prod'", OrderBy = new[] { "tag.env DESC" }, Limit = 10, Offset = 20,
            }, layout, SqliteDialect.Instance, "ti.request_id");
            Assert.False(c.IsDefaultOrder);
            Assert.StartsWith("SELECT ti.request_id FROM trace_info ti LEFT JOIN trace_tags o0 ON o0.request_id = ti.request_id AND o0.\"key\" = @p0 WHERE ti.experiment_id IN (@p1, @p2) AND ", c.Sql);
            Assert.EndsWith(" ORDER BY CASE WHEN o0.value IS NULL THEN 1 ELSE 0 END, o0.value DESC, ti.timestamp_ms DESC, ti.request_id ASC LIMIT @p6 OFFSET @p7", c.Sql);
            Assert.Equal(new object?[] { "env", 1L, 2L, "OK", "env", "prod" }, c.Parameters.Values.Take(6).Select(v => v.Value));

            var all = SearchCompiler.Compile(new SearchSpec { ExperimentIds = new[] { 1L }, Offset = 5 }, layout, SqliteDialect.Instance, "*");
            Assert.True(all.IsDefaultOrder);
            Assert.Equal("SELECT * FROM trace_info ti WHERE ti.experiment_id IN (@p0) ORDER BY ti.timestamp_ms DESC, ti.request_id ASC LIMIT -1 OFFSET @p1", all.Sql);
            Assert.Empty(all.Warnings);
        }

        [Fact]
        public void OrderByErrorsComeBeforeFilterErrors()
        {
            var e = Assert.Throws<InvalidParameterException>(() => SearchCompiler.Compile(
                new SearchSpec { ExperimentIds = new[] { 1L }, Filter = "bogus = 'x'", OrderBy = new[] { "bogus" } }, new StoreLayout(), SqliteDialect.Instance, "*"));
            Assert.Contains("'experiment_id'", e.Message);
        }

        [Fact]
        public void WhereIsNullWithoutClauses()
        {
            var warnings = new List<string>();
            Assert.Null(FilterCompiler.CompileWhere(FilterParser.Parse(null), new StoreLayout(), SqliteDialect.Instance, new SqlParameters(), warnings));
            Assert.Empty(warnings);
        }
    }

    public class OldLayoutTests
    {
        [RealStoreFact]
        public void OldestLayoutAnswersEveryFilterAndSaysWhatItCannotSee()
        {
            using var ts = TestStore.CopyOfFixture("cobbie-gen-a.sqlite");
            Assert.True(CheckOldestLayoutAnswersEveryFilter(ts, "5") > 100);
        }

        /// <summary>The same on the oldest generation's store the tests build themselves.</summary>
        [Fact]
        public void OldestGeneratedLayoutAnswersEveryFilterAndSaysWhatItCannotSee()
        {
            using var ts = TestStore.Generated(GeneratedStores.Revisions[0]);
            Assert.True(CheckOldestLayoutAnswersEveryFilter(ts, "1") > 5);
        }

        /// <summary>Checks every filter on experiment <paramref name="all"/> of an oldest-layout store; returns how
        /// many traces it holds.</summary>
        private static int CheckOldestLayoutAnswersEveryFilter(TestStore ts, string all)
        {
            var warnings = new List<string>();
            int total = Search(ts, new[] { all }, null).Count;

            Assert.Empty(Search(ts, new[] { all }, "span.name = 'x' AND span.type = 'LLM'", warnings: warnings));
            Assert.Contains(warnings, w => w.Contains("no spans table"));
            Assert.Empty(Search(ts, new[] { all }, "trace.text LIKE '%a%'"));
            Assert.Equal(total, Search(ts, new[] { all }, "feedback.quality IS NULL", warnings: warnings).Count);
            Assert.Contains(warnings, w => w.Contains("no assessments table"));
            Assert.Empty(Search(ts, new[] { all }, "feedback.quality = 'good'"));
            Assert.Empty(Search(ts, new[] { all }, "expectation.x IS NOT NULL"));
            Assert.Empty(Search(ts, new[] { all }, "issue.id = 'iss-1'"));
            Assert.Empty(Search(ts, new[] { all }, "client_request_id = 'x'", warnings: warnings));
            Assert.Empty(Search(ts, new[] { all }, "client_request_id != 'x'"));
            Assert.Contains(warnings, w => w.Contains("client_request_id"));
            Assert.Empty(Search(ts, new[] { all }, "prompt = 'a/1'", warnings: warnings));
            Assert.Empty(Search(ts, new[] { all }, "run_id = 'nope'", warnings: warnings));
            Assert.Equal(2, warnings.Count(w => w.Contains("entity_associations")));
            Assert.Equal(total, Search(ts, new[] { all }, "status != 'x'", new[] { "name", "tag.need_new_tool DESC", "end_time" }).Count);
            return total;
        }

        [RealStoreFact]
        public void OldestLayoutWarnsOnlyAboutWhatTheFilterUses()
        {
            using var ts = TestStore.CopyOfFixture("cobbie-gen-a.sqlite");
            var warnings = new List<string>();
            Search(ts, new[] { "5" }, "status = 'OK' AND tag.mlflow.traceName LIKE '%a%'", warnings: warnings);
            Assert.Empty(warnings);
        }

        /// <summary>Every child table is reached through its index on the trace id (never scanned, never looked up
        /// through the index on assessment type, which SQLite picks by itself without statistics).</summary>
        [RealStoreFact]
        public void ChildTablesAreReachedThroughTheTraceKey()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            using var store = ts.Open(StoreAccess.ReadOnly);
            string filter = "tag.env = 'prod' AND metadata.k IS NULL AND span.type = 'LLM' AND span.status = 'ERROR' AND " +
                "feedback.correctness = 'yes' AND expectation.x IS NULL AND issue.id = 'i' AND run_id = 'r' AND prompt = 'a/1' AND trace.text LIKE '%x%'";
            var c = SearchCompiler.Compile(new SearchSpec { ExperimentIds = new[] { 1L }, Filter = filter, OrderBy = new[] { "name", "run_id" }, Limit = 10 },
                store.Layout, store.Dialect, "ti.request_id");
            using var cmd = store.Command("EXPLAIN QUERY PLAN " + c.Sql, c.Parameters);
            var plan = new List<string>();
            using (var r = cmd.ExecuteReader()) while (r.Read()) plan.Add(r.GetString(3));
            Assert.DoesNotContain(plan, p => p.StartsWith("SCAN"));
            Assert.DoesNotContain(plan, p => p.Contains("index_assessments_assessment_type"));
            Assert.Contains(plan, p => p.Contains("SEARCH ti USING INDEX index_trace_info_experiment_id_timestamp_ms"));
        }

        /// <summary>A real store written by MLflow (week5-lab-gen-e); expected counts were computed independently
        /// by reading the rows and applying MLflow's rules in plain code.</summary>
        [RealStoreTheory]
        [InlineData("prompt = 'mlflow-demo.prompts.customer-support/1'", 1)]
        [InlineData("span.type = 'LLM' AND span.status = 'OK'", 34)]
        [InlineData("trace.text ILIKE '%refund%'", 2)]
        [InlineData("span.name LIKE 'chat%'", 18)]
        [InlineData("span.attributes.mlflow.llm.model LIKE '%gpt-5.2%'", 14)]
        [InlineData("span.attributes.`mlflow.llm.model` RLIKE '^gpt-5'", 14)]
        [InlineData("issue.id = 'iss-30096727168845aca10e96cc5883ce46'", 5)]
        [InlineData("feedback.correctness = 'yes'", 21)]
        [InlineData("feedback.correctness = 'yes' AND feedback.safety = 'no'", 2)]
        [InlineData("metadata.`mlflow.trace.user` = 'bob@example.com'", 6)]
        [InlineData("metadata.`mlflow.trace.user` IS NULL", 28)]
        [InlineData("metadata.`mlflow.trace.session` LIKE '%rag%'", 6)]
        [InlineData("span.type IN ('RETRIEVER', 'EMBEDDING')", 4)]
        [InlineData("span.type != 'TOOL'", 42)]
        public void RealMlflowStore(string filter, int count)
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            var warnings = new List<string>();
            Assert.Equal(count, Search(ts, new[] { "1" }, filter, warnings: warnings).Count);
            Assert.Empty(warnings);
        }
    }
}
