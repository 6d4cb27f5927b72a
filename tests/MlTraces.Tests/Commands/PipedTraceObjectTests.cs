using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Archive.ArchiveTestSupport;
using static MlTraces.Tests.Delete.DeleteTestSupport;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// (Import-Csv, which only a real pwsh has, is in tests/Pipeline.Tests.ps1.)
    /// Objects that carry a trace's id and store as properties (TraceId or RequestId, TrackingUri), as a script
    /// builds them from a CSV or a report, piped into every command that takes traces: each binds them by property
    /// name. Remove-Trace once bound only their TrackingUri and stopped with "max_timestamp_millis or trace_ids must
    /// be specified"; its dry run lists exactly what its real run then removes; a pipeline that mixes objects with
    /// and without ids never turns into a deletion by age.
    /// </summary>
    public class PipedTraceObjectTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private TestStore Store(out string experimentId) =>
            RichStore(12, out experimentId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_630_000, Kind);

        public static IEnumerable<object[]> Forms() => new[]
        {
            new object[] { "[pscustomobject]@{ TraceId = 'tr-01'; TrackingUri = $uri }, [pscustomobject]@{ TraceId = 'tr-03'; TrackingUri = $uri } | Remove-Trace", new[] { "tr-01", "tr-03" } },
            new object[] { "[pscustomobject]@{ RequestId = 'tr-04'; TrackingUri = $uri; ExperimentId = $e } | Remove-Trace", new[] { "tr-04" } },
            new object[] { "[pscustomobject]@{ TraceId = 'tr-05', 'tr-06'; Path = $uri } | Remove-Trace", new[] { "tr-05", "tr-06" } },
        };

        [Theory]
        [MemberData(nameof(Forms))]
        public void RemoveTraceTakesThemByIdAndItsDryRunListsExactlyWhatItRemoves(string command, string[] expected)
        {
            using var ts = Store(out string e);
            // A shell in a folder with no store: only the objects name the store.
            using var sh = new PsShell(TestStore.NewFolder());
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["e"] = e };
            var before = TraceIds(ts);
            string hash = ts.Fingerprint();

            var dry = sh.Run(command + " -WhatIf", vars);
            Assert.True(!dry.Failed, dry.Terminating?.Message ?? string.Join("; ", dry.Errors));
            Assert.Equal(hash, ts.Fingerprint());
            Assert.Equal(expected, WhatIfIds(dry.HostText).OrderBy(x => x, StringComparer.Ordinal));

            var real = sh.Run(command + " -Confirm:$false", vars);
            Assert.True(!real.Failed, real.Terminating?.Message ?? string.Join("; ", real.Errors));
            Assert.Equal(expected, before.Except(TraceIds(ts)).OrderBy(x => x, StringComparer.Ordinal));
        }

        /// <summary>Every command that takes traces from the pipeline binds the same object by property name.</summary>
        [Fact]
        public void EveryCommandTakingTracesBindsTheirIdAndStore()
        {
            using var ts = Store(out _);
            using var sh = new PsShell(TestStore.NewFolder());
            var vars = new Dictionary<string, object?> { ["o"] = null };
            vars["o"] = sh.Run($"[pscustomobject]@{{ TraceId = 'tr-02'; TrackingUri = '{ts.UriText}' }}").Output.Single();
            var got = sh.Run("$o | Get-Trace", vars);
            Assert.Equal("tr-02", ((Trace)got.Output.Single().BaseObject).TraceId);
            foreach (var command in new[] { "$o | Set-TraceLegalHold -Confirm:$false", "$o | Clear-TraceLegalHold -Confirm:$false", "$o | Remove-Trace -WhatIf" })
            {
                var r = sh.Run(command, vars);
                Assert.True(!r.Failed, command + ": " + (r.Terminating?.Message ?? string.Join("; ", r.Errors)));
            }
            // Restore-Trace takes it too: the trace is not archived, which it says of that trace.
            var restore = sh.Run("$o | Restore-Trace -WhatIf", vars);
            Assert.DoesNotContain(restore.Errors, x => x.Exception.Message.Contains("must be specified"));
            Assert.Contains("tr-02", TraceIds(ts));
        }

        [Fact]
        public void AMixedPipelineNeverBecomesADeletionByAge()
        {
            using var ts = Store(out _);
            using var sh = new PsShell(TestStore.NewFolder());
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            var before = TraceIds(ts);
            // An object without an id after one with: refused, never "every trace of the store".
            var r = sh.Run("[pscustomobject]@{ TraceId = 'tr-01'; TrackingUri = $uri }, [pscustomobject]@{ TrackingUri = $uri } | Remove-Trace -Confirm:$false", vars);
            Assert.Equal("MixedPipelineInput,MlTraces.Commands.RemoveTraceCommand", r.Errors.Single().FullyQualifiedErrorId);
            Assert.Equal(new[] { "tr-01" }, before.Except(TraceIds(ts)));

            // Ids beside an age are MLflow's error, before anything is removed.
            string hash = ts.Fingerprint();
            var both = sh.Run("[pscustomobject]@{ TraceId = 'tr-02'; TrackingUri = $uri } | Remove-Trace -OlderThan 1m -Confirm:$false", vars);
            Assert.Contains("Only one of `max_timestamp_millis` and `trace_ids` can be specified.", (both.Terminating ?? both.Errors.Single().Exception).Message);
            Assert.Equal(hash, ts.Fingerprint());

            // An id after objects removed by age is refused, and the age is still applied to the first.
            var age = sh.Run("[pscustomobject]@{ TrackingUri = $uri }, [pscustomobject]@{ TraceId = 'tr-11'; TrackingUri = $uri } | Remove-Trace -OlderThan 55m -Confirm:$false", vars);
            Assert.Equal("MixedPipelineInput,MlTraces.Commands.RemoveTraceCommand", age.Errors.Single().FullyQualifiedErrorId);
            Assert.Contains("tr-11", TraceIds(ts));
            Assert.DoesNotContain("tr-00", TraceIds(ts));
        }
    }

    public class PipedTraceObjectTestsOnPostgres : PipedTraceObjectTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
