using System;
using System.Collections.Generic;
using System.Threading;
using Microsoft.Data.Sqlite;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// MLflow's schema indexes traces by (experiment_id, timestamp_ms) only. A question ordered by time over several
    /// experiments is answered fastest by walking each experiment's index in that order and merging the streams
    /// lazily: the first page costs a few index steps instead of sorting every match of every experiment. Search
    /// (newest first) and archival (oldest first) both walk this way.
    /// </summary>
    public static class PerExperimentWalk
    {
        /// <summary>Newest first, then trace id: MLflow's default search order.</summary>
        public static int NewestFirst(Trace a, Trace b)
        {
            int c = b.TimestampMs.CompareTo(a.TimestampMs);
            return c != 0 ? c : string.CompareOrdinal(a.TraceId, b.TraceId);
        }

        /// <summary>Oldest first, then trace id: MLflow's archival candidate order.</summary>
        public static int OldestFirst(Trace a, Trace b)
        {
            int c = a.TimestampMs.CompareTo(b.TimestampMs);
            return c != 0 ? c : string.CompareOrdinal(a.TraceId, b.TraceId);
        }

        /// <param name="sqlFor">The query for one experiment: it selects <see cref="TraceReader.InfoColumns"/>
        /// and orders its rows by <paramref name="order"/> (ids compare as SQLite's binary collation does).</param>
        public static IEnumerable<Trace> Run(TraceStore store, IEnumerable<long> experimentIds,
            Func<long, SqlParameters, string> sqlFor, Comparison<Trace> order, CancellationToken cancel = default)
        {
            var reader = new TraceReader(store);
            var commands = new List<SqliteCommand>();
            var readers = new List<SqliteDataReader>();
            try
            {
                foreach (long id in experimentIds)
                {
                    var p = new SqlParameters();
                    var cmd = store.Command(sqlFor(id, p), p);
                    commands.Add(cmd);
                    readers.Add(store.Translate(() => cmd.ExecuteReader()));
                }
                Trace? Next(SqliteDataReader r) => store.Translate(() => r.Read()) ? reader.ReadInfo(r) : null;
                var heads = new Trace?[readers.Count];
                for (int i = 0; i < readers.Count; i++) heads[i] = Next(readers[i]);
                while (true)
                {
                    cancel.ThrowIfCancellationRequested();
                    int best = -1;
                    for (int i = 0; i < heads.Length; i++)
                        if (heads[i] != null && (best < 0 || order(heads[i]!, heads[best]!) < 0)) best = i;
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
