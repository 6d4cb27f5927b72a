using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Support.ShellProcess;

namespace MlTraces.Tests.Maintenance
{
    /// <summary>
    /// Optimize-TraceStore on a copy of a store traces were deleted from: the dry run changes nothing and tells what
    /// the real run then does (bytes back, lock time, disk space); the real run shrinks the file (SQLite; PostgreSQL
    /// with -Full), leaves integrity_check clean and every remaining trace reading exactly as before; it refuses,
    /// changing nothing, while another process holds the store.
    /// </summary>
    public class OptimizeTraceStoreTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private MaintenanceStore DeletedFrom(int traces = 150)
        {
            var m = new MaintenanceStore(Kind, new Dictionary<string, int> { ["alpha"] = traces, ["beta"] = 40 }, payload: 3000);
            using var sh = new PsShell(m.Store);
            var r = sh.Run("Remove-Trace -OlderThan 60h -Confirm:$false");
            Assert.False(r.Failed, r.Terminating?.Message ?? string.Join("; ", r.Errors));
            return m;
        }

        private void AssertSound(TestStore ts)
        {
            if (Kind != StoreKind.Sqlite) return;
            using var store = ts.Open(StoreAccess.ReadOnly);
            using (var cmd = store.Command("PRAGMA integrity_check")) Assert.Equal("ok", cmd.ExecuteScalar());
            using (var cmd = store.Command("PRAGMA foreign_key_check")) using (var r = cmd.ExecuteReader()) Assert.False(r.Read());
        }

        [Fact]
        public void AfterADeletionItGivesTheSpaceBackAndEveryTraceReadsAsBefore()
        {
            using var m = DeletedFrom();
            using var sh = new PsShell(m.Store);
            var traces = MaintenanceStore.ReadAll(m.Store);
            Assert.True(traces.Count < m.Traces.Count && traces.Count > 50, $"{traces.Count} of {m.Traces.Count} traces left");
            string full = Kind == StoreKind.Postgres ? " -Full" : "";
            string state = m.Store.Fingerprint();
            long fileBefore = Kind == StoreKind.Sqlite ? new FileInfo(m.Store.Path).Length : 0;
            long free = Kind == StoreKind.Sqlite ? m.Store.Scalar("PRAGMA freelist_count") * m.Store.Scalar("PRAGMA page_size") : 0;

            // Both runs are logged (issue 18's audit trail): the dry run as one, the real run with its bytes.
            string log = Path.Combine(m.Store.Folder, "audit.jsonl");
            full += $" -AuditLogPath '{log}'";
            var dry = sh.Run("Optimize-TraceStore -WhatIf" + full);
            Assert.False(dry.Failed, dry.Terminating?.Message ?? string.Join("; ", dry.Errors));
            var planned = (StoreOptimization)dry.Output.Single().BaseObject;
            Assert.Equal(OptimizationStatus.Planned, planned.Status);
            Assert.Equal(state, m.Store.Fingerprint());
            Assert.Null(planned.BytesAfter);
            Assert.Contains("What if: ", dry.HostText);
            string line = dry.HostText.Replace("\n", " ");
            Assert.Contains(planned.ExpectedBytesFreed.ToString("N0", CultureInfo.InvariantCulture) + " bytes", line);
            Assert.Contains("locked for", line);
            Assert.True(planned.ExpectedLockTime > TimeSpan.Zero);
            Assert.NotEmpty(planned.DiskSpaceNeeded);
            if (Kind == StoreKind.Sqlite)
            {
                Assert.Equal(fileBefore, planned.BytesBefore);
                Assert.Equal(free, planned.ExpectedBytesFreed);
                Assert.True(free > 200_000, $"the deletion freed {free} bytes of pages");
                Assert.Equal(planned.DiskSpaceNeeded.Keys, planned.DiskSpaceAvailable.Keys);
                Assert.Contains(planned.DiskSpaceNeeded.Values.Single().ToString("N0", CultureInfo.InvariantCulture) + " bytes free on ", line);
                Assert.StartsWith("VACUUM", planned.Method);
            }

            var done = sh.Objects<StoreOptimization>("Optimize-TraceStore -Confirm:$false" + full).Single();
            Assert.Equal(OptimizationStatus.Optimized, done.Status);
            Assert.Equal(planned.Method, done.Method);
            Assert.Equal(planned.BytesBefore, done.BytesBefore);
            Assert.True(done.BytesAfter < done.BytesBefore, $"{done.BytesBefore} -> {done.BytesAfter}");
            Assert.True(done.BytesFreed >= planned.ExpectedBytesFreed, $"gave back {done.BytesFreed}, planned at least {planned.ExpectedBytesFreed}");
            Assert.True(done.LockTime > TimeSpan.Zero && done.LockTime <= done.Duration, $"lock {done.LockTime}, run {done.Duration}");
            Assert.True(done.Analyzed);
            if (Kind == StoreKind.Sqlite)
            {
                Assert.Equal(new FileInfo(m.Store.Path).Length, done.BytesAfter);
                Assert.Equal(0, done.FreeBytesAfter);
                Assert.Equal(0, m.Store.Scalar("PRAGMA freelist_count"));
            }
            else Assert.Equal(m.Store.Scalar("SELECT pg_database_size(current_database())"), done.BytesAfter);
            AssertSound(m.Store);
            Assert.Equal(traces, MaintenanceStore.ReadAll(m.Store));
            var lines = File.ReadAllLines(log).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(new[] { "DryRun", "Completed" }, lines.Select(l => l.GetProperty("outcome").GetString()));
            Assert.All(lines, l => Assert.Equal("Optimize-TraceStore", l.GetProperty("command").GetString()));
            Assert.All(lines, l => Assert.Contains("locked for", l.GetProperty("plan").GetString()));
            Assert.Equal(done.BytesBefore, lines[1].GetProperty("totals").GetProperty("bytesBefore").GetInt64());
            Assert.Equal(done.BytesAfter, lines[1].GetProperty("totals").GetProperty("bytesAfter").GetInt64());
        }

