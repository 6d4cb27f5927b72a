using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MlTraces.Core.Store;

namespace MlTraces.Core.Maintenance
{
    /// <summary>What Optimize-TraceStore will do to a store, computed once: the dry run prints it and the real run
    /// checks it (disk space) and executes it.</summary>
    public sealed class OptimizationPlan
    {
        internal OptimizationPlan(TraceStore store, StoreSpace before, StoreOptimization result, bool incremental, bool full, MeasureIndexAction? index = null)
        {
            Store = store; Before = before; Result = result; Incremental = incremental; Full = full; Index = index;
        }

        /// <summary>-MeasureIndex: create or remove the measure indexes instead of vacuuming.</summary>
        public MeasureIndexAction? Index { get; }

        internal TraceStore Store { get; }
        public StoreSpace Before { get; }
        /// <summary>The result as planned (Status Planned); the real run fills in what happened.</summary>
        public StoreOptimization Result { get; }
        internal bool Incremental { get; }
        internal bool Full { get; }
        public List<string> Warnings { get; } = new List<string>();

        /// <summary>Why the real run would refuse (too little free disk space), or null.</summary>
        public string? Refusal
        {
            get
            {
                foreach (var need in Result.DiskSpaceNeeded)
                    if (Result.DiskSpaceAvailable.TryGetValue(need.Key, out long free) && free < need.Value)
                        return $"Optimizing the store '{Store.Name}' ({Result.Method}) needs {Bytes(need.Value)} free on {need.Key}, which has {Bytes(free)}" +
                               (Store.Kind == StoreKind.Sqlite && !Incremental
                                   ? $" (for the journal beside the store and the copy SQLite builds in {DiskSpace.SqliteTempFolder()}). Nothing was changed. Free space there, or point $env:SQLITE_TMPDIR at a folder on a disk with room for the copy, and run it again."
                                   : ". Nothing was changed. Free space there and run it again.");
                return null;
            }
        }

        /// <summary>The plan in one sentence: the -WhatIf line and the confirmation prompt.</summary>
        public string Describe()
        {
            var r = Result;
            if (Index != null) return DescribeIndex();
            string lockText = r.ExpectedLockTime == TimeSpan.Zero
                ? "MLflow keeps reading and writing meanwhile"
                : $"the store is locked for {Seconds(r.ExpectedLockTime)} (an MLflow server's requests wait meanwhile, and fail after their busy timeout)";
            string disk = r.DiskSpaceNeeded.Count == 0 ? "no extra disk space"
                : string.Join(" and ", r.DiskSpaceNeeded.Select(kv => $"{Bytes(kv.Value)} free on {kv.Key}" +
                    (r.DiskSpaceAvailable.TryGetValue(kv.Key, out long free) ? $" ({Bytes(free)} available)" : " (the server's disk: not visible from here)")));
            string back = Store.Kind == StoreKind.Postgres && !Full
                ? $"make about {Bytes(Before.FreeBytes)} of dead rows reusable (the files keep their size; -Full gives it back to the disk)"
                : (Incremental ? "give back " : "give back at least ") + Bytes(r.ExpectedBytesFreed) + $" of {Bytes(r.BytesBefore)}";
            return $"{r.Method} on the store '{Store.Name}': {back}; {lockText}; needs {disk}.";
        }

        private string DescribeIndex()
        {
            var r = Result;
            if (r.Tables.Count == 0) return $"{r.Method} on the store '{Store.Name}'.";
            if (Index == MeasureIndexAction.Remove)
                return $"{r.Method} on the store '{Store.Name}': Measure-TraceStore then reads every span row again; the pages go on the free list (Optimize-TraceStore gives them back).";
            string disk = string.Join(" and ", r.DiskSpaceNeeded.Select(kv => $"{Bytes(kv.Value)} free on {kv.Key}" +
                (r.DiskSpaceAvailable.TryGetValue(kv.Key, out long free) ? $" ({Bytes(free)} available)" : "")));
            return $"{r.Method} on the store '{Store.Name}': about {Bytes(r.IndexBytes ?? 0)} more in the store; each index is built " +
                   $"in a statement of its own that reads its table while writers wait (an MLflow server's requests wait, and fail after their busy timeout): " +
                   $"{Seconds(r.ExpectedLockTime)} for the longest; needs {disk}. MLflow keeps reading and writing the store as before.";
        }

        internal static string Bytes(long n) => n.ToString("N0", CultureInfo.InvariantCulture) + " bytes";

        internal static string Seconds(TimeSpan t) => t.TotalSeconds < 1 ? "under a second" : "about " + t.TotalSeconds.ToString("N0", CultureInfo.InvariantCulture) + " s";
    }

