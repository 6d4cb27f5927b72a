using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MlTraces.Core;
using MlTraces.Core.Archive;
using MlTraces.Core.Locations;
using MlTraces.Core.Store;
using MlTraces.Shell;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>
    /// The object store failing under a running archival pass or restore, on S3 (s3rver) and Azure Blob (Azurite), on
    /// SQLite and PostgreSQL stores: the server killed half-way (its process, while requests are on their way), and a
    /// slow or hung server behind a real TCP proxy. Afterwards every trace reads (Get-Trace, with its spans) from
    /// exactly one place, no row points to a missing object, the only objects no row points to are those the orphan
    /// sweep removes (and it removes nothing else), the errors name the location and no secret, the command ended in
    /// bounded time, and the next run finishes the work.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class ObjectStoreFaultTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private const string Container = "faults";
        /// <summary>MLflow's per-request timeout for artifact stores, in seconds.</summary>
        private const string TimeoutVariable = "MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT";

        public static IEnumerable<object[]> Servers() => new[] { new object[] { TestLocation.S3 }, new object[] { TestLocation.Azure } };

        /// <summary>A private server with an empty container, and a store of traces in MLflow's content shape whose
        /// archival configuration puts them under s3://faults/root (or the Azure equivalent).</summary>
        private sealed class Scene : IDisposable
        {
            public readonly PrivateObjectStoreServer Server;
            public readonly ArchiveKillTests.Setup Setup;
            public readonly string Location, Config;

            public Scene(string kind, StoreKind store, int traces)
            {
                Server = new PrivateObjectStoreServer(kind);
                Server.CreateContainer(Container);
                Setup = ArchiveKillTests.Create(store, traces);
                Location = Server.Uri(Container, "root");
                Config = Path.Combine(Setup.Store.Folder, "objects.yaml");
                File.WriteAllText(Config, $"trace_archival:\n  enabled: true\n  location: {Location}\n  retention: 1d\n");
            }

            public TestStore Store => Setup.Store;
            public int Traces => Setup.Original.Count;
            /// <summary>The experiment's archive root, which the sweep walks.</summary>
            public string ExperimentRoot => Location + "/" + Setup.ExperimentId;

            public Dictionary<string, object?> Vars(IDictionary<string, string>? environment = null) => new Dictionary<string, object?>
            {
                ["uri"] = Store.UriText, ["config"] = Config, ["exp"] = Setup.ExperimentId,
                ["ids"] = Setup.Original.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray(),
            };

            public RunResult Run(string script, IDictionary<string, string>? extra = null)
            {
                using (TestLocation.SetEnvironment(Environment(extra)))
                {
                    using var sh = new PsShell(Store);
                    return sh.Run(script, Vars());
                }
            }

            public Dictionary<string, string> Environment(IDictionary<string, string>? extra = null)
            {
                var env = new Dictionary<string, string>(Server.Environment);
                if (extra != null) foreach (var e in extra) env[e.Key] = e.Value;
                return env;
            }

            /// <summary>The object key of the n-th trace's traces.pb, where the pass puts it.</summary>
            public string PayloadKey(int n) => $"root/{Setup.ExperimentId}/traces/tr-{n:D5}/artifacts/{TracePayload.FileName}";

            /// <summary>The object key of an archive folder's traces.pb in the container.</summary>
            public string KeyOf(string folder)
            {
                string prefix = Server.Uri(Container, "") + "/";
                Assert.StartsWith(prefix, folder);
                return folder.Substring(prefix.Length) + "/" + TracePayload.FileName;
            }

            public void Dispose()
            {
                Setup.Dispose();
                Server.Dispose();
            }
        }

        /// <summary>Runs the script and kills the server once <paramref name="due"/> says that the work is half-way;
        /// the script's result and how long it took.</summary>
        private static (RunResult Result, TimeSpan Took) RunAndKill(Scene s, string script, Func<bool> due)
        {
            using (TestLocation.SetEnvironment(s.Environment()))
            {
                using var sh = new PsShell(s.Store);
                var vars = s.Vars();
                var watch = Stopwatch.StartNew();
                var run = Task.Run(() => sh.Run(script, vars));
                while (!run.IsCompleted && !due())
                {
                    Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), "The work did not get half-way within 60 s.");
                    Thread.Sleep(20);
                }
                Assert.False(run.IsCompleted, "The command ended before the server was killed.");
                s.Server.Kill();
                Assert.True(run.Wait(TimeSpan.FromSeconds(180)), "The command did not end within 180 s of the kill.");
                return (run.Result, watch.Elapsed);
            }
        }

        /// <summary>Every trace in exactly one place, checked in the store and in the container (raw, through the SDK),
        /// then read back with Get-Trace; returns the keys of the payloads rows point to.</summary>
        private static HashSet<string> AssertEachTraceInOnePlace(Scene s, string when)
        {
            var pointed = ArchiveKillTests.AssertEachTraceInOnePlace(s.Setup, when, s.KeyOf, folder => s.Server.Get(Container, s.KeyOf(folder)));
            foreach (var key in pointed)
                Assert.Matches($"^root/{s.Setup.ExperimentId}/traces/tr-[0-9]+/artifacts/traces.pb$", key);
            var read = s.Run("Get-Trace -TrackingUri $uri -TraceId $ids");
            Assert.Empty(read.Errors);
            Assert.Empty(read.Warnings);
            var traces = read.Output.Select(o => (Trace)o.BaseObject).ToDictionary(t => t.TraceId);
            Assert.Equal(s.Traces, traces.Count);
            foreach (var (id, spans) in s.Setup.Original)
                Assert.True(spans.Values.OrderBy(c => c, StringComparer.Ordinal).SequenceEqual(traces[id].Spans!.Select(x => x.Content).OrderBy(c => c, StringComparer.Ordinal)),
                    $"{when}: Get-Trace {id} does not give its spans");
            return pointed;
        }

        /// <summary>The objects no row points to are exactly what the orphan sweep finds (past its grace period), and
        /// it removes them and nothing else.</summary>
        private static void AssertTheSweepRemovesExactlyTheOrphans(Scene s, HashSet<string> pointed)
        {
            string root = s.Server.Uri(Container, "");
            var orphans = s.Server.Keys(Container).Where(k => !pointed.Contains(k)).Select(k => root + "/" + k).ToList();
            using var store = s.Store.Open();
            var env = s.Environment();
            var pass = new ArchivalExecutor(store, new ObjectStoreSettings(n => env.TryGetValue(n, out var v) ? v : null));
            var later = DateTimeOffset.UtcNow + ArchivalExecutor.OrphanGracePeriod + TimeSpan.FromMinutes(5);
            var found = pass.FindOrphanedPayloads(new[] { s.ExperimentRoot }, later);
            Assert.Equal(orphans, found);
            Assert.All(found, f => Assert.True(pass.RemoveOrphan(f, later)));
            Assert.Empty(pass.Warnings);
            Assert.Equal(pointed.OrderBy(k => k, StringComparer.Ordinal), s.Server.Keys(Container));
        }

        /// <summary>Each error is a trace's own, names the container, and no text of the run holds a secret.</summary>
        private static void AssertErrorsNameTheLocationWithoutSecrets(RunResult r, IDictionary<string, string> environment, string container)
        {
            Assert.All(r.Errors, e =>
            {
                Assert.Matches("^tr-[0-9]+$", e.TargetObject?.ToString() ?? "");
                Assert.Contains(container, e.Exception.Message);
            });
            string text = string.Join("\n", new[] { r.HostText }
                .Concat(r.Errors.Select(e => e.ToString() + " " + e.Exception + " " + e.ErrorDetails?.Message))
                .Concat(r.Warnings.Select(w => w.Message)).Concat(r.Verbose.Select(v => v.Message)));
            foreach (var secret in environment.Where(e => e.Key.Contains("SECRET") || e.Key.Contains("CONNECTION")).Select(e => e.Value))
                Assert.DoesNotContain(secret, text);
            foreach (var part in environment.Where(e => e.Key.Contains("CONNECTION")).SelectMany(e => e.Value.Split(';')).Where(p => p.StartsWith("AccountKey=", StringComparison.Ordinal)))
                Assert.DoesNotContain(part.Substring("AccountKey=".Length), text);
        }

        /// <summary>After a run the kill cut short: it ended in bounded time, its errors name the location and no
        /// secret; with the server back every trace is in one place and the sweep removes exactly the orphans.
        /// Returns how many traces are archived.</summary>
        private static long AfterTheKill(Scene s, RunResult r, TimeSpan took, string what)
        {
            Assert.True(took < TimeSpan.FromSeconds(30), $"The {what} took {took} after the server was killed.");
            AssertErrorsNameTheLocationWithoutSecrets(r, s.Environment(), Container);
            s.Server.Restart();
            var pointed = AssertEachTraceInOnePlace(s, $"after the killed {what}");
            Assert.Equal(ArchiveKillTests.Archived(s.Store), pointed.Count);
            AssertTheSweepRemovesExactlyTheOrphans(s, pointed);
            return pointed.Count;
        }

        private const string Pass = "Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -Confirm:$false";
        private const string Restore = "Restore-Trace -TrackingUri $uri -ExperimentId $exp -Confirm:$false";

        /// <summary>The server killed while a pass uploads its second batch: the first batch is archived, every other
        /// trace stays in the store with an error, the run does not wait out the retries of every trace, the sweep
        /// removes exactly the uploads no row points to, and a pass with the server back archives the rest.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(Servers))]
        public void AServerKilledInThePassLeavesEveryTraceInOnePlaceAndTheNextPassFinishes(string kind)
        {
            using var s = new Scene(kind, Kind, ArchivalExecutor.FinalizeBatchSize + 120);
            // Past the first batch (finalized before the second starts uploading) and into the second: 10 of the
            // payloads of traces 200 to 299 (listing only those keys: the whole container over and over would starve
            // the server it watches).
            string second = $"root/{s.Setup.ExperimentId}/traces/tr-{ArchivalExecutor.FinalizeBatchSize / 100:D3}";
            var (r, took) = RunAndKill(s, Pass, () => s.Server.Keys(Container, second).Count >= 10);
            long archived = AfterTheKill(s, r, took, "pass");
            Assert.InRange(archived, ArchivalExecutor.FinalizeBatchSize, s.Traces - 1);
            Assert.Equal(s.Traces - archived, r.Errors.Count);

            var again = s.Run(Pass);
            Assert.Empty(again.Errors);
            Assert.Equal(s.Traces, ArchiveKillTests.Archived(s.Store));
            Assert.Equal(s.Traces, AssertEachTraceInOnePlace(s, "after the next pass").Count);
            Assert.Equal(s.Traces, s.Server.Keys(Container).Count);
        }

        /// <summary>The server killed while Restore-Trace works through the traces: each trace is restored or still
        /// archived, never neither; the payloads of restored traces that could not be removed are orphans the sweep
        /// removes; and a restore with the server back finishes.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(Servers))]
        public void AServerKilledInTheRestoreLeavesEveryTraceInOnePlaceAndTheNextRestoreFinishes(string kind)
        {
            using var s = new Scene(kind, Kind, 150);
            Assert.Empty(s.Run(Pass).Errors);
            Assert.Equal(s.Traces, ArchiveKillTests.Archived(s.Store));

            // A restore takes the traces in the order of their ids.
            var (r, took) = RunAndKill(s, Restore, () => s.Server.Get(Container, s.PayloadKey(30)) == null);
            long archived = AfterTheKill(s, r, took, "restore");
            Assert.InRange(archived, 1, s.Traces - 30);
            Assert.True(r.Errors.Count >= archived, $"{r.Errors.Count} errors for {archived} traces left archived");

            var again = s.Run(Restore);
            Assert.Empty(again.Errors);
            Assert.Equal(0, ArchiveKillTests.Archived(s.Store));
            Assert.Empty(AssertEachTraceInOnePlace(s, "after the next restore"));
            Assert.Empty(s.Server.Keys(Container));
        }

        /// <summary>The environment that reaches the server through the proxy, with MLflow's per-request timeout.</summary>
        private static Dictionary<string, string> Through(Scene s, SlowProxy proxy, int timeoutSeconds) =>
            s.Server.Environment.ToDictionary(e => e.Key, e => e.Key is "MLFLOW_S3_ENDPOINT_URL" or "AZURE_STORAGE_CONNECTION_STRING" ? proxy.Route(e.Value) : e.Value)
                .Concat(new[] { new KeyValuePair<string, string>(TimeoutVariable, timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)) })
                .ToDictionary(e => e.Key, e => e.Value);

        /// <summary>Runs the script, failing the test (rather than hanging it) when it does not end within 90 s.</summary>
        private static (RunResult Result, TimeSpan Took) RunBounded(Scene s, string script, IDictionary<string, string> environment)
        {
            var watch = Stopwatch.StartNew();
            var run = Task.Run(() => s.Run(script, environment));
            Assert.True(run.Wait(TimeSpan.FromSeconds(90)), $"'{script}' did not end within 90 s.");
            return (run.Result, watch.Elapsed);
        }

        /// <summary>A slow server behind a real proxy: every answer late, and a few answers never (the server did the
        /// work, the answer was lost; the SDK gives up after MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT and the retry
        /// goes on a new connection). The pass, the restore and Remove-Trace all finish, each trace in one place and
        /// nothing left behind.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(Servers))]
        public void ASlowServerThatLosesSomeAnswersStillGetsEverythingDone(string kind)
        {
            using var s = new Scene(kind, Kind, 40);
            // Connections 1, 3 and 5 stall; every other answer comes 20 ms late.
            using var proxy = new SlowProxy(s.Server.Endpoint, TimeSpan.FromMilliseconds(20), n => n % 2 == 1 && n < 6 ? SlowProxy.Mode.Stall : SlowProxy.Mode.Delay);
            var env = Through(s, proxy, 2);

            var (pass, took) = RunBounded(s, Pass, env);
            Assert.Empty(pass.Errors);
            Assert.Equal(s.Traces, ArchiveKillTests.Archived(s.Store));
            Assert.Equal(3, proxy.Stalled);
            Assert.Equal(s.Traces, AssertEachTraceInOnePlace(s, "after the slow pass").Count);
            Assert.Equal(s.Traces, s.Server.Keys(Container).Count);

            var (restore, tookRestore) = RunBounded(s, Restore, env);
            Assert.Empty(restore.Errors);
            Assert.Equal(0, ArchiveKillTests.Archived(s.Store));
            Assert.Empty(AssertEachTraceInOnePlace(s, "after the slow restore"));
            Assert.Empty(s.Server.Keys(Container));

            Assert.Empty(s.Run(Pass).Errors);
            var (removal, tookRemoval) = RunBounded(s, "Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false", env);
            Assert.Empty(removal.Errors);
            Assert.Equal(0, s.Store.Scalar("SELECT count(*) FROM trace_info"));
            Assert.Empty(s.Server.Keys(Container));
            Assert.True(took + tookRestore + tookRemoval < TimeSpan.FromSeconds(40), $"pass {took}, restore {tookRestore}, removal {tookRemoval}");
        }

        /// <summary>Restore-Trace against a server that takes each traces.pb delete and never answers it, while a writer
        /// logs to the SQLite store with Python's 5 s busy timeout (as MLflow's server does): the delete, made under
        /// the write lock, gets RestoreExecutor.LockedDeleteBudget, so the writer never gives up; every trace is
        /// restored, each payload stays for the sweep with an error that says so, and the sweep removes them. With
        /// the delete's own tries (20 s each here) under the lock the writer failed and the restore took minutes.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(Servers))]
        public void AHungDeleteNeverKeepsTheStoreLockedLongerThanItsBudget(string kind)
        {
            using var s = new Scene(kind, Kind, 4);
            Assert.Empty(s.Run(Pass).Errors);
            var payloads = s.Server.Keys(Container);
            Assert.Equal(s.Traces, payloads.Count);
            using var proxy = new SlowProxy(s.Server.Endpoint, TimeSpan.Zero, _ => SlowProxy.Mode.Delay, swallow: line => line.StartsWith("DELETE ", StringComparison.Ordinal));
            var env = Through(s, proxy, 20);

            // The writer: one short transaction every 50 ms on its own connection (SQLite only: PostgreSQL locks
            // only the restored trace's rows).
            var writerFailures = new List<string>();
            int writes = 0;
            using var stopWriter = new CancellationTokenSource();
            var writer = Task.Run(() =>
            {
                if (Kind != StoreKind.Sqlite) return;
                using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={s.Store.Path};Pooling=False;Default Timeout=5");
                c.Open();
                // SQLite's own busy handler, as Python's sqlite3 sets it.
                using (var busy = c.CreateCommand()) { busy.CommandText = "PRAGMA busy_timeout = 5000"; busy.ExecuteNonQuery(); }
                using (var create = c.CreateCommand()) { create.CommandText = "CREATE TABLE IF NOT EXISTS writer_probe (n INTEGER)"; create.ExecuteNonQuery(); }
                while (!stopWriter.IsCancellationRequested)
                {
                    var waited = Stopwatch.StartNew();
                    try
                    {
                        using var insert = c.CreateCommand();
                        insert.CommandText = "INSERT INTO writer_probe (n) VALUES (1)";
                        insert.ExecuteNonQuery();
                        writes++;
                    }
                    catch (Microsoft.Data.Sqlite.SqliteException ex) { lock (writerFailures) writerFailures.Add($"{ex.Message} after {waited.ElapsedMilliseconds} ms"); }
                    Thread.Sleep(50);
                }
            });
            var (r, took) = RunBounded(s, Restore, env);
            stopWriter.Cancel();
            writer.Wait();

            Assert.Empty(writerFailures);
            if (Kind == StoreKind.Sqlite) Assert.True(writes >= s.Traces, $"{writes} writes");
            Assert.True(proxy.Stalled >= s.Traces, $"{proxy.Stalled} deletes swallowed");
            Assert.Equal(0, ArchiveKillTests.Archived(s.Store));
            Assert.Empty(AssertEachTraceInOnePlace(s, "after a restore whose deletes hung"));
            Assert.Equal(s.Traces, r.Errors.Count);
            Assert.All(r.Errors, e =>
            {
                Assert.Equal("ArchiveFileNotRemoved,MlTraces.Commands.RestoreTraceCommand", e.FullyQualifiedErrorId);
                Assert.Contains($"within {RestoreExecutor.LockedDeleteBudget.TotalSeconds:0} s", e.Exception.Message);
            });
            AssertErrorsNameTheLocationWithoutSecrets(r, env, Container);
            Assert.True(took < TimeSpan.FromSeconds(s.Traces * (RestoreExecutor.LockedDeleteBudget.TotalSeconds + 3)), $"the restore took {took}");
            Assert.Equal(payloads, s.Server.Keys(Container));
            AssertTheSweepRemovesExactlyTheOrphans(s, new HashSet<string>());
        }

        /// <summary>Ctrl+C while Remove-Trace's object requests are on their way (every answer 300 ms late): the
        /// requests already sent may finish, and the batch whose objects went deletes its rows before the run stops,
        /// so every trace is either wholly gone or keeps its row and the payload it points to, no object is left that
        /// no row points to, and the next run removes the rest. Cutting the requests at the stop left rows whose
        /// payloads the server had deleted.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(Servers))]
        public void AStopWhileObjectsAreDeletedLeavesNoRowWithoutItsPayload(string kind)
        {
            using var s = new Scene(kind, Kind, 40);
            Assert.Empty(s.Run(Pass).Errors);
            using var proxy = new SlowProxy(s.Server.Endpoint, TimeSpan.FromMilliseconds(300), _ => SlowProxy.Mode.Delay);
            var env = Through(s, proxy, 30);
            env["MLTRACES_DELETE_BATCH_SIZE"] = "4";
            RunResult r;
            using (TestLocation.SetEnvironment(s.Environment(env)))
            {
                using var sh = new PsShell(s.Store);
                var vars = s.Vars();
                var run = Task.Run(() => sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false", vars));
                var watch = Stopwatch.StartNew();
                while (s.Store.Scalar("SELECT count(*) FROM trace_info") == s.Traces)
                {
                    Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), "The first batch was not deleted within 60 s.");
                    Thread.Sleep(10);
                }
                // Into the next batch's object requests.
                Thread.Sleep(150);
                Assert.True(sh.Session.Stop());
                Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "Remove-Trace did not stop within 60 s.");
                r = run.Result;
            }
            Assert.True(r.Stopped);
            var kept = Delete.DeleteTestSupport.TraceIds(s.Store);
            Assert.InRange(kept.Count, 1, s.Traces - 4);
            Assert.Equal(kept.Count, ArchiveKillTests.Archived(s.Store));
            // Each row left points at its payload, and the server holds exactly those.
            var pointed = new List<string>();
            using var store = s.Store.Open(StoreAccess.ReadOnly);
            foreach (var id in kept)
            {
                using var cmd = store.Command($"SELECT value FROM trace_tags WHERE request_id = '{id}' AND \"key\" = 'mlflow.trace.archiveLocation'");
                string folder = (string)cmd.ExecuteScalar()!;
                Assert.True(s.Server.Get(Container, s.KeyOf(folder)) != null, $"{id} keeps its row but its payload is gone.");
                pointed.Add(s.KeyOf(folder));
            }
            Assert.Equal(pointed.OrderBy(k => k, StringComparer.Ordinal), s.Server.Keys(Container));

            Assert.Empty(s.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false").Errors);
            Assert.Equal(0, s.Store.Scalar("SELECT count(*) FROM trace_info"));
            Assert.Empty(s.Server.Keys(Container));
        }

        /// <summary>A legal hold set after Remove-Trace checked the trace and while its objects are deleted (here at the
        /// moment the first delete request leaves): the transaction finds the hold and keeps the rows, as the hold
        /// asks, but the objects are gone by then, and the run says so with an error per trace naming what went
        /// (HeldTraceObjectsRemoved), not only the usual "held" warning, and the receipts list it.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(Servers))]
        public void AHoldSetWhileObjectsAreDeletedKeepsTheRowsAndSaysWhatWentAlready(string kind)
        {
            using var s = new Scene(kind, Kind, 3);
            Assert.Empty(s.Run(Pass).Errors);
            var ids = s.Setup.Original.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
            int held = 0;
            bool HoldAtFirstDelete(string line)
            {
                if ((line.StartsWith("DELETE ", StringComparison.Ordinal) || line.StartsWith("POST ", StringComparison.Ordinal)) && Interlocked.Exchange(ref held, 1) == 0)
                {
                    using var store = s.Store.Open();
                    foreach (var id in ids) Archive.ArchiveTestSupport.SetTag(store, id, TraceTagKeys.LegalHold, "true");
                }
                return false;
            }
            using var proxy = new SlowProxy(s.Server.Endpoint, TimeSpan.Zero, _ => SlowProxy.Mode.Delay, HoldAtFirstDelete);
            var env = Through(s, proxy, 30);
            env["MLTRACES_DELETE_BATCH_SIZE"] = "100";
            var r = s.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru", env);
            Assert.Equal(1, held);
            Assert.Equal(ids, Delete.DeleteTestSupport.TraceIds(s.Store));
            Assert.Equal(ids, r.Errors.Select(e => (string)e.TargetObject).OrderBy(i => i, StringComparer.Ordinal));
            Assert.All(r.Errors, e =>
            {
                Assert.Equal("HeldTraceObjectsRemoved,MlTraces.Commands.RemoveTraceCommand", e.FullyQualifiedErrorId);
                Assert.Contains("traces.pb", e.Exception.Message);
            });
            Assert.All(r.Output.Select(o => (DeletionReceipt)o.BaseObject), d =>
            {
                Assert.Equal(DeletionStatus.Held, d.Status);
                Assert.Contains(d.RemovedFiles, f => f.EndsWith("/traces.pb", StringComparison.Ordinal));
            });
            Assert.Empty(s.Server.Keys(Container));
        }

        /// <summary>A server that does every delete and never answers one (killed or hung right after the work; here a
        /// proxy passes each request on and drops the answer): no client can tell whether the payloads went, so every
        /// trace keeps its row, its receipt lists its payload under UnconfirmedFiles (and nothing as removed), and
        /// its error says the row may point to nothing, naming the location and no secret. Get-Trace then says the
        /// payload does not exist, and the next run, with the server answering, finishes the removal.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(Servers))]
        public void ADeleteTheServerTookWithoutAnsweringIsReportedUnconfirmedAndTheNextRunFinishes(string kind)
        {
            using var s = new Scene(kind, Kind, 4);
            Assert.Empty(s.Run(Pass).Errors);
            var ids = s.Setup.Original.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
            using var proxy = new SlowProxy(s.Server.Endpoint, TimeSpan.Zero, _ => SlowProxy.Mode.Stall);
            var env = Through(s, proxy, 1);
            var (r, took) = RunBounded(s, "Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru", env);

            Assert.True(proxy.Stalled > 0);
            Assert.Empty(s.Server.Keys(Container));
            Assert.Equal(ids, Delete.DeleteTestSupport.TraceIds(s.Store));
            var receipts = r.Output.Select(o => (DeletionReceipt)o.BaseObject).OrderBy(d => d.TraceId, StringComparer.Ordinal).ToList();
            Assert.Equal(ids, receipts.Select(d => d.TraceId));
            Assert.All(receipts, d =>
            {
                Assert.Equal(DeletionStatus.ObjectsNotRemoved, d.Status);
                Assert.Empty(d.RemovedFiles);
                Assert.Equal(new[] { s.Server.Uri(Container, $"root/{s.Setup.ExperimentId}/traces/{d.TraceId}/artifacts/{TracePayload.FileName}") }, d.UnconfirmedFiles);
            });
            Assert.Equal(ids, r.Errors.Select(e => (string)e.TargetObject).OrderBy(i => i, StringComparer.Ordinal));
            Assert.All(r.Errors, e =>
            {
                Assert.Equal("TraceObjectsNotRemoved,MlTraces.Commands.RemoveTraceCommand", e.FullyQualifiedErrorId);
                Assert.Contains("may be gone already", e.Exception.Message);
                Assert.DoesNotContain("nothing points to a missing object", e.Exception.Message);
            });
            AssertErrorsNameTheLocationWithoutSecrets(r, env, Container);
            Assert.True(took < TimeSpan.FromSeconds(30), $"The removal took {took}.");

            var read = s.Run("Get-Trace -TrackingUri $uri -TraceId $ids");
            Assert.Equal(ids.Count, read.Warnings.Count + read.Errors.Count);
            Assert.All(read.Warnings.Select(w => w.Message).Concat(read.Errors.Select(e => e.Exception.Message)), m => Assert.Contains("does not exist", m));

            var again = s.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru");
            Assert.Empty(again.Errors);
            Assert.All(again.Output.Select(o => (DeletionReceipt)o.BaseObject), d => Assert.Equal(DeletionStatus.Deleted, d.Status));
            Assert.Equal(0, s.Store.Scalar("SELECT count(*) FROM trace_info"));
        }

        /// <summary>A server that takes connections and never answers (hung, or a route that drops everything), under
        /// a pass, a restore and Remove-Trace: the first requests wait out their tries of
        /// MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT each, every later trace fails at once, so each run ends in bounded
        /// time; every trace stays where it was, each with an error that names the location and the timeout and no
        /// secret.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(Servers))]
        public void AServerThatNeverAnswersFailsEachTraceInBoundedTime(string kind)
        {
            using var s = new Scene(kind, Kind, 40);
            using var proxy = new SlowProxy(s.Server.Endpoint, TimeSpan.Zero, _ => SlowProxy.Mode.BlackHole);
            var env = Through(s, proxy, 1);
            foreach (var (command, script) in new[] { ("pass", Pass), ("restore", Restore), ("remove", "Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false") })
            {
                // The restore and the removal find every trace archived.
                if (command == "restore") Assert.Empty(s.Run(Pass).Errors);
                long archived = ArchiveKillTests.Archived(s.Store);
                var keys = s.Server.Keys(Container);
                var fingerprint = s.Store.Fingerprint();
                int connections = proxy.Connections;

                var (r, took) = RunBounded(s, script, env);
                // Six tries of 1 s with their pauses between (about 12 s): one wave of requests, not one per trace.
                Assert.True(took < TimeSpan.FromSeconds(30), $"'{command}' took {took}.");
                Assert.True(proxy.Connections > connections, command);
                Assert.Equal(s.Traces, r.Errors.Count);
                Assert.All(r.Errors, e => Assert.Contains(TimeoutVariable, e.Exception.Message));
                AssertErrorsNameTheLocationWithoutSecrets(r, env, Container);
                Assert.Equal(fingerprint, s.Store.Fingerprint());
                Assert.Equal(keys, s.Server.Keys(Container));
                Assert.Equal(archived, AssertEachTraceInOnePlace(s, $"after '{command}' against a hung server").Count);
            }
        }
    }

    public class ObjectStoreFaultTestsOnPostgres : ObjectStoreFaultTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
