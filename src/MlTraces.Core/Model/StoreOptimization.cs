using System;
using System.Collections.Generic;

namespace MlTraces
{
    public enum OptimizationStatus
    {
        /// <summary>-WhatIf: what the real run would do.</summary>
        Planned,
        Optimized,
    }

    /// <summary>One run of Optimize-TraceStore (or its dry run): what it did, what it gave back and how long it held
    /// the store. A run that fails writes an error instead.</summary>
    public sealed class StoreOptimization
    {
        public string TrackingUri { get; set; } = "";
        /// <summary>SQLite or PostgreSQL.</summary>
        public string Kind { get; set; } = "";
        public OptimizationStatus Status { get; set; }
        public bool WhatIf => Status == OptimizationStatus.Planned;
        /// <summary>The statements run: "VACUUM; ANALYZE", "PRAGMA incremental_vacuum", "VACUUM (ANALYZE) ..." .</summary>
        public string Method { get; set; } = "";
        /// <summary>The store's size before: the SQLite file (with its WAL), the PostgreSQL database.</summary>
        public long BytesBefore { get; set; }
        /// <summary>The store's size after; null in a dry run.</summary>
        public long? BytesAfter { get; set; }
        /// <summary>BytesBefore - BytesAfter; null in a dry run.</summary>
        public long? BytesFreed => BytesAfter.HasValue ? BytesBefore - BytesAfter.Value : (long?)null;
        /// <summary>What the plan expects to give back: SQLite, at least the free pages; PostgreSQL (VACUUM FULL), the
        /// dead rows' bytes; 0 for a plain PostgreSQL VACUUM, which makes space reusable but keeps the files.</summary>
        public long ExpectedBytesFreed { get; set; }
        /// <summary>SQLite: free pages' bytes; PostgreSQL: the dead rows' estimated bytes, before and (real run) after.</summary>
        public long FreeBytesBefore { get; set; }
        public long? FreeBytesAfter { get; set; }
        /// <summary>How long the plan expects writers (an MLflow server) to wait for the store: SQLite's VACUUM and
        /// PostgreSQL's VACUUM FULL lock it; a plain PostgreSQL VACUUM does not (zero).</summary>
        public TimeSpan ExpectedLockTime { get; set; }
        /// <summary>How long the real run held the lock; null in a dry run.</summary>
        public TimeSpan? LockTime { get; set; }
        /// <summary>Free disk space the run needs, per folder (SQLite: beside the store for its journal, and the
        /// folder SQLite builds the temporary copy in).</summary>
        public SortedDictionary<string, long> DiskSpaceNeeded { get; set; } = new SortedDictionary<string, long>(StringComparer.Ordinal);
        /// <summary>Free space in those folders when the plan was made (the PostgreSQL server's disk cannot be seen
        /// from a client: empty there).</summary>
        public SortedDictionary<string, long> DiskSpaceAvailable { get; set; } = new SortedDictionary<string, long>(StringComparer.Ordinal);
        /// <summary>The tables vacuumed (PostgreSQL) or the whole file (SQLite: the store's file name); with -MeasureIndex,
        /// the indexes created or removed.</summary>
        public List<string> Tables { get; set; } = new List<string>();
        /// <summary>Statistics were refreshed (SQLite: ANALYZE, sampled; PostgreSQL: VACUUM (ANALYZE)).</summary>
        public bool Analyzed { get; set; }
        /// <summary>-MeasureIndex: the bytes the indexes created (or removed) take, estimated in a dry run, measured
        /// (the store's pages in use, after against before) in a real run; null otherwise.</summary>
        public long? IndexBytes { get; set; }
        public TimeSpan Duration { get; set; }

        public override string ToString() => WhatIf
            ? $"planned {Method}: about {ExpectedBytesFreed:N0} bytes back, store locked about {ExpectedLockTime.TotalSeconds:0.#} s"
            : $"{Method}: {BytesBefore:N0} -> {BytesAfter:N0} bytes ({BytesFreed:N0} given back), store locked {LockTime?.TotalSeconds:0.#} s";
    }
}
