using MlTraces.Core.Json;
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MlTraces.Core.Query
{
    /// <summary>The fixed vocabulary of MLflow's trace search, in the order MLflow's source declares it (used in
    /// messages, which print these as Python sets).</summary>
    internal static class TraceSearchKeys
    {
        public static readonly string[] SearchAttributeKeys =
            { "request_id", "timestamp", "timestamp_ms", "execution_time", "execution_time_ms", "end_time", "end_time_ms",
              "status", "client_request_id", "name", "run_id", "prompt", "text" };
        public static readonly string[] OrderByAttributeKeys =
            { "experiment_id", "timestamp", "timestamp_ms", "execution_time", "execution_time_ms", "end_time", "end_time_ms",
              "status", "request_id", "name", "run_id" };
        public static readonly string[] NumericAttributes =
            { "timestamp_ms", "timestamp", "execution_time_ms", "execution_time", "end_time_ms", "end_time" };
        public static readonly string[] InListAttributes = { "name", "status", "request_id", "run_id", "client_request_id" };
        public static readonly string[] Identifiers =
            { "tag", "request_metadata", "attribute", "span", "feedback", "expectation", "issue", "tags", "attributes", "trace", "metadata" };

        public static readonly string[] TagComparators = { "!=", "=", "LIKE", "ILIKE", "RLIKE", "IS NULL", "IS NOT NULL" };
        public static readonly string[] MetadataComparators = TagComparators;
        public static readonly string[] AssessmentComparators = TagComparators;
        public static readonly string[] StringAttributeComparators = { "!=", "=", "IN", "NOT IN", "LIKE", "ILIKE", "RLIKE" };
        public static readonly string[] SpanComparators = StringAttributeComparators;
        public static readonly string[] NumericComparators = { ">", ">=", "!=", "=", "<", "<=" };
        public static readonly string[] SpanContentComparators = { "LIKE", "ILIKE" };
        public static readonly string[] IssueComparators = { "=" };
        public static readonly string[] NumericAssessmentComparators = { ">", ">=", "<", "<=" };
        public static readonly string[] SpanColumns = { "name", "type", "status" };

        public const string TraceNameTag = "mlflow.traceName";
        public const string LinkedPromptsTag = "mlflow.linkedPrompts";
        public const string SourceRunMetadata = "mlflow.sourceRun";
        public const string SessionMetadata = "mlflow.trace.session";
        public const string TokenUsageMetadata = "mlflow.trace.tokenUsage";
        public const string CostMetadata = "mlflow.trace.cost";
        /// <summary>What MLflow allows on the token usage and cost metadata, which today's schema holds in columns
        /// and compares whole (mlflow/store/tracking/utils/trace_analytics.py, get_trace_analytics_metadata_filter).</summary>
        public static readonly string[] ReservedMetadataComparators = { "=", "!=", "IS NULL", "IS NOT NULL" };

        public static bool IsNumeric(string key) => Array.IndexOf(NumericAttributes, key) >= 0;

        /// <summary>MLflow's second step after parsing: keys that stand for a tag, metadata, span content or a
        /// column alias. It applies to every entity but span, so tag.name and feedback.run_id map too.</summary>
        public static void MapKey(ref string type, ref string key)
        {
            if (type == "span") return;
            switch (key.ToLowerInvariant())
            {
                case "name": type = "tag"; key = TraceNameTag; break;
                case "prompt": type = "tag"; key = LinkedPromptsTag; break;
                case "run_id": type = "request_metadata"; key = SourceRunMetadata; break;
                case "text": type = "span"; key = "content"; break;
                case "timestamp": key = "timestamp_ms"; break;
                case "execution_time": key = "execution_time_ms"; break;
                case "end_time": key = "end_time_ms"; break;
            }
        }

        /// <summary>The entity type a prefix names (with MLflow's aliases), or throws MLflow's error.</summary>
        public static string EntityType(string prefix)
        {
            string t = TrimBackticks(prefix);
            switch (t)
            {
                case "tag": case "tags": return "tag";
                case "attribute": case "attributes": case "trace": return "attribute";
                case "request_metadata": case "metadata": return "request_metadata";
                case "span": case "feedback": case "expectation": case "issue": return t;
            }
            throw new InvalidParameterException($"Invalid entity type '{UserText.Shorten(t)}'. Valid values are {PyRepr.Set(Identifiers)}");
        }

        public static bool IsQuoted(string v, char q) => v.Length >= 2 && v[0] == q && v[v.Length - 1] == q;
        public static string TrimBackticks(string v) => IsQuoted(v, '`') ? v.Substring(1, v.Length - 2) : v;
        public static string StripQuotes(string v) =>
            IsQuoted(v, '\'') || IsQuoted(v, '"') ? v.Substring(1, v.Length - 2) : v;

        /// <summary>Splits "prefix.key" on the first dot (a bare key is an attribute) and checks attribute keys.</summary>
        public static (string Type, string Key) Identifier(string identifier, string[] validAttributes)
        {
            int dot = identifier.IndexOf('.');
            string type = dot < 0 ? "attribute" : EntityType(identifier.Substring(0, dot));
            string key = TrimBackticks(StripQuotes(dot < 0 ? identifier : identifier.Substring(dot + 1)));
            if (type == "attribute" && Array.IndexOf(validAttributes, key) < 0)
                throw new InvalidParameterException(
                    $"Invalid attribute key '{UserText.Shorten(key)}' specified. Valid keys are '{PyRepr.Set(validAttributes)}'");
            return (type, key);
        }
    }

    /// <summary>
    /// Parses an MLflow trace filter string (e.g. <c>status = 'OK' AND tag.env = "prod"</c>) into AND-ed clauses,
    /// accepting exactly what MLflow accepts and failing with MLflow's messages. Checks that MLflow makes while
    /// building SQL (comparators per field kind, prompt values, span keys) are made here too, in MLflow's order:
    /// first every clause is read, then each is checked, so the first error reported is the one MLflow reports.
    /// </summary>
    public static class FilterParser
    {
        private sealed class RawClause
        {
            public string Type = "", Key = "", Comparator = "", Text = "";
            public object? Value;
        }

        /// <summary>Bounds on a filter, checked before it is parsed further or reaches SQL. MLflow's own parser
        /// (sqlparse) stops grouping past 100 levels and 10,000 tokens; SQLite refuses an expression tree deeper than
        /// 1,000 (an AND chain is as deep as it is long), PostgreSQL more than 65,535 parameters. The limits sit well
        /// inside all of these, and far above any filter a person or a script writes. Comparisons stop at 100: on
        /// PostgreSQL each tag comparison is a semi-join, and planning grows with their square (80 took 0.6 s to plan,
        /// 500 did not finish in 15 minutes).</summary>
        public const int MaxLength = 100_000;
        public const int MaxComparisons = 100;
        public const int MaxNesting = 100;
        public const int MaxTokens = 10_000;

        /// <summary>Parses as MLflow's parser before numeric assessment comparators.</summary>
        public static IReadOnlyList<FilterClause> Parse(string? filter) => Parse(filter, numericAssessments: false);

        /// <param name="numericAssessments">Also take feedback.x / expectation.x compared with a number by &gt; &gt;= &lt; &lt;=
        /// (MLflow's NUMERIC_ASSESSMENT_COMPARATORS), which only stores with MLflow's analytics columns can answer
        /// (<see cref="FilterCompiler"/> refuses them elsewhere as <see cref="Parse(string?)"/> does).</param>
        public static IReadOnlyList<FilterClause> Parse(string? filter, bool numericAssessments)
        {
            if (string.IsNullOrEmpty(filter)) return Array.Empty<FilterClause>();
            string text = filter!;
            if (text.Length > MaxLength)
                throw new InvalidParameterException(
                    $"Invalid filter string: it is {text.Length:N0} characters long, and MlTraces takes filters of up to {MaxLength:N0} characters. Split the search into several.");
            var lexed = FilterLexer.Lex(text);
            CheckNesting(lexed);
            var statements = FilterLexer.SplitStatements(lexed);
            if (statements.Count > 1)
                throw new InvalidParameterException(
                    $"Search filter contained multiple expression {PyRepr.Str(UserText.Shorten(text))}. Provide AND-ed expression list.");
            var tokens = FilterLexer.Group(statements[0], text).Where(t => !t.IsWhitespace).ToList();
            var joined = JoinClauses(tokens, text);
            var invalid = joined.Where(t => t.Kind != TokenKind.Comparison && !t.IsKeyword("AND")).ToList();
            if (invalid.Count > 0)
                throw new InvalidParameterException(
                    "Invalid clause(s) in filter string: " + string.Join(", ", invalid.Select(t => "'" + UserText.Shorten(t.Text, 100) + "'")));

            int comparisons = joined.Count(t => t.Kind == TokenKind.Comparison);
            if (comparisons > MaxComparisons)
                throw new InvalidParameterException(
                    $"Invalid filter string: it has {comparisons:N0} comparisons, and MlTraces takes up to {MaxComparisons:N0} AND-ed comparisons in one filter. Split the search into several, or use IN (...) for a list of values.");
            var raw = joined.Where(t => t.Kind == TokenKind.Comparison).Select(t => ReadComparison(t, numericAssessments)).ToList();
            var clauses = new List<FilterClause>();
            foreach (var r in raw)
            {
                string type = r.Type, key = r.Key;
                TraceSearchKeys.MapKey(ref type, ref key);
                string comparator = r.Comparator.ToUpperInvariant();
                clauses.Add(Check(type, key, comparator, r.Value, r.Text));
            }
            // MLflow would hand a list to a single-value comparison and fail inside the database driver.
            foreach (var c in clauses)
                if (c.Value is IReadOnlyList<string> && c.Comparator != "IN" && c.Comparator != "NOT IN")
                    throw new InvalidParameterException(
                        $"Invalid filter clause '{UserText.Shorten(c.Text)}': a list of values can only be compared with IN or NOT IN.");
            return clauses;
        }

        /// <summary>Parentheses nested deeper than <see cref="MaxNesting"/>, and more than <see cref="MaxTokens"/> words
        /// and signs outside parentheses, are refused before they are grouped (which takes time in proportion to
        /// depth, or tokens, times length).</summary>
        private static void CheckNesting(List<Token> tokens)
        {
            int depth = 0, topLevel = 0;
            foreach (var t in tokens)
            {
                if (t.IsPunct("(") && ++depth > MaxNesting)
                    throw new InvalidParameterException(
                        $"Invalid filter string: parentheses are nested more than {MaxNesting} deep (at character {t.Start + 1:N0}).");
                if (t.IsPunct(")") && depth > 0) depth--;
                if (depth == 0 && !t.IsWhitespace && ++topLevel > MaxTokens)
                    throw new InvalidParameterException(
                        $"Invalid filter string: it has more than {MaxTokens:N0} words and signs; MlTraces takes up to {MaxComparisons:N0} AND-ed comparisons in one filter. Split the search into several.");
            }
        }

        /// <summary>Forms the clauses sqlparse leaves as loose tokens: <c>x IN (...)</c>, <c>x NOT IN (...)</c>,
        /// <c>x IS [NOT] NULL</c> and the bare built-in <c>timestamp</c> compared with an integer. Tokens are taken
        /// in the same runs MLflow takes them, so what is left over (and reported) is what MLflow reports.</summary>
        private static List<Token> JoinClauses(List<Token> t, string source)
        {
            var output = new List<Token>();
            int n = t.Count, i = 0;
            while (i < n)
            {
                var first = t[i];
                if (n - i < 3) { output.AddRange(t.Skip(i)); break; }
                if (first.Kind == TokenKind.Builtin && first.Text == "timestamp")
                {
                    Token second = t[i + 1], third = t[i + 2];
                    i += 3;
                    if (second.Kind == TokenKind.ComparisonOp && TraceSearchKeys.NumericComparators.Contains(second.Text)
                        && third.Kind == TokenKind.Integer)
                    {
                        output.Add(Clause(first, second, third, third, source));
                        continue;
                    }
                    // MLflow keeps the three tokens and then also reports the first one again.
                    output.Add(first); output.Add(second); output.Add(third); output.Add(first);
                    continue;
                }
                if (first.Kind != TokenKind.Identifier) { output.Add(first); i++; continue; }
                Token op = t[i + 1], arg = t[i + 2];
                if (op.IsKeyword("IN") && arg.Kind == TokenKind.Parenthesis) { output.Add(Clause(first, op, arg, arg, source)); i += 3; continue; }
                if (op.IsKeyword("IS") && arg.IsKeyword("NULL"))
                {
                    output.Add(Clause(first, new Token(TokenKind.Keyword, "IS NULL", op.Start), null, arg, source)); i += 3; continue;
                }
                if (op.IsKeyword("IS") && arg.Kind == TokenKind.Keyword && arg.Text.ToUpperInvariant() == "NOT NULL")
                {
                    output.Add(Clause(first, new Token(TokenKind.Keyword, "IS NOT NULL", op.Start), null, arg, source)); i += 3; continue;
                }
                if (i + 3 >= n) { output.Add(first); output.Add(op); output.Add(arg); break; }
                var fourth = t[i + 3];
                if (op.IsKeyword("NOT") && arg.IsKeyword("IN") && fourth.Kind == TokenKind.Parenthesis)
                {
                    output.Add(Clause(first, new Token(TokenKind.Keyword, "NOT IN", op.Start), fourth, fourth, source)); i += 4; continue;
                }
                output.Add(first); output.Add(op); output.Add(arg); output.Add(fourth);
                i += 4;
            }
            return output;
        }

        private static Token Clause(Token left, Token op, Token? right, Token last, string source)
        {
            var parts = right == null ? new List<Token> { left, op } : new List<Token> { left, op, right };
            string text = source.Substring(left.Start, last.Start + last.Text.Length - left.Start);
            return new Token(TokenKind.Comparison, text, left.Start, parts);
        }

        private static RawClause ReadComparison(Token comparison, bool numericAssessments)
        {
            var p = comparison.Parts;
            if (p.Count == 2)
            {
                var (t2, k2) = TraceSearchKeys.Identifier(p[0].Text, TraceSearchKeys.SearchAttributeKeys);
                return new RawClause { Type = t2, Key = k2, Comparator = p[1].Text.ToUpperInvariant(), Value = null, Text = comparison.Text };
            }
            bool builtinTimestamp = p.Count == 3 && p[0].Kind == TokenKind.Builtin;
            if (!builtinTimestamp)
            {
                if (p.Count != 3)
                    throw new InvalidParameterException($"Invalid comparison clause. Expected 3 tokens found {p.Count}");
                if (p[0].Kind != TokenKind.Identifier)
                    throw new InvalidParameterException($"Invalid comparison clause. Expected 'Identifier' found '{UserText.Shorten(p[0].Text)}'");
            }
            var (type, key) = TraceSearchKeys.Identifier(p[0].Text, TraceSearchKeys.SearchAttributeKeys);
            var clause = new RawClause { Type = type, Key = key, Comparator = p[1].Text, Text = comparison.Text };
            clause.Value = ReadValue(type, key, p[2], numericAssessments ? clause.Comparator : null);
            // Span clauses are checked here, before the comparator is upper-cased: `span.name like 'x'` fails.
            if (type == "span") CheckSpan(key, clause.Comparator);
            return clause;
        }

        private static object ReadValue(string type, string key, Token token, string? numericComparator)
        {
            bool isString = token.Kind == TokenKind.StringSingle || token.Kind == TokenKind.Identifier;
            bool isList = token.Kind == TokenKind.Parenthesis;
            bool isNumber = token.Kind == TokenKind.Integer || token.Kind == TokenKind.Float;
            string expected = $"Expected a quoted string value for {type} (e.g. 'my-value'). Got value {token.Text}";
            switch (type)
            {
                case "attribute":
                    if (isString) return Unquote(token.Text);
                    if (isList)
                    {
                        if (Array.IndexOf(TraceSearchKeys.InListAttributes, key) < 0)
                            throw new InvalidParameterException(
                                $"Only attributes in {PyRepr.Set(TraceSearchKeys.InListAttributes)} supports comparison with a list of quoted string values.");
                        return ReadList(token.Text);
                    }
                    if (isNumber)
                    {
                        if (!TraceSearchKeys.IsNumeric(key))
                            throw new InvalidParameterException(
                                $"Only the '{PyRepr.Set(TraceSearchKeys.NumericAttributes)}' attributes support comparison with numeric values.");
                        return ReadNumber(token);
                    }
                    throw new InvalidParameterException(
                        $"Expected a quoted string value or a list of quoted string values for attributes. Got value {token.Text}");
                case "tag":
                case "span":
                    if (isString) return Unquote(token.Text);
                    if (isList) return ReadList(token.Text);
                    throw new InvalidParameterException(expected);
                case "feedback":
                case "expectation":
                    if (isString) return Unquote(token.Text);
                    // feedback.score >= 4: a number with a numeric comparator. The compiler compares it on MLflow's
                    // aggregate_value where the store has that column, and refuses it elsewhere with this message.
                    if (isNumber && Array.IndexOf(TraceSearchKeys.NumericAssessmentComparators, numericComparator) >= 0) return ReadNumber(token);
                    throw new InvalidParameterException(expected);
                default: // request_metadata, issue
                    if (isString) return Unquote(token.Text);
                    throw new InvalidParameterException(expected);
            }
        }

        /// <summary>Values lose their outer quotes and nothing else ('it''s' stays it''s), as in MLflow.</summary>
        private static string Unquote(string text)
        {
            if (TraceSearchKeys.IsQuoted(text, '\'') || TraceSearchKeys.IsQuoted(text, '"')) return text.Substring(1, text.Length - 2);
            throw new InvalidParameterException(
                $"Parameter value is either not quoted or unidentified quote types used for string value {text}. Use either single or double quotes.");
        }

        private static object ReadNumber(Token token)
        {
            if (token.Kind == TokenKind.Integer && long.TryParse(token.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
                return l;
            return double.Parse(token.Text, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        private static IReadOnlyList<string> ReadList(string text)
        {
            var items = PyLiteral.ParseTuple(text);
            if (items == null)
                throw new InvalidParameterException(
                    "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.");
            if (items.Count == 0)
                throw new InvalidParameterException(
                    "While parsing a list in the query, expected a non-empty list of string values, but got empty list");
            if (items.Any(i => !(i is string)))
                throw new InvalidParameterException(
                    $"While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: {PyLiteral.TupleRepr(items)}");
            return items.Cast<string>().ToList();
        }

        private static void CheckSpan(string key, string comparator)
        {
            const string attrs = "attributes.";
            string[] allowed;
            if (key.StartsWith(attrs, StringComparison.Ordinal))
            {
                if (key.Length == attrs.Length)
                    throw new InvalidParameterException("Span attribute name cannot be empty after 'attributes.'");
                allowed = TraceSearchKeys.SpanComparators;
            }
            else if (Array.IndexOf(TraceSearchKeys.SpanColumns, key) >= 0) allowed = TraceSearchKeys.SpanComparators;
            else if (key == "content") allowed = TraceSearchKeys.SpanContentComparators;
            else
                throw new InvalidParameterException(
                    $"Invalid span attribute '{key}'. Supported attributes: name, status, type, attributes.<attribute_name>.");
            if (Array.IndexOf(allowed, comparator) < 0)
                throw new InvalidParameterException($"span.{key} comparator '{comparator}' not one of '{PyRepr.Set(allowed)}'");
        }

        /// <summary>The checks MLflow makes while turning a parsed clause into SQL.</summary>
        private static FilterClause Check(string type, string key, string comparator, object? value, string text)
        {
            FilterEntity entity;
            switch (type)
            {
                case "issue":
                    if (key != "id")
                        throw new InvalidParameterException($"Invalid issue attribute '{UserText.Shorten(key)}'. Supported attributes: id");
                    Require(comparator, TraceSearchKeys.IssueComparators, $"issue.{key} comparator '{comparator}' not one of '{{0}}'");
                    entity = FilterEntity.Issue;
                    break;
                case "attribute":
                    // MLflow's message for numeric attributes names the string set and lacks the closing quote.
                    if (TraceSearchKeys.IsNumeric(key))
                        Require(comparator, TraceSearchKeys.NumericComparators, $"Invalid comparator '{comparator}' not one of '{PyRepr.Set(TraceSearchKeys.StringAttributeComparators)}");
                    else
                        Require(comparator, TraceSearchKeys.StringAttributeComparators, $"Invalid comparator '{comparator}' not one of '{{0}}'");
                    entity = FilterEntity.Attribute;
                    break;
                case "request_metadata":
                    Require(comparator, TraceSearchKeys.MetadataComparators, $"Invalid comparator '{comparator}' not one of '{{0}}'");
                    // MLflow of today refuses a pattern on them on every store it opens (its upgrade gives every store
                    // the columns); so does MlTraces, on every layout, so a filter means one thing everywhere.
                    if ((key == TraceSearchKeys.TokenUsageMetadata || key == TraceSearchKeys.CostMetadata)
                        && Array.IndexOf(TraceSearchKeys.ReservedMetadataComparators, comparator) < 0)
                        throw new InvalidParameterException(
                            $"Comparator '{comparator}' is not supported for reserved metadata '{key}'. Only '=', '!=', 'IS NULL', and 'IS NOT NULL' are supported.");
                    entity = FilterEntity.Metadata;
                    break;
                case "tag":
                    Require(comparator, TraceSearchKeys.TagComparators, $"Invalid comparator '{comparator}' not one of '{{0}}");
                    if (key == TraceSearchKeys.LinkedPromptsTag)
                    {
                        if (comparator != "=")
                            throw new InvalidParameterException(
                                $"Invalid comparator '{comparator}' for prompts filter. Only '=' is supported with format: prompt = \"name/version\"");
                        string shown = value is IReadOnlyList<string> l ? PyRepr.List(l) : value as string ?? "";
                        if (!(value is string s) || s.Count(c => c == '/') != 1)
                            throw new InvalidParameterException(
                                $"Invalid prompts filter value '{shown}'. Expected format: prompt = \"name/version\"");
                    }
                    entity = FilterEntity.Tag;
                    break;
                case "span":
                    CheckSpan(key, comparator);
                    entity = FilterEntity.Span;
                    break;
                case "feedback":
                case "expectation":
                    if (key.Length == 0) throw new InvalidParameterException("Assessment field name cannot be empty");
                    if (!(value is long || value is double))
                        Require(comparator, TraceSearchKeys.AssessmentComparators, $"assessment.{key} comparator '{comparator}' not one of '{{0}}'");
                    entity = type == "feedback" ? FilterEntity.Feedback : FilterEntity.Expectation;
                    break;
                default:
                    throw new InvalidParameterException($"Invalid search expression type '{type}'");
            }
            return new FilterClause(entity, key, comparator, value, text);
        }

        /// <summary>A feedback/expectation clause that compares a number (see <see cref="Parse(string?, bool)"/>).</summary>
        public static bool IsNumericAssessment(FilterClause c) =>
            (c.Entity == FilterEntity.Feedback || c.Entity == FilterEntity.Expectation) && (c.Value is long || c.Value is double);

        private static void Require(string comparator, string[] allowed, string messageFormat)
        {
            if (Array.IndexOf(allowed, comparator) < 0)
                throw new InvalidParameterException(messageFormat.Replace("{0}", PyRepr.Set(allowed)));
        }
    }
}
