using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using MlTraces.Core.Archive;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Support.ShellProcess;

namespace MlTraces.Tests.Archive
{
    /// <summary>
    /// Invoke-TraceArchive and Restore-Trace in their own MlTraces.Shell process, killed outright at random points
    /// (the seed is in every failure message): after each kill every trace reads from exactly one place, the store
    /// or its traces.pb, with its spans exactly as they were; the next pass or restore finishes the work; and the
    /// orphan cleanup removes the archive files no trace points to, never one a trace needs.
    /// </summary>
    public class ArchiveKillTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private const int Traces = 1500;

        internal sealed class Setup : IDisposable
        {
            public TestStore Store = null!;
            public string ExperimentId = "";
            public string Config = "", NothingDue = "";
            public Dictionary<string, Dictionary<string, string>> Original = new Dictionary<string, Dictionary<string, string>>();
            public string ArchiveRoot => ArchiveTestSupport.ArchiveRoot(Store);
            public void Dispose() => Store.Dispose();
        }

        private Setup Create() => Create(Kind, Traces);

        /// <summary>A store with this many traces of two spans each in MLflow's exact content shape, an archival
        /// configuration that archives them all (Config) and one that archives none (NothingDue).</summary>
        internal static Setup Create(StoreKind kind, int traces)
        {
            var s = new Setup { Store = TestStore.CreateEmpty(kind) };
            string exp = s.ExperimentId = s.Store.AddExperiment("kill");
            s.Store.AddTraces(Enumerable.Range(0, traces).Select(i =>
            {
                string id = $"tr-{i:D5}";
                var t = TestStore.MakeTrace(id, exp, 1_700_000_000_000 + i * 60_000L);
                t.Spans = new List<Span>
                {
                    Query.QueryTestSupport.MakeSpan(id, "a100000000000000", "root", "CHAIN", "OK", new Dictionary<string, object?> { ["n"] = i }),
                    Query.QueryTestSupport.MakeSpan(id, "b200000000000000", "llm", "LLM", "OK", new Dictionary<string, object?> { ["prompt"] = new string('x', i % 500) }, parentSpanId: "a100000000000000"),
                };
                // Content in the exact shape MLflow writes (Span.to_dict()), so a payload and a restore reproduce it byte for byte.
                var mlflowShape = TracePayload.Read(id, TracePayload.Write(id, t.Spans.Select(sp => MlTraces.Core.Export.SpanJson.FromContent(id, sp.Content)).ToList()));
                foreach (var sp in t.Spans)
                {
                    var m = mlflowShape.Single(x => x.Name == sp.Name);
                    (sp.SpanId, sp.ParentSpanId, sp.Content) = (m.SpanId, m.ParentSpanId, m.Content);
                }
                return t;
            }));
            string location = new Uri(s.ArchiveRoot).AbsoluteUri;
            s.Config = Path.Combine(s.Store.Folder, "archival.yaml");
            File.WriteAllText(s.Config, $"trace_archival:\n  enabled: true\n  location: {location}\n  retention: 1d\n");
            // A pass with nothing due: it only cleans up orphans.
            s.NothingDue = Path.Combine(s.Store.Folder, "nothing-due.yaml");
            File.WriteAllText(s.NothingDue, $"trace_archival:\n  enabled: true\n  location: {location}\n  retention: 36500d\n");
            s.Original = Contents(s.Store);
            return s;
        }

        internal static Dictionary<string, Dictionary<string, string>> Contents(TestStore ts)
        {
            using var store = ts.Open();
            using var cmd = store.Command("SELECT trace_id, span_id, content FROM spans");
            using var r = cmd.ExecuteReader();
            var d = new Dictionary<string, Dictionary<string, string>>();
            while (r.Read())
            {
                if (!d.TryGetValue(r.GetString(0), out var spans)) d[r.GetString(0)] = spans = new Dictionary<string, string>();
                spans[r.GetString(1)] = r.GetString(2);
            }
            return d;
        }

