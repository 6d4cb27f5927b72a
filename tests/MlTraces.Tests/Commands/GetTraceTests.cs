using MlTraces.Core.Store;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    public class GetTraceTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        [Fact]
        public void GetsTracesByValueAndByPropertyNameAndReportsUnknownIds()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string exp = ts.AddExperiment("exp1");
            ts.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-1", exp, 1000, 5, tags: new Dictionary<string, string> { ["mlflow.traceName"] = "one" }),
                TestStore.MakeTrace("tr-2", exp, 2000, 7, "ERROR", metadata: new Dictionary<string, string> { ["mlflow.sourceRun"] = "run9" }),
            });
            using var sh = new PsShell(ts);

            var byValue = sh.Objects<Trace>("'tr-2', 'tr-1' | Get-Trace");
            Assert.Equal(new[] { "tr-2", "tr-1" }, byValue.Select(t => t.TraceId));
            Assert.Equal("one", byValue[1].Name);
            Assert.Equal("run9", byValue[0].RunId);
            Assert.Equal("ERROR", byValue[0].State);
            Assert.Equal(System.TimeSpan.FromMilliseconds(7), byValue[0].ExecutionDuration);

            var store = new Dictionary<string, object?> { ["uri"] = Kind == StoreKind.Sqlite ? "mlflow.db" : ts.UriText };
            var byProperty = sh.Objects<Trace>("[pscustomobject]@{ RequestId = 'tr-1'; TrackingUri = $uri } | Get-Trace", store);
            Assert.Equal("tr-1", Assert.Single(byProperty).TraceId);

            var r = sh.Run("Get-Trace -TraceId tr-1, tr-404, tr-2 -TrackingUri $uri", store);
            Assert.Equal(new[] { "tr-1", "tr-2" }, r.Output.Select(o => ((Trace)o.BaseObject).TraceId));
            var error = Assert.Single(r.Errors);
            Assert.Equal("TraceNotFound,MlTraces.Commands.GetTraceCommand", error.FullyQualifiedErrorId);
            Assert.Equal(System.Management.Automation.ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
            Assert.Equal("tr-404", error.TargetObject);
        }

        [Fact]
        public void DefaultStoreComesFromTheEnvironmentThenMlflowDbInTheCurrentLocation()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-env", "0") });
            using var sh = new PsShell(ts);
            // sqlite:///mlflow.db relative to the PowerShell location, which the shell set to the store's folder.
            Assert.Equal(new[] { "tr-env" }, sh.Ids("$env:MLFLOW_TRACKING_URI = $null; Get-Trace tr-env"));
        }

        [Fact]
        public void StoreErrorsAreTerminatingAndNameTheStore()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            System.IO.File.WriteAllText(System.IO.Path.Combine(ts.Folder, "text.db"), new string('x', 200));
            using var sh = new PsShell(ts);
            var missing = sh.Run("Get-Trace tr-1 -TrackingUri sqlite:///missing.db");
            // A cmdlet's terminating error stops its statement; a script goes on, so it shows in the error stream.
            Assert.Contains(System.IO.Path.Combine(ts.Folder, "missing.db").Replace('\\', '/'), Assert.Single(missing.Errors).Exception.Message);
            Assert.Equal("StoreNotFound,MlTraces.Commands.GetTraceCommand", missing.Errors[0].FullyQualifiedErrorId);
            Assert.False(System.IO.File.Exists(System.IO.Path.Combine(ts.Folder, "missing.db")));
            var notSqlite = sh.Run("Get-Trace tr-1 -TrackingUri text.db");
            Assert.Equal("NotASqliteDatabase,MlTraces.Commands.GetTraceCommand", Assert.Single(notSqlite.Errors).FullyQualifiedErrorId);
            var stop = sh.Run("try { Get-Trace tr-1 -TrackingUri text.db -ErrorAction Stop; 'not reached' } catch { 'caught' }");
            Assert.Equal("caught", Assert.Single(stop.Output).BaseObject);
        }
    }

    public class GetTraceTestsOnPostgres : GetTraceTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
