using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace MlTraces.Core.Query
{
    internal enum TokenKind
    {
        Whitespace, Newline, Comment, Name, Keyword, Builtin, Order, StringSingle, StringSymbol, Integer, Float, Hex,
        ComparisonOp, Punctuation, Operator, Other, Error,
        // Groups built on top of the tokens above.
        Identifier, Parenthesis, Comparison, IdentifierList,
    }

    internal sealed class Token
    {
        public TokenKind Kind { get; }
        /// <summary>The text exactly as written (for groups: the whole span of the input they cover).</summary>
        public string Text { get; }
        public int Start { get; }
        /// <summary>For a Comparison: its parts without whitespace (left, operator, right).</summary>
        public IReadOnlyList<Token> Parts { get; }

        public Token(TokenKind kind, string text, int start, IReadOnlyList<Token>? parts = null)
        {
            Kind = kind; Text = text; Start = start; Parts = parts ?? Array.Empty<Token>();
        }

        public bool IsWhitespace => Kind == TokenKind.Whitespace || Kind == TokenKind.Newline;
        public bool IsKeyword(string upper) => (Kind == TokenKind.Keyword || Kind == TokenKind.Order) && Normalized == upper;
        /// <summary>Keywords compare case-insensitively, with runs of whitespace inside them kept (as sqlparse does).</summary>
        public string Normalized => Kind == TokenKind.Keyword || Kind == TokenKind.Order ? Text.ToUpperInvariant() : Text;
        public bool IsPunct(string p) => Kind == TokenKind.Punctuation && Text == p;
        public override string ToString() => Text;
    }

    /// <summary>
    /// Splits a filter the way MLflow's parser (sqlparse) does, as far as the trace filter language can tell the
    /// difference: which words are names, keywords or SQL type names, how strings, numbers, comments and
    /// statements are cut, and how names, parentheses and comparisons are grouped. The rules and their order
    /// follow sqlparse's lexer table; only rules that matter for filters are kept.
    /// </summary>
    internal static class FilterLexer
    {
        private const RegexOptions Opts = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;
        // sqlparse's [A-ZÀ-Ü] with re.IGNORECASE.
        private const string Letter = "[A-ZÀ-Ü]";

        private static readonly (Regex Rx, TokenKind Kind)[] Rules =
        {
            (R(@"(--|\# ).*?(\r\n|\r|\n|$)"), TokenKind.Comment),
            (R(@"/\*[\s\S]*?\*/"), TokenKind.Comment),
            (R(@"(\r\n|\r|\n)"), TokenKind.Newline),
            (R(@"[^\S\r\n]+"), TokenKind.Whitespace),
            (R(@":="), TokenKind.Other),
            (R(@"::"), TokenKind.Punctuation),
            (R(@"\*"), TokenKind.Other),
            (R(@"`(``|[^`])*`"), TokenKind.Name),
            (R(@"´(´´|[^´])*´"), TokenKind.Name),
            (R(@"\?"), TokenKind.Other),
            (R(@"%(\(\w+\))?s"), TokenKind.Other),
            (R(@"(?<!\w)[$:?]\w+"), TokenKind.Other),
            (R(@"\\\w+"), TokenKind.Other),
            (R(@"(CASE|IN|VALUES|USING|FROM|AS)\b"), TokenKind.Keyword),
            (R(@"(@|\#\#|\#)" + Letter + @"\w+"), TokenKind.Name),
            // A word before or after a dot is a name even when it is a keyword (tag.key, span.type).
            (R(Letter + @"\w*(?=\s*\.)"), TokenKind.Name),
            (R(@"(?<=\.)" + Letter + @"\w*"), TokenKind.Name),
            (R(Letter + @"\w*(?=\()"), TokenKind.Name),
            (R(@"-?0x[\dA-F]+"), TokenKind.Hex),
            (R(@"-?\d+(\.\d+)?E-?\d+"), TokenKind.Float),
            (R(@"(?![_A-ZÀ-Ü])-?(\d+(\.\d*)|\.\d+)(?![_A-ZÀ-Ü])"), TokenKind.Float),
            (R(@"(?![_A-ZÀ-Ü])-?\d+(?![_A-ZÀ-Ü])"), TokenKind.Integer),
            (R(@"'(''|\\'|[^'])*'"), TokenKind.StringSingle),
            (R("\"(\"\"|\\\\\"|[^\"])*\""), TokenKind.StringSymbol),
            (R("(\"\"|\".*?[^\\\\]\")"), TokenKind.StringSymbol),
            (R(@"(?<![\w\])])(\[[^\]\[]+\])"), TokenKind.Name),
            (R(@"NOT\s+NULL\b"), TokenKind.Keyword),
            (R(@"NULLS\s+(FIRST|LAST)\b"), TokenKind.Keyword),
            (R(@"UNION\s+ALL\b"), TokenKind.Keyword),
            (R(@"GROUP\s+BY\b"), TokenKind.Keyword),
            (R(@"ORDER\s+BY\b"), TokenKind.Keyword),
            (R(@"(NOT\s+)?(LIKE|ILIKE|RLIKE)\b"), TokenKind.ComparisonOp),
            (R(@"(NOT\s+)?(REGEXP)\b"), TokenKind.ComparisonOp),
            (R(@"\w[$#\w]*"), WordRule), // looked up in the keyword lists
            (R(@"[;:()\[\],\.]"), TokenKind.Punctuation),
            (R(@"(\->>?|\#>>?|@>|<@|\?\|?|\?&|\-|\#\-)"), TokenKind.Operator),
            (R(@"[<>=~!]+"), TokenKind.ComparisonOp),
            (R(@"[+/@\#%^&|^-]+"), TokenKind.Operator),
        };

        private const TokenKind WordRule = (TokenKind)(-1);

        private static Regex R(string pattern) => new Regex(@"\G(?:" + pattern + ")", Opts);

        // Bare words sqlparse reads as SQL keywords or type names. A filter key spelled as one of these without a
        // prefix (e.g. `text`, `timestamp`) is not a name to sqlparse, which is why MLflow rejects `text LIKE ...`
        // but accepts `trace.text LIKE ...`. The list holds the common SQL words; sqlparse knows many more.
        private static readonly HashSet<string> Keywords = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "ALL", "ALTER", "AND", "ANY", "ARRAY", "BEGIN", "BETWEEN", "BY", "CASCADE", "CAST", "CHECK", "COLLATE",
            "COLUMN", "COMMIT", "CONSTRAINT", "CREATE", "CROSS", "CURRENT", "CURRENT_DATE", "CURRENT_TIME",
            "CURRENT_TIMESTAMP", "DATABASE", "DEFAULT", "DELETE", "DISTINCT", "DROP", "ELSE", "END", "ESCAPE",
            "EXCEPT", "EXEC", "EXECUTE", "EXISTS", "FALSE", "FETCH", "FOR", "FOREIGN", "FULL", "FUNCTION", "GRANT",
            "GROUP", "HAVING", "IF", "IGNORE", "INDEX", "INNER", "INSERT", "INTERSECT", "INTO", "IS", "ISSUE", "JOIN",
            "KEY", "LEFT", "LIMIT", "MERGE", "NATURAL", "NOT", "NULL", "OF", "OFFSET", "ON", "OR", "ORDER", "OUTER",
            "OVER", "PRIMARY", "PROCEDURE", "REFERENCES", "REPLACE", "RETURN", "RETURNING", "REVOKE", "RIGHT",
            "ROLLBACK", "ROW", "ROWS", "SELECT", "SESSION", "SET", "SOME", "TABLE", "THEN", "TO", "TRUE", "TRUNCATE",
            "TYPE", "UNION", "UNIQUE", "UPDATE", "USER", "VIEW", "WHEN", "WHERE", "WITH",
        };
        private static readonly HashSet<string> Builtins = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "BIGINT", "BINARY", "BIT", "BLOB", "BOOLEAN", "CHAR", "CHARACTER", "DATE", "DATETIME", "DEC", "DECIMAL",
            "FLOAT", "INT", "INT8", "INTEGER", "INTERVAL", "LONG", "NUMBER", "NUMERIC", "REAL", "SERIAL", "SMALLINT",
            "TEXT", "TIME", "TIMESTAMP", "TINYINT", "VARBINARY", "VARCHAR", "VARCHAR2",
        };

        private static readonly HashSet<string> StatementWords = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "CREATE", "DROP", "ALTER", "TRUNCATE", "WITH",
        };

        public static List<Token> Lex(string text)
        {
            var tokens = new List<Token>();
            int pos = 0;
            while (pos < text.Length)
            {
                bool matched = false;
                foreach (var (rx, kind) in Rules)
                {
                    var m = rx.Match(text, pos);
                    if (!m.Success || m.Length == 0) continue;
                    tokens.Add(new Token(kind == WordRule ? WordKind(m.Value) : kind, m.Value, pos));
                    pos += m.Length;
                    matched = true;
                    break;
                }
                if (!matched)
                {
                    tokens.Add(new Token(TokenKind.Error, text.Substring(pos, 1), pos));
                    pos++;
                }
            }
            return tokens;
        }

        private static TokenKind WordKind(string word)
        {
            string upper = word.ToUpperInvariant();
            if (upper == "ASC" || upper == "DESC") return TokenKind.Order;
            if (Builtins.Contains(upper)) return TokenKind.Builtin;
            if (Keywords.Contains(upper)) return TokenKind.Keyword;
            return TokenKind.Name;
        }

        /// <summary>Cuts the tokens into statements as sqlparse does: at a ';' outside parentheses, the spaces and
        /// line comments right after it staying with the statement it ends; a tail of only whitespace is no statement.</summary>
        public static List<List<Token>> SplitStatements(List<Token> tokens)
        {
            var statements = new List<List<Token>>();
            var current = new List<Token>();
            int level = 0;
            bool ended = false;
            foreach (var t in tokens)
            {
                bool lineComment = t.Kind == TokenKind.Comment && !t.Text.StartsWith("/*");
                if (ended && t.Kind != TokenKind.Whitespace && !lineComment)
                {
                    statements.Add(current);
                    current = new List<Token>();
                    level = 0;
                    ended = false;
                }
                if (t.IsPunct("(")) level++;
                else if (t.IsPunct(")") || t.IsKeyword("END")) level--;
                current.Add(t);
                if (level <= 0 && t.IsPunct(";")) ended = true;
            }
            if (current.Count > 0 && !current.TrueForAll(t => t.IsWhitespace)) statements.Add(current);
            if (statements.Count == 0) statements.Add(current);
            return statements;
        }

        /// <summary>Groups parentheses, dotted names and comparisons, as sqlparse's grouping does for these forms.</summary>
        public static List<Token> Group(List<Token> tokens, string text)
        {
            var list = GroupComments(tokens, text);
            list = GroupParentheses(list, text);
            list = GroupIdentifiers(list, text);
            list = GroupComparisons(list, text);
            list = GroupAliases(list, text);
            return GroupIdentifierLists(list, text);
        }

        /// <summary>A comment takes the comments and whitespace after it, unless nothing else follows.</summary>
        private static List<Token> GroupComments(List<Token> tokens, string text)
        {
            var result = new List<Token>();
            for (int i = 0; i < tokens.Count; i++)
            {
                if (tokens[i].Kind == TokenKind.Comment)
                {
                    int j = i + 1;
                    while (j < tokens.Count && (tokens[j].Kind == TokenKind.Comment || tokens[j].IsWhitespace)) j++;
                    if (j < tokens.Count && j - 1 > i)
                    {
                        result.Add(Span(TokenKind.Comment, tokens[i], tokens[j - 1], text));
                        i = j - 1;
                        continue;
                    }
                }
                result.Add(tokens[i]);
            }
            return result;
        }

        /// <summary>Commas join their neighbours into one list, as in a SELECT list.</summary>
        private static List<Token> GroupIdentifierLists(List<Token> tokens, string text)
        {
            // sqlparse compares exact token types here: SQL type names, ASC/DESC, DML/DDL words and comments do not count.
            bool Valid(Token t) =>
                t.Kind == TokenKind.Identifier || t.Kind == TokenKind.Comparison || t.Kind == TokenKind.IdentifierList ||
                t.Kind == TokenKind.Integer || t.Kind == TokenKind.Float || t.Kind == TokenKind.StringSingle ||
                t.Kind == TokenKind.StringSymbol || t.Kind == TokenKind.Name || (t.Kind == TokenKind.Other && t.Text == "*") ||
                (t.Kind == TokenKind.Keyword && !StatementWords.Contains(t.Text));
            var result = new List<Token>(tokens);
            for (int i = 0; i < result.Count; i++)
            {
                if (!result[i].IsPunct(",")) continue;
                int prev = PrevNonWhitespace(result, i - 1), next = NextNonWhitespace(result, i + 1);
                if (prev < 0 || next < 0 || !Valid(result[prev]) || !Valid(result[next])) continue;
                var group = Span(TokenKind.IdentifierList, result[prev], result[next], text);
                result.RemoveRange(prev, next - prev + 1);
                result.Insert(prev, group);
                i = prev;
            }
            return result;
        }

        /// <summary>sqlparse reads a name right after a parenthesis, name, comparison or number as an alias and
        /// merges both into one name: "foo bar", "a = 'x' b".</summary>
        private static List<Token> GroupAliases(List<Token> tokens, string text)
        {
            var result = new List<Token>(tokens);
            for (int i = 0; i < result.Count; i++)
            {
                var t = result[i];
                bool canHaveAlias = t.Kind == TokenKind.Parenthesis || t.Kind == TokenKind.Identifier || t.Kind == TokenKind.Comparison
                    || t.Kind == TokenKind.Integer || t.Kind == TokenKind.Float || t.Kind == TokenKind.Hex;
                if (!canHaveAlias) continue;
                int next = NextNonWhitespace(result, i + 1);
                if (next < 0 || result[next].Kind != TokenKind.Identifier) continue;
                var merged = Span(TokenKind.Identifier, t, result[next], text);
                result.RemoveRange(i, next - i + 1);
                result.Insert(i, merged);
            }
            return result;
        }

        private static List<Token> GroupParentheses(List<Token> tokens, string text)
        {
            var result = new List<Token>();
            for (int i = 0; i < tokens.Count; i++)
            {
                if (tokens[i].IsPunct("("))
                {
                    int depth = 0, j = i;
                    for (; j < tokens.Count; j++)
                    {
                        if (tokens[j].IsPunct("(")) depth++;
                        else if (tokens[j].IsPunct(")") && --depth == 0) break;
                    }
                    if (j < tokens.Count)
                    {
                        result.Add(Span(TokenKind.Parenthesis, tokens[i], tokens[j], text));
                        i = j;
                        continue;
                    }
                }
                result.Add(tokens[i]);
            }
            return result;
        }

        private static bool IsNameLike(Token t) => t.Kind == TokenKind.Name || t.Kind == TokenKind.StringSymbol;

        private static List<Token> GroupIdentifiers(List<Token> tokens, string text)
        {
            var result = new List<Token>();
            for (int i = 0; i < tokens.Count; i++)
            {
                var t = tokens[i];
                if (!IsNameLike(t)) { result.Add(t); continue; }
                int end = i;
                while (true)
                {
                    int dot = NextNonWhitespace(tokens, end + 1);
                    if (dot < 0 || !tokens[dot].IsPunct(".")) break;
                    end = dot;
                    int next = NextNonWhitespace(tokens, dot + 1);
                    if (next < 0) break;
                    var n = tokens[next];
                    if (IsNameLike(n) || n.Kind == TokenKind.StringSingle || (n.Kind == TokenKind.Other && n.Text == "*"))
                        end = next;
                    else break;
                }
                result.Add(Span(TokenKind.Identifier, t, tokens[end], text));
                i = end;
            }
            return result;
        }

        private static bool IsOperand(Token t) =>
            t.Kind == TokenKind.Identifier || t.Kind == TokenKind.Parenthesis || t.Kind == TokenKind.StringSingle ||
            t.Kind == TokenKind.Integer || t.Kind == TokenKind.Float || t.IsKeyword("NULL");

        private static List<Token> GroupComparisons(List<Token> tokens, string text)
        {
            var result = new List<Token>(tokens);
            for (int i = 0; i < result.Count; i++)
            {
                if (result[i].Kind != TokenKind.ComparisonOp) continue;
                int prev = PrevNonWhitespace(result, i - 1), next = NextNonWhitespace(result, i + 1);
                if (prev < 0 || next < 0 || !IsOperand(result[prev]) || !IsOperand(result[next])) continue;
                var parts = new List<Token> { result[prev], result[i], result[next] };
                var group = Span(TokenKind.Comparison, result[prev], result[next], text, parts);
                result.RemoveRange(prev, next - prev + 1);
                result.Insert(prev, group);
                i = prev;
            }
            return result;
        }

        private static Token Span(TokenKind kind, Token first, Token last, string text, IReadOnlyList<Token>? parts = null) =>
            new Token(kind, text.Substring(first.Start, last.Start + last.Text.Length - first.Start), first.Start, parts);

        private static int NextNonWhitespace(List<Token> tokens, int from)
        {
            for (int i = from; i < tokens.Count; i++) if (!tokens[i].IsWhitespace) return i;
            return -1;
        }

        private static int PrevNonWhitespace(List<Token> tokens, int from)
        {
            for (int i = from; i >= 0; i--) if (!tokens[i].IsWhitespace) return i;
            return -1;
        }
    }
}
