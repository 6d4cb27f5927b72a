using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// Import-Trace without -ExperimentName files a trace by its experiment number. Into another store that number
    /// may belong to another experiment: a trace whose experiment's name is known (piped from its own store) and
    /// differs is refused on its own, and the rest of the run imports.
    /// </summary>
    public class ImportExperimentNameTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        /// <summary>Source (always SQLite): 1 'School_Handbook_Agent' (3 traces), 2 'shared' (2), 3 'only-here' (1).
        /// Target: 1 'imported-errors', 2 'shared', no 3.</summary>
        private static (TestStore source, TestStore target) TwoStores(StoreKind kind)
        {
            var source = TestStore.CreateEmpty();
            Assert.Equal("1", source.AddExperiment("School_Handbook_Agent"));
            Assert.Equal("2", source.AddExperiment("shared"));
            Assert.Equal("3", source.AddExperiment("only-here"));
            source.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-a1", "1", 1000), TestStore.MakeTrace("tr-a2", "1", 2000), TestStore.MakeTrace("tr-a3", "1", 3000),
                TestStore.MakeTrace("tr-s1", "2", 4000), TestStore.MakeTrace("tr-s2", "2", 5000),
                TestStore.MakeTrace("tr-o1", "3", 6000),
            });
            var target = TestStore.CreateEmpty(kind);
            Assert.Equal("1", target.AddExperiment("imported-errors"));
            Assert.Equal("2", target.AddExperiment("shared"));
            return (source, target);
        }

        private static long CountIn(TestStore ts, string name) =>
            ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = (SELECT experiment_id FROM experiments WHERE name = '{name}')");

        [Fact]
        public void PipedTracesIntoAnExperimentOfAnotherNameAreRefusedEachAndTheRestImport()
        {
            var (source, target) = TwoStores(Kind);
            using var _s = source; using var _t = target;
            using var sh = new PsShell(target);
            var vars = new Dictionary<string, object?> { ["src"] = source.UriText };
            string before = target.Fingerprint();

            var r = sh.Run("Search-Trace -TrackingUri $src | Import-Trace -PassThru", vars);
            Assert.Null(r.Terminating);
            var differs = r.Errors.Where(e => e.FullyQualifiedErrorId == "ExperimentNameDiffers,MlTraces.Commands.ImportTraceCommand").ToList();
            Assert.Equal(new[] { "tr-a1", "tr-a2", "tr-a3" }, differs.Select(e => ((Trace)e.TargetObject).TraceId).OrderBy(x => x));
            Assert.All(differs, e => Assert.Equal(ErrorCategory.InvalidArgument, e.CategoryInfo.Category));
            string message = differs[0].Exception.Message;
            Assert.Contains("'School_Handbook_Agent'", message);
            Assert.Contains("'imported-errors'", message);
            Assert.Contains("-ExperimentName 'School_Handbook_Agent'", message);
            // Experiment 3 is not in the target: refused as before, by its number.
            var missing = Assert.Single(r.Errors, e => e.FullyQualifiedErrorId == "ExperimentNotFound,MlTraces.Commands.ImportTraceCommand");
            Assert.Equal("tr-o1", ((Trace)missing.TargetObject).TraceId);
            Assert.Equal(4, r.Errors.Count);
            // Same number and same name: imported, as before.
            Assert.Equal(new[] { "tr-s1", "tr-s2" }, r.Output.Select(o => ((Trace)o.BaseObject).TraceId).OrderBy(x => x));
            Assert.Equal(0, CountIn(target, "imported-errors"));
            Assert.Equal(2, CountIn(target, "shared"));
            Assert.Equal(0, target.Scalar("SELECT count(*) FROM trace_tags WHERE request_id IN ('tr-a1', 'tr-a2', 'tr-a3', 'tr-o1')"));
            Assert.DoesNotContain(r.Warnings, w => w.Message.Contains("by experiment number"));

            // What the message says to pass works: the refused ones land in an experiment of their own name.
            var again = sh.Run("Search-Trace -TrackingUri $src -ExperimentName School_Handbook_Agent | Import-Trace -ExperimentName School_Handbook_Agent", vars);
            Assert.False(again.Failed, string.Join("\n", again.Errors));
            Assert.Equal(3, CountIn(target, "School_Handbook_Agent"));
            // -ExperimentId is the explicit way into the other experiment.
            var forced = sh.Run("Search-Trace -TrackingUri $src -ExperimentName only-here | Import-Trace -ExperimentId 1", vars);
            Assert.False(forced.Failed, string.Join("\n", forced.Errors));
            Assert.Equal(1, CountIn(target, "imported-errors"));
            Assert.NotEqual(before, target.Fingerprint());
        }

        [Fact]
        public void WhatIfReportsTheSameRefusalsAndChangesNothing()
        {
            var (source, target) = TwoStores(Kind);
            using var _s = source; using var _t = target;
            using var sh = new PsShell(target);
            var vars = new Dictionary<string, object?> { ["src"] = source.UriText };
            string before = target.Fingerprint();
            var dry = sh.Run("Search-Trace -TrackingUri $src | Import-Trace -WhatIf", vars);
            Assert.Equal(before, target.Fingerprint());
            Assert.Equal(3, dry.Errors.Count(e => e.FullyQualifiedErrorId.StartsWith("ExperimentNameDiffers,")));
            Assert.Equal(1, dry.Errors.Count(e => e.FullyQualifiedErrorId.StartsWith("ExperimentNotFound,")));
            var lines = dry.HostText.Split('\n').Where(l => l.StartsWith("What if:")).ToList();
            Assert.Equal(2, lines.Count);
            Assert.All(lines, l => Assert.Contains("into experiment 2 ('shared')", l));
            // The real run then does exactly that.
            var real = sh.Run("Search-Trace -TrackingUri $src | Import-Trace -PassThru", vars);
            Assert.Equal(dry.Errors.Select(e => e.FullyQualifiedErrorId).OrderBy(x => x), real.Errors.Select(e => e.FullyQualifiedErrorId).OrderBy(x => x));
            Assert.Equal(lines.Select(l => l.Substring(l.IndexOf("trace tr-") + 6, 5)).OrderBy(x => x), real.Output.Select(o => ((Trace)o.BaseObject).TraceId).OrderBy(x => x));
        }

        [Fact]
        public void WithinOneStoreTheNamesAgreeAndNothingIsRefusedForIt()
        {
            var (source, target) = TwoStores(StoreKind.Sqlite);
            using var _s = source; using var _t = target;
            using var sh = new PsShell(source);
            // Back into the store they came from: every trace is already there, and that is the only complaint.
            var r = sh.Run("Search-Trace | Import-Trace");
            Assert.Equal(6, r.Errors.Count);
            Assert.All(r.Errors, e => Assert.Equal("TraceAlreadyExists,MlTraces.Commands.ImportTraceCommand", e.FullyQualifiedErrorId));
        }

        [Fact]
        public void AFileRecordsNumbersOnlySoTracesFiledByNumberAreNamedInAWarning()
        {
            var (source, target) = TwoStores(Kind);
            using var _s = source; using var _t = target;
            using var sh = new PsShell(target);
            string file = Path.Combine(target.Folder, "backup.jsonl");
            var vars = new Dictionary<string, object?> { ["src"] = source.UriText, ["file"] = file };
            Assert.False(sh.Run("Search-Trace -TrackingUri $src -ExperimentId 1, 2 | Export-Trace -LiteralPath $file", vars).Failed);

            var r = sh.Run("Import-Trace -LiteralPath $file", vars);
            Assert.False(r.Failed, string.Join("\n", r.Errors));
            // MLflow's trace JSON holds the experiment's number, not its name: filed by number as before, and said.
            Assert.Equal(3, CountIn(target, "imported-errors"));
            Assert.Equal(2, CountIn(target, "shared"));
            Assert.Equal(2, r.Warnings.Count);
            Assert.Contains(r.Warnings, w => w.Message.Contains("experiment 1 ('imported-errors')") && w.Message.Contains("-ExperimentName"));
            Assert.Contains(r.Warnings, w => w.Message.Contains("experiment 2 ('shared')"));
            // With -ExperimentName nothing is filed by number, and nothing is said.
            var named = sh.Run("Import-Trace -LiteralPath $file -ExperimentName restored", vars);
            Assert.Empty(named.Warnings);
        }
    }

    public class ImportExperimentNameTestsOnPostgres : ImportExperimentNameTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
