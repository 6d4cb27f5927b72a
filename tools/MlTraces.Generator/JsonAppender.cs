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
    internal sealed class JsonAppender
    {
        private readonly StringBuilder _sb;
        private readonly bool[] _first = new bool[64];
        private int _depth;
        private bool _afterKey;

        public JsonAppender(StringBuilder sb) { _sb = sb; }

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

        public JsonAppender Obj() { BeforeValue(); _sb.Append('{'); _first[++_depth] = true; return this; }
        public JsonAppender Arr() { BeforeValue(); _sb.Append('['); _first[++_depth] = true; return this; }
        public JsonAppender EndObj() { _depth--; _sb.Append('}'); return this; }
        public JsonAppender EndArr() { _depth--; _sb.Append(']'); return this; }

        public JsonAppender Key(string key)
        {
            if (!_first[_depth]) _sb.Append(", ");
            _first[_depth] = false;
            Core.Json.PyJson.AppendString(_sb, key);
            _sb.Append(": ");
            _afterKey = true;
            return this;
        }

        public JsonAppender Str(string? s) { BeforeValue(); if (s == null) _sb.Append("null"); else Core.Json.PyJson.AppendString(_sb, s); return this; }
        public JsonAppender Num(long n) { BeforeValue(); _sb.Append(n.ToString(CultureInfo.InvariantCulture)); return this; }
        public JsonAppender Num(long? n) { BeforeValue(); _sb.Append(n.HasValue ? n.Value.ToString(CultureInfo.InvariantCulture) : "null"); return this; }
        public JsonAppender Float(double d) { BeforeValue(); _sb.Append(Core.Json.PyJson.FloatRepr(d)); return this; }
        public JsonAppender Bool(bool b) { BeforeValue(); _sb.Append(b ? "true" : "false"); return this; }
        public JsonAppender Null() { BeforeValue(); _sb.Append("null"); return this; }
        /// <summary>Text that is already JSON.</summary>
        public JsonAppender Raw(string json) { BeforeValue(); _sb.Append(json); return this; }

        public JsonAppender Field(string key, string? value) => Key(key).Str(value);
        public JsonAppender Field(string key, long value) => Key(key).Num(value);
        public JsonAppender FieldFloat(string key, double value) => Key(key).Float(value);

    }
}
