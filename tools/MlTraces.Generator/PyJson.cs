using System;
using System.Globalization;
using System.Text;

namespace MlTraces.Generator
{
    /// <summary>
    /// An append-only JSON writer that writes exactly as Python's json.dumps does with default settings
    /// (", " and ": " separators, ensure_ascii), so generated span content looks like what MLflow stores.
    /// Cheaper than building a JsonNode tree, which matters for millions of spans.
    /// </summary>
    internal sealed class PyJson
    {
        private readonly StringBuilder _sb;
        private readonly bool[] _first = new bool[64];
        private int _depth;
        private bool _afterKey;

        public PyJson(StringBuilder sb) { _sb = sb; }

        public StringBuilder Builder => _sb;

        private void BeforeValue()
        {
            if (_afterKey) { _afterKey = false; return; }
            if (_depth > 0)
            {
                if (!_first[_depth]) _sb.Append(", ");
                _first[_depth] = false;
            }
        }

        public PyJson Obj() { BeforeValue(); _sb.Append('{'); _first[++_depth] = true; return this; }
        public PyJson Arr() { BeforeValue(); _sb.Append('['); _first[++_depth] = true; return this; }
        public PyJson EndObj() { _depth--; _sb.Append('}'); return this; }
        public PyJson EndArr() { _depth--; _sb.Append(']'); return this; }

        public PyJson Key(string key)
        {
            if (!_first[_depth]) _sb.Append(", ");
            _first[_depth] = false;
            Escape(_sb, key);
            _sb.Append(": ");
            _afterKey = true;
            return this;
        }

        public PyJson Str(string? s) { BeforeValue(); if (s == null) _sb.Append("null"); else Escape(_sb, s); return this; }
        public PyJson Num(long n) { BeforeValue(); _sb.Append(n.ToString(CultureInfo.InvariantCulture)); return this; }
        public PyJson Num(long? n) { BeforeValue(); _sb.Append(n.HasValue ? n.Value.ToString(CultureInfo.InvariantCulture) : "null"); return this; }
        public PyJson Float(double d) { BeforeValue(); _sb.Append(FloatRepr(d)); return this; }
        public PyJson Bool(bool b) { BeforeValue(); _sb.Append(b ? "true" : "false"); return this; }
        public PyJson Null() { BeforeValue(); _sb.Append("null"); return this; }
        /// <summary>Text that is already JSON.</summary>
        public PyJson Raw(string json) { BeforeValue(); _sb.Append(json); return this; }

        public PyJson Field(string key, string? value) => Key(key).Str(value);
        public PyJson Field(string key, long value) => Key(key).Num(value);
        public PyJson FieldFloat(string key, double value) => Key(key).Float(value);

        /// <summary>Python's repr(float): .NET's shortest round-trip digits, in Python's layout.</summary>
        public static string FloatRepr(double d)
        {
            if (d == 0) return BitConverter.DoubleToInt64Bits(d) < 0 ? "-0.0" : "0.0";
            if (d == Math.Floor(d) && Math.Abs(d) < 1e16) return d.ToString("F0", CultureInfo.InvariantCulture) + ".0";
            string r = d.ToString("R", CultureInfo.InvariantCulture);
            int e = r.IndexOf('E');
            if (e < 0) return r;
            // Python writes exponents as e-05 / e+16.
            int exp = int.Parse(r.Substring(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            return r.Substring(0, e) + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
        }

        /// <summary>json.dumps of a string: escapes as Python does with ensure_ascii.</summary>
        public static void Escape(StringBuilder sb, string s)
        {
            sb.Append('"');
            int start = 0;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') continue;
                if (i > start) sb.Append(s, start, i - start);
                start = i + 1;
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default: sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                }
            }
            if (start < s.Length) sb.Append(s, start, s.Length - start);
            sb.Append('"');
        }

        public static string Dumps(string s)
        {
            var sb = new StringBuilder(s.Length + 8);
            Escape(sb, s);
            return sb.ToString();
        }
    }
}
