using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// The YAML edge cases end to end, as MLflow's mlflow/tracing/trace_archival_config.py answers them
    /// (load_trace_archival_server_config): a file MLflow refuses archives nothing here either, dry run or real run,
    /// with MLflow's message (MlTraces used to archive with `interval_seconds:` or `max_traces_per_pass:` written with
    /// no value, called `enabled:` missing, and raised an invalid allowlist ID unwrapped); and a max_traces_per_pass
    /// past a long, valid for MLflow, runs the pass (it used to stop with an OverflowException).
    /// </summary>
    public class ArchivalConfigCommandTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static readonly string[] Ids = { "tr-c1", "tr-c2", "tr-c3" };

        private (TestStore ts, string config) Setup(string extra, string enabled = " true")
        {
            var ts = TestStore.CreateEmpty(Kind);
            string e = ts.AddExperiment("cfg");
            ts.AddTraces(Ids.Select((id, i) => RichTrace(id, e, 1000 + i)));
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled:{enabled}\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n{extra}");
            return (ts, config);
        }

        [Theory]
        [InlineData("  interval_seconds:\n", " true", "'trace_archival.interval_seconds' must be a positive integer.")]
        [InlineData("  max_traces_per_pass:\n", " true", "'trace_archival.max_traces_per_pass' must be a positive integer.")]
        [InlineData("", "", "'trace_archival.enabled' must be a boolean.")]
        [InlineData("  long_retention_allowlist: ['1, x y']\n", " true", "Invalid experiment ID: 'x y'")]
        public void AFileMlflowRefusesArchivesNothing(string extra, string enabled, string message)
        {
            var (ts, config) = Setup(extra, enabled);
            using (ts)
            using (var sh = new PsShell(ts))
            {
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                string hash = ts.Fingerprint();
                foreach (string run in new[] { "-WhatIf", "-Confirm:$false" })
                {
                    var r = sh.Run($"Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru {run}", vars);
                    Assert.Empty(r.Output);
                    var error = Assert.Single(r.Errors);
                    Assert.Equal("InvalidArchivalConfig,MlTraces.Commands.InvokeTraceArchiveCommand", error.FullyQualifiedErrorId);
                    Assert.Equal($"Invalid trace archival config file '{config}': {message}", error.Exception.Message);
                    Assert.Equal(hash, ts.Fingerprint());
                    Assert.False(Directory.Exists(Path.Combine(ts.Folder, "archive")));
                }
            }
        }

        [Theory]
        [InlineData("12345678901234567890")]
        [InlineData("0xFFFFFFFFFFFFFFFF")]
        public void AMaxTracesPerPassPastALongIsNoLimit(string max)
        {
            var (ts, config) = Setup($"  max_traces_per_pass: {max}\n");
            using (ts)
            using (var sh = new PsShell(ts))
            {
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                var dry = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru -WhatIf", vars);
                Assert.True(dry.Errors.Count == 0, string.Join("\n", dry.Errors.Select(e => e.Exception.ToString())));
                Assert.Equal(Ids, dry.Output.Select(o => ((ArchivalReceipt)o.BaseObject).TraceId).OrderBy(x => x));
                var real = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru -Confirm:$false", vars);
                Assert.Empty(real.Errors);
                Assert.Equal(Ids, real.Output.Select(o => (ArchivalReceipt)o.BaseObject).Where(r => r.Status == ArchivalStatus.Archived)
                    .Select(r => r.TraceId).OrderBy(x => x));
            }
        }
    }

    public class ArchivalConfigCommandTestsOnPostgres : ArchivalConfigCommandTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
