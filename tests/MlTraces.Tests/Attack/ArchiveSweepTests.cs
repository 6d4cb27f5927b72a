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
    /// The orphan sweep (Invoke-TraceArchive -RemoveOrphanedPayloads) attacked with every spelling of the same
    /// archive folder, symbolic links in and out, archive locations that point into another trace's folder, and
    /// files it did not make: it removes only payloads no trace can need and its own stale temporary files, and
    /// -WhatIf lists exactly what the real run removes. Without the switch nothing is swept at all.
    /// </summary>
    public class ArchiveSweepTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static void Age(string file) => File.SetLastWriteTimeUtc(file, DateTime.UtcNow - ArchivalExecutor.OrphanGracePeriod - TimeSpan.FromMinutes(5));

        private static string Put(string folder, string name, byte[] bytes, bool stale = true)
        {
            Directory.CreateDirectory(folder);
            string file = Path.Combine(folder, name);
            File.WriteAllBytes(file, bytes);
            if (stale) Age(file);
            return file;
        }

        private static string Config(ArchiveKillTests.Setup s, string name, string location)
        {
            string path = Path.Combine(s.Store.Folder, name + ".yaml");
            File.WriteAllText(path, $"trace_archival:\n  enabled: true\n  location: {location}\n  retention: 36500d\n");
            return path;
        }

        private static List<string> WhatIfTargets(string hostText) =>
            Regex.Matches(hostText, "What if: Performing the operation \"Remove orphaned payload\" on target \"([^\"]+)\"")
                .Select(m => m.Groups[1].Value).OrderBy(f => f, StringComparer.Ordinal).ToList();

        private static List<string> AllFiles(string folder) =>
            Directory.GetFiles(folder, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToList();

        [Fact]
        public void TheSweepIsOptInAndRemovesOnlyWhatNoTraceCanNeedUnderAnySpelling()
        {
            using var s = ArchiveKillTests.Create(Kind, 8);
            using var sh = new PsShell(s.Store.Folder, width: 4000);
            var vars = new Dictionary<string, object?> { ["uri"] = s.Store.UriText, ["config"] = s.Config };
            var pass = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -Confirm:$false", vars);
            Assert.False(pass.Failed, string.Join("; ", pass.Errors) + pass.Terminating);
            Assert.Equal(8, ArchiveKillTests.Archived(s.Store));
            string root = s.ArchiveRoot, exp = s.ExperimentId, traces = Path.Combine(root, exp, "traces");
            string Artifacts(string id) => Path.Combine(traces, id, "artifacts");
            byte[] payload3 = File.ReadAllBytes(Path.Combine(Artifacts("tr-00003"), TracePayload.FileName));

            // Orphans: a restored trace whose payload came back (a restore that could not remove it), the payload
            // of a trace deleted outside MlTraces, and a temporary file of a write killed long ago.
            var restore = sh.Run("Restore-Trace -TrackingUri $uri -TraceId tr-00000 -Confirm:$false", vars);
            Assert.False(restore.Failed, string.Join("; ", restore.Errors) + restore.Terminating);
            var orphans = new List<string>
            {
                Put(Artifacts("tr-00000"), TracePayload.FileName, payload3),
                Put(Artifacts("tr-0gone"), TracePayload.FileName, payload3),
                Put(Artifacts("tr-00001"), TracePayload.FileName + "." + Guid.NewGuid().ToString("N") + FileArchiveRepository.TemporarySuffix, new byte[] { 1 }),
            };
            // Not ours or not stale: a fresh temporary file, temporary-looking names we never make, a folder that
            // is no trace id, and a trace folder that is a symbolic link out of the archive.
            Put(Artifacts("tr-00001"), TracePayload.FileName + "." + Guid.NewGuid().ToString("N") + FileArchiveRepository.TemporarySuffix, new byte[] { 2 }, stale: false);
            Put(Artifacts("tr-00001"), TracePayload.FileName + ".notours" + FileArchiveRepository.TemporarySuffix, new byte[] { 3 });
            Put(Artifacts("tr-00001"), "notes.tmp", new byte[] { 4 });
            Put(Path.Combine(traces, "not a trace", "artifacts"), TracePayload.FileName, payload3);
            string outside = Path.Combine(s.Store.Folder, "outside");
            string outsideFile = Put(Path.Combine(outside, "artifacts"), TracePayload.FileName, payload3);
            File.CreateSymbolicLink(Path.Combine(traces, "tr-0link"), outside);
            // Traces whose archive location names another folder, spelled with .. and through a symbolic link to
            // the archive: the files there have no trace of their folder's id, and are still live.
            string link = Path.Combine(s.Store.Folder, "archive-link");
            File.CreateSymbolicLink(link, root);
            Put(Artifacts("tr-alias3"), TracePayload.FileName, payload3);
            Put(Artifacts("tr-alias4"), TracePayload.FileName, File.ReadAllBytes(Path.Combine(Artifacts("tr-00004"), TracePayload.FileName)));
            using (var store = s.Store.Open())
            {
                ArchiveTestSupport.SetTag(store, "tr-00003", TraceTagKeys.ArchiveLocation, "file://" + traces + "/tr-00003/../tr-alias3/artifacts");
                ArchiveTestSupport.SetTag(store, "tr-00004", TraceTagKeys.ArchiveLocation, Path.Combine(link, exp, "traces", "tr-alias4", "artifacts"));
            }
            foreach (var f in Directory.GetFiles(root, TracePayload.FileName, SearchOption.AllDirectories)) Age(f);
            var everything = AllFiles(root).Concat(new[] { outsideFile }).ToList();
            var expected = orphans.OrderBy(f => f, StringComparer.Ordinal).ToList();

            // Off by default: nothing is swept.
            vars["nothingDue"] = s.NothingDue;
            var off = sh.Run("(Invoke-TraceArchive -TrackingUri $uri -ConfigPath $nothingDue -Confirm:$false).OrphanedPayloadsRemoved", vars);
            Assert.Equal(0, Convert.ToInt32(off.Output.Single().BaseObject));
            Assert.Equal(everything, AllFiles(root).Concat(new[] { outsideFile }).ToList());

            // The same folder, spelled every way: the dry run lists exactly the orphans.
            string sub = Path.Combine(root, "sub");
            Directory.CreateDirectory(sub);
            var spellings = new[]
            {
                new Uri(root).AbsoluteUri, "file://" + root + "/./", "file://" + root + "/sub/..", "file://" + root + "//", new Uri(link).AbsoluteUri, "file://" + link + "/./",
            };
            for (int i = 0; i < spellings.Length; i++)
            {
                vars["spelled"] = Config(s, "spelling" + i, spellings[i]);
                var dry = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $spelled -RemoveOrphanedPayloads -WhatIf", vars);
                Assert.False(dry.Failed, spellings[i] + ": " + string.Join("; ", dry.Errors) + dry.Terminating);
                var listed = WhatIfTargets(dry.HostText).Select(f => ConfinedPath.RealPath(f, out _)).ToList();
                Assert.Equal(expected.Select(f => ConfinedPath.RealPath(f, out _)).OrderBy(f => f, StringComparer.Ordinal), listed.OrderBy(f => f, StringComparer.Ordinal));
                Assert.Equal(everything, AllFiles(root).Concat(new[] { outsideFile }).ToList());
            }

            // The real sweep, through ./: exactly the listed files go.
            vars["spelled"] = Config(s, "real", "file://" + root + "/./");
            var real = sh.Run("(Invoke-TraceArchive -TrackingUri $uri -ConfigPath $spelled -RemoveOrphanedPayloads -Confirm:$false).OrphanedPayloadsRemoved", vars);
            Assert.False(real.Failed, string.Join("; ", real.Errors) + real.Terminating);
            Assert.Equal(expected.Count, Convert.ToInt32(real.Output.Single().BaseObject));
            Assert.Equal(everything.Except(expected).ToList(), AllFiles(root).Concat(new[] { outsideFile }).ToList());
            // tr-00003 and tr-00004 now name folders that are not their own, so readers refuse them (the path rules);
            // the sweep still keeps those files, since a trace names them.
            foreach (var id in new[] { "tr-00002", "tr-00005" })
            {
                var t = sh.Run($"(Get-Trace -TrackingUri $uri -TraceId {id}).Spans.Count", vars);
                Assert.False(t.Failed, id + ": " + string.Join("; ", t.Errors) + t.Terminating);
                Assert.Equal(2, Convert.ToInt32(t.Output.Single().BaseObject));
            }
        }
    }

    public class ArchiveSweepTestsOnPostgres : ArchiveSweepTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }

    /// <summary>A pass on a store that cannot take its finalize writes no file: it checks before the first upload.</summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class ArchiveUnwritableStoreTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static string Pass(ArchiveKillTests.Setup s, string config) =>
            $"try {{ Invoke-TraceArchive -TrackingUri {Quote(s.Store.UriText)} -ConfigPath {Quote(config)} -Confirm:$false }} catch {{ \"ERROR $($_.FullyQualifiedErrorId): $($_.Exception.Message)\" }}";

        internal static void AssertNothingWritten(ArchiveKillTests.Setup s, string archive, Dictionary<string, Dictionary<string, string>> before)
        {
            Assert.True(!Directory.Exists(archive) || Directory.GetFiles(archive, "*", SearchOption.AllDirectories).Length == 0, "files were written to " + archive);
            Assert.Equal(0, ArchiveKillTests.Archived(s.Store));
            Assert.Equal(before.Sum(kv => kv.Value.Count), ArchiveKillTests.Contents(s.Store).Sum(kv => kv.Value.Count(c => c.Value.Length > 0)));
        }

        private static void NeedsUnshare()
        {
            var probe = Process.Start(new ProcessStartInfo("unshare", "-rm true") { RedirectStandardError = true })!;
            probe.WaitForExit();
            Assert.True(probe.ExitCode == 0, "This test mounts the store read-only in a private mount namespace and needs 'unshare -rm': " + probe.StandardError.ReadToEnd());
        }

        [Fact]
        public void APassOnAReadOnlyStoreFailsBeforeWritingAnyFile()
        {
            using var s = ArchiveKillTests.Create(Kind, 30);
            var before = ArchiveKillTests.Contents(s.Store);
            if (Kind == StoreKind.Postgres)
            {
                PgServer.RunAdmin($"ALTER DATABASE \"{s.Store.Path}\" SET default_transaction_read_only = on");
                var run = ShellProcess.Run(Pass(s, s.Config));
                Assert.Contains("ERROR StoreReadOnly", run.Output);
                PgServer.RunAdmin($"ALTER DATABASE \"{s.Store.Path}\" RESET default_transaction_read_only");
                AssertNothingWritten(s, s.ArchiveRoot, before);
                return;
            }
            NeedsUnshare();
            // The store file read-only (its folder writable), then the store's whole folder read-only with the
            // archive elsewhere.
            string elsewhere = Path.Combine(TestStore.NewFolder(), "archive");
            string config = Path.Combine(Path.GetDirectoryName(elsewhere)!, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(elsewhere).AbsoluteUri}\n  retention: 1d\n");
            foreach (var (target, archive) in new[] { (s.Store.Path, s.ArchiveRoot), (s.Store.Folder, elsewhere) })
            {
                const string script = "mount --bind \"$0\" \"$0\" && mount -o remount,ro,bind \"$0\" \"$0\" || exit 90; exec \"$@\"";
                var run = ShellProcess.Run(Pass(s, archive == elsewhere ? config : s.Config), new[] { "unshare", "-rm", "sh", "-c", script, target });
                Assert.NotEqual(90, run.ExitCode);
                Assert.Contains("ERROR StoreReadOnly", run.Output);
                AssertNothingWritten(s, archive, before);
            }
        }
    }

    public class ArchiveUnwritableStoreTestsOnPostgres : ArchiveUnwritableStoreTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }

    /// <summary>SQLite's write lock (PostgreSQL has no store-wide one: its writers wait on the rows they touch).</summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class ArchiveLockedStoreTests
    {
        private static string Pass(ArchiveKillTests.Setup s, string config) =>
            $"try {{ Invoke-TraceArchive -TrackingUri {Quote(s.Store.UriText)} -ConfigPath {Quote(config)} -Confirm:$false }} catch {{ \"ERROR $($_.FullyQualifiedErrorId): $($_.Exception.Message)\" }}";

        [Fact]
        public void APassOnAWriteLockedStoreFailsBeforeWritingAnyFile()
        {
            using var s = ArchiveKillTests.Create(StoreKind.Sqlite, 30);
            var before = ArchiveKillTests.Contents(s.Store);
            // Another writer's transaction holds SQLite's write lock for longer than the pass's busy timeout.
            using var holder = s.Store.Open();
            using var tx = holder.BeginTransaction(deferred: false);
            using (var hold = holder.Command("UPDATE trace_info SET status = status")) hold.ExecuteNonQuery();
            using var p = Start(Pass(s, s.Config), new Dictionary<string, string> { ["MLTRACES_BUSY_TIMEOUT_MS"] = "500" });
            var errors = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.Contains("ERROR StoreLocked", output + errors.Result);
            tx.Rollback();
            ArchiveUnwritableStoreTests.AssertNothingWritten(s, s.ArchiveRoot, before);
        }
    }

}
