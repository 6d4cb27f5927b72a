using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Shell;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Attack
{
    /// <summary>
    /// Hostile ids and paths from the store and from input, driven through the cmdlets: every door refuses an id no
    /// path may be built from, and every file a command reads, writes or deletes is provably the trace's own;
    /// anything else is reported and left exactly as it was (checked by a listing with hashes before and after).
    /// </summary>
    public class PathAttackTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private const string Victim = "tr-0123456789abcdef0123456789abcdef";

        /// <summary>Ids MLflow never writes, each unusable as exactly one folder name.</summary>
        public static IEnumerable<object[]> HostileIds() => new[]
        {
            new object[] { "." }, new object[] { ".." }, new object[] { "a/b" }, new object[] { "a\\b" },
            new object[] { "tr-x/../" + Victim }, new object[] { "../../x" }, new object[] { "tr-\0x" },
            new object[] { "tr-" + new string('a', 60) }, new object[] { "tr-\u0430bc" /* Cyrillic a */ },
            new object[] { "con" }, new object[] { "tr-x." }, new object[] { "tr-x " }, new object[] { "tr-x:y" },
        };

        /// <summary>Hostile ids a store can hold (PostgreSQL text has no NUL, request_id is VARCHAR(50)).</summary>
        public static IEnumerable<object[]> StorableHostileIds() => new[]
        {
            new object[] { "." }, new object[] { ".." }, new object[] { "tr-x/../" + Victim }, new object[] { "../../x" }, new object[] { "a\\b" },
        };

        private (TestStore Ts, string Experiment) NewStore()
        {
            var ts = TestStore.CreateEmpty(Kind);
            return (ts, ts.AddExperiment("attack"));
        }

        private static string Uri(string path) => new System.Uri(path).AbsoluteUri;

        /// <summary>Every file, folder and link under a folder (links not followed), files with their hash. The
        /// SQLite store and its journal are left out: deleting rows changes them.</summary>
        internal static Dictionary<string, string> Listing(string root)
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            void Walk(string dir)
            {
                foreach (var e in Directory.EnumerateFileSystemEntries(dir))
                {
                    string rel = Path.GetRelativePath(root, e);
                    if (rel.StartsWith("mlflow.db", StringComparison.Ordinal)) continue;
                    var info = new FileInfo(e);
                    if (info.LinkTarget != null) d[rel] = "link:" + info.LinkTarget;
                    else if (Directory.Exists(e)) { d[rel] = "dir"; Walk(e); }
                    else d[rel] = info.Length == 0 ? "empty or special" : Sha(e);
                }
            }
            Walk(root);
            return d;
        }

        private static void Symlink(string link, string target)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(link)!);
            Directory.CreateSymbolicLink(link, target);
        }

        internal static void Mkfifo(string path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (File.Exists(path)) File.Delete(path);
            using var p = Process.Start(new ProcessStartInfo("mkfifo", path) { UseShellExecute = false })!;
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }

        /// <summary>Runs a command that must end within a minute: a reader blocked on a FIFO fails the test instead
        /// of hanging the suite (the FIFOs are then opened for writing, which releases the blocked reader).</summary>
        private static RunResult Bounded(PsShell sh, string script, Dictionary<string, object?> vars, params string[] fifos)
        {
            var task = Task.Run(() => sh.Run(script, vars));
            if (task.Wait(TimeSpan.FromSeconds(60))) return task.Result;
            foreach (var fifo in fifos)
                Task.Run(() => { try { using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write); } catch (IOException) { } });
            throw new Xunit.Sdk.XunitException($"'{script}' did not finish within 60 s: a reader is blocked on a FIFO.");
        }

        private static string Id(ErrorRecord e) => e.FullyQualifiedErrorId.Split(',')[0];

        // ------------------------------------------------------------------------------------------ the doors

        [Theory]
        [MemberData(nameof(HostileIds))]
        public void EveryDoorRefusesAnIdNoPathMayBeBuiltFrom(string id)
        {
            var (ts, e) = NewStore();
            using (ts)
            {
                ts.AddTraces(new[] { RichTrace(Victim, e, 1) });
                string file = Path.Combine(ts.Folder, "in.jsonl");
                File.WriteAllText(file, TraceJson.ToJsonLine(TestStore.MakeTrace(id, e, 2, tags: D("mlflow.traceName", "imported"))) + "\n");
                var hostile = RichTrace(id, e, 3);
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["id"] = id, ["file"] = file, ["t"] = hostile };
                string hash = ts.Fingerprint();
                var files = Listing(ts.Folder);
                foreach (var (script, target) in new (string, object)[]
                {
                    ("Get-Trace -TrackingUri $uri -TraceId $id", id),
                    ("[pscustomobject]@{ TraceId = $id } | Get-Trace -TrackingUri $uri", id),
                    ("Remove-Trace -TrackingUri $uri -TraceId $id -Confirm:$false", id),
                    ("Remove-Trace -TrackingUri $uri -TraceId $id -WhatIf", id),
                    ("[pscustomobject]@{ RequestId = $id } | Remove-Trace -TrackingUri $uri -Confirm:$false", id),
                    ("$t | Remove-Trace -TrackingUri $uri -Confirm:$false", id),
                    ("Restore-Trace -TrackingUri $uri -TraceId $id -Confirm:$false", id),
                    ("$t | Restore-Trace -TrackingUri $uri -Confirm:$false", id),
                    ("Import-Trace -TrackingUri $uri -Path $file", file + ":1"),
                    ("Import-Trace -TrackingUri $uri -Path $file -WhatIf", file + ":1"),
                    ("$t | Import-Trace -TrackingUri $uri", hostile),
                })
                {
                    var r = sh.Run(script, vars);
                    Assert.True(r.Terminating == null, script + ": " + r.Terminating?.Message);
                    var error = Assert.Single(r.Errors);
                    Assert.Equal("InvalidTraceId", Id(error));
                    Assert.Equal(target, error.TargetObject);
                    Assert.DoesNotContain('\0', error.Exception.Message);
                    Assert.Empty(r.Output);
                    Assert.DoesNotContain("What if", r.HostText);
                }
                Assert.Equal(hash, ts.Fingerprint());
                Assert.Equal(files, Listing(ts.Folder));
            }
        }

        [Theory]
        [InlineData("tr-0123456789abcdef0123456789abcdef")]
        [InlineData("0123456789abcdef0123456789abcdef")]
        [InlineData("tr-123")]
        [InlineData("trace1")]
        [InlineData("tr-exp1_0.x")]
        public void TheFormsMlflowWritesPassEveryDoor(string id)
        {
            Assert.Null(Core.Store.TraceIds.Problem(id));
            var (ts, e) = NewStore();
            using (ts)
            {
                string file = Path.Combine(ts.Folder, "in.jsonl");
                File.WriteAllText(file, TraceJson.ToJsonLine(TestStore.MakeTrace(id, e, 2, tags: D("mlflow.traceName", "imported"))) + "\n");
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["id"] = id, ["file"] = file };
                var import = sh.Run("Import-Trace -TrackingUri $uri -Path $file", vars);
                Assert.False(import.Failed, import.Terminating?.Message + string.Join("\n", import.Errors.Select(x => Id(x) + ": " + x.Exception.Message)));
                Assert.Equal(id, Assert.Single(sh.Ids("Get-Trace -TrackingUri $uri -TraceId $id", vars)));
                Assert.False(sh.Run("Remove-Trace -TrackingUri $uri -TraceId $id -Confirm:$false", vars).Failed);
                Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_info"));
            }
        }

        [Fact]
        public void TheImporterItselfRefusesAnIdNoPathMayBeBuiltFrom()
        {
            var (ts, e) = NewStore();
            using (ts)
            {
                List<ImportResult> results;
                using (var store = ts.Open())
                    results = new TraceImporter(store).Import(new[] { TestStore.MakeTrace("..", e, 1), TestStore.MakeTrace("tr-ok", e, 2) }, null);
                Assert.Equal(new[] { ImportOutcome.CannotHold, ImportOutcome.Imported }, results.Select(r => r.Outcome));
                Assert.Contains("relative folder reference", results[0].Message);
                Assert.Equal(new[] { "tr-ok" }, TraceIds(ts));
            }
        }

        // ------------------------------------------------------------- impossible ids already in a store

        [Theory]
        [MemberData(nameof(StorableHostileIds))]
        public void ATraceWithAnImpossibleIdIsRemovedAsRowsAndNoFileIsTouched(string id)
        {
            var (ts, e) = NewStore();
            using (ts)
            {
                string victimFolder = Path.Combine(ts.Folder, "victim");
                Directory.CreateDirectory(Path.Combine(victimFolder, "artifacts"));
                File.WriteAllText(Path.Combine(victimFolder, "artifacts", "keep.txt"), "precious");
                string mlruns = Path.Combine(ts.Folder, "mlruns", e, "traces");
                string archive = Path.Combine(ts.Folder, "archive", e, "traces");
                foreach (var root in new[] { mlruns, archive })
                {
                    Directory.CreateDirectory(Path.Combine(root, Victim, "artifacts"));
                    File.WriteAllText(Path.Combine(root, Victim, "artifacts", root == mlruns ? "traces.json" : "traces.pb"), "victim's");
                }
                ts.AddTraces(new[]
                {
                    RichTrace(Victim, e, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                        D("mlflow.artifactLocation", Uri(Path.Combine(mlruns, Victim, "artifacts")))),
                    // Finding 1: with id "..", "<dir>/victim/../artifacts" passed a check of folder names only.
                    TestStore.MakeTrace(id, e, 1, tags: D(
                        "mlflow.artifactLocation", victimFolder + "/" + id + "/artifacts",
                        "mlflow.trace.spansLocation", "ARCHIVE_REPO",
                        "mlflow.trace.archiveLocation", Uri(archive) + "/" + id + "/artifacts")),
                });
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
                var files = Listing(ts.Folder);
                string hash = ts.Fingerprint();

                // Readable as rows; its spans are never looked for along a path built from its id.
                var read = sh.Run("Search-Trace -TrackingUri $uri -IncludeSpans", vars);
                Assert.Empty(read.Errors);
                Assert.Contains(id, read.Output.Select(o => ((Trace)o.BaseObject).TraceId));
                Assert.Contains(read.Warnings, w => w.Message.Contains("the trace id is not one MLflow writes"));

                string remove = "Remove-Trace -TrackingUri $uri -Before ([datetime]'2000-01-01')";
                var dry = sh.Run(remove + " -WhatIf", vars);
                Assert.Empty(dry.Errors);
                Assert.Equal(hash, ts.Fingerprint());
                Assert.Equal(files, Listing(ts.Folder));
                Assert.Contains("What if: Remove 1 trace", dry.HostText);
                Assert.DoesNotContain("local files", dry.HostText);

                var real = sh.Run(remove + " -Confirm:$false -PassThru", vars);
                Assert.Empty(real.Errors);
                var receipt = (DeletionReceipt)Assert.Single(real.Output).BaseObject;
                Assert.Equal(id, receipt.TraceId);
                Assert.True(receipt.Deleted);
                Assert.Empty(receipt.RemovedFiles);
                Assert.Equal(2, receipt.LeftBehind.Count);
                Assert.All(receipt.LeftBehind, l => Assert.Contains("the trace id is not one MLflow writes, so no path is built from it", l));
                Assert.Equal(files, Listing(ts.Folder));
                Assert.Equal(new[] { Victim }, TraceIds(ts));
            }
        }

        // ------------------------------------------------------------- hostile locations of valid ids

        [Fact]
        public void RemoveTraceTouchesOnlyFoldersProvablyTheTracesOwn()
        {
            var (ts, e) = NewStore();
            using (ts)
            {
                string m = Path.Combine(ts.Folder, "mlruns", e, "traces");
                string a = Path.Combine(ts.Folder, "archive", e, "traces");
                string Put(string folder, string name, string text = "x") { Directory.CreateDirectory(folder); File.WriteAllText(Path.Combine(folder, name), text); return folder; }
                string outside = Path.Combine(ts.Folder, "outside");
                foreach (var o in new[] { "o1", "o2", "o3" }) Put(Path.Combine(outside, o, "artifacts"), "secret.txt", o);
                Put(Path.Combine(outside, "o4", "tr-archtraces", "artifacts"), "traces.pb", "o4");
                Put(Path.Combine(m, Victim, "artifacts"), "traces.json", "victim's");
                Put(Path.Combine(a, Victim, "artifacts"), "traces.pb", "victim's");

                Symlink(Path.Combine(m, "tr-linkid"), Path.Combine(outside, "o1"));
                Directory.CreateDirectory(Path.Combine(m, "tr-linkart"));
                Symlink(Path.Combine(m, "tr-linkart", "artifacts"), Path.Combine(outside, "o2", "artifacts"));
                Put(Path.Combine(m, "tr-inner", "artifacts"), "traces.json");
                Symlink(Path.Combine(m, "tr-inner", "artifacts", "escape"), Path.Combine(outside, "o3"));
                Put(Path.Combine(m, "tr-good", "artifacts"), "traces.json");
                Put(Path.Combine(a, "tr-good", "artifacts"), "traces.pb");
                Put(Path.Combine(a, "tr-archlink", "artifacts"), "traces.pb");
                Symlink(Path.Combine(ts.Folder, "archlink"), Path.Combine(ts.Folder, "archive"));
                string b = Path.Combine(ts.Folder, "archive2", e);
                Symlink(Path.Combine(b, "traces"), Path.Combine(outside, "o4"));
                Put(Path.Combine(ts.Folder, "archive", "999", "traces", "tr-wrongexp", "artifacts"), "traces.pb");

                Trace T(string id, long at, params string[] tags) => TestStore.MakeTrace(id, e, at, tags: D(tags));
                string Art(string id) => Uri(Path.Combine(m, id, "artifacts"));
                string Arc(string root, string id) => Uri(Path.Combine(root, id, "artifacts"));
                const string ArtKey = "mlflow.artifactLocation", ArcKey = "mlflow.trace.archiveLocation";
                ts.AddTraces(new[]
                {
                    T(Victim, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ArtKey, Art(Victim), ArcKey, Arc(a, Victim)),
                    T("tr-dotdot", 1, ArtKey, Uri(m) + "/tr-dotdot/../" + Victim + "/artifacts"),
                    T("tr-store", 2, ArtKey, ts.Folder),
                    T("tr-other", 3, ArtKey, Art(Victim)),
                    T("tr-linkid", 4, ArtKey, Art("tr-linkid")),
                    T("tr-linkart", 5, ArtKey, Art("tr-linkart")),
                    T("tr-inner", 6, ArtKey, Art("tr-inner")),
                    T("tr-archdotdot", 7, ArcKey, Uri(a) + "/tr-archdotdot/../" + Victim + "/artifacts"),
                    T("tr-archlink", 8, ArcKey, Arc(Path.Combine(ts.Folder, "archlink", e, "traces"), "tr-archlink")),
                    T("tr-archtraces", 9, ArcKey, Arc(Path.Combine(b, "traces"), "tr-archtraces")),
                    T("tr-wrongexp", 10, ArcKey, Arc(Path.Combine(ts.Folder, "archive", "999", "traces"), "tr-wrongexp")),
                    T("tr-good", 11, ArtKey, Art("tr-good"), ArcKey, Arc(a, "tr-good")),
                });
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
                var files = Listing(ts.Folder);
                var outsideFiles = Listing(outside);
                string hash = ts.Fingerprint();
                string remove = "Remove-Trace -TrackingUri $uri -Before ([datetime]'2000-01-01')";

                var dry = sh.Run(remove + " -WhatIf", vars);
                Assert.Empty(dry.Errors);
                Assert.Equal(hash, ts.Fingerprint());
                Assert.Equal(files, Listing(ts.Folder));
                var owned = new[] { "tr-inner", "tr-archlink", "tr-good" };
                var listed = WhatIfIds(dry.HostText);
                Assert.Equal(11, listed.Count);
                foreach (var line in dry.HostText.Split('\n').Where(l => l.Contains("Remove trace")))
                    Assert.Equal(owned.Any(o => line.Contains(o + " (")), line.Contains("local files"));

                var real = sh.Run(remove + " -Confirm:$false -PassThru", vars);
                Assert.Empty(real.Errors);
                var receipts = real.Output.Select(o => (DeletionReceipt)o.BaseObject).ToDictionary(r => r.TraceId);
                Assert.Equal(listed.OrderBy(x => x, StringComparer.Ordinal), receipts.Keys.OrderBy(x => x, StringComparer.Ordinal));
                Assert.All(receipts.Values, r => Assert.True(r.Deleted));
                foreach (var r in receipts.Values)
                {
                    if (owned.Contains(r.TraceId)) { Assert.NotEmpty(r.RemovedFiles); Assert.Empty(r.LeftBehind); }
                    else { Assert.Empty(r.RemovedFiles); Assert.Single(r.LeftBehind); }
                }
                Assert.Contains("leads through a link", receipts["tr-archtraces"].LeftBehind[0]);

                // Exactly the owned folders are gone; everything else, outside included, is as it was.
                var expected = files.Where(kv => !(kv.Key.StartsWith(Path.Combine("mlruns", e, "traces", "tr-inner"))
                    || kv.Key.StartsWith(Path.Combine("mlruns", e, "traces", "tr-good"))
                    || kv.Key.StartsWith(Path.Combine("archive", e, "traces", "tr-good"))
                    || kv.Key.StartsWith(Path.Combine("archive", e, "traces", "tr-archlink")))).ToDictionary(kv => kv.Key, kv => kv.Value);
                Assert.Equal(expected, Listing(ts.Folder));
                Assert.Equal(outsideFiles, Listing(outside));
                Assert.Equal(new[] { Victim }, TraceIds(ts));
            }
        }

        // ------------------------------------------------------------------------------- archival writes

        [Fact]
        public void ArchivalWritesOnlyIntoTheTracesOwnFolder()
        {
            var (ts, e) = NewStore();
            using (ts)
            {
                string e2 = ts.AddExperiment("linked");
                string outside = Path.Combine(ts.Folder, "outside");
                Directory.CreateDirectory(outside);
                File.WriteAllText(Path.Combine(outside, "keep.txt"), "outside");
                Symlink(Path.Combine(ts.Folder, "archive", e2, "traces"), outside);
                var hostile = new[] { "tr-x/../" + Victim, "../../../../../pwn", "..", "a\\b", "tr-y/../../../escape" };
                ts.AddTraces(new[] { RichTrace(Victim, e, 1000), RichTrace("tr-ok", e, 2000), RichTrace("tr-linked", e2, 3000) }
                    .Concat(hostile.Select((id, i) => RichTrace(id, e, 4000 + i))));
                ArchiveTestSupport.Archive(ts, Victim);
                string victimPb = Path.Combine(ts.Folder, "archive", e, "traces", Victim, "artifacts", "traces.pb");
                string victimHash = Sha(victimPb);
                string config = Path.Combine(ts.Folder, "archival.yaml");
                File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {Uri(Path.Combine(ts.Folder, "archive"))}\n  retention: 1d\n");
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                var files = Listing(ts.Folder);
                string hash = ts.Fingerprint();

                var dry = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -WhatIf -PassThru", vars);
                Assert.Null(dry.Terminating);
                Assert.Empty(dry.Errors);
                Assert.Equal(hash, ts.Fingerprint());
                Assert.Equal(files, Listing(ts.Folder));
                var planned = dry.Output.Select(o => o.BaseObject).OfType<ArchivalReceipt>().Select(r => r.TraceId).ToList();
                Assert.Equal(new[] { "tr-ok" }, planned);
                var refused = dry.Warnings.Select(w => w.Message).Where(m => m.Contains("is not archived")).ToList();
                Assert.Equal(hostile.Length + 1, refused.Count);
                Assert.Contains(refused, m => m.Contains("tr-linked") && m.Contains("leads through a link"));

                var real = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru", vars);
                Assert.Null(real.Terminating);
                Assert.Empty(real.Errors);
                var archived = real.Output.Select(o => o.BaseObject).OfType<ArchivalReceipt>()
                    .Where(r => r.Status == ArchivalStatus.Archived).Select(r => r.TraceId).ToList();
                Assert.Equal(planned, archived);
                Assert.Equal(refused, real.Warnings.Select(w => w.Message).Where(m => m.Contains("is not archived")).ToList());

                // Only tr-ok's own folder is new; the victim's payload and everything outside are untouched.
                var after = Listing(ts.Folder);
                var added = after.Keys.Except(files.Keys).OrderBy(k => k, StringComparer.Ordinal).ToList();
                string ok = Path.Combine("archive", e, "traces", "tr-ok");
                Assert.Equal(new[] { ok, Path.Combine(ok, "artifacts"), Path.Combine(ok, "artifacts", "traces.pb") }, added);
                Assert.All(files, kv => Assert.Equal(kv.Value, after[kv.Key]));
                Assert.Equal(victimHash, Sha(victimPb));
                Assert.Equal(new[] { "keep.txt" }, Directory.GetFileSystemEntries(outside).Select(Path.GetFileName));
                Assert.Equal(hostile.Length + 1, ts.Scalar(
                    "SELECT count(DISTINCT trace_id) FROM spans WHERE content <> '' AND trace_id NOT IN ('" + Victim + "', 'tr-ok')"));
                var victim = sh.Objects<Trace>("Get-Trace -TrackingUri $uri -TraceId " + Victim, vars).Single();
                Assert.Equal(new[] { "root", "llm" }, victim.Spans!.Select(s => s.Name));
            }
        }

        [Theory]
        [InlineData("file:relarch")]
        [InlineData("file:./relarch")]
        [InlineData("file:relarch/sub")]
        public void ARelativeFileArchiveLocationIsRefusedBeforeAnyTrace(string location)
        {
            var (ts, e) = NewStore();
            using (ts)
            {
                ts.AddTraces(new[] { RichTrace("tr-ok", e, 1000) });
                string config = Path.Combine(ts.Folder, "archival.yaml");
                File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {location}\n  retention: 1d\n");
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                string hash = ts.Fingerprint();
                var files = Listing(ts.Folder);
                foreach (var whatIf in new[] { " -WhatIf", "" })
                {
                    var r = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru" + whatIf, vars);
                    var error = Assert.Single(r.Errors);
                    Assert.Equal("InvalidArchivalLocation", Id(error));
                    Assert.Contains("not an absolute local path", error.Exception.Message);
                    Assert.Empty(r.Output);
                }
                Assert.Equal(hash, ts.Fingerprint());
                Assert.Equal(files, Listing(ts.Folder));
            }
        }

        // ------------------------------------------------------------------------------------- readers

        [Fact]
        public void ReadersTakeOnlyRegularFilesOfTheTracesOwn()
        {
            var (ts, e) = NewStore();
            using (ts)
            {
                string m = Path.Combine(ts.Folder, "mlruns", e, "traces");
                string outside = Path.Combine(ts.Folder, "outside");
                Directory.CreateDirectory(outside);
                var archivedIds = new[] { "tr-fifo", "tr-copied", "tr-other", "tr-zero", "tr-outlink", "tr-dir" };
                ts.AddTraces(archivedIds.Select((id, i) => RichTrace(id, e, 1000 + i)));
                string TraceData(string id) => "{\"spans\": [" + MakeSpan(id, "00000000000000b1", "from-json", "CHAIN", "OK").Content + "]}";
                string Art(string id) => Path.Combine(m, id, "artifacts");
                ts.AddTraces(new[] { "tr-json-ok", "tr-json-fifo", "tr-json-copied", "tr-json-big" }.Select((id, i) =>
                    TestStore.MakeTrace(id, e, 2000 + i, tags: D("mlflow.artifactLocation", Uri(Art(id))))));
                var pb = archivedIds.ToDictionary(id => id, id => ArchiveTestSupport.PayloadFile(ArchiveTestSupport.Archive(ts, id)));
                var fifos = new List<string> { pb["tr-fifo"], Path.Combine(Art("tr-json-fifo"), "traces.json") };
                Mkfifo(fifos[0]);
                Mkfifo(fifos[1]);
                File.Copy(pb["tr-other"], pb["tr-copied"], overwrite: true);
                File.Delete(pb["tr-zero"]);
                File.CreateSymbolicLink(pb["tr-zero"], "/dev/zero");
                File.Move(pb["tr-outlink"], Path.Combine(outside, "traces.pb"));
                File.CreateSymbolicLink(pb["tr-outlink"], Path.Combine(outside, "traces.pb"));
                File.Delete(pb["tr-dir"]);
                Directory.CreateDirectory(pb["tr-dir"]);
                Directory.CreateDirectory(Art("tr-json-ok"));
                File.WriteAllText(Path.Combine(Art("tr-json-ok"), "traces.json"), TraceData("tr-json-ok"));
                Directory.CreateDirectory(Art("tr-json-copied"));
                File.WriteAllText(Path.Combine(Art("tr-json-copied"), "traces.json"), TraceData("tr-json-ok"));
                Directory.CreateDirectory(Art("tr-json-big"));
                using (var big = new FileStream(Path.Combine(Art("tr-json-big"), "traces.json"), FileMode.CreateNew))
                    big.SetLength(ConfinedPath.MaxFileBytes + 1); // sparse: no disk used

                var why = new Dictionary<string, string>
                {
                    ["tr-fifo"] = "not a regular file", ["tr-json-fifo"] = "not a regular file", ["tr-zero"] = "outside the trace's own folder",
                    ["tr-outlink"] = "outside the trace's own folder", ["tr-dir"] = "a folder, not a file",
                    ["tr-copied"] = "holds spans of trace 'tr-other'", ["tr-json-copied"] = "holds spans of trace 'tr-json-ok'",
                    ["tr-json-big"] = "more than the",
                };
                using var sh = new PsShell(ts);
                var all = archivedIds.Concat(new[] { "tr-json-ok", "tr-json-fifo", "tr-json-copied", "tr-json-big" }).ToArray();
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = all, ["bad"] = why.Keys.Where(archivedIds.Contains).ToArray() };
                string hash = ts.Fingerprint();
                var files = Listing(ts.Folder);

                foreach (var script in new[] { "Get-Trace -TrackingUri $uri -TraceId $ids", "Search-Trace -TrackingUri $uri -IncludeSpans" })
                {
                    var r = Bounded(sh, script, vars, fifos.ToArray());
                    Assert.Empty(r.Errors);
                    var traces = r.Output.Select(o => (Trace)o.BaseObject).ToDictionary(t => t.TraceId);
                    Assert.Equal(all.OrderBy(x => x, StringComparer.Ordinal), traces.Keys.OrderBy(x => x, StringComparer.Ordinal));
                    foreach (var kv in why)
                    {
                        Assert.Null(traces[kv.Key].Spans);
                        Assert.Contains(r.Warnings, w => w.Message.Contains(kv.Key) && w.Message.Contains(kv.Value));
                    }
                    Assert.Equal(new[] { "from-json" }, traces["tr-json-ok"].Spans!.Select(s => s.Name));
                    Assert.Equal(new[] { "root", "llm" }, traces["tr-other"].Spans!.Select(s => s.Name));
                }

                foreach (var whatIf in new[] { " -WhatIf", " -Confirm:$false" })
                {
                    var r = Bounded(sh, "Restore-Trace -TrackingUri $uri -TraceId $bad" + whatIf, vars, fifos.ToArray());
                    Assert.Null(r.Terminating);
                    Assert.Equal(((string[])vars["bad"]!).Select(id => id == "tr-copied" ? "PayloadOfAnotherTrace" : "UnsafeTraceFile"), r.Errors.Select(Id));
                    Assert.DoesNotContain("What if: Performing", r.HostText);
                    Assert.Equal(hash, ts.Fingerprint());
                    Assert.Equal(files, Listing(ts.Folder));
                }
            }
        }

        [Fact]
        public void RestoreRemovesTheTracesOwnEmptyFoldersAndNothingElse()
        {
            // The newest generated layout: a store the tests build, so a clone with nothing beside it runs this too.
            using var ts = TestStore.Generated("a1d2e3f4b5c6", Kind);
            var ids = ArchiveTestSupport.TraceIds(ts).Take(2).ToList();
            string a = new System.Uri(ArchiveTestSupport.Archive(ts, ids[0])).LocalPath;
            string b = new System.Uri(ArchiveTestSupport.Archive(ts, ids[1])).LocalPath;
            File.WriteAllText(Path.Combine(b, "notes.txt"), "not MlTraces'");
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids.ToArray() };
            var files = Listing(ts.Folder);
            var dry = sh.Run("Restore-Trace -TrackingUri $uri -TraceId $ids -WhatIf", vars);
            Assert.True(dry.Errors.Count == 0, string.Join("\n", dry.Errors));
            Assert.Equal(files, Listing(ts.Folder));
            Assert.Contains("What if: Restore 2 archived traces", dry.HostText);
            var r = sh.Run("Restore-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false", vars);
            Assert.Empty(r.Errors);
            // The first trace's own folders are gone; the folder above them is not its own and stays; the second
            // trace's folder holds a file MlTraces did not write, so it stays with it.
            Assert.False(Directory.Exists(Path.GetDirectoryName(a)));
            Assert.True(Directory.Exists(Path.GetDirectoryName(Path.GetDirectoryName(a))));
            Assert.Equal(new[] { "notes.txt" }, Directory.GetFileSystemEntries(b).Select(Path.GetFileName));
        }
    }

    public class PathAttackTestsOnPostgres : PathAttackTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }

    /// <summary>The path rules themselves, on the file system only.</summary>
    public class ConfinedPathTests
    {
        /// <summary>A FIFO put in place after the size check (or handed straight to the open) is refused at once,
        /// not waited on; a regular file and a link to one still open. (A device that can seek, such as /dev/zero, is
        /// caught by the size check and the read bounded by it.)</summary>
        [Fact]
        public void OpeningAFifoNeverWaitsForAWriter()
        {
            if (OperatingSystem.IsWindows()) return;
            string root = TestStore.NewFolder();
            string fifo = Path.Combine(root, "traces.pb");
            using (var p = Process.Start(new ProcessStartInfo("mkfifo", fifo) { UseShellExecute = false })!) { p.WaitForExit(); Assert.Equal(0, p.ExitCode); }
            var open = Task.Run(() => ConfinedPath.OpenRegularFile(fifo));
            Assert.True(open.Wait(TimeSpan.FromSeconds(30)), "opening a FIFO waited for a writer");
            Assert.Null(open.Result);
            string file = Path.Combine(root, "regular");
            File.WriteAllBytes(file, new byte[] { 1, 2, 3 });
            File.CreateSymbolicLink(Path.Combine(root, "link"), file);
            foreach (var name in new[] { "regular", "link" })
                using (var s = ConfinedPath.OpenRegularFile(Path.Combine(root, name))!) Assert.Equal(3, s.Length);
            Assert.Throws<FileNotFoundException>(() => ConfinedPath.OpenRegularFile(Path.Combine(root, "missing")));
        }

        [Fact]
        public void RealPathResolvesLinksBeforeDotDotAsTheKernelDoes()
        {
            string root = TestStore.NewFolder();
            Directory.CreateDirectory(Path.Combine(root, "x", "deep"));
            Directory.CreateDirectory(Path.Combine(root, "y"));
            Directory.CreateSymbolicLink(Path.Combine(root, "y", "link"), Path.Combine(root, "x", "deep"));
            // Text would say root/y; the kernel goes to root/x/deep, then up to root/x.
            Assert.Equal(Path.Combine(root, "x", "z"), ConfinedPath.RealPath(Path.Combine(root, "y", "link", "..", "z"), out _));
            Directory.CreateSymbolicLink(Path.Combine(root, "loop"), Path.Combine(root, "loop"));
            Assert.Null(ConfinedPath.RealPath(Path.Combine(root, "loop", "a"), out string? problem));
            Assert.Contains("links", problem);
            Assert.Null(ConfinedPath.RealPath("relative/path", out problem));
            Assert.Null(ConfinedPath.Within(root, new[] { "y", "link" }, out problem));
            Assert.Contains("leads through a link", problem);
            Assert.Null(ConfinedPath.Within(root, new[] { "traces", ".." }, out problem));
            Assert.Equal(Path.Combine(root, "x", "new"), ConfinedPath.Within(root, new[] { "x", "new" }, out _));
        }

        [Theory]
        [InlineData("file:relarch", null)]
        [InlineData("file:///srv/arch", "/srv/arch")]
        [InlineData("file://localhost/srv/arch", "/srv/arch")]
        [InlineData("file://evil.example/srv/arch", null)]
        [InlineData("/srv/arch", "/srv/arch")]
        [InlineData("srv/arch", null)]
        [InlineData("s3://bucket/arch", null)]
        [InlineData("mlflow-artifacts:/1", null)]
        [InlineData("file:///c:/code/mlruns", null)]
        public void OnlyAbsoluteLocalLocationsArePaths(string location, string? path)
        {
            Assert.Equal(path, ConfinedPath.LocalPath(location));
        }

        [RealStoreFact]
        public void EveryIdInTheRealStoresPassesTheDoor()
        {
            foreach (var fixture in new[] { "cobbie-gen-a.sqlite", "customer-service-agent-gen-b.db", "week5-lab-gen-e.db", "week5-lab-traces-gen-e.db" })
            {
                using var ts = TestStore.CopyOfFixture(fixture);
                var ids = TraceIds(ts);
                Assert.NotEmpty(ids);
                Assert.All(ids, id => Assert.Null(Core.Store.TraceIds.Problem(id)));
            }
        }

        [Theory]
        [InlineData(".", "relative folder")]
        [InlineData("..", "relative folder")]
        [InlineData("tr-x.", "ends with a dot")]
        [InlineData("CON", "device name")]
        [InlineData("lpt1.txt", "device name")]
        [InlineData("tr-\u0430", "U+0430")]
        [InlineData("a\0b", "U+0000")]
        public void IdsThatCannotBeOneFolderNameAreRefused(string id, string problem)
        {
            Assert.Contains(problem, Core.Store.TraceIds.Problem(id));
        }
    }
}

