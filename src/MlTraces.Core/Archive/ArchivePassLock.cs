using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using MlTraces.Core.Store;

namespace MlTraces.Core.Archive
{
    /// <summary>
    /// The store-wide advisory lock an archival pass and a restore hold while they move payloads, so two of them
    /// never write, point at and clean up the same files at once. MLflow's writers never take it, so they never
    /// wait for it. SQLite: an OS lock (flock on Unix, a share-none handle on Windows) on a file beside the store,
    /// released by the OS when the process ends however it ends. PostgreSQL: a session-level pg_advisory_lock on
    /// the store's connection, released when the session ends.
    /// </summary>
    public sealed class ArchivePassLock : IDisposable
    {
        /// <summary>How long a second pass waits for the first before it says another one is running: long enough
        /// to ride out a restore of a few traces, short enough that a scheduled task never hangs.
        /// MLTRACES_ARCHIVE_LOCK_WAIT_MS overrides it.</summary>
        public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

        /// <summary>The pg_advisory_lock key: a fixed constant ("MLTrArch"), the same for every MlTraces.</summary>
        public const long PostgresKey = 0x4D4C_5472_4172_6368;

        public const string LockFileSuffix = ".mltraces-archive.lock";

        public const string InProgressId = "ArchivePassInProgress";

        private readonly TraceStore _store;
        private FileStream? _file;

        private ArchivePassLock(TraceStore store) { _store = store; }

        /// <summary>The lock file of a SQLite store.</summary>
        public static string LockFilePath(TrackingUri uri) => uri.FilePath + LockFileSuffix;

        public static TimeSpan Wait()
        {
            string? env = Environment.GetEnvironmentVariable("MLTRACES_ARCHIVE_LOCK_WAIT_MS");
            return int.TryParse(env, out int ms) && ms >= 0 ? TimeSpan.FromMilliseconds(ms) : DefaultWait;
        }

        /// <summary>Takes the lock, waiting up to <paramref name="wait"/>; an MlTracesException
        /// (ArchivePassInProgress) when another pass or restore still holds it then.</summary>
        public static ArchivePassLock Acquire(TraceStore store, TimeSpan wait, CancellationToken cancel = default)
        {
            var held = new ArchivePassLock(store);
            var clock = Stopwatch.StartNew();
            while (!held.TryTake())
            {
                if (clock.Elapsed >= wait)
                    throw new MlTracesException(ErrorKind.StoreLocked, InProgressId,
                        $"Another archival pass or restore is running on the store '{store.Name}' " +
                        (store.Kind == StoreKind.Sqlite ? $"(it holds the lock file '{LockFilePath(store.Uri)}') " : $"(it holds the advisory lock {PostgresKey}) ") +
                        $"and did not finish within {wait.TotalSeconds:0.#} s. Nothing was changed; run this command again when it has finished.");
                cancel.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(100));
                cancel.ThrowIfCancellationRequested();
            }
            return held;
        }

        private bool TryTake()
        {
            if (_store.Kind == StoreKind.Postgres)
            {
                var p = new SqlParameters();
                using var cmd = _store.Command($"SELECT pg_try_advisory_lock({p.Add(PostgresKey)})", p);
                return _store.Translate(() => Convert.ToBoolean(cmd.ExecuteScalar()));
            }
            string path = LockFilePath(_store.Uri);
            try
            {
                // FileShare.None: .NET takes flock(LOCK_EX | LOCK_NB) on Unix, a share-none open on Windows. The file
                // is never deleted: removing a lock file while another process opens it would hand out two locks.
                _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return true;
            }
            catch (UnauthorizedAccessException ex)
            {
                throw ReadOnly(path, ex);
            }
            catch (IOException ex) when (!IsSharingViolation(ex))
            {
                throw ReadOnly(path, ex);
            }
            catch (IOException)
            {
                return false;
            }
        }

        private MlTracesException ReadOnly(string path, Exception ex) =>
            new MlTracesException(ErrorKind.StoreReadOnly, "StoreReadOnly",
                $"The store '{_store.Name}' cannot be archived or restored: the lock file '{path}' beside it cannot be created or opened ({ex.Message}). " +
                "Check that the store's folder can be written. Nothing was changed.", ex);

        /// <summary>A lock held by someone else: ERROR_SHARING_VIOLATION / ERROR_LOCK_VIOLATION on Windows,
        /// EWOULDBLOCK from flock on Unix (which .NET reports with that same sharing-violation code).</summary>
        internal static bool IsSharingViolation(IOException? ex)
        {
            if (ex == null) return false;
            int code = ex.HResult & 0xFFFF;
            return code == 32 || code == 33 || code == 11 || code == 35;
        }

        public void Dispose()
        {
            if (_file != null)
            {
                _file.Dispose();
                _file = null;
                return;
            }
            if (_store.Kind != StoreKind.Postgres) return;
            try
            {
                var p = new SqlParameters();
                using var cmd = _store.Command($"SELECT pg_advisory_unlock({p.Add(PostgresKey)})", p);
                cmd.ExecuteScalar();
            }
            // A closed connection has released the session's lock already.
            catch (Exception ex) when (ex is InvalidOperationException || ex is System.Data.Common.DbException || ex is ObjectDisposedException) { }
        }
    }
}
