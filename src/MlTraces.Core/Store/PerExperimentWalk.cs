using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Linq;
using System.Threading;

namespace MlTraces.Core.Store
{
    /// <summary>An order of the walk: how traces compare in memory, and the same order in SQL.</summary>
    public sealed class WalkOrder
    {
        public Comparison<Trace> Compare { get; }
        /// <summary>The ORDER BY list over the output columns (request_id, timestamp_ms).</summary>
        public string Sql { get; }
        private WalkOrder(Comparison<Trace> compare, string sql) { Compare = compare; Sql = sql; }

        /// <summary>Newest first, then trace id: MLflow's default search order.</summary>
        public static readonly WalkOrder NewestFirst = new WalkOrder((a, b) =>
        {
            int c = b.TimestampMs.CompareTo(a.TimestampMs);
            return c != 0 ? c : string.CompareOrdinal(a.TraceId, b.TraceId);
        }, "timestamp_ms DESC, request_id ASC");

    }

    /// <summary>
    /// MLflow's schema indexes traces by (experiment_id, timestamp_ms) only. A question ordered by time over several
    /// experiments is answered fastest by walking each experiment's index in that order and merging the streams
    /// lazily: the first page costs a few index steps instead of sorting every match of every experiment. Search
    /// walks this way (archival pages each experiment's index itself: ArchivalPlanner).
    /// </summary>
    public static class PerExperimentWalk
    {
        public static WalkOrder NewestFirst => WalkOrder.NewestFirst;

        /// <param name="sqlFor">The query for one experiment: it selects <see cref="TraceReader.InfoColumns"/>
        /// and orders its rows by <paramref name="order"/>.</param>
        /// <param name="limit">How many rows the caller takes at most (offset included), when it knows.</param>
        public static IEnumerable<Trace> Run(TraceStore store, IEnumerable<long> experimentIds,
            Func<long, SqlParameters, string> sqlFor, WalkOrder order, CancellationToken cancel = default, long? limit = null)
        {
            return store.Kind == StoreKind.Postgres
                ? InServer(store, experimentIds, sqlFor, order, limit)
                : InMemory(store, experimentIds, sqlFor, order, cancel);
        }

        /// <summary>
        /// PostgreSQL runs one statement at a time per connection, and merges sorted subqueries itself (Merge
        /// Append over each experiment's index scan): one UNION ALL, streamed, ordered in the database's own
        /// collation as MLflow's single query would be. The limit goes on every part as well as on the whole:
        /// the planner does not pass an outer LIMIT down into ordered subqueries, so without their own each part is
        /// planned to return every match (a bitmap scan and a sort of the experiment, or a hash join over all of
        /// trace_tags) instead of walking its index backwards and stopping.
        /// </summary>
        private static IEnumerable<Trace> InServer(TraceStore store, IEnumerable<long> experimentIds,
            Func<long, SqlParameters, string> sqlFor, WalkOrder order, long? limit)
        {
            var reader = new TraceReader(store);
            var p = new SqlParameters();
            string? limitParam = limit.HasValue ? p.Add(limit.Value) : null;
            string tail = limitParam != null ? store.Dialect.LimitOffset(limitParam, null) : "";
            var parts = experimentIds.Select(id => "(" + sqlFor(id, p) + tail + ")").ToList();
            if (parts.Count == 0) return Enumerable.Empty<Trace>();
            string sql = $"SELECT * FROM ({string.Join(" UNION ALL ", parts)}) walk ORDER BY {order.Sql}" + tail;
            return store.Stream(sql, p, reader.ReadInfo, limit);
        }

        private static IEnumerable<Trace> InMemory(TraceStore store, IEnumerable<long> experimentIds,
            Func<long, SqlParameters, string> sqlFor, WalkOrder order, CancellationToken cancel)
        {
            var reader = new TraceReader(store);
            var commands = new List<DbCommand>();
            var readers = new List<DbDataReader>();
            try
            {
                foreach (long id in experimentIds)
                {
                    var p = new SqlParameters();
                    var cmd = store.Command(sqlFor(id, p), p);
                    commands.Add(cmd);
                    readers.Add(store.Translate(() => cmd.ExecuteReader()));
                }
                Trace? Next(DbDataReader r) => store.Translate(() => r.Read()) ? reader.ReadInfo(r) : null;
                var heads = new Trace?[readers.Count];
                for (int i = 0; i < readers.Count; i++) heads[i] = Next(readers[i]);
                while (true)
                {
                    cancel.ThrowIfCancellationRequested();
                    int best = -1;
                    for (int i = 0; i < heads.Length; i++)
                        if (heads[i] != null && (best < 0 || order.Compare(heads[i]!, heads[best]!) < 0)) best = i;
                    if (best < 0) yield break;
                    var next = heads[best]!;
                    heads[best] = Next(readers[best]);
                    yield return next;
                }
            }
            finally
            {
                foreach (var r in readers) r.Dispose();
                foreach (var c in commands) c.Dispose();
            }
        }
    }
}
