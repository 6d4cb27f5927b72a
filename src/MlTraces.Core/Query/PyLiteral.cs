using MlTraces.Core.Json;
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MlTraces.Core.Query
{
    /// <summary>
    /// Reads an IN list the way MLflow does, as a Python literal (ast.literal_eval): quoted strings with Python
    /// escapes, adjacent strings joined, a trailing comma allowed, <c>('a')</c> being the single string 'a'.
    /// Only the forms a list of strings can take are understood; anything else is ill-formed.
    /// </summary>
    internal sealed class PyLiteral
    {
        /// <summary>A value that is not a str, kept with its repr() for MLflow's "different type" message.</summary>
        internal sealed class Other
        {
            public Other(string repr) { Repr = repr; }
            public string Repr { get; }
        }

        private readonly string _s;
        private int _i;

        private PyLiteral(string s) { _s = s; }

        /// <summary>The items of the literal (a lone value counts as a one-item tuple), each a string or an
        /// <see cref="Other"/>; null when the text is not a literal we can read.</summary>
        public static List<object>? ParseTuple(string text)
        {
            var p = new PyLiteral(text);
            try
            {
                p.SkipSpace();
                object? value = p.ParseValue(out bool isTuple);
                p.SkipSpace();
                if (p._i != p._s.Length) return null;
                if (isTuple) return (List<object>)value!;
                return new List<object> { value! };
            }
            catch (FormatException)
            {
                return null;
            }
        }

        public static string TupleRepr(List<object> items)
        {
            var parts = new List<string>();
            foreach (var item in items) parts.Add(item is string s ? PyRepr.Str(s) : ((Other)item).Repr);
            return parts.Count == 1 ? "(" + parts[0] + ",)" : "(" + string.Join(", ", parts) + ")";
        }

        private void SkipSpace()
        {
            while (_i < _s.Length)
            {
                char c = _s[_i];
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') _i++;
                else if (c == '\\' && _i + 1 < _s.Length && _s[_i + 1] == '\n') _i += 2;
                else break;
            }
        }

        private FormatException Bad() => new FormatException("ill-formed literal");

        private object ParseValue(out bool isTuple)
        {
            isTuple = false;
            SkipSpace();
            if (_i >= _s.Length) throw Bad();
            char c = _s[_i];
            if (c == '(' || c == '[')
            {
                char close = c == '(' ? ')' : ']';
                _i++;
                var items = new List<object>();
                bool sawComma = false;
                SkipSpace();
                while (true)
                {
                    SkipSpace();
                    if (_i < _s.Length && _s[_i] == close) { _i++; break; }
                    if (items.Count > 0 && !sawComma) throw Bad();
                    var v = ParseValue(out bool nested);
                    items.Add(nested ? new Other(TupleRepr((List<object>)v)) : v);
                    SkipSpace();
                    sawComma = false;
                    if (_i < _s.Length && _s[_i] == ',') { _i++; sawComma = true; }
                    else if (_i >= _s.Length || _s[_i] != close) throw Bad();
                }
                if (close == ']') return new Other("[" + string.Join(", ", Reprs(items)) + "]");
                // (x) is x itself; (), (x,) and (x, y) are tuples.
                if (items.Count == 1 && !sawComma) return items[0];
                isTuple = true;
                return items;
            }
            if (IsQuoteStart()) return ParseStrings();
            return ParseAtom();
        }

        private static IEnumerable<string> Reprs(List<object> items)
        {
            foreach (var i in items) yield return i is string s ? PyRepr.Str(s) : ((Other)i).Repr;
        }

        private bool IsQuoteStart()
        {
            int j = _i;
            while (j < _s.Length && j - _i < 2 && "rRuUbB".IndexOf(_s[j]) >= 0) j++;
            return j < _s.Length && (_s[j] == '\'' || _s[j] == '"');
        }

        private object ParseStrings()
        {
            var sb = new StringBuilder();
            bool? bytes = null;
            while (true)
            {
                SkipSpace();
                if (_i >= _s.Length || !IsQuoteStart()) break;
                bool raw = false, isBytes = false;
                while (_s[_i] != '\'' && _s[_i] != '"')
                {
                    char p = char.ToLowerInvariant(_s[_i]);
                    if (p == 'r') raw = true; else if (p == 'b') isBytes = true;
                    _i++;
                }
                // Python refuses to join bytes and str literals.
                if (bytes.HasValue && bytes.Value != isBytes) throw Bad();
                bytes = isBytes;
                ReadOneString(sb, raw);
            }
            if (bytes == true) return new Other("b" + PyRepr.Str(sb.ToString()));
            return sb.ToString();
        }

        private void ReadOneString(StringBuilder sb, bool raw)
        {
            char q = _s[_i];
            bool triple = _i + 2 < _s.Length && _s[_i + 1] == q && _s[_i + 2] == q;
            _i += triple ? 3 : 1;
            while (true)
            {
                if (_i >= _s.Length) throw Bad();
                char c = _s[_i];
                if (c == q && (!triple || (_i + 2 < _s.Length && _s[_i + 1] == q && _s[_i + 2] == q)))
                {
                    _i += triple ? 3 : 1;
                    return;
                }
                if (!triple && c == '\n') throw Bad();
                if (c == '\\')
                {
                    if (_i + 1 >= _s.Length) throw Bad();
                    if (raw) { sb.Append(c).Append(_s[_i + 1]); _i += 2; continue; }
                    _i++;
                    ReadEscape(sb);
                    continue;
                }
                sb.Append(c);
                _i++;
            }
        }

        private void ReadEscape(StringBuilder sb)
        {
            char e = _s[_i++];
            switch (e)
            {
                case '\n': return;
                case '\\': sb.Append('\\'); return;
                case '\'': sb.Append('\''); return;
                case '"': sb.Append('"'); return;
                case 'a': sb.Append('\a'); return;
                case 'b': sb.Append('\b'); return;
                case 'f': sb.Append('\f'); return;
                case 'n': sb.Append('\n'); return;
                case 'r': sb.Append('\r'); return;
                case 't': sb.Append('\t'); return;
                case 'v': sb.Append('\v'); return;
                case 'x': sb.Append(char.ConvertFromUtf32(Hex(2))); return;
                case 'u': sb.Append(char.ConvertFromUtf32(Hex(4))); return;
                case 'U': sb.Append(char.ConvertFromUtf32(Hex(8))); return;
            }
            if (e >= '0' && e <= '7')
            {
                int v = e - '0', n = 1;
                while (n < 3 && _i < _s.Length && _s[_i] >= '0' && _s[_i] <= '7') { v = v * 8 + (_s[_i++] - '0'); n++; }
                sb.Append((char)v);
                return;
            }
            // Unknown escapes keep their backslash in Python.
            sb.Append('\\').Append(e);
        }

        private int Hex(int digits)
        {
            if (_i + digits > _s.Length) throw Bad();
            string h = _s.Substring(_i, digits);
            if (!int.TryParse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int v) || v > 0x10FFFF) throw Bad();
            _i += digits;
            return v;
        }

        private object ParseAtom()
        {
            int start = _i;
            if (_s[_i] == '-' || _s[_i] == '+') _i++;
            while (_i < _s.Length && (char.IsLetterOrDigit(_s[_i]) || _s[_i] == '_' || _s[_i] == '.')) _i++;
            string word = _s.Substring(start, _i - start);
            if (word == "True" || word == "False" || word == "None") return new Other(word);
            string digits = word.Replace("_", "");
            if (long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
                return new Other(l.ToString(CultureInfo.InvariantCulture));
            if (double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && digits.IndexOfAny(new[] { 'e', 'E', '.' }) >= 0)
            {
                string r = d.ToString("R", CultureInfo.InvariantCulture);
                return new Other(r.IndexOf('.') >= 0 || r.IndexOf('E') >= 0 ? r : r + ".0");
            }
            // Names and expressions are not literals (literal_eval raises).
            throw Bad();
        }
    }
}
