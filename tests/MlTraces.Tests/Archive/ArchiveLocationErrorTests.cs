using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Support.ShellProcess;
using MlTraces.Core.Spans;

namespace MlTraces.Tests.Archive
{
    /// <summary>
    /// Archive locations that fail for real: a read-only file system, a full one (both mounted with unshare in a
    /// private mount namespace, so the host sees no mount and the test needs no root), and a payload that vanishes
    /// between its write and the finalize. Each trace that fails is a clear error of its own, its spans stay in the
    /// store, the pass goes on with the others, and the next pass archives it.
    /// </summary>
    public class ArchiveLocationErrorTests
    {
        private static (TestStore Store, string Config, string Archive) Setup()
        {
            var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            string archive = ArchiveTestSupport.ArchiveRoot(ts);
            Directory.CreateDirectory(archive);
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(archive).AbsoluteUri}\n  retention: 1d\n");
            return (ts, config, archive);
        }

        private static string Pass(TestStore ts, string config) =>
            $"$r = Invoke-TraceArchive -TrackingUri {Quote(ts.Path)} -ConfigPath {Quote(config)} -Confirm:$false -PassThru -ErrorVariable errs; " +
            "$r | ForEach-Object { \"RESULT $($_.TraceId) $($_.Status) $($_.ErrorId)\" }; " +
            "$errs | ForEach-Object { \"ERROR $($_.FullyQualifiedErrorId) $($_.TargetObject) $($_.Exception.Message)\" }";