        internal static long Archived(TestStore ts) =>
            ts.Scalar("SELECT count(*) FROM trace_tags WHERE key = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'");

        internal static List<string> Files(Setup s, string pattern = "traces.pb*") =>
            Directory.Exists(s.ArchiveRoot) ? Directory.GetFiles(s.ArchiveRoot, pattern, SearchOption.AllDirectories).ToList() : new List<string>();

        /// <summary>Every trace reads from exactly one place with its spans as they were; returns the payload files
        /// that traces point to (as <paramref name="payloadOf"/> names the payload of an archive folder; by default
        /// its local file, read with <paramref name="read"/>, by default from that file).</summary>
        internal static HashSet<string> AssertEachTraceInOnePlace(Setup s, string when, Func<string, string>? payloadOf = null, Func<string, byte[]?>? read = null)
        {
            payloadOf ??= ArchiveTestSupport.PayloadFile;
            read ??= folder => FileArchiveRepository.Instance.Read(folder);
            // Read-write: opening rolls back a transaction the kill interrupted (SQLite's hot journal).
            using var store = s.Store.Open();
            if (store.Kind == StoreKind.Sqlite)
                using (var check = store.Command("PRAGMA integrity_check")) Assert.Equal("ok", check.ExecuteScalar());
            var tags = new Dictionary<string, Dictionary<string, string>>();
            using (var cmd = store.Command("SELECT request_id, key, value FROM trace_tags WHERE key IN ('mlflow.trace.spansLocation', 'mlflow.trace.archiveLocation')"))
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                {
                    if (!tags.TryGetValue(r.GetString(0), out var t)) tags[r.GetString(0)] = t = new Dictionary<string, string>();
                    t[r.GetString(1)] = r.GetString(2);
                }
            var now = Contents(s.Store);
            var pointed = new HashSet<string>();
            foreach (var (id, spans) in s.Original)
            {
                tags.TryGetValue(id, out var t);
                string? location = null, folder = null;
                t?.TryGetValue(TraceTagKeys.SpansLocation, out location);
                t?.TryGetValue(TraceTagKeys.ArchiveLocation, out folder);
                if (location == SpansLocations.ArchiveRepo)
                {
                    Assert.True(now[id].Values.All(c => c.Length == 0), $"{when}: {id} is archived but the store still has content");
                    Assert.True(folder != null, $"{when}: {id} is archived without an archive location");
                    var bytes = read(folder!);
                    Assert.True(bytes != null, $"{when}: {id} points to {folder}, where there is no payload");
                    var payload = TracePayload.Read(id, bytes!);
                    // Compared as contents: the payload names span ids in OTLP's form, the rows as the store wrote them.
                    Assert.True(spans.Values.OrderBy(c => c, StringComparer.Ordinal).SequenceEqual(payload.Select(p => p.Content).OrderBy(c => c, StringComparer.Ordinal)),
                        $"{when}: the payload of {id} differs from its spans");
                    pointed.Add(payloadOf(folder!));
                }
                else
                {
                    Assert.True(folder == null, $"{when}: {id} is in the store but points to {folder}");
                    Assert.True(spans.OrderBy(kv => kv.Key).SequenceEqual(now[id].OrderBy(kv => kv.Key)), $"{when}: the spans of {id} in the store changed");
                }
            }
            return pointed;
        }

        /// <summary>Starts the command, waits until it has done some of its work, then kills it a random moment later.</summary>
        private bool KillDuringWork(string command, Func<bool> started, Random random)
        {
            using var p = Start(command);
            WaitFor(started, "the work to start", p);
            Thread.Sleep(random.Next(0, 300));
            bool killed = !p.HasExited;
            if (killed) p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return killed;
        }

