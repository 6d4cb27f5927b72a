using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;

namespace MlTraces.Core.Maintenance
{
    /// <summary>
    /// How big a store is and how much of it is free, read the same way by Measure-TraceStore and by
    /// Optimize-TraceStore before and after it runs. SQLite: the file (and its WAL), its pages and its freelist.
    /// PostgreSQL: the database's size and, per trace table, its size with indexes and TOAST and its dead rows.
    /// </summary>
    public sealed class StoreSpace
    {
        /// <summary>The tables that hold traces and what hangs on them: what a PostgreSQL VACUUM of the trace tables covers.</summary>
        public static readonly IReadOnlyList<string> TraceTables = new[]
        {
            "trace_info", "trace_tags", "trace_request_metadata", "spans", "assessments", "trace_metrics", "span_metrics",
            "span_attributes", "entity_associations",
        };

        public long StoreBytes { get; private set; }
        public long FreeBytes { get; private set; }
        public long PageSize { get; private set; }
        public long PageCount { get; private set; }
        public long FreePages { get; private set; }
        /// <summary>SQLite: NONE, FULL or INCREMENTAL.</summary>
        public string? AutoVacuum { get; private set; }
        public long? DeadRows { get; private set; }
        /// <summary>PostgreSQL: each trace table's bytes (with indexes and TOAST); empty for SQLite, where only a
        /// walk of every page of the file could tell.</summary>
        public SortedDictionary<string, long> TableBytes { get; } = new SortedDictionary<string, long>(StringComparer.Ordinal);
        /// <summary>PostgreSQL: each trace table's estimated bytes of dead rows.</summary>
        public SortedDictionary<string, long> TableDeadBytes { get; } = new SortedDictionary<string, long>(StringComparer.Ordinal);

        /// <summary>SQLite: bytes in use (the file less its free pages), what a VACUUM copies.</summary>
        public long UsedBytes => Math.Max(0, StoreBytes - FreeBytes);

        public static StoreSpace Read(TraceStore store) => store.Kind == StoreKind.Postgres ? ReadPostgres(store) : ReadSqlite(store);

        private static StoreSpace ReadSqlite(TraceStore store)
        {
            var s = new StoreSpace();
            long Pragma(string name)
            {
                using var cmd = store.Command("PRAGMA " + name);
                return Convert.ToInt64(store.Translate(() => cmd.ExecuteScalar()), CultureInfo.InvariantCulture);
            }
            s.PageSize = Pragma("page_size");
            s.PageCount = Pragma("page_count");
            s.FreePages = Pragma("freelist_count");
            s.AutoVacuum = Pragma("auto_vacuum") switch { 1 => "FULL", 2 => "INCREMENTAL", _ => "NONE" };
            string path = store.Uri.FilePath!;
            s.StoreBytes = FileLength(path) + FileLength(path + "-wal");
            s.FreeBytes = s.FreePages * s.PageSize;
            return s;
        }

        private static long FileLength(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

        private static StoreSpace ReadPostgres(TraceStore store)
        {
            var s = new StoreSpace();
            var p = new SqlParameters();
            string sql = "SELECT c.relname::text, pg_total_relation_size(c.oid), coalesce(st.n_dead_tup, 0), coalesce(st.n_live_tup, 0) " +
                "FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_stat_user_tables st ON st.relid = c.oid " +
                $"WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = ANY({p.Add(TraceTables.ToArray())}); " +
                "SELECT pg_database_size(current_database())";
            long dead = 0, deadBytes = 0;
            store.Translate(() =>
            {
                using var cmd = store.Command(sql, p);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    string table = r.GetString(0);
                    long bytes = r.GetInt64(1), deadRows = r.GetInt64(2), live = r.GetInt64(3);
                    s.TableBytes[table] = bytes;
                    // The dead rows' share of the table's pages: the statistics count rows, not bytes.
                    long tableDead = deadRows + live == 0 ? 0 : (long)(bytes * ((double)deadRows / (deadRows + live)));
                    s.TableDeadBytes[table] = tableDead;
                    dead += deadRows;
                    deadBytes += tableDead;
                }
                r.NextResult();
                r.Read();
                s.StoreBytes = r.GetInt64(0);
                return 0;
            });
            s.DeadRows = dead;
            s.FreeBytes = deadBytes;
            return s;
        }
    }

    /// <summary>Free space on the file system that holds a folder, as the OS reports it to this process.</summary>
    public static class DiskSpace
    {
        /// <summary>The mount point (drive) holding <paramref name="folder"/> and its free bytes; null if none is found.</summary>
        public static (string Root, long Free)? Of(string folder)
        {
            string full = Path.GetFullPath(folder);
            string? real = ConfinedPath.RealPath(full, out _);
            if (real != null) full = real;
            DriveInfo? best = null;
            foreach (var drive in DriveInfo.GetDrives())
            {
                string root;
                try { root = drive.RootDirectory.FullName; } catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { continue; }
                if (!Under(full, root) || (best != null && root.Length <= best.RootDirectory.FullName.Length)) continue;
                best = drive;
            }
            if (best == null) return null;
            try { return (best.RootDirectory.FullName, best.AvailableFreeSpace); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { return null; }
        }

        private static bool Under(string path, string root)
        {
            var cmp = ConfinedPath.PathComparer;
            string r = root.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
            if (r.Length == 0) return true; // "/"
            return cmp.Equals(path, r) || (path.Length > r.Length && cmp.Equals(path.Substring(0, r.Length), r)
                && (path[r.Length] == Path.DirectorySeparatorChar || path[r.Length] == Path.AltDirectorySeparatorChar));
        }

        /// <summary>The folder SQLite builds temporary files in (a VACUUM's copy of the store), chosen as SQLite
        /// chooses it: on Unix $SQLITE_TMPDIR, $TMPDIR, /var/tmp, /usr/tmp, /tmp, then the current directory, the
        /// first that exists; on Windows the user's temporary folder.</summary>
        public static string SqliteTempFolder()
        {
            if (Path.DirectorySeparatorChar == '\\') return Path.GetTempPath();
            foreach (var candidate in new[] { Environment.GetEnvironmentVariable("SQLITE_TMPDIR"), Environment.GetEnvironmentVariable("TMPDIR"), "/var/tmp", "/usr/tmp", "/tmp" })
                if (!string.IsNullOrEmpty(candidate) && Directory.Exists(candidate)) return Path.GetFullPath(candidate);
            return Directory.GetCurrentDirectory();
        }
    }
}
