using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;

namespace MlTraces.Core.Delete
{
    /// <summary>
    /// The tables whose rows hang on a trace, and whether deleting the trace_info row takes them along. Read from
    /// the store's own foreign keys rather than assumed: MLflow added ON DELETE CASCADE in a migration, and a
    /// store from before it (or a table MLflow adds later without one) would otherwise make the delete fail or
    /// leave orphans. Tables whose whole chain up to trace_info cascades go with foreign_keys ON; the others are
    /// deleted explicitly, deepest first.
    /// </summary>
    public sealed class TraceFamily
    {
        public sealed class Member
        {
            public Member(string table, string traceColumn, int depth, bool cascades)
            {
                Table = table; TraceColumn = traceColumn; Depth = depth; Cascades = cascades;
            }

            public string Table { get; }
            /// <summary>The column holding the trace id.</summary>
            public string TraceColumn { get; }
            /// <summary>1 for tables on trace_info, 2 for tables on those (span_metrics on spans), ...</summary>
            public int Depth { get; }
            /// <summary>Every foreign key from here up to trace_info deletes ON CASCADE.</summary>
            public bool Cascades { get; }
        }

        // The trace-id column of each child table MLflow has written, for a store whose tables lack the foreign key.
        private static readonly Dictionary<string, string> KnownColumns = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["trace_tags"] = "request_id", ["trace_request_metadata"] = "request_id", ["trace_metrics"] = "request_id",
            ["assessments"] = "trace_id", ["spans"] = "trace_id", ["span_metrics"] = "trace_id", ["span_attributes"] = "trace_id",
        };

        public IReadOnlyList<Member> Members { get; }

        /// <summary>The members that need their own DELETE, deepest first.</summary>
        public IReadOnlyList<Member> Explicit => Members.Where(m => !m.Cascades).OrderByDescending(m => m.Depth).ToList();

        private TraceFamily(IReadOnlyList<Member> members) { Members = members; }

        public static TraceFamily Read(TraceStore store)
        {
            var keys = new List<(string Child, string From, string Parent, string? To, string OnDelete)>();
            store.Translate(() =>
            {
                using var cmd = store.Command(store.Dialect.ForeignKeysQuery);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                    keys.Add((r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? "" : r.GetString(4)));
                return 0;
            });

            // Walk down from trace_info: a key whose parent column holds the trace id makes its column hold it too.
            var found = new Dictionary<string, Member>(StringComparer.OrdinalIgnoreCase);
            var frontier = new List<(string Table, string Column, int Depth, bool Cascades)> { ("trace_info", "request_id", 0, true) };
            while (frontier.Count > 0)
            {
                var next = new List<(string, string, int, bool)>();
                foreach (var parent in frontier)
                    foreach (var k in keys)
                    {
                        if (!string.Equals(k.Parent, parent.Table, StringComparison.OrdinalIgnoreCase)) continue;
                        if (!string.Equals(k.To ?? parent.Column, parent.Column, StringComparison.OrdinalIgnoreCase)) continue;
                        if (found.ContainsKey(k.Child) || string.Equals(k.Child, "trace_info", StringComparison.OrdinalIgnoreCase)) continue;
                        bool cascades = parent.Cascades && string.Equals(k.OnDelete, "CASCADE", StringComparison.OrdinalIgnoreCase);
                        found[k.Child] = new Member(k.Child, k.From, parent.Depth + 1, cascades);
                        next.Add((k.Child, k.From, parent.Depth + 1, cascades));
                    }
                frontier = next;
            }
            // A child table the layout has but no foreign key ties to trace_info: nothing takes its rows along.
            foreach (var table in store.Layout.TraceChildTables)
                if (!found.ContainsKey(table) && KnownColumns.TryGetValue(table, out var column))
                    found[table] = new Member(table, column, table.StartsWith("span_", StringComparison.Ordinal) ? 2 : 1, cascades: false);
            return new TraceFamily(found.Values.OrderBy(m => m.Depth).ThenBy(m => m.Table, StringComparer.Ordinal).ToList());
        }
    }
}