        /// <summary>Runs the pass inside a private mount namespace where <paramref name="mount"/> (sh, with the
        /// archive folder as $d) has run first; the namespace's view of the folder is copied to
        /// <paramref name="keep"/> before it goes.</summary>
        private static (int ExitCode, List<string[]> Results, List<string> Errors) PassWithMount(TestStore ts, string config, string archive, string mount, string keep)
        {
            var probe = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("unshare", "-rm true") { RedirectStandardError = true })!;
            probe.WaitForExit();
            Assert.True(probe.ExitCode == 0, "This test mounts a read-only or a full file system in a private mount namespace and needs " +
                "'unshare -rm' (util-linux, with user and mount namespaces allowed): " + probe.StandardError.ReadToEnd());
            Directory.CreateDirectory(keep);
            string script = $"d=\"$0\"; k=\"$1\"; shift; {mount} || exit 90; \"$@\"; rc=$?; cp -a \"$d\"/. \"$k\"/; exit $rc";
            var run = ShellProcess.Run(Pass(ts, config), new[] { "unshare", "-rm", "sh", "-c", script, archive, keep });
            Assert.NotEqual(90, run.ExitCode);
            var lines = run.Output.Split('\n').Select(l => l.Trim()).ToList();
            return (run.ExitCode,
                lines.Where(l => l.StartsWith("RESULT ")).Select(l => l.Split(' ')).ToList(),
                lines.Where(l => l.StartsWith("ERROR ")).ToList());
        }

        private static Dictionary<string, string> Contents(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT trace_id || '/' || span_id, content FROM spans");
            using var r = cmd.ExecuteReader();
            var d = new Dictionary<string, string>();
            while (r.Read()) d[r.GetString(0)] = r.GetString(1);
            return d;
        }

        /// <summary>Traces not archived kept their spans; archived ones read back from their payload exactly.</summary>
        private static void AssertNothingLost(TestStore ts, Dictionary<string, string> before)
        {
            var now = Contents(ts);
            using var store = ts.Open(StoreAccess.ReadOnly);
            var reader = new TraceReader(store);
            var traces = reader.GetInfos(before.Keys.Select(k => k.Split('/')[0]).Distinct().ToList());
            reader.Hydrate(traces);
            new SpanLoader(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).Load(traces);
            foreach (var t in traces)
            {
                Assert.NotNull(t.Spans);
                foreach (var span in t.Spans!) Assert.Equal(before[t.TraceId + "/" + span.SpanId], span.Content);
                bool archived = t.SpansLocation == SpansLocations.ArchiveRepo;
                Assert.All(now.Where(kv => kv.Key.StartsWith(t.TraceId + "/")), kv => Assert.Equal(archived ? "" : before[kv.Key], kv.Value));
            }
        }

        private static long Archived(TestStore ts) =>
            ts.Scalar("SELECT count(*) FROM trace_tags WHERE key = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'");

        [RealStoreFact]
        public void AReadOnlyLocationFailsEachTraceClearlyAndTheNextPassArchivesThem()
        {
            var (ts, config, archive) = Setup();
            using (ts)
            {
                var before = Contents(ts);
                long all = ts.Scalar("SELECT count(*) FROM trace_info");
                var (exit, results, errors) = PassWithMount(ts, config, archive,
                    "mount --bind \"$d\" \"$d\" && mount -o remount,ro,bind \"$d\" \"$d\"", Path.Combine(ts.Folder, "kept"));
                Assert.Equal(1, exit);
                Assert.Equal(all, results.Count);
                Assert.All(results, r => Assert.Equal(("LeftForNextPass", "ArchiveWriteFailed"), (r[2], r[3])));
                Assert.Equal(all, errors.Count);
                Assert.All(errors, e => Assert.Contains("Read-only file system", e));
                Assert.Equal(results.Select(r => r[1]), errors.Select(e => e.Split(' ')[2]));
                Assert.Equal(0, Archived(ts));
                Assert.Equal(before, Contents(ts));

                var next = ShellProcess.Run(Pass(ts, config));
                Assert.True(next.ExitCode == 0, next.Output + next.Errors);
                Assert.Equal(all, Archived(ts));
                AssertNothingLost(ts, before);
            }
        }

        [RealStoreFact]
        public void AFullLocationArchivesWhatFitsFailsTheRestClearlyAndLosesNothing()
        {
            var (ts, config, archive) = Setup();
            using (ts)
            {
                var before = Contents(ts);
                long all = ts.Scalar("SELECT count(*) FROM trace_info");
                string kept = Path.Combine(ts.Folder, "kept");
                var (exit, results, errors) = PassWithMount(ts, config, archive, "mount -t tmpfs -o size=32k tmpfs \"$d\"", kept);
                Assert.Equal(1, exit);
                Assert.Equal(all, results.Count);
                var archived = results.Where(r => r[2] == "Archived").ToList();
                var failed = results.Where(r => r[2] != "Archived").ToList();
                Assert.NotEmpty(archived);
                Assert.NotEmpty(failed);
                Assert.All(failed, r => Assert.Equal(("LeftForNextPass", "ArchiveWriteFailed"), (r[2], r[3])));
                Assert.Equal(failed.Count, errors.Count);
                Assert.All(errors, e => Assert.Contains("No space left on device", e));
                Assert.Equal(archived.Count, Archived(ts));
                // What the namespace's full file system held is what the archived traces point to.
                foreach (var f in Directory.GetFiles(kept, "*", SearchOption.AllDirectories))
                {
                    string target = Path.Combine(archive, Path.GetRelativePath(kept, f));
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.Copy(f, target);
                }
                Assert.Equal(archived.Count, Directory.GetFiles(archive, "*", SearchOption.AllDirectories).Length);
                AssertNothingLost(ts, before);

                var next = ShellProcess.Run(Pass(ts, config));
                Assert.True(next.ExitCode == 0, next.Output + next.Errors);
                Assert.Equal(all, Archived(ts));
                AssertNothingLost(ts, before);
            }
        }

        /// <summary>Writes the payload, then the file is removed (as another process or an admin might) before the
        /// finalize: the trace must not point to nothing.</summary>
        private sealed class VanishingRepository : IArchiveRepository
        {
            public readonly HashSet<string> Removed = new HashSet<string>();
            public void Write(string folderUri, byte[] payload)
            {
                FileArchiveRepository.Instance.Write(folderUri, payload);
                lock (Removed)
                    if (Removed.Count == 0 && Removed.Add(folderUri)) File.Delete(ArchiveTestSupport.PayloadFile(folderUri));
            }
            public byte[] Read(string folderUri) => FileArchiveRepository.Instance.Read(folderUri);
            public bool Exists(string folderUri) => FileArchiveRepository.Instance.Exists(folderUri);
            public bool Delete(string folderUri, System.Threading.CancellationToken cancel = default) => FileArchiveRepository.Instance.Delete(folderUri);
        }

        [RealStoreFact]
        public void APayloadGoneBeforeTheFinalizeLeavesThatTraceInTheStoreAndThePassGoesOn()
        {
            var (ts, config, _) = Setup();
            using (ts)
            {
                var before = Contents(ts);
                using (var store = ts.Open())
                {
                    var repository = new VanishingRepository();
                    var plan = ArchivalPlanner.Plan(store, ArchivalServerConfig.Load(config), Experiments.Active(store), 5, DateTimeOffset.UtcNow);
                    var results = new ArchivalExecutor(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment(), _ => repository).ArchiveBatch(plan.Candidates().ToList());
                    var gone = Assert.Single(results, r => r.Status != ArchivalStatus.Archived);
                    Assert.Equal((ArchivalStatus.LeftForNextPass, "ArchivedPayloadMissing"), (gone.Status, gone.ErrorId));
                    Assert.Contains("was gone before the trace could point to it", gone.Message);
                    Assert.Equal(repository.Removed.Single(), gone.ArchiveLocation);
                    Assert.Equal(4, results.Count(r => r.Status == ArchivalStatus.Archived));
                    Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM trace_tags WHERE request_id = '{gone.TraceId}' AND key = 'mlflow.trace.archiveLocation'"));
                }
                AssertNothingLost(ts, before);
                // A read of an archived trace whose file went: Get-Trace says so for that trace and goes on.
                using var sh = new PsShell(ts.Folder);
                string victim, folder;
                using (var store = ts.Open(StoreAccess.ReadOnly))
                using (var cmd = store.Command("SELECT request_id, value FROM trace_tags WHERE key = 'mlflow.trace.archiveLocation' ORDER BY request_id LIMIT 1"))
                using (var r = cmd.ExecuteReader())
                {
                    Assert.True(r.Read());
                    (victim, folder) = (r.GetString(0), r.GetString(1));
                }
                File.Delete(ArchiveTestSupport.PayloadFile(folder));
                var read = sh.Run("Get-Trace -TrackingUri $uri -TraceId $ids", new Dictionary<string, object?> { ["uri"] = ts.Path, ["ids"] = ArchiveTestSupport.TraceIds(ts).ToArray() });
                Assert.Null(read.Terminating);
                Assert.Equal(ArchiveTestSupport.TraceIds(ts).Count, read.Output.Count);
                var warning = Assert.Single(read.Warnings);
                Assert.Contains(victim, warning.Message);
                Assert.Contains("does not exist", warning.Message);
                // The next pass archives the trace whose payload went missing before its finalize.
                var next = ShellProcess.Run(Pass(ts, config));
                Assert.True(next.ExitCode == 0, next.Output + next.Errors);
                Assert.Equal(ts.Scalar("SELECT count(*) FROM trace_info"), Archived(ts));
            }
        }
    }
}
