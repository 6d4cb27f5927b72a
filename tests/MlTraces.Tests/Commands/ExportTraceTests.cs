using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>Export-Trace on its own; the round trip through Import-Trace is in ImportTraceTests.</summary>
    public class ExportTraceTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        [RealStoreFact]
        public void ExportRefusesToClobberWhenAskedAndAppends()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-traces-gen-e.db", Kind);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            Assert.Empty(sh.Run("Search-Trace -TrackingUri $uri | Export-Trace out.jsonl", vars).Errors);
            int n = File.ReadAllLines(Path.Combine(ts.Folder, "out.jsonl")).Length;
            Assert.Equal(ts.Scalar("SELECT count(*) FROM trace_info"), n);
            var clobber = sh.Run("Search-Trace -TrackingUri $uri | Export-Trace out.jsonl -NoClobber", vars);
            Assert.Equal("FileExists,MlTraces.Commands.ExportTraceCommand", Assert.Single(clobber.Errors).FullyQualifiedErrorId);
            Assert.Empty(sh.Run("Search-Trace -TrackingUri $uri | Export-Trace out.jsonl -Append", vars).Errors);
            Assert.Equal(2 * n, File.ReadAllLines(Path.Combine(ts.Folder, "out.jsonl")).Length);
            var whatIf = sh.Run("Search-Trace -TrackingUri $uri | Export-Trace new.jsonl -WhatIf", vars);
            Assert.False(File.Exists(Path.Combine(ts.Folder, "new.jsonl")));
            Assert.Contains("What if:", whatIf.HostText);
        }
    }

    public class ExportTraceTestsOnPostgres : ExportTraceTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
