using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using MlTraces.Core.Archive;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Support.ShellProcess;

namespace MlTraces.Tests.Attack
{
    /// <summary>
    /// Archival passes, restores, the orphan sweep and deletions racing each other in real processes: after each
    /// race every trace reads from exactly one place (the store, or a payload that holds its spans), no payload
    /// outlives the trace it belonged to, nothing live is ever swept, and a pass that cannot finalize writes no file.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class ArchiveRaceTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        /// <summary>Each round races two passes, then two restores: 32 races, enough to see a 1-in-15 loss.</summary>
        private const int Rounds = 16;

        private static (int ExitCode, string Output, string Errors) Wait(Process p)
        {
            var errors = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output, errors.Result);
        }

        /// <summary>Starts the command twice at once; the second waits for the first's lock (up to a minute).</summary>
        private static void Twice(string command, string when)
        {
            var env = new Dictionary<string, string> { ["MLTRACES_ARCHIVE_LOCK_WAIT_MS"] = "60000" };
            using var a = Start(command, env);
            using var b = Start(command, env);
            var ra = Wait(a);
            var rb = Wait(b);
            Assert.True(ra.ExitCode == 0 && rb.ExitCode == 0, $"{when}: exit {ra.ExitCode} and {rb.ExitCode}: {ra.Errors} {ra.Output} {rb.Errors} {rb.Output}");
        }

        /// <summary>Every trace in one place, and no file under the archive beyond the payloads traces point to.</summary>
        private static void AssertClean(ArchiveKillTests.Setup s, string when)
        {
            var pointed = ArchiveKillTests.AssertEachTraceInOnePlace(s, when);
            Assert.Equal(pointed.OrderBy(f => f, StringComparer.Ordinal), ArchiveKillTests.Files(s, "*").OrderBy(f => f, StringComparer.Ordinal));
        }

        [Fact]
        public void TwoPassesOrTwoRestoresAtOnceNeverLoseATraceOrLeaveAFile()
        {
            using var s = ArchiveKillTests.Create(Kind, 150);
            string pass = $"Invoke-TraceArchive -TrackingUri {Quote(s.Store.UriText)} -ConfigPath {Quote(s.Config)} -Confirm:$false";
            string restore = $"Restore-Trace -TrackingUri {Quote(s.Store.UriText)} -ExperimentId {s.ExperimentId} -Confirm:$false";
            for (int round = 0; round < Rounds; round++)
            {
                Twice(pass, $"round {round}, two passes");
                Assert.Equal(150, ArchiveKillTests.Archived(s.Store));
                AssertClean(s, $"round {round}, after two passes");
                Twice(restore, $"round {round}, two restores");
                Assert.Equal(0, ArchiveKillTests.Archived(s.Store));
                AssertClean(s, $"round {round}, after two restores");
            }
        }

        [Fact]
        public void ASecondPassOrRestoreSaysAnotherIsRunningAndChangesNothing()
        {
            using var s = ArchiveKillTests.Create(Kind, 20);
            var before = ArchiveKillTests.Contents(s.Store);
            using var store = s.Store.Open();
            using (ArchivePassLock.Acquire(store, TimeSpan.Zero))
            {
                var env = new Dictionary<string, string> { ["MLTRACES_ARCHIVE_LOCK_WAIT_MS"] = "300" };
                foreach (var command in new[]
                {
                    $"Invoke-TraceArchive -TrackingUri {Quote(s.Store.UriText)} -ConfigPath {Quote(s.Config)} -Confirm:$false",
                    $"Restore-Trace -TrackingUri {Quote(s.Store.UriText)} -ExperimentId {s.ExperimentId} -Confirm:$false",
                })
                {
                    using var p = Start($"try {{ {command} }} catch {{ \"ERROR $($_.FullyQualifiedErrorId): $($_.Exception.Message)\" }}", env);
                    var r = Wait(p);
                    Assert.Contains("ERROR ArchivePassInProgress", r.Output);
                    Assert.Contains("Another archival pass or restore is running", r.Output);
                }
                // The lock is the store's, not the process's: a second session in this process waits too.
                using var other = s.Store.Open();
                var error = Assert.Throws<MlTraces.Core.MlTracesException>(() => ArchivePassLock.Acquire(other, TimeSpan.FromMilliseconds(50)));
                Assert.Equal(ArchivePassLock.InProgressId, error.ErrorId);
            }
            Assert.Empty(ArchiveKillTests.Files(s, "*"));
            Assert.Equal(before.OrderBy(kv => kv.Key).Select(kv => kv.Key + string.Concat(kv.Value.OrderBy(x => x.Key))),
                ArchiveKillTests.Contents(s.Store).OrderBy(kv => kv.Key).Select(kv => kv.Key + string.Concat(kv.Value.OrderBy(x => x.Key))));
            using (ArchivePassLock.Acquire(store, TimeSpan.Zero)) { }
        }

        [Fact]
        public void RemoveTraceDuringAPassRemovesThePayloadsOfWhatItDeletedAndSaysSo()
        {
            int named = 0;
            for (int round = 0; round < 3; round++)
            {
                using var s = ArchiveKillTests.Create(Kind, 1000);
                // Every other trace goes. The deletion starts once the pass has begun writing payloads, plans them
                // all, then deletes in small batches while the pass finalizes (points traces at payloads).
                string pass = $"Invoke-TraceArchive -TrackingUri {Quote(s.Store.UriText)} -ConfigPath {Quote(s.Config)} -Confirm:$false";
                string remove = $"Search-Trace -TrackingUri {Quote(s.Store.UriText)} -ExperimentId {s.ExperimentId} -Filter \"timestamp_ms >= 0\" | " +
                                "Where-Object { [int]$_.TraceId.Substring(3) % 2 -eq 0 } | ForEach-Object { $_.TraceId } | " +
                                $"Remove-Trace -TrackingUri {Quote(s.Store.UriText)} -Confirm:$false -PassThru | " +
                                "ForEach-Object { \"RECEIPT|$($_.TraceId)|$($_.Status)|$($_.RemovedFiles -join ';')|$($_.LeftBehind -join ';')\" }";
                using var archiver = Start(pass);
                WaitFor(() => ArchiveKillTests.Files(s, "*").Count > 0, "the pass to write payloads", archiver);
                using var remover = Start(remove, new Dictionary<string, string> { ["MLTRACES_DELETE_BATCH_SIZE"] = "15" });
                var rr = Wait(remover);
                var ra = Wait(archiver);
                Assert.True(rr.ExitCode == 0, rr.Errors + rr.Output);
                Assert.True(ra.ExitCode == 0, ra.Errors + ra.Output);

                var receipts = rr.Output.Split('\n').Where(l => l.StartsWith("RECEIPT|")).Select(l => l.Trim().Split('|')).ToList();
                Assert.Equal(500, receipts.Count);
                Assert.All(receipts, r => Assert.Equal("Deleted", r[2]));
                Assert.All(receipts, r => Assert.Equal("", r[4]));
                // Every file a receipt names is gone; no payload of a deleted trace is left anywhere.
                foreach (var r in receipts)
                    foreach (var f in r[3].Split(';', StringSplitOptions.RemoveEmptyEntries)) Assert.False(File.Exists(f), $"round {round}: {r[1]}'s receipt names {f}, which is still there");
                var deleted = receipts.Select(r => r[1]).ToHashSet();
                var left = ArchiveKillTests.Files(s, "*").Where(f => deleted.Any(id => f.Contains(Path.DirectorySeparatorChar + id + Path.DirectorySeparatorChar))).ToList();
                Assert.True(left.Count == 0, $"round {round}: {left.Count} files of deleted traces are left, e.g. {left.FirstOrDefault()}");
                named += receipts.Count(r => r[3].Contains(TracePayload.FileName));

                foreach (var id in deleted) s.Original.Remove(id);
                Assert.Equal(500, s.Store.Scalar("SELECT count(*) FROM trace_info"));
                AssertClean(s, $"round {round}, after the race");
            }
            // The race happened: some traces were deleted after the pass had pointed them at a payload.
            Assert.True(named > 0, "no deletion met an archived trace; the race was not exercised");
        }
    }

    public class ArchiveRaceTestsOnPostgres : ArchiveRaceTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