        /// <summary>PostgreSQL's default: VACUUM (ANALYZE), which locks nothing MLflow needs and makes the dead rows'
        /// space reusable; SQLite's with $WhatIfPreference, and -WhatIf:$false over it.</summary>
        [Fact]
        public void TheDefaultRunAndThePreferenceVariables()
        {
            using var m = DeletedFrom(90);
            using var sh = new PsShell(m.Store);
            var traces = MaintenanceStore.ReadAll(m.Store);
            string state = m.Store.Fingerprint();
            var dry = sh.Run("$WhatIfPreference = $true; Optimize-TraceStore; $WhatIfPreference = $false");
            Assert.False(dry.Failed, dry.Terminating?.Message ?? string.Join("; ", dry.Errors));
            Assert.Contains("What if: ", dry.HostText);
            Assert.Equal(state, m.Store.Fingerprint());
            var done = sh.Objects<StoreOptimization>("$WhatIfPreference = $true; Optimize-TraceStore -WhatIf:$false -Confirm:$false; $WhatIfPreference = $false").Single();
            Assert.Equal(OptimizationStatus.Optimized, done.Status);
            if (Kind == StoreKind.Postgres)
            {
                Assert.Equal("VACUUM (ANALYZE)", done.Method);
                Assert.Equal(TimeSpan.Zero, done.LockTime);
                Assert.Equal(TimeSpan.Zero, ((StoreOptimization)dry.Output.Single().BaseObject).ExpectedLockTime);
                Assert.Contains("MLflow keeps reading and writing", dry.HostText.Replace("\n", " "));
                // VACUUM reports the tables' dead rows as gone at once.
                Assert.Equal(0, m.Store.Scalar("SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables WHERE relname IN ('spans', 'trace_info', 'trace_tags')"));
                Assert.Equal(0, done.FreeBytesAfter);
            }
            else Assert.True(done.BytesFreed > 0);
            AssertSound(m.Store);
            Assert.Equal(traces, MaintenanceStore.ReadAll(m.Store));
        }

        /// <summary>Another process holds the store: the run waits the busy timeout, then refuses with the reason and
        /// changes nothing (SQLite: a reader's transaction, a writer's, an archival pass; PostgreSQL -Full: a reader's
        /// transaction on a trace table).</summary>
        [Fact]
        public void RefusesWhileAnotherProcessHoldsTheStore()
        {
            using var m = DeletedFrom(60);
            var env = new Dictionary<string, string> { ["MLTRACES_BUSY_TIMEOUT_MS"] = "300", ["MLTRACES_ARCHIVE_LOCK_WAIT_MS"] = "300" };
            string command = $"try {{ Optimize-TraceStore -TrackingUri {Quote(m.Store.UriText)} -Confirm:$false{(Kind == StoreKind.Postgres ? " -Full" : "")} -ErrorAction Stop }} " +
                             "catch { \"ERROR|$($_.FullyQualifiedErrorId)|$($_.CategoryInfo.Category)|$($_.Exception.Message)\" }";
            var holders = Kind == StoreKind.Sqlite
                ? new[] { "BEGIN; SELECT count(*) FROM spans", "BEGIN IMMEDIATE", "archive lock" }
                : new[] { "BEGIN; SELECT count(*) FROM spans" };
            foreach (var holder in holders)
            {
                string before = m.Store.Fingerprint();
                using (var store = m.Store.Open())
                {
                    IDisposable? held = null;
                    if (holder == "archive lock") held = ArchivePassLock.Acquire(store, TimeSpan.Zero);
                    else using (var cmd = store.Connection.CreateCommand()) { cmd.CommandText = holder; cmd.ExecuteNonQuery(); }
                    using var p = Start(command, env);
                    string output = p.StandardOutput.ReadToEnd();
                    p.WaitForExit();
                    var error = output.Split('\n').SingleOrDefault(l => l.StartsWith("ERROR|", StringComparison.Ordinal));
                    Assert.True(error != null, $"{holder}: no error\n{output}");
                    var parts = error!.Split('|');
                    Assert.True(parts.Length > 2 && parts[2] == "ResourceBusy", $"{holder}: {output}");
                    Assert.Matches("^(StoreInUse|StoreLocked|ArchivePassInProgress),", parts[1]);
                    Assert.DoesNotContain("Optimized", output);
                    held?.Dispose();
                    if (holder != "archive lock") using (var cmd = store.Connection.CreateCommand()) { cmd.CommandText = "ROLLBACK"; cmd.ExecuteNonQuery(); }
                }
                Assert.True(before == m.Store.Fingerprint(), $"{holder}: the store changed");
                AssertSound(m.Store);
            }
        }
    }

    public class OptimizeTraceStoreTestsOnPostgres : OptimizeTraceStoreTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
