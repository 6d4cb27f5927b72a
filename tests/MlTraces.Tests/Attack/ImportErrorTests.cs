using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text.Json.Nodes;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using Xunit;

namespace MlTraces.Tests.Attack
{
    /// <summary>
    /// One trace the store refuses (an assessment id already there, a span id twice, a value too long for its
    /// column on PostgreSQL) is its own error, naming the trace and the line of the file; the rest of its batch is
    /// imported, and the refused trace left no row behind.
    /// </summary>
    public class ImportErrorTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static string[] SampleLines()
        {
            string dir = PgServer.RepoRoot();
            return File.ReadAllLines(Path.Combine(dir, "samples", "traces.jsonl")).Where(l => l.Trim().Length > 0).ToArray();
        }

        private static string Id(string line) => (string)JsonNode.Parse(line)!["info"]!["trace_id"]!;

        private static string Edit(string line, Action<JsonObject> edit)
        {
            var o = JsonNode.Parse(line)!.AsObject();
            edit(o);
            return o.ToJsonString();
        }

        private static long RowsOf(TestStore ts, string id) =>
            ts.Scalar($"SELECT (SELECT count(*) FROM trace_info WHERE request_id = '{id}') + (SELECT count(*) FROM trace_tags WHERE request_id = '{id}')" +
                      $" + (SELECT count(*) FROM trace_request_metadata WHERE request_id = '{id}') + (SELECT count(*) FROM spans WHERE trace_id = '{id}')" +
                      $" + (SELECT count(*) FROM assessments WHERE trace_id = '{id}')");

        [Fact]
        public void EachRefusedTraceIsAnErrorNamingItsLineAndTheRestOfTheBatchLands()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            var lines = SampleLines();
            // Line 3's first assessment id is already in the store, on another trace.
            string squatter = "tr-" + new string('0', 31) + "1";
            File.WriteAllText(Path.Combine(ts.Folder, "first.jsonl"), lines[2].Replace(Id(lines[2]), squatter) + "\n");
            using var sh = new PsShell(ts.Folder);
            var u = new Dictionary<string, object?> { ["u"] = ts.UriText };
            Assert.False(sh.Run("Import-Trace first.jsonl -ExperimentName samples -TrackingUri $u", u).Failed);

            var file = lines.ToArray();
            // Line 6 gives one of its assessments the id of one of line 4's.
            string line4Assessment = (string)JsonNode.Parse(lines[3])!["info"]!["assessments"]![0]!["assessment_id"]!;
            file[5] = Edit(lines[5], o => o["info"]!["assessments"]![1]!["assessment_id"] = line4Assessment);
            // Line 1 has a span twice.
            file[0] = Edit(lines[0], o => { var spans = o["data"]!["spans"]!.AsArray(); spans.Add(spans[0]!.DeepClone()); });
            // Line 8 is not JSON at all; line 10 has a tag key longer than the 250 characters MLflow's column holds.
            file[7] = "{not json";
            file[9] = Edit(lines[9], o => o["info"]!["tags"]![new string('k', 300)] = "v");
            File.WriteAllLines(Path.Combine(ts.Folder, "samples.jsonl"), file);

