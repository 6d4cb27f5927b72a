using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using MlTraces.Core.Delete;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Delete
{
    internal static class DeleteTestSupport
    {
        /// <summary>
        /// A trace with something in every table that hangs on one: 2 spans (one with a span metric), an
        /// assessment, tags and metadata, a trace metric, and links to a run and from a dataset.
        /// </summary>
        public static Trace RichTrace(string id, string experimentId, long timestampMs, IDictionary<string, string>? tags = null)
        {
            var t = TestStore.MakeTrace(id, experimentId, timestampMs, 5, "OK",
                tags ?? new Dictionary<string, string>(), D("mlflow.trace.user", "u-" + id));
            t.Tags["mlflow.traceName"] = "name-" + id;
            t.Spans = new List<Span>
            {
                MakeSpan(id, "00000000000000a1", "root", "CHAIN", "OK"),
                MakeSpan(id, "00000000000000a2", "llm", "LLM", "OK", parentSpanId: "00000000000000a1"),
            };
            t.Assessments.Add(MakeAssessment(id, "feedback", "quality", "\"good\""));
            return t;
        }

        /// <summary>Adds the rows TraceWriter does not write: metrics and entity associations in both directions.</summary>
        public static void AddExtras(TestStore ts, IEnumerable<string> traceIds)
        {
            using var store = ts.Open();
            using var tx = store.Connection.BeginTransaction();
            foreach (var id in traceIds)
            {
                void Run(string sql)
                {
                    using var cmd = store.Command(sql);
                    cmd.Transaction = tx;
                    TraceStore.AddParameter(cmd, "@id", id);
                    TraceStore.AddParameter(cmd, "@a", Guid.NewGuid().ToString("N"));
                    cmd.ExecuteNonQuery();
                }
                if (store.Layout.HasTraceMetrics) Run("INSERT INTO trace_metrics (request_id, \"key\", value) VALUES (@id, 'total_tokens', 42)");
                if (store.Layout.HasSpanMetrics) Run("INSERT INTO span_metrics (trace_id, span_id, \"key\", value) VALUES (@id, '00000000000000a2', 'input_cost', 0.5)");
                if (store.Layout.HasEntityAssociations)
                {
                    Run("INSERT INTO entity_associations (association_id, source_type, source_id, destination_type, destination_id, created_time) VALUES (@a, 'trace', @id, 'run', 'run-1', 0)");
                    Run("INSERT INTO entity_associations (association_id, source_type, source_id, destination_type, destination_id, created_time) VALUES (@a || 'x', 'evaluation_dataset', 'd-1', 'trace', @id, 0)");
                }
            }
            tx.Commit();
        }

        /// <summary>A store with rich traces tr-00..tr-NN in one experiment, one a minute from <paramref name="start"/>.</summary>
        public static TestStore RichStore(int count, out string experimentId, long start = 1_700_000_000_000, StoreKind kind = StoreKind.Sqlite)
        {
            var ts = TestStore.CreateEmpty(kind);
            experimentId = ts.AddExperiment("rich");
            string exp = experimentId;
            var traces = Enumerable.Range(0, count).Select(i => RichTrace(Id(i), exp, start + i * 60_000L)).ToList();
            ts.AddTraces(traces);
            AddExtras(ts, traces.Select(t => t.TraceId));
            return ts;
        }

        public static string Id(int i) => "tr-" + i.ToString("D2", CultureInfo.InvariantCulture);

        /// <summary>The trace ids a -WhatIf run listed, in order, read from its "What if:" lines.</summary>
        public static List<string> WhatIfIds(string hostText) =>
            Regex.Matches(hostText, "What if: Performing the operation \"Remove trace\" on target \"([^ \"]+) \\(")
                .Cast<Match>().Select(m => m.Groups[1].Value).ToList();

        /// <summary>The ids of the traces (that match the SQL condition), in id order.</summary>
        public static List<string> TraceIds(TestStore ts, string where = "1 = 1")
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command($"SELECT request_id FROM trace_info WHERE {where} ORDER BY request_id");
            using var r = cmd.ExecuteReader();
            var ids = new List<string>();
            while (r.Read()) ids.Add(r.GetString(0));
            return ids;
        }

        public static string Sha(string path)
        {
            using var sha = System.Security.Cryptography.SHA256.Create();
            using var f = File.OpenRead(path);
            return Convert.ToHexString(sha.ComputeHash(f));
        }

        /// <summary>Every row of every table that hangs on a trace, counted per trace id (the trace's own row too).</summary>
        public static Dictionary<string, string> Snapshot(TestStore ts)
        {
            using var store = ts.Open();
            var family = TraceFamily.Read(store);
            var rows = new SortedDictionary<string, SortedDictionary<string, long>>(StringComparer.Ordinal);
            void Count(string table, string sql)
            {
                using var cmd = store.Command(sql);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    if (!rows.TryGetValue(r.GetString(0), out var perTable)) rows[r.GetString(0)] = perTable = new SortedDictionary<string, long>(StringComparer.Ordinal);
                    perTable[table] = r.GetInt64(1);
                }
            }
            Count("trace_info", "SELECT request_id, 1 FROM trace_info");
            foreach (var m in family.Members) Count(m.Table, $"SELECT {m.TraceColumn}, count(*) FROM {m.Table} GROUP BY {m.TraceColumn}");
            if (store.Layout.HasEntityAssociations)
            {
                Count("ea-source", "SELECT source_id, count(*) FROM entity_associations WHERE source_type = 'trace' GROUP BY source_id");
                Count("ea-destination", "SELECT destination_id, count(*) FROM entity_associations WHERE destination_type = 'trace' GROUP BY destination_id");
            }
            return rows.ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.Select(t => t.Key + "=" + t.Value)));
        }

        /// <summary>
        /// The store is sound and every trace is either wholly there (the same rows as in <paramref name="before"/>)
        /// or wholly gone (no row anywhere names it): integrity_check, foreign_key_check, no orphan in any table
        /// that hangs on a trace nor in entity_associations.
        /// </summary>
        public static void AssertConsistent(TestStore ts, Dictionary<string, string>? before = null)
        {
            using (var store = ts.Open())
            {
                // PostgreSQL checks its constraints on every write: the orphan queries below are the whole check.
                if (store.Kind == StoreKind.Sqlite)
                {
                    using (var cmd = store.Command("PRAGMA integrity_check"))
                        Assert.Equal("ok", cmd.ExecuteScalar() as string);
                    using (var cmd = store.Command("PRAGMA foreign_key_check"))
                    using (var r = cmd.ExecuteReader())
                        Assert.False(r.Read(), "foreign_key_check found a violation");
                }
                foreach (var m in TraceFamily.Read(store).Members)
                    Assert.True(0 == Scalar(store, $"SELECT count(*) FROM {m.Table} WHERE {m.TraceColumn} NOT IN (SELECT request_id FROM trace_info)"), $"orphan rows in {m.Table}");
                if (store.Layout.HasEntityAssociations)
                    Assert.Equal(0, Scalar(store, "SELECT count(*) FROM entity_associations WHERE (source_type = 'trace' AND source_id NOT IN (SELECT request_id FROM trace_info)) " +
                                                  "OR (destination_type = 'trace' AND destination_id NOT IN (SELECT request_id FROM trace_info))"));
            }
            if (before == null) return;
            var after = Snapshot(ts);
            foreach (var kv in after)
                Assert.True(before.TryGetValue(kv.Key, out var was) && was == kv.Value, $"trace {kv.Key} is half there: {kv.Value} (was {was})");
        }

        private static long Scalar(TraceStore store, string sql)
        {
            using var cmd = store.Command(sql);
            return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }
}
