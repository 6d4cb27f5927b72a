using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace MlTraces.Core.Json
{
    /// <summary>
    /// A small JSON document model. MLflow's JSON is written by Python's json.dumps; this model keeps key order and
    /// the literal text of numbers, so reading and writing again gives back the same bytes, and its writer can
    /// reproduce json.dumps exactly (", " and ": " separators, ensure_ascii escapes).
    /// </summary>
    public abstract class JsonNode
    {
        public static JsonNode Parse(string text) => new JsonParser(text).ParseDocument();

        public string ToPythonJson() { var sb = new StringBuilder(); JsonWriter.Write(this, sb, python: true); return sb.ToString(); }
        /// <summary>json.dumps with ensure_ascii=False when <paramref name="ensureAscii"/> is false (as MLflow dumps
        /// span attribute values): non-ASCII characters are written as they are.</summary>
        public string ToPythonJson(bool ensureAscii) { var sb = new StringBuilder(); JsonWriter.Write(this, sb, python: true, asciiOnly: ensureAscii); return sb.ToString(); }
        public string ToCompactJson() { var sb = new StringBuilder(); JsonWriter.Write(this, sb, python: false); return sb.ToString(); }
        public override string ToString() => ToPythonJson();

        public JsonNode? this[string key] => (this as JsonObject)?.Get(key);
        public string? AsString() => (this as JsonString)?.Value;
    }

    public sealed class JsonObject : JsonNode
    {
        private readonly List<KeyValuePair<string, JsonNode>> _items = new List<KeyValuePair<string, JsonNode>>();
        public IReadOnlyList<KeyValuePair<string, JsonNode>> Items => _items;
        public int Count => _items.Count;

        public JsonNode? Get(string key)
        {
            foreach (var kv in _items) if (kv.Key == key) return kv.Value;
            return null;
        }

        /// <summary>Sets a key, keeping its position if present and appending it otherwise.</summary>
        public JsonObject Set(string key, JsonNode value)
        {
            for (int i = 0; i < _items.Count; i++)
                if (_items[i].Key == key) { _items[i] = new KeyValuePair<string, JsonNode>(key, value); return this; }
            _items.Add(new KeyValuePair<string, JsonNode>(key, value));
            return this;
        }

        public JsonObject Set(string key, string? value) => Set(key, value == null ? (JsonNode)JsonNull.Instance : new JsonString(value));
        public JsonObject Set(string key, long value) => Set(key, JsonNumber.From(value));
        public JsonObject Set(string key, bool value) => Set(key, JsonBool.From(value));
        internal void AddParsed(string key, JsonNode value) => Set(key, value);
    }

    public sealed class JsonArray : JsonNode
    {
        public List<JsonNode> Items { get; } = new List<JsonNode>();
        public JsonArray() { }
        public JsonArray(IEnumerable<JsonNode> items) { Items.AddRange(items); }
    }

    public sealed class JsonString : JsonNode
    {
        public string Value { get; }
        public JsonString(string value) { Value = value; }
    }

    /// <summary>A number kept as its literal text, so 0.1 + 0.2 style values survive a round trip unchanged.</summary>
    public sealed class JsonNumber : JsonNode
    {
        public string Text { get; }
        public JsonNumber(string text) { Text = text; }
        public static JsonNumber From(long value) => new JsonNumber(value.ToString(CultureInfo.InvariantCulture));
        public bool IsInteger => Text.IndexOfAny(new[] { '.', 'e', 'E' }) < 0;
        public long AsInt64() => long.Parse(Text, NumberStyles.Integer, CultureInfo.InvariantCulture);
        public double AsDouble() => double.Parse(Text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    public sealed class JsonBool : JsonNode
    {
        public static readonly JsonBool True = new JsonBool(true), False = new JsonBool(false);
        public bool Value { get; }
        private JsonBool(bool value) { Value = value; }
        public static JsonBool From(bool value) => value ? True : False;
    }

    public sealed class JsonNull : JsonNode
    {
        public static readonly JsonNull Instance = new JsonNull();
        private JsonNull() { }
    }

    public sealed class JsonException : FormatException
    {
        public int Position { get; }
        public JsonException(string message, int position) : base($"{message} at position {position}.") { Position = position; }
    }

    internal static class JsonWriter
    {
        public static void Write(JsonNode node, StringBuilder sb, bool python) => Write(node, sb, python, python);

        public static void Write(JsonNode node, StringBuilder sb, bool python, bool asciiOnly)
        {
            switch (node)
            {
                case JsonObject o:
                    sb.Append('{');
                    for (int i = 0; i < o.Items.Count; i++)
                    {
                        if (i > 0) sb.Append(python ? ", " : ",");
                        WriteString(o.Items[i].Key, sb, asciiOnly);
                        sb.Append(python ? ": " : ":");
                        Write(o.Items[i].Value, sb, python, asciiOnly);
                    }
                    sb.Append('}');
                    break;
                case JsonArray a:
                    sb.Append('[');
                    for (int i = 0; i < a.Items.Count; i++)
                    {
                        if (i > 0) sb.Append(python ? ", " : ",");
                        Write(a.Items[i], sb, python, asciiOnly);
                    }
                    sb.Append(']');
                    break;
                case JsonString s: WriteString(s.Value, sb, asciiOnly); break;
                case JsonNumber n: sb.Append(n.Text); break;
                case JsonBool b: sb.Append(b.Value ? "true" : "false"); break;
                default: sb.Append("null"); break;
            }
        }

        /// <summary>Escapes as Python's json.dumps does; with <paramref name="asciiOnly"/> every non-ASCII
        /// character becomes \uXXXX (ensure_ascii=True, the default). Runs of plain text are copied in one go.</summary>
        public static void WriteString(string s, StringBuilder sb, bool asciiOnly)
        {
            sb.Append('"');
            int start = 0;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                // Python escapes quotes, backslashes and controls; with ensure_ascii also everything past '~'.
                if (c >= 0x20 && c != '"' && c != '\\' && (!asciiOnly || c < 0x7f)) continue;
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
    }

    internal sealed class JsonParser
    {
        private readonly string _s;
        private int _i;
        public JsonParser(string s) { _s = s; }

        public JsonNode ParseDocument()
        {
            SkipWs();
            var v = ParseValue(0);
            SkipWs();
            if (_i != _s.Length) throw new JsonException("Unexpected text after the JSON value", _i);
            return v;
        }

        private void SkipWs() { while (_i < _s.Length && (_s[_i] == ' ' || _s[_i] == '\t' || _s[_i] == '\n' || _s[_i] == '\r')) _i++; }

        private JsonNode ParseValue(int depth)
        {
            if (depth > 512) throw new JsonException("JSON nested too deeply", _i);
            if (_i >= _s.Length) throw new JsonException("Unexpected end of JSON", _i);
            char c = _s[_i];
            switch (c)
            {
                case '{':
                {
                    _i++; var o = new JsonObject(); SkipWs();
                    if (Peek('}')) { _i++; return o; }
                    while (true)
                    {
                        SkipWs();
                        if (!Peek('"')) throw new JsonException("Expected a property name", _i);
                        string key = ParseString(); SkipWs();
                        Expect(':'); SkipWs();
                        o.AddParsed(key, ParseValue(depth + 1)); SkipWs();
                        if (Peek(',')) { _i++; continue; }
                        Expect('}'); return o;
                    }
                }
                case '[':
                {
                    _i++; var a = new JsonArray(); SkipWs();
                    if (Peek(']')) { _i++; return a; }
                    while (true)
                    {
                        SkipWs(); a.Items.Add(ParseValue(depth + 1)); SkipWs();
                        if (Peek(',')) { _i++; continue; }
                        Expect(']'); return a;
                    }
                }
                case '"': return new JsonString(ParseString());
                case 't': Word("true"); return JsonBool.True;
                case 'f': Word("false"); return JsonBool.False;
                case 'n': Word("null"); return JsonNull.Instance;
                case 'N': Word("NaN"); return new JsonNumber("NaN");
                case 'I': Word("Infinity"); return new JsonNumber("Infinity");
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
                    throw new JsonException($"Unexpected character '{c}'", _i);
            }
        }

        private bool Peek(char c) => _i < _s.Length && _s[_i] == c;
        private void Expect(char c) { if (!Peek(c)) throw new JsonException($"Expected '{c}'", _i); _i++; }
        private void Word(string w)
        {
            if (string.CompareOrdinal(_s, _i, w, 0, w.Length) != 0) throw new JsonException("Invalid literal", _i);
            _i += w.Length;
        }

        private JsonNode ParseNumber()
        {
            int start = _i;
            if (Peek('-')) { _i++; if (Peek('I')) { Word("Infinity"); return new JsonNumber("-Infinity"); } }
            int digits = _i;
            while (_i < _s.Length && char.IsDigit(_s[_i])) _i++;
            if (_i == digits) throw new JsonException("Invalid number", start);
            if (Peek('.')) { _i++; int f = _i; while (_i < _s.Length && char.IsDigit(_s[_i])) _i++; if (_i == f) throw new JsonException("Invalid number", start); }
            if (Peek('e') || Peek('E'))
            {
                _i++; if (Peek('+') || Peek('-')) _i++;
                int e = _i; while (_i < _s.Length && char.IsDigit(_s[_i])) _i++;
                if (_i == e) throw new JsonException("Invalid number", start);
            }
            return new JsonNumber(_s.Substring(start, _i - start));
        }

        private string ParseString()
        {
            Expect('"');
            var sb = new StringBuilder();
            while (true)
            {
                if (_i >= _s.Length) throw new JsonException("Unterminated string", _i);
                char c = _s[_i++];
                if (c == '"') return sb.ToString();
                if (c != '\\') { sb.Append(c); continue; }
                if (_i >= _s.Length) throw new JsonException("Unterminated string", _i);
                char e = _s[_i++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (_i + 4 > _s.Length) throw new JsonException("Invalid \\u escape", _i);
                        sb.Append((char)int.Parse(_s.Substring(_i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        _i += 4; break;
                    default: throw new JsonException($"Invalid escape '\\{e}'", _i - 1);
                }
            }
        }
    }

    /// <summary>Python json.dumps of simple values, for comparisons MLflow makes against stored JSON text.</summary>
    public static class PyJson
    {
        public static string DumpString(string value)
        {
            var sb = new StringBuilder(value.Length + 8);
            JsonWriter.WriteString(value, sb, asciiOnly: true);
            return sb.ToString();
        }

        /// <summary>Python's len(s): code points (a surrogate pair is one character in Python).</summary>
        public static int CodePointLength(string s)
        {
            int n = s.Length;
            for (int i = 0; i + 1 < s.Length; i++)
                if (char.IsHighSurrogate(s[i]) && char.IsLowSurrogate(s[i + 1])) { n--; i++; }
            return n;
        }

        /// <summary>Python's s[:n]: the first n code points (a surrogate pair is one character in Python).</summary>
        public static string TruncateCodePoints(string s, int n)
        {
            if (s.Length <= n) return s;
            int codePoints = 0;
            for (int i = 0; i < s.Length; i++)
            {
                if (codePoints == n) return s.Substring(0, i);
                if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
                codePoints++;
            }
            return s;
        }

        /// <summary>Python truthiness of a JSON value (None, False, 0, 0.0, "", [], {} are false), which MLflow's
        /// span code tests with <c>if not value</c>.</summary>
        public static bool Truthy(JsonNode? node)
        {
            switch (node)
            {
                case null: return false;
                case JsonNull _: return false;
                case JsonBool b: return b.Value;
                case JsonString s: return s.Value.Length > 0;
                case JsonNumber n: return !(double.TryParse(n.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d == 0);
                case JsonArray a: return a.Items.Count > 0;
                case JsonObject o: return o.Count > 0;
                default: return true;
            }
        }

        /// <summary>Appends json.dumps of a string (ensure_ascii), for writers that build JSON text directly.</summary>
        public static void AppendString(StringBuilder sb, string value) => JsonWriter.WriteString(value, sb, asciiOnly: true);

        /// <summary>Python's repr(float): the shortest digits that round-trip, exponent form below 1e-4 and from 1e16.</summary>
        public static string FloatRepr(double d)
        {
            if (double.IsNaN(d)) return "NaN";
            if (double.IsPositiveInfinity(d)) return "Infinity";
            if (double.IsNegativeInfinity(d)) return "-Infinity";
            bool negative = BitConverter.DoubleToInt64Bits(d) < 0;
            double abs = Math.Abs(d);
            if (abs == 0) return negative ? "-0.0" : "0.0";

            ShortestDigits(abs, out string digits, out int decpt);
            var sb = new StringBuilder();
            if (negative) sb.Append('-');
            if (decpt > -4 && decpt <= 16)
            {
                if (decpt <= 0) sb.Append("0.").Append('0', -decpt).Append(digits);
                else if (decpt >= digits.Length) sb.Append(digits).Append('0', decpt - digits.Length).Append(".0");
                else sb.Append(digits, 0, decpt).Append('.').Append(digits, decpt, digits.Length - decpt);
            }
            else
            {
                sb.Append(digits[0]);
                if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
                int exp = decpt - 1;
                sb.Append('e').Append(exp < 0 ? '-' : '+').Append(Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture));
            }
            return sb.ToString();
        }

        /// <summary>Digits without leading or trailing zeros and the decimal point position (value = 0.digits x 10^decpt).</summary>
        private static void ShortestDigits(double abs, out string digits, out int decpt)
        {
            // "R" round-trips on every runtime; on .NET Framework it may not be the shortest, so try shorter roundings.
            string r = abs.ToString("R", CultureInfo.InvariantCulture);
            ParseDecimal(r, out digits, out decpt);
            for (int p = 1; p < digits.Length; p++)
            {
                string candidate = RoundDigits(digits, p, decpt, out int newDecpt);
                string text = "0." + candidate + "e" + newDecpt.ToString(CultureInfo.InvariantCulture);
                if (double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture) == abs)
                {
                    digits = candidate.TrimEnd('0');
                    decpt = newDecpt;
                    return;
                }
            }
        }

        private static string RoundDigits(string digits, int p, int decpt, out int newDecpt)
        {
            newDecpt = decpt;
            var chars = digits.Substring(0, p).ToCharArray();
            if (digits[p] >= '5')
            {
                int i = p - 1;
                while (i >= 0)
                {
                    if (chars[i] == '9') { chars[i] = '0'; i--; }
                    else { chars[i]++; break; }
                }
                if (i < 0) { newDecpt++; return "1" + new string(chars, 0, p - 1); }
            }
            return new string(chars);
        }

        private static void ParseDecimal(string s, out string digits, out int decpt)
        {
            int e = s.IndexOfAny(new[] { 'E', 'e' });
            int exp = 0;
            string mantissa = s;
            if (e >= 0)
            {
                exp = int.Parse(s.Substring(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                mantissa = s.Substring(0, e);
            }
            int dot = mantissa.IndexOf('.');
            string intPart = dot >= 0 ? mantissa.Substring(0, dot) : mantissa;
            string fracPart = dot >= 0 ? mantissa.Substring(dot + 1) : "";
            string all = intPart + fracPart;
            int lead = 0;
            while (lead < all.Length - 1 && all[lead] == '0') lead++;
            digits = all.Substring(lead).TrimEnd('0');
            if (digits.Length == 0) digits = "0";
            decpt = intPart.Length - lead + exp;
        }

    }
}
