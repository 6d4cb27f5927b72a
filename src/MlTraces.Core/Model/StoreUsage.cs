using System;
using System.Collections.Generic;

namespace MlTraces
{
    /// <summary>What a part of a store holds (Measure-TraceStore): traces by state, spans, assessments, span payload
    /// bytes in the database and archived, the time range, and what the next archival pass and an -OlderThan
    /// deletion would take. <see cref="ExperimentUsage"/>, <see cref="WorkspaceUsage"/> and <see cref="StoreUsage"/>
    /// are its three scopes.</summary>
    public abstract class TraceUsage
    {
        public long Traces { get; set; }
        /// <summary>Traces per state as the store holds it (OK, ERROR, IN_PROGRESS, STATE_UNSPECIFIED).</summary>
        public SortedDictionary<string, long> TracesByState { get; set; } = new SortedDictionary<string, long>(StringComparer.Ordinal);
        public long OkTraces => State("OK");
        public long ErrorTraces => State("ERROR");
        public long InProgressTraces => State("IN_PROGRESS");
        public long Spans { get; set; }
        public long Assessments { get; set; }
        /// <summary>UTF-8 bytes of span content held in the database (what an archival pass would move out).</summary>
        public long PayloadBytes { get; set; }
        /// <summary>Traces whose spans are in the archive (tag mlflow.trace.spansLocation = ARCHIVE_REPO).</summary>
        public long ArchivedTraces { get; set; }
        /// <summary>The size MLflow recorded for the archived traces when they were logged (metadata
        /// mlflow.trace.sizeBytes); an archived trace without it adds nothing.</summary>
        public long ArchivedBytes { get; set; }
        public DateTimeOffset? OldestTrace { get; set; }
        public DateTimeOffset? NewestTrace { get; set; }
        /// <summary>Traces the next archival pass would archive (its plan, within max_traces_per_pass); null without
        /// an archival configuration.</summary>
        public long? NextArchivalTraces { get; set; }
        /// <summary>Span content bytes those traces hold.</summary>
        public long? NextArchivalBytes { get; set; }
        /// <summary>The -OlderThan that <see cref="OlderThanTraces"/> answers for; null when not given.</summary>
        public TimeSpan? OlderThan { get; set; }
        /// <summary>Traces Remove-Trace -OlderThan would delete (traces under legal hold are not counted).</summary>
        public long? OlderThanTraces { get; set; }
        /// <summary>Span content bytes those traces hold in the database.</summary>
        public long? OlderThanBytes { get; set; }
        public string TrackingUri { get; set; } = "";

        private long State(string state) => TracesByState.TryGetValue(state, out long n) ? n : 0;

        /// <summary>Adds another part's figures to these (an experiment's to its workspace's or the store's).</summary>
        public void Add(TraceUsage other)
        {
            Traces += other.Traces;
            foreach (var kv in other.TracesByState)
                TracesByState[kv.Key] = (TracesByState.TryGetValue(kv.Key, out long n) ? n : 0) + kv.Value;
            Spans += other.Spans;
            Assessments += other.Assessments;
            PayloadBytes += other.PayloadBytes;
            ArchivedTraces += other.ArchivedTraces;
            ArchivedBytes += other.ArchivedBytes;
            if (other.OldestTrace < OldestTrace || OldestTrace == null) OldestTrace = other.OldestTrace;
            if (other.NewestTrace > NewestTrace || NewestTrace == null) NewestTrace = other.NewestTrace;
            NextArchivalTraces = Sum(NextArchivalTraces, other.NextArchivalTraces);
            NextArchivalBytes = Sum(NextArchivalBytes, other.NextArchivalBytes);
            OlderThan = other.OlderThan ?? OlderThan;
            OlderThanTraces = Sum(OlderThanTraces, other.OlderThanTraces);
            OlderThanBytes = Sum(OlderThanBytes, other.OlderThanBytes);
        }

        private static long? Sum(long? a, long? b) => a == null && b == null ? (long?)null : (a ?? 0) + (b ?? 0);
    }

    /// <summary>One experiment's share of a store, with its effective retention.</summary>
    public sealed class ExperimentUsage : TraceUsage
    {
        public string ExperimentId { get; set; } = "";
        public string Name { get; set; } = "";
        public string? Workspace { get; set; }
        public string LifecycleStage { get; set; } = "active";
        /// <summary>The effective retention as MLflow writes it ("30d"), as Get-ExperimentRetention resolves it;
        /// null without an archival configuration or with archival disabled.</summary>
        public string? ArchiveAfter { get; set; }
        /// <summary>Server, Workspace, Experiment or Allowlist.</summary>
        public string? RetentionSource { get; set; }
        public override string ToString() => $"{Name} ({ExperimentId}): {Traces:N0} traces, {PayloadBytes:N0} payload bytes";
    }

    /// <summary>One MLflow workspace's share of a store: the sum of its experiments.</summary>
    public sealed class WorkspaceUsage : TraceUsage
    {
        public string Workspace { get; set; } = "";
        public int Experiments { get; set; }
        public override string ToString() => $"{Workspace}: {Traces:N0} traces, {PayloadBytes:N0} payload bytes";
    }

    /// <summary>The whole store: the sum of its experiments, its size and the space free inside it.</summary>
    public sealed class StoreUsage : TraceUsage
    {
        /// <summary>SQLite or PostgreSQL.</summary>
        public string Kind { get; set; } = "";
        /// <summary>The SQLite file; null for PostgreSQL.</summary>
        public string? Path { get; set; }
        public int Experiments { get; set; }
        /// <summary>The SQLite file's size (with its WAL file, if any), or the PostgreSQL database's (pg_database_size).</summary>
        public long StoreBytes { get; set; }
        /// <summary>SQLite: the bytes of the free pages inside the file (freelist). PostgreSQL: the estimated bytes
        /// of dead rows in the trace tables, which VACUUM makes reusable.</summary>
        public long FreeBytes { get; set; }
        /// <summary>SQLite: NONE, FULL or INCREMENTAL (PRAGMA auto_vacuum); null for PostgreSQL.</summary>
        public string? AutoVacuum { get; set; }
        /// <summary>PostgreSQL: dead rows in the trace tables (pg_stat_user_tables.n_dead_tup); null for SQLite.</summary>
        public long? DeadRows { get; set; }
        /// <summary>Bytes each trace table takes with its indexes (and, on PostgreSQL, its TOAST table).</summary>
        public SortedDictionary<string, long> TableBytes { get; set; } = new SortedDictionary<string, long>(StringComparer.Ordinal);
        /// <summary>What Optimize-TraceStore expects to give back: SQLite, the free pages (VACUUM may give back more, by
        /// packing half-empty pages); PostgreSQL, the dead rows' bytes (VACUUM makes them reusable, -Full returns them).</summary>
        public long ReclaimableBytes { get; set; }
        /// <summary>SQLite: the store has the measure indexes (Optimize-TraceStore -MeasureIndex Create), which
        /// Measure-TraceStore reads instead of every span row.</summary>
        public bool MeasureIndexes { get; set; }
        public override string ToString() => $"{TrackingUri}: {StoreBytes:N0} bytes, {FreeBytes:N0} free, {Traces:N0} traces";
    }
}

namespace MlTraces
{
    /// <summary>What Measure-TraceStore writes one object for.</summary>
    public enum MeasureScope
    {
        Experiment,
        Workspace,
        Store,
    }
}
