using MlTraces.Core.Store;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    public class ArchivedSearchTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        [RealStoreFact]
        public void PayloadFiltersWarnWhenArchivedTracesAreInScope()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-traces-gen-e.db", Kind);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            Assert.Empty(sh.Run("Search-Trace -TrackingUri $uri -Filter \"trace.text LIKE '%a%'\"", vars).Warnings);
            // Archive one trace the way MLflow's finalize step leaves it: content emptied, tags set.
            Query.QueryTestSupport.Execute(ts, "UPDATE spans SET content = '' WHERE trace_id = (SELECT min(request_id) FROM trace_info)");
            Query.QueryTestSupport.Execute(ts, "UPDATE trace_tags SET value = {0} WHERE key = 'mlflow.trace.spansLocation' AND request_id = (SELECT min(request_id) FROM trace_info)", "ARCHIVE_REPO");
            Query.QueryTestSupport.Execute(ts, "INSERT INTO trace_tags (key, value, request_id) SELECT 'mlflow.trace.archiveLocation', {0}, min(request_id) FROM trace_info", "file:///archive/1/traces/x/artifacts");
            var r = sh.Run("Search-Trace -TrackingUri $uri -Filter \"span.attributes.model LIKE '%gpt%'\"", vars);
            Assert.Contains("1 archived trace(s) are in scope", Assert.Single(r.Warnings).Message);
            Assert.Empty(sh.Run("Search-Trace -TrackingUri $uri -Filter \"span.status = 'ERROR'\"", vars).Warnings);
        }
    }

    public class ArchivedSearchTestsOnPostgres : ArchivedSearchTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
