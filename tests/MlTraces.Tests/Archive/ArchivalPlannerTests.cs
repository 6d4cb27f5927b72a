using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Archive
{
    public class ArchivalPlannerTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static readonly DateTimeOffset Now = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        private static long DaysAgo(double d) => Now.AddDays(-d).ToUnixTimeMilliseconds();

        private static Trace T(string id, string exp, double daysAgo, string state = "OK", bool content = true, IDictionary<string, string>? tags = null)
        {
            var t = TestStore.MakeTrace(id, exp, DaysAgo(daysAgo), 5, state, tags);
            t.Spans = new List<Span> { MakeSpan(id, "00000000000000" + (id.GetHashCode() & 0xff).ToString("x2"), "root", "CHAIN", "OK") };
            if (!content) t.Spans[0].Content = "";
            return t;
        }

        private (TestStore ts, ArchivalServerConfig config) Setup(string yamlExtra = "")
        {
            var ts = TestStore.CreateEmpty(Kind);
            string a = ts.AddExperiment("a"), b = ts.AddExperiment("b");
            ts.AddTraces(new[]
            {
                T("a-old", a, 40), T("a-older", a, 50), T("a-new", a, 5),
                T("a-running", a, 60, state: "IN_PROGRESS"),
                T("a-failed", a, 61, tags: D("mlflow.trace.archivalFailure", "MALFORMED_TRACE")),
                T("a-archived", a, 62, content: false, tags: D("mlflow.trace.spansLocation", "ARCHIVE_REPO")),
                T("a-empty", a, 63, content: false),
                T("a-held", a, 64, tags: D("mltraces.legalHold", "true")),
                T("b-old", b, 45), T("b-mid", b, 10), T("b-new", b, 1),
            });
            string path = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(path, $"trace_archival:\n  enabled: true\n  location: file://{ts.Folder}/archive\n  retention: 30d\n{yamlExtra}");
            return (ts, ArchivalServerConfig.Load(path));
        }

        /// <summary>The candidates of a plan, streamed to the end, and the plan.</summary>
        private static (List<PlannedArchival> Candidates, ArchivalPlan Plan) Plan(TestStore ts, ArchivalServerConfig config, long? max = null)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            var plan = ArchivalPlanner.Plan(store, config, Experiments.Active(store), max, Now);
            return (plan.Candidates().ToList(), plan);
        }

        [Fact]
        public void RetentionCandidatesOldestFirstWithMlflowsExclusions()
        {
            var (ts, config) = Setup();
            using (ts)
            {
                var plan = Plan(ts, config);
                Assert.Equal(new[] { "a-older", "b-old", "a-old" }, plan.Candidates.Select(c => c.TraceId));
                Assert.All(plan.Candidates, c => Assert.Equal(ArchiveReason.Retention, c.Reason));
                Assert.All(plan.Candidates, c => Assert.True(c.PayloadBytes > 100));
                Assert.Equal($"file://{ts.Folder}/archive/1/traces/a-older/artifacts", plan.Candidates[0].ArchiveFolder);
                Assert.Equal(new[] { "a-older" }, Plan(ts, config, max: 1).Candidates.Select(c => c.TraceId));
            }
        }

        [Fact]
        public void ArchiveNowComesFirstAndCoversTheRegularGroup()
        {
            var (ts, config) = Setup();
            using (ts)
            {
                ExperimentArchivalTags.Write(ts.Open(), "2", ExperimentArchivalTags.ArchiveNowKey, "{\"older_than\": \"7d\"}");
                var plan = Plan(ts, config);
                Assert.Equal(new[] { "b-old", "b-mid", "a-older", "a-old" }, plan.Candidates.Select(c => c.TraceId));
                Assert.Equal(new[] { ArchiveReason.ArchiveNow, ArchiveReason.ArchiveNow, ArchiveReason.Retention, ArchiveReason.Retention }, plan.Candidates.Select(c => c.Reason));
                Assert.Equal("{\"older_than\": \"7d\"}", plan.Plan.ArchiveNowRequests["2"]);
                // The whole experiment, whatever the age; and a budget that archive-now uses up.
                ExperimentArchivalTags.Write(ts.Open(), "2", ExperimentArchivalTags.ArchiveNowKey, "{}");
                Assert.Equal(new[] { "b-old", "b-mid", "b-new" }, Plan(ts, config, max: 3).Candidates.Select(c => c.TraceId));
                ExperimentArchivalTags.Write(ts.Open(), "1", ExperimentArchivalTags.ArchiveNowKey, "not json");
                Assert.Contains(Plan(ts, config).Plan.Warnings, w => w.StartsWith("Ignoring malformed trace archive-now tag value: not json"));
            }
        }

        [Fact]
        public void ExperimentOverridesAndDisabledConfig()
        {
            var (ts, config) = Setup();
            using (ts)
            {
                ExperimentArchivalTags.Write(ts.Open(), "2", ExperimentArchivalTags.RetentionKey, "{\"type\": \"duration\", \"value\": \"7d\"}");
                Assert.Equal(new[] { "a-older", "b-old", "a-old", "b-mid" }, Plan(ts, config).Candidates.Select(c => c.TraceId));
                string off = Path.Combine(ts.Folder, "off.yaml");
                File.WriteAllText(off, $"trace_archival:\n  enabled: false\n  location: file://{ts.Folder}/archive\n  retention: 1d\n");
                var disabled = Plan(ts, ArchivalServerConfig.Load(off));
                Assert.Empty(disabled.Candidates);
                Assert.Contains("disabled", Assert.Single(disabled.Plan.Warnings));
            }
        }

        /// <summary>
        /// The streamed walk reads each experiment in pages (64 rows first); across many pages, ties in time,
        /// experiments interleaved and traces that are not candidates at page edges, it must give exactly what
        /// MLflow's one sorted query gives: archive-now rows first, then retention rows, each by (timestamp_ms,
        /// request_id), truncated to the budget, no trace twice.
        /// </summary>
        [Fact]
        public void TheStreamedWalkGivesWhatOneSortedQueryGivesAcrossManyPages()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            var exps = new[] { ts.AddExperiment("x"), ts.AddExperiment("y"), ts.AddExperiment("z") };
            var traces = new List<Trace>();
            for (int i = 0; i < 900; i++)
            {
                string exp = exps[i % 3];
                // Four traces share each time; every 7th is in progress, every 11th has no content, every 13th failed.
                var t = T($"t{(i * 7919) % 900:D4}", exp, 60 - (i / 4) * 0.2, state: i % 7 == 0 ? "IN_PROGRESS" : "OK", content: i % 11 != 0,
                    tags: i % 13 == 0 ? D("mlflow.trace.archivalFailure", "MALFORMED_TRACE") : null);
                traces.Add(t);
            }
            ts.AddTraces(traces);
            string path = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(path, $"trace_archival:\n  enabled: true\n  location: file://{ts.Folder}/archive\n  retention: 7d\n");
            var config = ArchivalServerConfig.Load(path);
            // Experiment y asks for everything older than 30 days now: its rows up to 30 days come first, its
            // rows between 30 and 7 days come with the retention group.
            ExperimentArchivalTags.Write(ts.Open(), exps[1], ExperimentArchivalTags.ArchiveNowKey, "{\"older_than\": \"30d\"}");

            List<string> Sorted(string where, long? limit)
            {
                using var store = ts.Open(StoreAccess.ReadOnly);
                var p = new SqlParameters();
                using var cmd = store.Command($"SELECT ti.request_id FROM trace_info ti WHERE {where} AND {ArchivalPlanner.CandidateCondition(p)} " +
                                              $"ORDER BY ti.timestamp_ms, ti.request_id{(limit.HasValue ? " LIMIT " + limit : "")}", p);
                using var r = cmd.ExecuteReader();
                var ids = new List<string>();
                while (r.Read()) ids.Add(r.GetString(0));
                return ids;
            }
            foreach (long? max in new long?[] { null, 1, 65, 200, 400 })
            {
                var archiveNow = Sorted($"ti.experiment_id = {exps[1]} AND ti.timestamp_ms <= {DaysAgo(30)}", max);
                var retention = Sorted($"ti.timestamp_ms <= {DaysAgo(7)}", null).Except(archiveNow).ToList();
                var expected = archiveNow.Concat(retention).Take((int)(max ?? int.MaxValue)).ToList();
                var (candidates, _) = Plan(ts, config, max);
                Assert.Equal(expected, candidates.Select(c => c.TraceId).ToList());
                Assert.Equal(expected.Count, candidates.Select(c => c.TraceId).Distinct().Count());
                Assert.All(candidates.Take(archiveNow.Count), c => Assert.Equal(ArchiveReason.ArchiveNow, c.Reason));
            }
            Assert.True(Plan(ts, config).Candidates.Count > 300);
        }
    }

    public class ArchivalPlannerTestsOnPostgres : ArchivalPlannerTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