namespace MlTraces.Tests.Attack
{
    /// <summary>Workspace names and archive locations from the store's workspaces table (MLFLOW_ENABLE_WORKSPACES is
    /// process-wide, so these run alone).</summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class WorkspacePathAttackTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        [Fact]
        public void WorkspaceNamesAndLocationsNeverLeadAPassOutOfItsArchive()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            var experiments = new Dictionary<string, string>();
            foreach (var (ws, location) in new (string, string?)[] { ("../../evil", null), ("..", null), ("a/b", null), ("rel", "file:relws"), ("good", null) })
            {
                string e = ArchiveTestSupport.AddWorkspaceExperiment(ts, ws, location, null, "exp-" + experiments.Count);
                experiments[ws] = e;
                ts.AddTraces(new[] { RichTrace("tr-ws" + experiments.Count, e, 1000 + experiments.Count) });
            }
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new System.Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            ArchiveTestSupport.WithWorkspaces(() =>
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config };
                var files = PathAttackTests.Listing(ts.Folder);
                string hash = ts.Fingerprint();
                var dry = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -WhatIf -PassThru", vars);
                Assert.Empty(dry.Errors);
                Assert.Equal(hash, ts.Fingerprint());
                Assert.Equal(files, PathAttackTests.Listing(ts.Folder));
                Assert.Equal(new[] { "tr-ws5" }, dry.Output.Select(o => o.BaseObject).OfType<ArchivalReceipt>().Select(r => r.TraceId));
                var skipped = dry.Warnings.Select(w => w.Message).Where(m => m.Contains("are not archived")).ToList();
                Assert.Equal(4, skipped.Count);
                Assert.Contains(skipped, m => m.Contains($"experiment {experiments["../../evil"]} ") && m.Contains("splits or ends a path"));
                Assert.Contains(skipped, m => m.Contains($"experiment {experiments[".."]} ") && m.Contains("relative folder reference"));
                Assert.Contains(skipped, m => m.Contains($"experiment {experiments["a/b"]} ") && m.Contains("splits or ends a path"));
                Assert.Contains(skipped, m => m.Contains($"experiment {experiments["rel"]} ") && m.Contains("'file:relws/") && m.Contains("not an absolute local path"));

                var real = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -PassThru", vars);
                Assert.Empty(real.Errors);
                Assert.Equal(new[] { "tr-ws5" }, real.Output.Select(o => o.BaseObject).OfType<ArchivalReceipt>()
                    .Where(r => r.Status == ArchivalStatus.Archived).Select(r => r.TraceId));
                Assert.Equal(skipped, real.Warnings.Select(w => w.Message).Where(m => m.Contains("are not archived")).ToList());
                var added = PathAttackTests.Listing(ts.Folder).Keys.Except(files.Keys).ToList();
                string good = Path.Combine("archive", "workspaces", "good", experiments["good"]);
                Assert.All(added, k => Assert.True(k.StartsWith(good, StringComparison.Ordinal) || good.StartsWith(k + Path.DirectorySeparatorChar, StringComparison.Ordinal), k));
                Assert.NotEmpty(added);
                // "../../evil" from <archive>/workspaces would be <store folder>/evil (covered above) or, one more up, beside it.
                Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(ts.Folder)!, "evil")));
                Assert.False(Directory.Exists(Path.Combine(ts.Folder, "relws")));
            });
        }
    }

    public class WorkspacePathAttackTestsOnPostgres : WorkspacePathAttackTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
