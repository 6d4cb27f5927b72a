using MlTraces.Core.Store;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    public class CompletionTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static List<string> Complete(PsShell sh, string input)
        {
            var r = sh.Run("(TabExpansion2 -inputScript $s -cursorColumn $s.Length).CompletionMatches | ForEach-Object CompletionText",
                new Dictionary<string, object?> { ["s"] = input });
            Assert.Empty(r.Errors);
            return r.Output.Select(o => o.BaseObject.ToString()!).ToList();
        }

        [RealStoreFact]
        public void CompletesExperimentsKeysAndFilterFieldsFromTheStoreWithoutWriting()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            string hash = ts.Fingerprint();
            using var sh = new PsShell(ts.Folder);
            string uri = $"-TrackingUri '{ts.UriText}' ";
            Assert.Equal(new[] { "'MLflow Demo'" }, Complete(sh, "Search-Trace " + uri + "-ExperimentName ML"));
            Assert.Contains("1", Complete(sh, "Search-Trace " + uri + "-ExperimentId "));
            var order = Complete(sh, "Search-Trace " + uri + "-OrderBy tag.");
            Assert.Contains("'tag.`mlflow.traceName`'", order);
            Assert.Contains("'timestamp_ms'", Complete(sh, "Search-Trace " + uri + "-OrderBy time"));
            Assert.Contains("'status = ''ERROR'' AND span.type", Complete(sh, "Search-Trace " + uri + "-Filter 'status = ''ERROR'' AND span.t"));
            // In a double-quoted string the backticks around a dotted key are themselves escaped.
            Assert.Contains("\"metadata.``mlflow.trace.session``", Complete(sh, "Search-Trace " + uri + "-Filter \"metadata.mlflow.trace.s"));
            // The default store when none is typed: sqlite:///mlflow.db in the current location, which is missing here.
            Assert.Empty(Complete(sh, "Search-Trace -ExperimentName "));
            Assert.Equal(hash, ts.Fingerprint());
        }
    }

    public class CompletionTestsOnPostgres : CompletionTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
