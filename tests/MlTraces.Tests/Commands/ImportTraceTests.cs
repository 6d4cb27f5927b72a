using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    public class ImportTraceTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;


        private static string SampleFile()
        {
            // The shipped sample, found from the repository root (where MlTraces.psd1 is).
            string? dir = System.AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "MlTraces.psd1"))) dir = Path.GetDirectoryName(dir);
            return Path.Combine(dir!, "samples", "traces.jsonl");
        }

        [Fact]
        public void ImportsTheSampleAndReportsDuplicatesPerItem()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["samples"] = SampleFile() };
            var first = sh.Run("Import-Trace -LiteralPath $samples -ExperimentName samples -PassThru", vars);
            Assert.Empty(first.Errors);
            int lines = File.ReadAllLines(SampleFile()).Count(l => l.Trim().Length > 0);
            Assert.Equal(lines, first.Output.Count);
            Assert.Equal(lines, ts.Scalar("SELECT count(*) FROM trace_info WHERE experiment_id = (SELECT experiment_id FROM experiments WHERE name = 'samples')"));
            Assert.True(ts.Scalar("SELECT count(*) FROM spans") > lines);
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_info t WHERE NOT EXISTS (SELECT 1 FROM trace_tags g WHERE g.request_id = t.request_id AND g.key = 'mlflow.trace.spansLocation' AND g.value = 'TRACKING_STORE')"));

            // The second import adds nothing and says so for every trace, without stopping.
            var again = sh.Run("Import-Trace -LiteralPath $samples -ExperimentName samples -PassThru", vars);
            Assert.Empty(again.Output);
            Assert.Equal(lines, again.Errors.Count);
            Assert.All(again.Errors, e => Assert.Equal("TraceAlreadyExists,MlTraces.Commands.ImportTraceCommand", e.FullyQualifiedErrorId));
            Assert.Equal(lines, ts.Scalar("SELECT count(*) FROM trace_info"));
        }

        [Fact]
        public void WhatIfImportsNothingAndCreatesNoExperiment()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string before = ts.Fingerprint();
            using var sh = new PsShell(ts);
            var r = sh.Run("Import-Trace -LiteralPath $samples -ExperimentName samples -WhatIf", new Dictionary<string, object?> { ["samples"] = SampleFile() });
            Assert.Empty(r.Errors);
            Assert.Contains("What if: Performing the operation \"Import trace\" on target \"trace tr-", r.HostText);
            Assert.Equal(before, ts.Fingerprint());
        }

        [Fact]
        public void BadLinesAreReportedWithTheirLineNumberAndTheRestIsImported()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            var good = File.ReadLines(SampleFile()).Take(2).ToList();
            string file = Path.Combine(ts.Folder, "mixed.jsonl");
            File.WriteAllLines(file, new[] { good[0], "{\"info\": 5}", "not json", good[1] });
            using var sh = new PsShell(ts);
            var r = sh.Run("Import-Trace -Path mixed.jsonl -ExperimentName x");
            Assert.Equal(2, r.Errors.Count);
            Assert.Contains("line 2", r.Errors[0].Exception.Message);
            Assert.Contains("line 3", r.Errors[1].Exception.Message);
            Assert.Equal(2, ts.Scalar("SELECT count(*) FROM trace_info"));
        }

        [Fact]
        public void MissingExperimentsAreNamedAndExperimentIdMustExist()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["samples"] = SampleFile() };
            // The sample's own experiment id does not exist in a new store.
            var r = sh.Run("Import-Trace -LiteralPath $samples", vars);
            Assert.NotEmpty(r.Errors);
            Assert.All(r.Errors, e => Assert.Equal("ExperimentNotFound,MlTraces.Commands.ImportTraceCommand", e.FullyQualifiedErrorId));
            Assert.Contains("-ExperimentName", r.Errors[0].Exception.Message);
            var byId = sh.Run("Import-Trace -LiteralPath $samples -ExperimentId 42", vars);
            Assert.Equal("ExperimentNotFound,MlTraces.Commands.ImportTraceCommand", Assert.Single(byId.Errors).FullyQualifiedErrorId);
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_info"));
            // Into experiment 0 by id.
            Assert.Empty(sh.Run("Import-Trace -LiteralPath $samples -ExperimentId 0", vars).Errors);
            Assert.True(ts.Scalar("SELECT count(*) FROM trace_info WHERE experiment_id = 0") > 0);
        }

        [RealStoreFact]
        public void TracesMoveBetweenStoresThroughThePipelineWithTheirSpans()
        {
            // From a SQLite file into a store of the kind under test: on PostgreSQL, the way to outgrow one file.
            using var source = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            using var target = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(target);
            var vars = new Dictionary<string, object?> { ["src"] = source.UriText };
            var r = sh.Run("Search-Trace -TrackingUri $src | Import-Trace -ExperimentName moved", vars);
            Assert.Empty(r.Errors);
            Assert.Equal(source.Scalar("SELECT count(*) FROM trace_info"), target.Scalar("SELECT count(*) FROM trace_info"));
            Assert.Equal(source.Scalar("SELECT count(*) FROM spans"), target.Scalar("SELECT count(*) FROM spans"));
            Assert.Equal(source.Scalar("SELECT count(*) FROM assessments"), target.Scalar("SELECT count(*) FROM assessments"));
            Assert.Equal(source.Scalar("SELECT count(*) FROM trace_request_metadata"), target.Scalar("SELECT count(*) FROM trace_request_metadata"));
            // The same searches give the same answers in both stores.
            int selective = 0;
            foreach (var filter in new[]
            {
                "", "status = 'OK'", "status != 'OK'", "status IN ('ERROR', 'IN_PROGRESS')", "execution_time_ms > 1000",
                "timestamp_ms > 0 AND execution_time < 100000", "name LIKE '%a%'", "name ILIKE '%CHAT%'", "name RLIKE '^[a-z]'",
                "tag.`mlflow.traceName` IS NOT NULL", "metadata.`mlflow.trace.session` LIKE '%'", "metadata.`mlflow.trace.user` IS NULL",
                "span.status = 'ERROR'", "span.type = 'LLM'", "span.name LIKE '%Chat%'", "span.type IN ('LLM', 'TOOL')",
                "span.attributes.model LIKE '%gpt%'", "span.content ILIKE '%mlflow%'", "trace.text LIKE '%MLflow%'",
                "trace.text ILIKE '%error%'", "feedback.relevance IS NOT NULL", "feedback.relevance = 'yes'", "expectation.expected_response IS NOT NULL",
                "client_request_id != 'none'", "request_id LIKE 'tr-%'", "end_time_ms > 0", "run_id = 'none'",
            })
            {
                foreach (var order in new[] { "", "timestamp_ms ASC", "execution_time DESC", "name" })
                {
                    var search = new Dictionary<string, object?> { ["src"] = source.UriText, ["f"] = filter, ["o"] = order };
                    const string args = "$p = @{}; if ($f) { $p.Filter = $f }; if ($o) { $p.OrderBy = $o }; ";
                    var a = sh.Ids(args + "Search-Trace -TrackingUri $src @p", search);
                    var b = sh.Ids(args + "Search-Trace @p", search);
                    Assert.True(a.SequenceEqual(b), $"'{filter}' ordered by '{order}': {a.Count} in the source, {b.Count} in the copy");
                    if (a.Count > 0 && a.Count < source.Scalar("SELECT count(*) FROM trace_info")) selective++;
                }
            }
            // The filters really choose: most match some traces but not all.
            Assert.True(selective >= 40, $"only {selective} searches matched some but not all traces");
        }

        [RealStoreFact]
        public void AStoreThatCannotHoldSpansRefusesThoseTracesOnly()
        {
            using var old = TestStore.CopyOfFixture("cobbie-gen-a.sqlite", Kind);
            using var sh = new PsShell(old);
            long before = old.Scalar("SELECT count(*) FROM trace_info");
            var r = sh.Run("Import-Trace -LiteralPath $samples -TrackingUri $uri -ExperimentId 1", new Dictionary<string, object?> { ["samples"] = SampleFile(), ["uri"] = old.UriText });
            Assert.NotEmpty(r.Errors);
            Assert.All(r.Errors, e => Assert.Equal("StoreCannotHoldTrace,MlTraces.Commands.ImportTraceCommand", e.FullyQualifiedErrorId));
            Assert.Contains("no spans table", r.Errors[0].Exception.Message);
            Assert.Equal(before, old.Scalar("SELECT count(*) FROM trace_info"));
        }

        [Fact]
        public void LongWorkShowsProgressThatCompletesAndStaysSilentWhenAsked()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["samples"] = SampleFile() };
            var r = sh.Run("Import-Trace -LiteralPath $samples -ExperimentName a", vars);
            Assert.NotEmpty(r.Progress);
            Assert.Equal(ProgressRecordType.Completed, r.Progress[^1].RecordType);
            Assert.Contains("bytes of traces.jsonl", r.Progress[0].StatusDescription);
            var quiet = sh.Run("$ProgressPreference = 'SilentlyContinue'; Search-Trace | Export-Trace all.jsonl; $ProgressPreference = 'Continue'");
            Assert.Empty(quiet.Errors);
            Assert.DoesNotContain(quiet.Progress, p => p.Activity.StartsWith("Exporting"));
        }

    }

    public class ImportTraceTestsOnPostgres : ImportTraceTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