    /// <summary>
    /// Gives a store's free space back and refreshes its statistics. SQLite: VACUUM (incremental_vacuum where the
    /// store's auto_vacuum is INCREMENTAL), which rewrites the file inside one transaction: a kill or a failure at any
    /// point leaves the store as it was (SQLite rolls the journal back at the next open). PostgreSQL: VACUUM (ANALYZE)
    /// of the trace tables, or VACUUM (FULL, ANALYZE), which locks each table while it rewrites it, when asked.
    /// </summary>
    public static class StoreOptimizer
    {
        /// <summary>The rate the lock time is estimated from: the bytes a VACUUM reads and writes (twice the bytes in
        /// use) per second. The maintenance benchmark measured about 90 MB/s (1.7 GB in use, 38 s, on 2 busy cores);
        /// the estimate stays on the long side, and the real run reports the time it took.</summary>
        public const long VacuumBytesPerSecond = 60L * 1024 * 1024;

        /// <param name="full">SQLite: VACUUM even where incremental_vacuum would do; PostgreSQL: VACUUM FULL.</param>
        /// <param name="index">Create or remove the measure indexes (SQLite) instead of vacuuming.</param>
        public static OptimizationPlan Plan(TraceStore store, bool full, MeasureIndexAction? index = null)
        {
            var before = StoreSpace.Read(store);
            var r = new StoreOptimization
            {
                TrackingUri = store.Uri.Original,
                Kind = store.Kind == StoreKind.Postgres ? "PostgreSQL" : "SQLite",
                Status = OptimizationStatus.Planned,
                BytesBefore = before.StoreBytes,
                FreeBytesBefore = before.FreeBytes,
            };
            bool incremental = false;
            if (index is MeasureIndexAction action)
            {
                var warnings = new List<string>();
                MeasureIndexes.Plan(store, action, before, r, warnings);
                var indexPlan = new OptimizationPlan(store, before, r, false, full, index);
                indexPlan.Warnings.AddRange(warnings);
                return indexPlan;
            }
            if (store.Kind == StoreKind.Sqlite)
            {
                string file = store.Uri.FilePath!;
                string folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
                r.Tables.Add(Path.GetFileName(file));
                incremental = !full && before.AutoVacuum == "INCREMENTAL";
                r.ExpectedBytesFreed = before.FreeBytes;
                // VACUUM copies the pages in use into a temporary database, then back over the file, journaling the
                // pages it overwrites (or appending them to the WAL); incremental_vacuum moves and journals at most
                // the free pages' worth.
                long copy = incremental ? before.FreeBytes : before.UsedBytes;
                r.Method = (incremental ? "PRAGMA incremental_vacuum" : "VACUUM") + "; ANALYZE";
                r.Analyzed = true;
                r.ExpectedLockTime = TimeSpan.FromSeconds((double)(incremental ? before.FreeBytes : 2 * before.UsedBytes) / VacuumBytesPerSecond);
                Need(r, folder, copy);
                if (!incremental) Need(r, DiskSpace.SqliteTempFolder(), before.UsedBytes);
            }
            else
            {
                r.Tables.AddRange(before.TableBytes.Keys);
                r.Method = full ? "VACUUM (FULL, ANALYZE)" : "VACUUM (ANALYZE)";
                r.Analyzed = true;
                if (full)
                {
                    r.ExpectedBytesFreed = before.FreeBytes;
                    long live = before.TableBytes.Sum(kv => kv.Value - before.TableDeadBytes[kv.Key]);
                    r.ExpectedLockTime = TimeSpan.FromSeconds((double)2 * live / VacuumBytesPerSecond);
                    // Each table is rewritten into new files before its old ones go: room for the largest at once.
                    if (before.TableBytes.Count > 0)
                        r.DiskSpaceNeeded["the PostgreSQL server's data directory"] = before.TableBytes.Max(kv => kv.Value - before.TableDeadBytes[kv.Key]);
                }
            }
            var plan = new OptimizationPlan(store, before, r, incremental, full);
            if (store.Kind == StoreKind.Postgres && full)
                plan.Warnings.Add("VACUUM FULL locks each trace table while it rewrites it: an MLflow server cannot read or write traces meanwhile. The free space on the server's disk cannot be checked from here.");
            return plan;
        }

        /// <summary>Adds the space needed in a folder, summed per file system (the journal and the temporary copy
        /// often share one).</summary>
        internal static void Need(StoreOptimization r, string folder, long bytes)
        {
            var disk = DiskSpace.Of(folder);
            string key = disk?.Root ?? folder;
            r.DiskSpaceNeeded[key] = (r.DiskSpaceNeeded.TryGetValue(key, out long n) ? n : 0) + bytes;
            if (disk != null) r.DiskSpaceAvailable[key] = disk.Value.Free;
        }

