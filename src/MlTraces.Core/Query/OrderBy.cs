using MlTraces.Core.Json;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using MlTraces.Core.Store;

namespace MlTraces.Core.Query
{
    public enum OrderEntity
    {
        /// <summary>A trace_info column: experiment_id, timestamp_ms, execution_time_ms, end_time_ms, status, request_id.</summary>
        Attribute,
        Tag,
        Metadata,
    }

    /// <summary>One ORDER BY term; <c>name</c> and <c>run_id</c> arrive as the tag mlflow.traceName and the
    /// metadata mlflow.sourceRun, aliases (timestamp, execution_time, end_time) as their column names.</summary>
    public sealed class OrderTerm
    {
        public OrderTerm(OrderEntity entity, string key, bool ascending)
        {
            Entity = entity; Key = key; Ascending = ascending;
        }

        public OrderEntity Entity { get; }
        public string Key { get; }
        public bool Ascending { get; }

        public override string ToString() => (Entity == OrderEntity.Attribute ? "" : Entity.ToString().ToLowerInvariant() + ".") + Key + (Ascending ? " ASC" : " DESC");
    }

    /// <summary>Parses MLflow's order_by list ("key [ASC|DESC]" items) and appends MLflow's tie-breakers.</summary>
    public static class OrderByParser
    {
        public static IReadOnlyList<OrderTerm> Parse(IReadOnlyList<string>? orderBy)
        {
            var terms = new List<OrderTerm>();
            var seen = new HashSet<string>();
            if (orderBy != null)
            {
                foreach (string clause in orderBy)
                {
                    var (type, key, ascending) = ParseOne(clause);
                    TraceSearchKeys.MapKey(ref type, ref key);
                    OrderEntity entity;
                    switch (type)
                    {
                        case "attribute": entity = OrderEntity.Attribute; break;
                        case "tag": entity = OrderEntity.Tag; break;
                        case "request_metadata": entity = OrderEntity.Metadata; break;
                        default: throw new InvalidParameterException($"Invalid identifier type '{UserText.Shorten(type)}'");
                    }
                    if (!seen.Add(type + "\u0000" + key))
                        throw new InvalidParameterException($"`order_by` contains duplicate fields: {UserText.Shorten(PyRepr.List(orderBy), 500)}");
                    terms.Add(new OrderTerm(entity, key, ascending));
                }
            }
            // MLflow's default order and tie-breakers: newest first, then trace id.
            if (!seen.Contains("attribute\u0000timestamp_ms")) terms.Add(new OrderTerm(OrderEntity.Attribute, "timestamp_ms", false));
            if (!seen.Contains("attribute\u0000request_id")) terms.Add(new OrderTerm(OrderEntity.Attribute, "request_id", true));
            return terms;
        }

        /// <summary>True for MLflow's default order, timestamp_ms DESC then request_id ASC.</summary>
        public static bool IsDefault(IReadOnlyList<OrderTerm> terms) =>
            terms.Count == 2
            && terms[0].Entity == OrderEntity.Attribute && terms[0].Key == "timestamp_ms" && !terms[0].Ascending
            && terms[1].Entity == OrderEntity.Attribute && terms[1].Key == "request_id" && terms[1].Ascending;

        private static (string Type, string Key, bool Ascending) ParseOne(string clause)
        {
            string unparsable = $"Invalid order_by clause '{UserText.Shorten(clause)}'. Could not be parsed.";
            string? token = SingleToken(clause ?? "");
            if (token == null) throw new InvalidParameterException(unparsable);
            // MLflow splits the clause like a shell would, with backticks read as double quotes.
            var words = ShlexSplit(token.Replace('`', '"'));
            if (words == null || words.Count > 2 || words.Count == 0) throw new InvalidParameterException(unparsable);
            bool ascending = true;
            if (words.Count == 2)
            {
                string direction = words[1].ToLowerInvariant();
                if (direction != "asc" && direction != "desc")
                    throw new InvalidParameterException($"Invalid ordering key in order_by clause '{UserText.Shorten(clause)}'.");
                ascending = direction == "asc";
            }
            var (type, key) = TraceSearchKeys.Identifier(words[0].Trim(), TraceSearchKeys.OrderByAttributeKeys);
            return (type, key, ascending);
        }

        /// <summary>The clause when sqlparse reads it as one name (with an optional direction or alias word), or as
        /// the built-in <c>timestamp</c> with an optional direction; otherwise null.</summary>
        private static string? SingleToken(string clause)
        {
            var tokens = FilterLexer.Lex(clause);
            if (tokens.Count == 0 || FilterLexer.SplitStatements(tokens).Count != 1) return null;
            var first = tokens[0];
            if (first.Kind == TokenKind.Builtin && first.Text == "timestamp")
            {
                if (tokens.Count == 1) return "timestamp";
                var last = tokens[tokens.Count - 1];
                for (int i = 1; i < tokens.Count - 1; i++) if (!tokens[i].IsWhitespace) return null;
                return tokens.Count >= 3 && last.Kind == TokenKind.Order ? "timestamp " + last.Text : null;
            }
            if (first.Kind != TokenKind.Name && first.Kind != TokenKind.StringSymbol) return null;
            int n = 1;
            // The dotted name.
            while (n + 1 < tokens.Count && tokens[n].IsPunct(".")
                   && (tokens[n + 1].Kind == TokenKind.Name || tokens[n + 1].Kind == TokenKind.StringSymbol || tokens[n + 1].Kind == TokenKind.StringSingle))
                n += 2;
            // Words after it (a direction, or what sqlparse takes for an alias).
            while (n + 1 < tokens.Count && tokens[n].IsWhitespace && IsWord(tokens[n + 1])) n += 2;
            return n == tokens.Count ? clause : null;
        }

