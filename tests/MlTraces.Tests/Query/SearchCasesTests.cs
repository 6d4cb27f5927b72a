using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces;
using MlTraces.Core.Json;
using MlTraces.Core.Query;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Query
{
    /// <summary>One store holding the seeded cases of MLflow's other search tests (§8.2), each in its own experiment.</summary>
    public class SeededCases : IDisposable
    {
        public TestStore Store { get; }

        public SeededCases() : this(StoreKind.Sqlite) { }
        public string RunLink, SpanBasics, SameSpan, FullText, SpanAttrs, Assess, Session, ClientIds, Names, Numbers, Ties;
        public const long Base = 1_700_000_000_000;

        protected SeededCases(StoreKind kind)
        {
            Store = TestStore.CreateEmpty(kind);
            var traces = new List<Trace>();
            Trace T(string id, string exp, long ts = 0, long? exec = 0, IDictionary<string, string>? tags = null,
                IDictionary<string, string>? meta = null, string? client = null)
            {
                var t = TestStore.MakeTrace(id, exp, ts, exec, "OK", tags, meta, client);
                traces.Add(t);
                return t;
            }

            RunLink = Store.AddExperiment("run-link");
            T("tr-direct", RunLink, 1, meta: D("mlflow.sourceRun", "R"));
            T("tr-linked", RunLink, 2, tags: D("type", "training"));
            T("tr-linked-eval", RunLink, 3, tags: D("type", "eval"));
            T("tr-both", RunLink, 4, meta: D("mlflow.sourceRun", "R"));
            T("tr-unrelated", RunLink, 5, meta: D("mlflow.sourceRun", "other"));
            T("tr-prompted", RunLink, 6);

            SpanBasics = Store.AddExperiment("span-basics");
            T("sb-1", SpanBasics, 1).Spans = new List<Span> { MakeSpan("sb-1", "0000000000000001", "database_query", "LLM", "OK") };
            T("sb-2", SpanBasics, 2).Spans = new List<Span> { MakeSpan("sb-2", "0000000000000002", "api_call", "RETRIEVER", "ERROR") };
            T("sb-3", SpanBasics, 3).Spans = new List<Span> { MakeSpan("sb-3", "0000000000000003", "database_update", "CHAIN", "UNSET") };
            T("sb-none", SpanBasics, 4);

            SameSpan = Store.AddExperiment("same-span");
            T("ss-1", SameSpan, 1).Spans = new List<Span>
            {
                MakeSpan("ss-1", "00000000000000a1", "search_web", "TOOL", "ERROR"),
                MakeSpan("ss-1", "00000000000000a2", "other_tool", "TOOL", "OK"),
            };
            T("ss-2", SameSpan, 2).Spans = new List<Span> { MakeSpan("ss-2", "00000000000000b1", "search_web", "TOOL", "OK") };

            FullText = Store.AddExperiment("full-text");
            T("ft-func", FullText, 1).Spans = new List<Span> { MakeSpan("ft-func", "00000000000000c1", "compute", "FUNCTION", "OK",
                new Dictionary<string, object?> { ["mlflow.spanInputs"] = "{\"x\": 1}" }) };
            T("ft-llm", FullText, 2).Spans = new List<Span> { MakeSpan("ft-llm", "00000000000000c2", "chat", "LLM", "OK",
                new Dictionary<string, object?> { ["llm.token_count"] = 42L }) };
            T("ft-pct", FullText, 3).Spans = new List<Span> { MakeSpan("ft-pct", "00000000000000c3", "report", "CHAIN", "OK",
                new Dictionary<string, object?> { ["mlflow.spanOutputs"] = "success rate 90%" }) };

            SpanAttrs = Store.AddExperiment("span-attributes");
            T("sa-gpt4", SpanAttrs, 1).Spans = new List<Span> { MakeSpan("sa-gpt4", "00000000000000d1", "llm_call", "LLM", "OK",
                new Dictionary<string, object?> { ["model"] = "gpt-4", ["temperature"] = 0.7, ["mlflow.spanInputs"] = "{\"q\": \"What is machine learning?\"}" }) };
            T("sa-claude", SpanAttrs, 2).Spans = new List<Span> { MakeSpan("sa-claude", "00000000000000d2", "llm_call", "LLM", "OK",
                new Dictionary<string, object?> { ["model"] = "claude-3-opus-20240229", ["temperature"] = 0.2 }) };
            T("sa-retr", SpanAttrs, 3).Spans = new List<Span> { MakeSpan("sa-retr", "00000000000000d3", "retrieve", "RETRIEVER", "OK",
                new Dictionary<string, object?> { ["similarity.threshold"] = 0.8, ["model"] = "gpt-3.5-turbo" }) };

            Assess = Store.AddExperiment("assessments");
            var a1 = T("as-1", Assess, 1);
            a1.Assessments.Add(MakeAssessment("as-1", "feedback", "correctness", "true"));
            a1.Assessments.Add(MakeAssessment("as-1", "feedback", "helpfulness", "5"));
            a1.Assessments.Add(MakeAssessment("as-1", "feedback", "quality", "\"good\""));
            var a2 = T("as-2", Assess, 2);
            a2.Assessments.Add(MakeAssessment("as-2", "feedback", "correctness", "false"));
            a2.Assessments.Add(MakeAssessment("as-2", "feedback", "helpfulness", "3"));
            var a3 = T("as-3", Assess, 3);
            a3.Assessments.Add(MakeAssessment("as-3", "expectation", "response_length", "150"));
            a3.Assessments.Add(MakeAssessment("as-3", "expectation", "priority", "\"urgent\""));
            a3.Assessments.Add(MakeAssessment("as-3", "issue", "iss-42", "null"));
            // An overridden (invalid) assessment no longer counts.
            var a4 = T("as-4", Assess, 4);
            a4.Assessments.Add(MakeAssessment("as-4", "feedback", "quality", "\"good\"", valid: false));

            Session = Store.AddExperiment("sessions");
            var s1 = T("se-1", Session, 1, meta: D("mlflow.trace.session", "sess-1"));
            s1.Assessments.Add(MakeAssessment("se-1", "feedback", "session_rating", "\"good\"", metadataJson: "{\"mlflow.trace.session\": \"sess-1\"}"));
            T("se-2", Session, 2, meta: D("mlflow.trace.session", "sess-1"));
            T("se-3", Session, 3, meta: D("mlflow.trace.session", "sess-1"));
            T("se-4", Session, 4, meta: D("mlflow.trace.session", "sess-2"));
            var s5 = T("se-5", Session, 5, meta: D("mlflow.trace.session", "sess-3"));
            // Same name, but made for the trace only: it does not spread to the session.
            s5.Assessments.Add(MakeAssessment("se-5", "feedback", "session_rating", "\"good\""));
            T("se-6", Session, 6, meta: D("mlflow.trace.session", "sess-3"));

            ClientIds = Store.AddExperiment("client-ids");
            T("ci-abc", ClientIds, 1, client: "client-req-abc");
            T("ci-123", ClientIds, 2, client: "client-req-123");
            T("ci-dash", ClientIds, 3, client: "with-dashes-123");
            T("ci-under", ClientIds, 4, client: "WITH_UNDERSCORES_456");
            T("ci-null", ClientIds, 5);

            Names = Store.AddExperiment("names");
            T("nm-login", Names, 1, tags: D("mlflow.traceName", "USER_LOGIN"));
            T("nm-logout", Names, 2, tags: D("mlflow.traceName", "user_logout"));
            T("nm-profile", Names, 3, tags: D("mlflow.traceName", "User_Profile"));
            T("nm-system", Names, 4, tags: D("mlflow.traceName", "system_check"));

            Numbers = Store.AddExperiment("numbers");
            T("nu-0", Numbers, Base + 0, 100);
            T("nu-1", Numbers, Base + 5000, 500);
            T("nu-2", Numbers, Base + 10000, 1000);
            T("nu-3", Numbers, Base + 15000, 2000);
            T("nu-4", Numbers, Base + 20000, 5000);
            T("nu-null", Numbers, Base + 25000, null);

            Ties = Store.AddExperiment("ties");
            var rnd = new Random(7);
            foreach (int i in Enumerable.Range(0, 10).OrderBy(_ => rnd.Next()))
                T("tr-" + i, Ties, i < 5 ? 0 : 1);

            Store.AddTraces(traces);
            LinkTraceToRun(Store, "tr-linked", "R");
            LinkTraceToRun(Store, "tr-linked-eval", "R");
            LinkTraceToRun(Store, "tr-both", "R");
            LinkTraceToRun(Store, "tr-unrelated", "R2");
            LinkTraceToPrompt(Store, "tr-prompted", "qa-prompt/3");
        }

        public HashSet<string> Ids(string exp, string filter) => new HashSet<string>(Find(new[] { exp }, filter));

        /// <summary>The search under test: the compiled SQL here; Search-Trace in the cmdlet subclass.</summary>
        public virtual List<string> Find(IEnumerable<string> experimentIds, string? filter, IReadOnlyList<string>? orderBy = null,
            long? limit = null, long offset = 0) => Search(Store, experimentIds, filter, orderBy, limit, offset);

        public virtual void Dispose() => Store.Dispose();
    }

    public class SearchCasesTests : IClassFixture<SeededCases>
    {
        private readonly SeededCases _s;
        public SearchCasesTests(SeededCases s) { _s = s; }

        private void Check(string exp, string filter, params string[] expected) =>
            Assert.Equal(new HashSet<string>(expected), _s.Ids(exp, filter));

        [Fact]
        public void RunIdMatchesMetadataAndLinkedTraces()
        {
            Check(_s.RunLink, "attributes.run_id = \"R\"", "tr-direct", "tr-linked", "tr-linked-eval", "tr-both");
            Check(_s.RunLink, "run_id = 'R'", "tr-direct", "tr-linked", "tr-linked-eval", "tr-both");
            Check(_s.RunLink, "metadata.mlflow.sourceRun = 'R'", "tr-direct", "tr-linked", "tr-linked-eval", "tr-both");
            Check(_s.RunLink, "attributes.run_id = \"R\" AND tags.type = \"training\"", "tr-linked");
            Check(_s.RunLink, "run_id = 'R2'", "tr-unrelated");
            Check(_s.RunLink, "run_id != 'R'", "tr-unrelated");
            // The last run_id '=' clause wins, as in MLflow.
            Check(_s.RunLink, "run_id = 'R2' AND run_id = 'other'", "tr-unrelated");
        }

        [Fact]
        public void PromptMatchesLinkedPromptVersions()
        {
            Check(_s.RunLink, "prompt = \"qa-prompt/3\"", "tr-prompted");
            Check(_s.RunLink, "prompt = \"qa-prompt/2\"");
        }

        [Fact]
        public void SpanNameTypeStatus()
        {
            string e = _s.SpanBasics;
            Check(e, "span.name = \"database_query\"", "sb-1");
            Check(e, "span.name LIKE \"database%\"", "sb-1", "sb-3");
            Check(e, "span.name != \"api_call\"", "sb-1", "sb-3");
            Check(e, "span.name = \"nonexistent\"");
            Check(e, "span.type IN (\"LLM\",\"RETRIEVER\")", "sb-1", "sb-2");
            Check(e, "span.type NOT IN (\"LLM\",\"RETRIEVER\")", "sb-3");
            Check(e, "span.type != \"LLM\"", "sb-2", "sb-3");
            Check(e, "span.type LIKE \"LLM\"", "sb-1");
            Check(e, "span.type LIKE \"llm\"");
            Check(e, "span.type ILIKE \"llm\"", "sb-1");
            Check(e, "span.type RLIKE \"^RET\"", "sb-2");
            Check(e, "span.status = \"OK\"", "sb-1");
            Check(e, "span.status IN (\"OK\",\"ERROR\")", "sb-1", "sb-2");
            Check(e, "span.status != \"ERROR\"", "sb-1", "sb-3");
        }

        [Fact]
        public void SpanClausesHoldForTheSameSpan()
        {
            Check(_s.SameSpan, "span.name=\"search_web\" AND span.status=\"OK\"", "ss-2");
            Check(_s.SameSpan, "span.name=\"search_web\" AND span.status=\"ERROR\"", "ss-1");
            Check(_s.SameSpan, "span.name=\"other_tool\" AND span.status=\"OK\"", "ss-1");
            Check(_s.SameSpan, "span.name=\"other_tool\" AND trace.text LIKE '%search_web%'");
        }

        [Fact]
        public void FullTextSearchesSpanContent()
        {
            Check(_s.FullText, "trace.text LIKE \"%FUNCTION%\"", "ft-func");
            Check(_s.FullText, "trace.text LIKE \"%function%\"");
            Check(_s.FullText, "trace.text ILIKE \"%function%\"", "ft-func");
            Check(_s.FullText, "trace.text LIKE \"%llm.%\"", "ft-llm");
            Check(_s.FullText, "trace.text LIKE \"%90%%\"", "ft-pct");
            Check(_s.FullText, "attributes.text LIKE '%rate 9_%%'", "ft-pct");
        }

        [Fact]
        public void SpanContentAndAttributes()
        {
            string e = _s.SpanAttrs;
            Check(e, "span.content LIKE \"%gpt-4%\"", "sa-gpt4");
            Check(e, "span.content ILIKE \"%MACHINE LEARNING%\"", "sa-gpt4");
            Check(e, "span.attributes.model LIKE \"%gpt-4%\"", "sa-gpt4");
            Check(e, "span.attributes.temperature LIKE \"%0.7%\"", "sa-gpt4");
            Check(e, "span.attributes.similarity.threshold LIKE \"%0.8%\"", "sa-retr");
            Check(e, "span.attributes.`similarity.threshold` LIKE \"%0.8%\"", "sa-retr");
            Check(e, "span.attributes.model ILIKE \"%GPT%\"", "sa-gpt4", "sa-retr");
            Check(e, "span.attributes.model RLIKE \"^gpt\"", "sa-gpt4", "sa-retr");
            Check(e, "span.attributes.model RLIKE \"^claude\"", "sa-claude");
            Check(e, "span.attributes.model RLIKE \"(preview|[0-9]{8})\"", "sa-claude");
            Check(e, "span.attributes.model RLIKE \"turbo\"", "sa-retr");
            Check(e, "span.attributes.model RLIKE \"4$\"", "sa-gpt4");
            Check(e, "span.attributes.model RLIKE \"^gpt-4$\"", "sa-gpt4");
            Check(e, "span.attributes.model LIKE \"%mistral%\"");
            // MLflow lets = through; it compares the whole content with the pattern, so nothing matches.
            Check(e, "span.attributes.model = \"gpt-4\"");
        }

        [Fact]
        public void FeedbackAndExpectationValues()
        {
            string e = _s.Assess;
            Check(e, "feedback.correctness = \"true\"", "as-1");
            Check(e, "feedback.correctness = 'false'", "as-2");
            Check(e, "feedback.correctness != \"true\"", "as-2");
            Check(e, "feedback.helpfulness = \"5\"", "as-1");
            Check(e, "expectation.response_length = \"150\"", "as-3");
            Check(e, "expectation.priority = \"urgent\"", "as-3");
            Check(e, "feedback.priority = \"urgent\"");
            Check(e, "feedback.nonexistent = \"x\"");
            Check(e, "feedback.helpfulness LIKE \"%5%\"", "as-1");
            Check(e, "expectation.priority LIKE \"%urgent%\"", "as-3");
            Check(e, "expectation.priority ILIKE \"%URGENT%\"", "as-3");
            Check(e, "expectation.priority RLIKE '^\"urg'", "as-3");
            Check(e, "issue.id = 'iss-42'", "as-3");
            Check(e, "issue.id = 'iss-43'");
        }

        [Fact]
        public void AssessmentNullChecksIgnoreOverriddenAssessments()
        {
            string e = _s.Assess;
            Check(e, "feedback.quality IS NULL", "as-2", "as-3", "as-4");
            Check(e, "feedback.quality IS NOT NULL", "as-1");
            Check(e, "feedback.quality = 'good'", "as-1");
            Check(e, "feedback.correctness IS NOT NULL AND feedback.helpfulness = '3'", "as-2");
        }

        [Fact]
        public void MetadataAndTagNullChecks()
        {
            Check(_s.RunLink, "metadata.mlflow.sourceRun IS NULL", "tr-linked", "tr-linked-eval", "tr-prompted");
            Check(_s.RunLink, "tag.type IS NOT NULL", "tr-linked", "tr-linked-eval");
            Check(_s.RunLink, "tag.type IS NULL AND run_id = 'R'", "tr-direct", "tr-both");
        }

        [Fact]
        public void SessionAssessmentsCoverTheWholeSession()
        {
            string e = _s.Session;
            Check(e, "feedback.session_rating = 'good'", "se-1", "se-2", "se-3", "se-5");
            Check(e, "feedback.session_rating IS NOT NULL", "se-1", "se-2", "se-3", "se-5");
            Check(e, "feedback.session_rating IS NULL", "se-4", "se-6");
            Check(e, "feedback.session_rating = 'bad'");
        }

        [Fact]
        public void ClientRequestId()
        {
            string e = _s.ClientIds;
            Check(e, "client_request_id != \"client-req-abc\"", "ci-123", "ci-dash", "ci-under");
            Check(e, "client_request_id LIKE \"%123\"", "ci-123", "ci-dash");
            Check(e, "client_request_id ILIKE \"with%\"", "ci-dash", "ci-under");
            Check(e, "client_request_id IN ('client-req-abc', 'nope')", "ci-abc");
            Check(e, "trace.client_request_id = 'client-req-123'", "ci-123");
        }

        [Fact]
        public void CaseSensitivity()
        {
            string e = _s.Names;
            Check(e, "trace.name LIKE \"user%\"", "nm-logout");
            Check(e, "trace.name ILIKE \"user%\"", "nm-login", "nm-logout", "nm-profile");
            Check(e, "trace.name ILIKE \"%_log%\"", "nm-login", "nm-logout");
            Check(e, "trace.name = \"user_login\"");
            Check(e, "trace.name = \"USER_LOGIN\"", "nm-login");
            Check(e, "trace.name RLIKE \"^[A-Z]\"", "nm-login", "nm-profile");
        }

        [Theory]
        [InlineData("=", new[] { 1 })]
        [InlineData("!=", new[] { 0, 2, 3, 4, 5 })]
        [InlineData(">", new[] { 2, 3, 4, 5 })]
        [InlineData(">=", new[] { 1, 2, 3, 4, 5 })]
        [InlineData("<", new[] { 0 })]
        [InlineData("<=", new[] { 0, 1 })]
        public void NumericComparisons(string op, int[] expected)
        {
            string Name(int i) => i == 5 ? "nu-null" : "nu-" + i;
            Check(_s.Numbers, $"trace.timestamp_ms {op} {SeededCases.Base + 5000}", expected.Select(Name).ToArray());
            Check(_s.Numbers, $"timestamp {op} {SeededCases.Base + 5000}", expected.Select(Name).ToArray());
            // A NULL execution time never matches.
            Check(_s.Numbers, $"trace.execution_time_ms {op} 500", expected.Where(i => i != 5).Select(Name).ToArray());
        }

        [Fact]
        public void NumericRangesAndEndTime()
        {
            Check(_s.Numbers, "trace.execution_time_ms >= 500 AND trace.execution_time_ms <= 2000", "nu-1", "nu-2", "nu-3");
            Check(_s.Numbers, "execution_time > 1500.5", "nu-3", "nu-4");
            // end_time = timestamp_ms + execution_time_ms, a missing duration counting as 0.
            Check(_s.Numbers, $"end_time = {SeededCases.Base + 25000}", "nu-4", "nu-null");
            Check(_s.Numbers, $"end_time_ms > {SeededCases.Base + 12000}", "nu-3", "nu-4", "nu-null");
            // A quoted number reaches the database as text, which SQLite compares numerically with the column, and
            // which PostgreSQL reads as a number too (psycopg2 sends it as an untyped literal).
            Check(_s.Numbers, $"timestamp_ms <= '{SeededCases.Base + 5000}'", "nu-0", "nu-1");
        }

        [Fact]
        public void TieBreakersGiveMlflowsPages()
        {
            var pages = new List<List<string>>();
            for (long offset = 0; ; offset += 3)
            {
                var page = _s.Find(new[] { _s.Ties }, null, null, 3, offset);
                if (page.Count == 0) break;
                pages.Add(page);
            }
            Assert.Equal(new[]
            {
                new List<string> { "tr-5", "tr-6", "tr-7" }, new List<string> { "tr-8", "tr-9", "tr-0" },
                new List<string> { "tr-1", "tr-2", "tr-3" }, new List<string> { "tr-4" },
            }, pages);
        }

        /// <summary>Newest first with a page size, Search-Trace walks each experiment's time index and keeps span
        /// conditions per-trace checks (on PostgreSQL fenced from becoming joins): every page must still be the same
        /// slice of the whole, ordered result.</summary>
        [Fact]
        public void SpanFiltersPageOverEveryExperimentLikeTheWholeResult()
        {
            var all = new[] { _s.SpanBasics, _s.SameSpan, _s.FullText, _s.SpanAttrs };
            foreach (var filter in new[] { "span.status = \"OK\"", "span.name LIKE \"%_%\" AND span.status != \"ERROR\"", "trace.text LIKE \"%a%\"",
                         "span.content ILIKE \"%GPT%\"", "span.attributes.model RLIKE \"gpt\"", "span.type = \"LLM\" AND trace.text LIKE \"%o%\"" })
            {
                var whole = _s.Find(all, filter);
                Assert.True(whole.Count >= 2, filter);
                for (int limit = 1; limit <= whole.Count + 1; limit++)
                    Assert.Equal(whole.Take(limit), _s.Find(all, filter, null, limit));
                Assert.Equal(whole.Skip(1).Take(2), _s.Find(all, filter, null, 2, 1));
                // One experiment's page is one query over its time index, fenced the same way.
                foreach (var e in all)
                {
                    var own = _s.Find(new[] { e }, filter);
                    Assert.Equal(own.Take(1), _s.Find(new[] { e }, filter, null, 1));
                    Assert.Equal(own.Skip(1).Take(2), _s.Find(new[] { e }, filter, null, 2, 1));
                }
            }
        }

        [Fact]
        public void UnlimitedSearchWithOffset()
        {
            Assert.Equal(new[] { "tr-3", "tr-4" }, _s.Find(new[] { _s.Ties }, null, null, null, 8));
            Assert.Equal(10, _s.Find(new[] { _s.Ties }, null).Count);
        }
    }

    public sealed class SeededCasesOnPostgres : SeededCases
    {
        public SeededCasesOnPostgres() : base(StoreKind.Postgres) { }
    }

    /// <summary>MLflow's seeded search cases on PostgreSQL, same expectations.</summary>
    public class SearchCasesTestsOnPostgres : SearchCasesTests, IClassFixture<SeededCasesOnPostgres>
    {
        public SearchCasesTestsOnPostgres(SeededCasesOnPostgres s) : base(s) { }
    }
}