            var r = sh.Run("Import-Trace samples.jsonl -ExperimentName samples -PassThru -TrackingUri $u", u);
            Assert.Null(r.Terminating);
            var refused = r.Errors.Where(e => e.FullyQualifiedErrorId.StartsWith("TraceRefusedByStore,", StringComparison.Ordinal)).ToList();
            // PostgreSQL enforces VARCHAR(250) on tag keys; SQLite stores what it is given, as for MLflow itself.
            var expected = new List<int> { 1, 3, 6 };
            if (Kind == StoreKind.Postgres) expected.Add(10);
            Assert.Equal(expected.Count, refused.Count);
            foreach (var (e, lineNo) in refused.Zip(expected))
            {
                string id = Id(lines[lineNo - 1]);
                Assert.Contains($"samples.jsonl, line {lineNo}: Trace '{id}' was not imported", e.Exception.Message);
                Assert.Equal(id, ((Trace)e.TargetObject).TraceId);
                Assert.Equal(ErrorCategory.InvalidData, e.CategoryInfo.Category);
                Assert.Equal(0, RowsOf(ts, id));
            }
            Assert.Single(r.Errors, e => e.Exception.Message.Contains("line 8"));
            Assert.Equal(1 + expected.Count, r.Errors.Count);
            int imported = lines.Length - expected.Count - 1;
            Assert.Equal(imported, r.Output.Count);
            Assert.Equal(imported + 1, ts.Scalar("SELECT count(*) FROM trace_info"));
            // The assessment that was there first is still the squatter's, and line 4's is line 4's.
            Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM assessments WHERE trace_id = '{squatter}'") > 0 ? 1 : 0);
            Assert.Equal(1, ts.Scalar($"SELECT count(*) FROM assessments WHERE assessment_id = '{line4Assessment}' AND trace_id = '{Id(lines[3])}'"));
        }

        [Fact]
        public void TracesFromThePipelineAreNamedToo()
        {
            using var source = TestStore.CreateEmpty(Kind);
            using var target = TestStore.CreateEmpty(Kind);
            var lines = SampleLines().Take(20).ToArray();
            File.WriteAllLines(Path.Combine(source.Folder, "s.jsonl"), lines);
            // The target already holds line 5's trace under another id (so its assessment ids are taken).
            string squatter = "tr-" + new string('0', 31) + "2";
            File.WriteAllText(Path.Combine(target.Folder, "t.jsonl"), lines[3].Replace(Id(lines[3]), squatter) + "\n");
            using var sh = new PsShell(source.Folder);
            var vars = new Dictionary<string, object?> { ["t"] = target.UriText, ["s"] = source.UriText, ["f"] = Path.Combine(target.Folder, "t.jsonl") };
            Assert.False(sh.Run("Import-Trace s.jsonl -ExperimentName samples -TrackingUri $s", vars).Failed);
            Assert.False(sh.Run("Import-Trace -LiteralPath $f -TrackingUri $t -ExperimentName samples", vars).Failed);

            var r = sh.Run("Search-Trace -TrackingUri $s | Import-Trace -TrackingUri $t -ExperimentName samples", vars);
            var e = Assert.Single(r.Errors);
            Assert.Equal("TraceRefusedByStore,MlTraces.Commands.ImportTraceCommand", e.FullyQualifiedErrorId);
            Assert.StartsWith($"Trace '{Id(lines[3])}' was not imported", e.Exception.Message);
            Assert.Equal(Id(lines[3]), ((Trace)e.TargetObject).TraceId);
            Assert.Equal(20, target.Scalar("SELECT count(*) FROM trace_info"));
            Assert.Equal(0, RowsOf(target, Id(lines[3])));
        }

        [Fact]
        public void WhatIfImportsNothingAndListsEveryTraceTheRealRunTries()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            var lines = SampleLines().Take(5).ToArray();
            File.WriteAllLines(Path.Combine(ts.Folder, "s.jsonl"), lines);
            using var sh = new PsShell(ts.Folder);
            string before = ts.Fingerprint();
            var u = new Dictionary<string, object?> { ["u"] = ts.UriText };
            var whatIf = sh.Run("Import-Trace s.jsonl -ExperimentId 0 -WhatIf -TrackingUri $u", u);
            Assert.Equal(before, ts.Fingerprint());
            foreach (var l in lines) Assert.Contains($"trace {Id(l)} into experiment 0", whatIf.HostText);
            var real = sh.Run("Import-Trace s.jsonl -ExperimentId 0 -PassThru -TrackingUri $u", u);
            Assert.Equal(lines.Select(Id), real.Output.Select(o => ((Trace)o.BaseObject).TraceId));
        }
    }

    public class ImportErrorTestsOnPostgres : ImportErrorTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
