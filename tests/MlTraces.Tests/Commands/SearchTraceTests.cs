using MlTraces.Core.Store;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using MlTraces.Shell;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Commands
{
    public class SearchTraceTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private TestStore StoreWithTraces(out string exp1, out string exp2)
        {
            var ts = TestStore.CreateEmpty(Kind);
            exp1 = ts.AddExperiment("exp1");
            exp2 = ts.AddExperiment("exp2");
            ts.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-0", exp2, 0, 6, "OK", D("mlflow.traceName", "ddd"), D("mlflow.sourceRun", "run0")),
                TestStore.MakeTrace("tr-1", exp2, 1, 2, "ERROR", D("mlflow.traceName", "aaa", "fruit", "apple", "color", "red", "mlflow.trace.spansLocation", "TRACKING_STORE"), D("mlflow.sourceRun", "run1")),
                TestStore.MakeTrace("tr-2", exp1, 2, 4, "STATE_UNSPECIFIED", D("mlflow.traceName", "bbb", "fruit", "apple", "color", "green")),
                TestStore.MakeTrace("tr-3", exp1, 3, 10, "OK", D("mlflow.traceName", "ccc", "fruit", "orange")),
                TestStore.MakeTrace("tr-4", exp1, 4, 10, "OK", D("mlflow.traceName", "ddd", "color", "blue")),
            });
            return ts;
        }

        [Fact]
        public void PagesWithMlflowTokensAndMaxResults()
        {
            using var ts = StoreWithTraces(out _, out _);
            using var sh = new PsShell(ts);
            var r = sh.Run(@"
                $pages = @(); $token = $null
                do {
                    $page = @(Search-Trace -MaxResults 2 -PageToken $token -NextPageTokenVariable token)
                    $pages += ,@($page.TraceId)
                } while ($token)
                $pages | ForEach-Object { $_ -join ',' }");
            Assert.False(r.Failed, string.Join("\n", r.Errors));
            Assert.Equal(new[] { "tr-4,tr-3", "tr-2,tr-1", "tr-0" }, r.Output.Select(o => o.BaseObject.ToString()));
            // A token exactly as MLflow writes it: base64 of {"offset": 2}.
            Assert.Equal(new[] { "tr-2", "tr-1" }, sh.Ids("Search-Trace -MaxResults 2 -PageToken eyJvZmZzZXQiOiAyfQ=="));
            var token = sh.Run("Search-Trace -MaxResults 2 -NextPageTokenVariable t | Out-Null; $t");
            Assert.Equal("eyJvZmZzZXQiOiAyfQ==", token.Output.Single().BaseObject);
        }

        [Theory]
        [InlineData("-MaxResults 50001", "Invalid value 50001 for parameter 'max_results' supplied")]
        [InlineData("-MaxResults -1", "Invalid value -1 for parameter 'max_results' supplied")]
        [InlineData("-PageToken 'not base64!'", "Invalid page token")]
        [InlineData("-Filter 'invalid'", "Invalid clause(s) in filter string")]
        [InlineData("-Filter \"foo.bar = 'baz'\"", "Invalid entity type 'foo'")]
        [InlineData("-OrderBy 'timestamp sideways'", "Invalid order_by clause")]
        public void BadInputGetsMlflowsMessageBeforeTheStoreIsTouched(string args, string message)
        {
            using var ts = StoreWithTraces(out _, out _);
            using var sh = new PsShell(ts);
            // The store does not exist: the argument error must come first.
            var r = sh.Run("Search-Trace -TrackingUri sqlite:///does-not-exist.db " + args);
            var error = Assert.Single(r.Errors);
            Assert.Contains(message, error.Exception.Message);
            Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
            Assert.False(File.Exists(Path.Combine(ts.Folder, "does-not-exist.db")));
        }

        [Fact]
        public void ExperimentsByIdAndNameDefaultToActiveOnesAndUnknownNamesSaySo()
        {
            using var ts = StoreWithTraces(out string exp1, out string exp2);
            string gone = ts.AddExperiment("gone", "deleted");
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-gone", gone, 9) });
            using var sh = new PsShell(ts);
            Assert.Equal(new[] { "tr-4", "tr-3", "tr-2", "tr-1", "tr-0" }, sh.Ids("Search-Trace"));
            Assert.Equal(new[] { "tr-1", "tr-0" }, sh.Ids("Search-Trace -ExperimentName exp2"));
            Assert.Equal(new[] { "tr-4", "tr-3", "tr-2" }, sh.Ids($"Search-Trace -ExperimentId {exp1}"));
            // A deleted experiment is searched when named, as MLflow does.
            Assert.Equal(new[] { "tr-gone" }, sh.Ids("Search-Trace -ExperimentName gone"));
            var r = sh.Run("Search-Trace -ExperimentName exp1, typo");
            Assert.Equal(3, r.Output.Count);
            var error = Assert.Single(r.Errors);
            Assert.Equal("ExperimentNotFound,MlTraces.Commands.SearchTraceCommand", error.FullyQualifiedErrorId);
            Assert.Contains("'typo'", error.Exception.Message);
        }

        [Fact]
        public void RunIdTotalCountAndPipelineBindingOfStoreFiles()
        {
            using var ts = StoreWithTraces(out _, out _);
            using var sh = new PsShell(ts);
            Assert.Equal(new[] { "tr-1" }, sh.Ids("Search-Trace -RunId run1"));
            Assert.Contains("mlflow.sourceRun", Assert.Single(sh.Run("Search-Trace -RunId run1 -Filter \"metadata.mlflow.sourceRun = 'x'\"").Errors).Exception.Message);
            var counted = sh.Run("Search-Trace -Filter \"status = 'OK'\" -IncludeTotalCount -First 1");
            Assert.Equal(3UL, ((PSObject)counted.Output[0]).BaseObject is ulong n ? n : (ulong)(double)((PSObject)counted.Output[0]).Properties["Count"]?.Value!);
            if (Kind != StoreKind.Sqlite) return;
            // FileInfo objects (as Get-ChildItem writes them) bind their FullName as the store.
            var fromFiles = sh.Ids("[System.IO.DirectoryInfo]::new($PWD.Path).GetFiles('*.db') | Search-Trace -Filter \"name = 'aaa'\"");
            Assert.Equal(new[] { "tr-1" }, fromFiles);
        }

        [Fact]
        public void ResultsAreTypedAndUsableWithoutParsing()
        {
            using var ts = StoreWithTraces(out _, out _);
            using var sh = new PsShell(ts);
            var r = sh.Run("Search-Trace | Where-Object { $_.ExecutionDuration -gt [TimeSpan]::FromMilliseconds(5) -and $_.Tags['color'] } | ForEach-Object TraceId");
            Assert.Equal(new[] { "tr-4" }, r.Output.Select(o => o.BaseObject.ToString()));
            var t = sh.Objects<Trace>("Search-Trace -Filter \"name = 'aaa'\"").Single();
            Assert.Equal("aaa", t.Name);
            Assert.Equal("run1", t.RunId);
            // The store as the user named it, without a password, and a relative path made absolute: piped on, it
            // reaches the same store from anywhere.
            Assert.Equal(Kind == StoreKind.Sqlite ? "sqlite:///" + System.IO.Path.Combine(ts.Folder, "mlflow.db").Replace('\\', '/') : ts.Uri.Original,
                         t.TrackingUri);
            Assert.Null(t.Spans);
            // Piping search results into Get-Trace binds TraceId and TrackingUri by property name.
            var full = sh.Objects<Trace>("Search-Trace -Filter \"name = 'aaa'\" | Get-Trace").Single();
            Assert.NotNull(full.Spans);
            Assert.Empty(full.Spans!);
            // A trace that says nothing of where its spans are, and has none in the store, is reported, not hidden.
            var unknown = sh.Run("Get-Trace tr-0");
            Assert.Null(((Trace)unknown.Output.Single().BaseObject).Spans);
            Assert.Contains("tr-0", Assert.Single(unknown.Warnings).Message);
        }

        /// <summary>A search shows progress only once it runs long (here: a slow pipeline downstream), with the
        /// count as the estimate when it is cheap (no filter), counts alone otherwise; completed at the end, and
        /// silent when $ProgressPreference says so.</summary>
        [Fact]
        public void ALongSearchShowsProgressWithAnEstimateAndCompletes()
        {
            using var ts = StoreWithTraces(out _, out _);
            using var sh = new PsShell(ts);
            List<System.Management.Automation.ProgressRecord> Searching(RunResult r)
            {
                Assert.Empty(r.Errors);
                return r.Progress.Where(p => p.Activity.StartsWith("Searching traces of")).ToList();
            }
            const string slow = " | ForEach-Object { [System.Threading.Thread]::Sleep(450) }";
            var all = Searching(sh.Run("Search-Trace" + slow));
            Assert.NotEmpty(all);
            Assert.Equal(System.Management.Automation.ProgressRecordType.Completed, all[^1].RecordType);
            Assert.Equal("5 of 5 traces", all[^1].StatusDescription);
            var filtered = Searching(sh.Run("Search-Trace -Filter \"status = 'OK'\"" + slow));
            Assert.Equal("3 traces", Assert.Single(filtered.Select(p => p.StatusDescription).Distinct()));
            Assert.Empty(Searching(sh.Run("Search-Trace")));
            Assert.Empty(Searching(sh.Run("$ProgressPreference = 'SilentlyContinue'; Search-Trace" + slow + "; $ProgressPreference = 'Continue'")));
        }
    }

    public class SearchTraceTestsOnPostgres : SearchTraceTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
