using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Support.ShellProcess;

namespace MlTraces.Tests.Maintenance
{
    /// <summary>
    /// Optimize-TraceStore in its own MlTraces.Shell process, killed outright in the middle of its VACUUM (SQLite: while
    /// it writes the rebuilt pages back over the file, seen from its journal; PostgreSQL: while the server runs its
    /// VACUUM FULL, seen in pg_stat_activity), and at random moments: after each kill the store opens, integrity_check
    /// is clean and every trace reads exactly as before; the next run finishes.
    /// </summary>
    public class OptimizeKillTests : IDisposable
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        /// <summary>PostgreSQL: one connection that watches pg_stat_activity. Opening a store for each look took longer
        /// than a VACUUM FULL of this small store on a busy machine, and the look missed it.</summary>
        private TraceStore? _watcher;

        public void Dispose() => _watcher?.Dispose();

        private bool Vacuuming(TestStore ts)
        {
            if (Kind == StoreKind.Sqlite)
            {
                // The journal holds the pages being overwritten: past a few pages, the rebuilt file is being written back.
                var journal = new FileInfo(ts.Path + "-journal");
                return journal.Exists && journal.Length > 64 * 1024;
            }
            _watcher ??= TraceStore.Open(ts.Uri, StoreAccess.ReadOnly);
            using var cmd = _watcher.Command("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'VACUUM (FULL%' AND state = 'active'");
            return Convert.ToInt64(cmd.ExecuteScalar()) > 0;
        }

        /// <summary>About 25 MB of traces, a third of them deleted: a VACUUM long enough to be caught in the middle.</summary>
        private MaintenanceStore Create()
        {
            var m = new MaintenanceStore(Kind, new Dictionary<string, int> { ["alpha"] = 1600, ["beta"] = 400 }, payload: 5000);
            using (var sh = new PsShell(m.Store)) Assert.False(sh.Run("Remove-Trace -OlderThan 800h -Confirm:$false").Failed);
            return m;
        }

        /// <summary>Ctrl+C in the middle of the VACUUM interrupts it (SQLite's interrupt, PostgreSQL's cancel): the
        /// pipeline stops, nothing is written as output, and the store is as it was (SQLite: the same pages and free
        /// pages; not byte for byte, as SQLite does not journal free pages it overwrites, whose content means nothing).</summary>
        [Fact]
        public void CtrlCInTheMiddleLeavesTheStoreAsItWas()
        {
            using var m = Create();
            var traces = MaintenanceStore.ReadAll(m.Store);
            string Pages() => Kind == StoreKind.Sqlite
                ? $"{new FileInfo(m.Store.Path).Length} bytes, {m.Store.Scalar("PRAGMA page_count")} pages, {m.Store.Scalar("PRAGMA freelist_count")} free"
                : "";
            string before = Pages();
            using var sh = new PsShell(m.Store);
            var run = Task.Run(() => sh.Run("Optimize-TraceStore -Confirm:$false" + (Kind == StoreKind.Postgres ? " -Full" : "")));
            // The moment the command starts its VACUUM, as its progress bar says it (the statement runs right after).
            var records = (System.Collections.IList)sh.Session.Host.UI.GetType().GetProperty("Progress")!.GetValue(sh.Session.Host.UI)!;
            bool Started()
            {
                // PostgreSQL: the largest table's VACUUM FULL, the one long enough to be stopped in.
                string status = Kind == StoreKind.Sqlite ? "VACUUM" : "VACUUM (FULL, ANALYZE) spans ";
                try { return records.Cast<System.Management.Automation.ProgressRecord>().ToList().Any(p => p.StatusDescription.StartsWith(status, StringComparison.Ordinal)); }
                catch (InvalidOperationException) { return false; }
            }
            WaitFor(() => Started() || run.IsCompleted, "the VACUUM to start");
            // At once: on a busy machine a sleep here outlasted the whole VACUUM of this store.
            if (Kind == StoreKind.Postgres) Thread.Sleep(10);
            Assert.True(sh.Session.Stop(), "the run ended before it could be stopped");
            var r = run.Result;
            Assert.True(r.Stopped, "not stopped");
            Assert.Empty(r.Output);
            if (Kind == StoreKind.Sqlite)
            {
                // Rolled back by the connection itself: no journal is left for the next open to replay.
                Assert.False(File.Exists(m.Store.Path + "-journal"));
                Assert.Equal(before, Pages());
                Assert.True(m.Store.Scalar("PRAGMA freelist_count") > 100, before);
                using var store = m.Store.Open(StoreAccess.ReadOnly);
                using var check = store.Command("PRAGMA integrity_check");
                Assert.Equal("ok", check.ExecuteScalar());
            }
            Assert.Equal(traces, MaintenanceStore.ReadAll(m.Store));
        }

        [Fact]
        public void KilledInTheMiddleTheStoreIsIntactAndTheNextRunFinishes()
        {
            int seed = Environment.TickCount;
            var random = new Random(seed);
            using var m = Create();
            var traces = MaintenanceStore.ReadAll(m.Store);
            string command = $"Optimize-TraceStore -TrackingUri {Quote(m.Store.UriText)} -Confirm:$false{(Kind == StoreKind.Postgres ? " -Full" : "")}";
            int inVacuum = 0, killed = 0;
            for (int round = 0; round < 4; round++)
            {
                using (var p = Start(command))
                {
                    // Rounds 0 and 2: the moment the VACUUM writes; 1 and 3: a random moment after the process started.
                    if (round % 2 == 0)
                    {
                        WaitFor(() => Vacuuming(m.Store), "the VACUUM to be under way", p);
                        Thread.Sleep(random.Next(0, 20));
                    }
                    else Thread.Sleep(random.Next(1500, 4000));
                    // Waited for (even rounds), or seen at the moment of the kill.
                    bool during = round % 2 == 0 || Vacuuming(m.Store);
                    if (!p.HasExited) { p.Kill(entireProcessTree: true); killed++; if (during) inVacuum++; }
                    p.WaitForExit();
                }
                string when = $"seed {seed}, round {round}";
                // Opened to write, as the next command would: SQLite rolls the interrupted VACUUM back from its journal.
                using (var store = m.Store.Open())
                    if (Kind == StoreKind.Sqlite)
                        using (var cmd = store.Command("PRAGMA integrity_check")) Assert.True("ok".Equals(cmd.ExecuteScalar()), when);
                Assert.True(traces.Count == MaintenanceStore.ReadAll(m.Store).Count, when);
                Assert.Equal(traces, MaintenanceStore.ReadAll(m.Store));
            }
            Assert.True(inVacuum >= 2, $"seed {seed}: killed {killed} times, {inVacuum} of them during the VACUUM");

            var rest = ShellProcess.Run(command + " | ForEach-Object { \"STATUS $($_.Status)\" }");
            Assert.True(rest.Output.Contains("STATUS Optimized"), rest.Output + rest.Errors);
            Assert.Equal(traces, MaintenanceStore.ReadAll(m.Store));
        }
    }

    public class OptimizeKillTestsOnPostgres : OptimizeKillTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