        /// <summary>Ages every archive file past the grace period, adds a half-written one, runs a pass with nothing
        /// due, and checks that exactly the files no trace needs went.</summary>
        private void CleanUpOrphans(Setup s, string when)
        {
            var pointed = AssertEachTraceInOnePlace(s, when);
            var files = Files(s);
            string half = Path.Combine(Path.GetDirectoryName(files.Count > 0 ? files[0] : Path.Combine(s.ArchiveRoot, "x", "traces", "y", "artifacts", "traces.pb"))!,
                TracePayload.FileName + ".0123456789abcdef0123456789abcdef" + FileArchiveRepository.TemporarySuffix);
            Directory.CreateDirectory(Path.GetDirectoryName(half)!);
            File.WriteAllBytes(half, new byte[] { 1, 2 });
            files.Add(half);
            foreach (var f in files) File.SetLastWriteTimeUtc(f, DateTime.UtcNow - ArchivalExecutor.OrphanGracePeriod - TimeSpan.FromMinutes(5));
            var orphans = files.Where(f => !pointed.Contains(f)).ToList();

            var run = ShellProcess.Run($"(Invoke-TraceArchive -TrackingUri {Quote(s.Store.UriText)} -ConfigPath {Quote(s.NothingDue)} -RemoveOrphanedPayloads -Confirm:$false).OrphanedPayloadsRemoved");
            Assert.True(run.ExitCode == 0, when + ": " + run.Errors);
            Assert.Equal(orphans.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), run.Output.Trim());
            Assert.Equal(pointed.OrderBy(f => f), Files(s).OrderBy(f => f));
            Assert.Equal(pointed, AssertEachTraceInOnePlace(s, when + ", after the cleanup"));
        }

        [Fact]
        public void KilledPassesAndRestoresLeaveEveryTraceInOnePlaceAndTheNextRunFinishes()
        {
            int seed = Environment.TickCount;
            var random = new Random(seed);
            using var s = Create();
            string pass = $"Invoke-TraceArchive -TrackingUri {Quote(s.Store.UriText)} -ConfigPath {Quote(s.Config)} -Confirm:$false";
            int killed = 0;
            for (int round = 0; round < 3; round++)
            {
                long archived = Archived(s.Store);
                DateTime start = DateTime.UtcNow;
                // Started: a payload written by this process, or a batch finalized.
                if (KillDuringWork(pass, () => Archived(s.Store) > archived || Files(s).Any(f => File.GetLastWriteTimeUtc(f) >= start), random)) killed++;
                AssertEachTraceInOnePlace(s, $"seed {seed}, pass killed in round {round}");
            }
            Assert.True(killed > 0, $"seed {seed}: every pass ended before it was killed");
            CleanUpOrphans(s, $"seed {seed}, after the killed passes");

            var rest = ShellProcess.Run(pass);
            Assert.True(rest.ExitCode == 0, rest.Errors);
            Assert.Equal(Traces, Archived(s.Store));
            Assert.Equal(Traces, AssertEachTraceInOnePlace(s, $"seed {seed}, after the last pass").Count);

            string restore = $"Restore-Trace -TrackingUri {Quote(s.Store.UriText)} -ExperimentId {s.ExperimentId} -Confirm:$false";
            killed = 0;
            for (int round = 0; round < 3; round++)
            {
                long archived = Archived(s.Store);
                if (KillDuringWork(restore, () => Archived(s.Store) < archived, random)) killed++;
                AssertEachTraceInOnePlace(s, $"seed {seed}, restore killed in round {round}");
            }
            Assert.True(killed > 0, $"seed {seed}: every restore ended before it was killed");
            CleanUpOrphans(s, $"seed {seed}, after the killed restores");

            var restored = ShellProcess.Run(restore);
            Assert.True(restored.ExitCode == 0, restored.Errors);
            Assert.Equal(0, Archived(s.Store));
            Assert.Empty(AssertEachTraceInOnePlace(s, $"seed {seed}, after the last restore"));
            Assert.Empty(Files(s));
        }
    }

    public class ArchiveKillTestsOnPostgres : ArchiveKillTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