        /// <summary>Runs the plan on a store opened to write, refusing first when the disk lacks the space. The plan's
        /// Result is filled in and returned.</summary>
        /// <param name="status">What the run is doing now, for a progress bar.</param>
        public static StoreOptimization Run(OptimizationPlan plan, Action<string>? status, CancellationToken cancel)
        {
            var store = plan.Store;
            if (plan.Refusal is string refusal) throw new MlTracesException(ErrorKind.InsufficientDiskSpace, "InsufficientDiskSpace", refusal);
            var r = plan.Result;
            var clock = Stopwatch.StartNew();
            TimeSpan locked;
            if (plan.Index is MeasureIndexAction action)
            {
                MeasureIndexes.Run(store, action, r, status, cancel);
                locked = r.LockTime ?? TimeSpan.Zero;
            }
            else if (store.Kind == StoreKind.Sqlite)
            {
                status?.Invoke($"{r.Method}: the store is locked ({OptimizationPlan.Seconds(r.ExpectedLockTime)} expected)");
                var lockClock = Stopwatch.StartNew();
                Execute(store, plan.Incremental ? "PRAGMA incremental_vacuum" : "VACUUM", cancel);
                // Fresh statistics for the rows that are left (sampled: analysis_limit bounds the time on a large
                // store). MLflow never writes them itself; sqlite_stat1 is SQLite's own table, and MLflow's schema is
                // unchanged.
                Execute(store, "PRAGMA analysis_limit = 1000; ANALYZE", cancel);
                locked = lockClock.Elapsed;
            }
            else
            {
                locked = TimeSpan.Zero;
                var connection = (Npgsql.NpgsqlConnection)store.Connection;
                void Notice(object sender, Npgsql.NpgsqlNoticeEventArgs e) => plan.Warnings.Add($"PostgreSQL: {e.Notice.MessageText}");
                connection.Notice += Notice;
                try
                {
                    // A VACUUM FULL waits for the table's lock no longer than a statement waits on SQLite: queued
                    // behind a long transaction, it would hold up every reader queued behind it.
                    if (plan.Full) Execute(store, $"SET lock_timeout = {TraceStore.BusyTimeoutMs()}", cancel);
                    int i = 0;
                    foreach (var table in r.Tables)
                    {
                        status?.Invoke($"{r.Method} {table} ({++i} of {r.Tables.Count})");
                        var tableClock = Stopwatch.StartNew();
                        Execute(store, $"{r.Method} \"{table}\"", cancel);
                        if (plan.Full) locked += tableClock.Elapsed;
                    }
                }
                finally
                {
                    if (plan.Full) try { Execute(store, "RESET lock_timeout", CancellationToken.None); } catch (MlTracesException) { }
                    connection.Notice -= Notice;
                }
            }
            var after = StoreSpace.Read(store);
            if (plan.Index != null) r.IndexBytes = Math.Abs(after.UsedBytes - plan.Before.UsedBytes);
            r.Status = OptimizationStatus.Optimized;
            r.BytesAfter = after.StoreBytes;
            r.FreeBytesAfter = after.FreeBytes;
            r.LockTime = locked;
            r.Duration = clock.Elapsed;
            return r;
        }

        /// <summary>Stops a running statement from another thread. Microsoft.Data.Sqlite's Cancel does nothing, so a
        /// VACUUM would run to its end: sqlite3_interrupt makes it fail at its next step, and SQLite rolls it back.</summary>
        private static void Interrupt(TraceStore store, DbCommand cmd)
        {
            if (store.Connection is Microsoft.Data.Sqlite.SqliteConnection sqlite && sqlite.Handle != null) SQLitePCL.raw.sqlite3_interrupt(sqlite.Handle);
            else try { cmd.Cancel(); } catch (InvalidOperationException) { }
        }

        /// <summary>One maintenance statement, stopped by the token (SQLite's interrupt or PostgreSQL's cancel: the
        /// statement rolls back and the store is as it was). A lock held past the busy timeout says what to do.</summary>
        internal static void Execute(TraceStore store, string sql, CancellationToken cancel)
        {
            cancel.ThrowIfCancellationRequested();
            using DbCommand cmd = store.Command(sql);
            using var stop = cancel.Register(() => Interrupt(store, cmd));
            // Checked again once registered: a stop that came before could not interrupt a statement not yet running.
            cancel.ThrowIfCancellationRequested();
            try
            {
                store.Translate(() => cmd.ExecuteNonQuery());
            }
            catch (MlTracesException) when (cancel.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancel);
            }
            catch (MlTracesException ex) when (ex.Kind == ErrorKind.StoreLocked)
            {
                throw new MlTracesException(ErrorKind.StoreLocked, "StoreInUse",
                    $"The store '{store.Name}' is in use: {sql} needs it to itself, and another process (an MLflow server, another command) " +
                    $"held a lock on it for the whole busy timeout ({TraceStore.BusyTimeoutMs() / 1000.0:0.#} s). " +
                    (store.Kind == StoreKind.Sqlite ? "Nothing was changed. " : "Each table is vacuumed in a transaction of its own: the tables before this one are done, this one and the rest are as they were. ") +
                    "Run Optimize-TraceStore when the store is idle (or the MLflow server is stopped).", ex);
            }
        }
    }
}
