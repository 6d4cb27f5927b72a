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
        private static readonly DateTimeOffset Now = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        private static long DaysAgo(double d) => Now.AddDays(-d).ToUnixTimeMilliseconds();

        private static Trace T(string id, string exp, double daysAgo, string state = "OK", bool content = true, IDictionary<string, string>? tags = null)
        {
            var t = TestStore.MakeTrace(id, exp, DaysAgo(daysAgo), 5, state, tags);
            t.Spans = new List<Span> { MakeSpan(id, "00000000000000" + (id.GetHashCode() & 0xff).ToString("x2"), "root", "CHAIN", "OK") };
            if (!content) t.Spans[0].Content = "";
            return t;
        }

        private static (TestStore ts, ArchivalServerConfig config) Setup(string yamlExtra = "")
        {
            var ts = TestStore.CreateEmpty();
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

        private static ArchivalPlan Plan(TestStore ts, ArchivalServerConfig config, long? max = null)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            return ArchivalPlanner.Plan(store, config, Experiments.Active(store), max, Now);
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
                Assert.Equal("{\"older_than\": \"7d\"}", plan.ArchiveNowRequests["2"]);
                // The whole experiment, whatever the age; and a budget that archive-now uses up.
                ExperimentArchivalTags.Write(ts.Open(), "2", ExperimentArchivalTags.ArchiveNowKey, "{}");
                Assert.Equal(new[] { "b-old", "b-mid", "b-new" }, Plan(ts, config, max: 3).Candidates.Select(c => c.TraceId));
                ExperimentArchivalTags.Write(ts.Open(), "1", ExperimentArchivalTags.ArchiveNowKey, "not json");
                Assert.Contains(Plan(ts, config).Warnings, w => w.StartsWith("Ignoring malformed trace archive-now tag value: not json"));
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
                Assert.Contains("disabled", Assert.Single(disabled.Warnings));
            }
        }
    }
}
