using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MlTraces.Core.Store
{
    /// <summary>What setting or clearing the hold does to one requested trace.</summary>
    public enum LegalHoldAction
    {
        /// <summary>The tag is written: the trace goes under hold.</summary>
        Hold,
        /// <summary>The trace is held already (by any value that holds); nothing is written.</summary>
        AlreadyHeld,
        /// <summary>The tag is removed: the trace is no longer held (or its tag said "no" and goes too).</summary>
        Release,
        /// <summary>The trace has no hold tag; nothing is written.</summary>
        NotHeld,
        /// <summary>No such trace in the store.</summary>
        NotFound,
    }

    /// <summary>One requested trace in a legal hold plan: the trace as it stands and what the change does to it.</summary>
    public sealed class LegalHoldItem
    {
        public string TraceId { get; set; } = "";
        public string? ExperimentId { get; set; }
        public long TimestampMs { get; set; }
        /// <summary>The mltraces.legalHold tag's value now, or null without the tag.</summary>
        public string? TagValue { get; set; }
        /// <summary>Whether the trace is held now, by the same condition every deletion checks.</summary>
        public bool Held { get; set; }
        public LegalHoldAction Action { get; set; }

        /// <summary>The trace for a prompt or a -WhatIf line, its time in UTC as every dry run shows it.</summary>
        public string Describe() =>
            $"trace {TraceId} (experiment {ExperimentId}, " +
            $"{DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)})";

        /// <summary>The change as a -WhatIf line's operation.</summary>
        public string Operation() => Action == LegalHoldAction.Hold
            ? $"Set legal hold (tag {TraceTagKeys.LegalHold} = '{LegalHold.HoldValue}')"
            : $"Clear legal hold (remove tag {TraceTagKeys.LegalHold} = '{UserText.Printable(TagValue ?? "")}')";
    }

    /// <summary>
    /// The legal hold: a trace tagged mltraces.legalHold is never deleted. Any value holds except an explicit
    /// "no" (false, 0, no, off, or empty, in any case and spacing): a hold errs on the side of keeping data, so
    /// "True", "yes" or "1" hold as "true" does. One SQL condition, used by the plan and again inside every delete
    /// transaction, so a hold set after the plan still wins; the hold commands plan with it too.
    /// </summary>
    public static class LegalHold
    {
        /// <summary>The value Set-TraceLegalHold writes.</summary>
        public const string HoldValue = "true";

        /// <summary>True when the trace row under <paramref name="traceAlias"/> (a trace_info alias) is held.</summary>
        public static string Condition(string traceAlias) =>
            $"EXISTS (SELECT 1 FROM trace_tags lh WHERE lh.request_id = {traceAlias}.request_id AND lh.\"key\" = '{TraceTagKeys.LegalHold}' " +
            "AND lower(trim(coalesce(lh.value, ''))) NOT IN ('', 'false', '0', 'no', 'off'))";

        /// <summary>A WHERE condition over alias ti (or null for none) narrowed to held traces.</summary>
        public static string Only(string? where) => (where == null ? "" : $"({where}) AND ") + Condition("ti");

        /// <summary>What holding (or, with <paramref name="hold"/> false, releasing) these traces would do, read
        /// only: each requested id once, in the order given.</summary>
        public static List<LegalHoldItem> Plan(TraceStore store, IReadOnlyList<string> traceIds, bool hold)
        {
            var ids = traceIds.Distinct(StringComparer.Ordinal).ToList();
            var found = Read(store, ids, lockRows: false);
            return ids.Select(id =>
            {
                if (!found.TryGetValue(id, out var item)) return new LegalHoldItem { TraceId = id, Action = LegalHoldAction.NotFound };
                item.Action = hold
                    ? (item.Held ? LegalHoldAction.AlreadyHeld : LegalHoldAction.Hold)
                    : (item.TagValue == null ? LegalHoldAction.NotHeld : LegalHoldAction.Release);
                return item;
            }).ToList();
        }

        /// <summary>Writes the planned changes of these items, a transaction per batch, the tag as MLflow writes a
        /// trace tag (one trace_tags row, set or replaced). Each trace is checked again under the write lock: one
        /// deleted since the plan comes back NotFound, a tag removed meanwhile NotHeld. Returns the items, their
        /// Action now what was done.</summary>
        public static List<LegalHoldItem> Apply(TraceStore store, IReadOnlyList<LegalHoldItem> items, bool hold)
        {
            var done = new List<LegalHoldItem>(items.Count);
            foreach (var chunk in TraceReader.Chunks(items.Where(i => i.Action == (hold ? LegalHoldAction.Hold : LegalHoldAction.Release)).ToList(), TraceReader.BatchSize))
            {
                store.Translate(() =>
                {
                    using var tx = store.BeginTransaction();
                    var now = Read(store, chunk.Select(i => i.TraceId).ToList(), lockRows: true);
                    var write = new List<string>();
                    foreach (var item in chunk)
                    {
                        if (!now.TryGetValue(item.TraceId, out var current)) item.Action = LegalHoldAction.NotFound;
                        else if (!hold && current.TagValue == null) item.Action = LegalHoldAction.NotHeld;
                        else write.Add(item.TraceId);
                    }
                    if (write.Count > 0)
                    {
                        var p = new SqlParameters();
                        string key = p.Add(TraceTagKeys.LegalHold), ids = store.Dialect.IsAnyOf("request_id", p, write);
                        using var cmd = store.Command(hold
                            ? $"INSERT INTO trace_tags (\"key\", value, request_id) SELECT {key}, {p.Add(HoldValue)}, request_id FROM trace_info WHERE {ids} " +
                              "ON CONFLICT (\"key\", request_id) DO UPDATE SET value = excluded.value"
                            : $"DELETE FROM trace_tags WHERE \"key\" = {key} AND {ids}", p);
                        cmd.ExecuteNonQuery();
                    }
                    tx.Commit();
                    return 0;
                });
                done.AddRange(chunk);
            }
            return done;
        }

        /// <summary>The requested traces that exist, with their hold tag and whether it holds; with
        /// <paramref name="lockRows"/>, inside a write transaction, their rows locked until it ends.</summary>
        private static Dictionary<string, LegalHoldItem> Read(TraceStore store, List<string> ids, bool lockRows)
        {
            var found = new Dictionary<string, LegalHoldItem>(StringComparer.Ordinal);
            foreach (var chunk in TraceReader.Chunks(ids, TraceReader.BatchSize))
            {
                var p = new SqlParameters();
                using var cmd = store.Command(
                    "SELECT ti.request_id, ti.experiment_id, ti.timestamp_ms, " +
                    $"(SELECT cur.value FROM trace_tags cur WHERE cur.request_id = ti.request_id AND cur.\"key\" = {p.Add(TraceTagKeys.LegalHold)}), " +
                    $"CASE WHEN {Condition("ti")} THEN 1 ELSE 0 END " +
                    $"FROM trace_info ti WHERE {store.Dialect.IsAnyOf("ti.request_id", p, chunk)}" + (lockRows ? store.Dialect.ForUpdate : ""), p);
                using var r = store.Translate(() => cmd.ExecuteReader());
                while (r.Read())
                    found[r.GetString(0)] = new LegalHoldItem
                    {
                        TraceId = r.GetString(0),
                        ExperimentId = Convert.ToString(r.GetValue(1), CultureInfo.InvariantCulture),
                        TimestampMs = Convert.ToInt64(r.GetValue(2), CultureInfo.InvariantCulture),
                        TagValue = r.IsDBNull(3) ? null : r.GetString(3),
                        Held = Convert.ToInt64(r.GetValue(4), CultureInfo.InvariantCulture) != 0,
                    };
            }
            return found;
        }
    }
}