        private static bool IsWord(Token t) =>
            t.Kind == TokenKind.Name || t.Kind == TokenKind.StringSymbol || t.Kind == TokenKind.Order || t.IsKeyword("AS");

        /// <summary>Python's shlex.split (POSIX mode, no comments); null where shlex raises.</summary>
        internal static List<string>? ShlexSplit(string s)
        {
            var words = new List<string>();
            var cur = new StringBuilder();
            bool inWord = false;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                {
                    if (inWord) { words.Add(cur.ToString()); cur.Clear(); inWord = false; }
                    continue;
                }
                inWord = true;
                if (c == '\\')
                {
                    if (++i >= s.Length) return null;
                    cur.Append(s[i]);
                }
                else if (c == '\'')
                {
                    int end = s.IndexOf('\'', i + 1);
                    if (end < 0) return null;
                    cur.Append(s, i + 1, end - i - 1);
                    i = end;
                }
                else if (c == '"')
                {
                    for (i++; ; i++)
                    {
                        if (i >= s.Length) return null;
                        if (s[i] == '"') break;
                        if (s[i] == '\\' && i + 1 < s.Length && (s[i + 1] == '"' || s[i + 1] == '\\')) i++;
                        cur.Append(s[i]);
                    }
                }
                else cur.Append(c);
            }
            if (inWord) words.Add(cur.ToString());
            return words;
        }
    }

    /// <summary>The SQL for an order: LEFT JOINs for tag and metadata keys and the ORDER BY text over alias ti.</summary>
    public sealed class CompiledOrder
    {
        public CompiledOrder(string joins, string orderBy, bool isDefault)
        {
            Joins = joins; OrderBy = orderBy; IsDefault = isDefault;
        }

        /// <summary>Zero or more " LEFT JOIN ..." clauses (each starting with a space).</summary>
        public string Joins { get; }
        /// <summary>"ORDER BY ...".</summary>
        public string OrderBy { get; }
        /// <summary>timestamp_ms DESC, request_id ASC: the order of MLflow's index walk per experiment.</summary>
        public bool IsDefault { get; }
    }

    public static class OrderCompiler
    {
        public static CompiledOrder Compile(IReadOnlyList<OrderTerm> terms, StoreLayout layout, SqlDialect dialect, SqlParameters parameters)
        {
            var joins = new StringBuilder();
            var items = new List<string>();
            for (int i = 0; i < terms.Count; i++)
            {
                var term = terms[i];
                string expr;
                bool nullable;
                switch (term.Entity)
                {
                    case OrderEntity.Attribute:
                        expr = Column(term.Key, out nullable);
                        break;
                    // On MLflow's analytics layout (75868b020152) the name and the session are trace_info columns.
                    case OrderEntity.Tag when term.Key == TraceAnalytics.TraceNameTag && layout.HasPromotedColumn(TraceAnalytics.TraceNameColumn):
                        expr = "ti.trace_name";
                        nullable = true;
                        break;
                    case OrderEntity.Metadata when term.Key == TraceAnalytics.SessionMetadata && layout.HasPromotedColumn(TraceAnalytics.SessionColumn):
                        expr = "ti.session_id";
                        nullable = true;
                        break;
                    default:
                        string table = term.Entity == OrderEntity.Tag ? "trace_tags" : "trace_request_metadata";
                        string alias = "o" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        // The key is the table's primary key with request_id, so the join adds at most one row.
                        joins.Append($" LEFT JOIN {table} {alias} ON {alias}.request_id = ti.request_id AND {alias}.\"key\" = {parameters.Add(term.Key)}");
                        expr = alias + ".value";
                        nullable = true;
                        break;
                }
                // MLflow puts NULLs last in both directions (CASE first); columns that cannot be NULL skip it.
                if (nullable) items.Add($"CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END");
                items.Add(expr + (term.Ascending ? " ASC" : " DESC"));
            }
            return new CompiledOrder(joins.ToString(), "ORDER BY " + string.Join(", ", items), OrderByParser.IsDefault(terms));
        }

        private static string Column(string key, out bool nullable)
        {
            nullable = false;
            switch (key)
            {
                case "experiment_id": return "ti.experiment_id";
                case "timestamp_ms": return "ti.timestamp_ms";
                case "status": return "ti.status";
                case "request_id": return "ti.request_id";
                case "execution_time_ms": nullable = true; return "ti.execution_time_ms";
                // MLflow validates end_time but has no such column; the sum is what the name means.
                case "end_time_ms": nullable = true; return "(ti.timestamp_ms + ti.execution_time_ms)";
            }
            throw new InvalidParameterException($"Invalid order_by attribute '{UserText.Shorten(key)}'");
        }
    }
}
