using System.Collections.Generic;
using System.Globalization;
using System.Text;
using MlTraces.Core.Json;

namespace MlTraces.Core.Json
{
    /// <summary>
    /// Python's repr() of the few value kinds MLflow interpolates into its error messages, so our messages
    /// read exactly like MLflow's. Python prints sets in hash order, which changes from run to run; we use the
    /// order MLflow's source declares them in.
    /// </summary>
    internal static class PyRepr
    {
        public static string Str(string s)
        {
            // Python picks double quotes only when the text has a single quote and no double quote.
            char q = s.IndexOf('\'') >= 0 && s.IndexOf('"') < 0 ? '"' : '\'';
            var sb = new StringBuilder();
            sb.Append(q);
            foreach (char c in s)
            {
                if (c == q || c == '\\') sb.Append('\\').Append(c);
                else if (c == '\n') sb.Append("\\n");
                else if (c == '\r') sb.Append("\\r");
                else if (c == '\t') sb.Append("\\t");
                else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                else sb.Append(c);
            }
            sb.Append(q);
            return sb.ToString();
        }

        public static string Set(IEnumerable<string> items) => "{" + string.Join(", ", Quote(items)) + "}";

        public static string List(IEnumerable<string> items) => "[" + string.Join(", ", Quote(items)) + "]";

        private static IEnumerable<string> Quote(IEnumerable<string> items)
        {
            foreach (var i in items) yield return Str(i);
        }

        /// <summary>repr() of a bytes object, as in "decoded value=b'...'".</summary>
        public static string Bytes(byte[] bytes)
        {
            bool hasSingle = false, hasDouble = false;
            foreach (byte b in bytes) { if (b == '\'') hasSingle = true; if (b == '"') hasDouble = true; }
            char q = hasSingle && !hasDouble ? '"' : '\'';
            var sb = new StringBuilder("b");
            sb.Append(q);
            foreach (byte b in bytes)
            {
                if (b == q || b == '\\') sb.Append('\\').Append((char)b);
                else if (b == '\n') sb.Append("\\n");
                else if (b == '\r') sb.Append("\\r");
                else if (b == '\t') sb.Append("\\t");
                else if (b < 0x20 || b >= 0x7f) sb.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
                else sb.Append((char)b);
            }
            sb.Append(q);
            return sb.ToString();
        }

        /// <summary>repr() of what json.loads returns for the node (dict, list, str, int, float, bool, None).</summary>
        public static string Json(JsonNode node)
        {
            switch (node)
            {
                case JsonObject o:
                    var parts = new List<string>();
                    foreach (var kv in o.Items) parts.Add(Str(kv.Key) + ": " + Json(kv.Value));
                    return "{" + string.Join(", ", parts) + "}";
                case JsonArray a:
                    var items = new List<string>();
                    foreach (var i in a.Items) items.Add(Json(i));
                    return "[" + string.Join(", ", items) + "]";
                case JsonString s: return Str(s.Value);
                case JsonNumber n: return Number(n);
                case JsonBool b: return b.Value ? "True" : "False";
                default: return "None";
            }
        }

        /// <summary>str() of the same value (strings print without quotes).</summary>
        public static string JsonStr(JsonNode node) => node is JsonString s ? s.Value : Json(node);

        private static string Number(JsonNumber n)
        {
            if (n.IsInteger) return n.Text.TrimStart('+');
            double d = n.AsDouble();
            if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
            string r = d.ToString("R", CultureInfo.InvariantCulture);
            if (r.IndexOf('E') >= 0)
            {
                // Python writes 1e+16 / 1e-05 where .NET writes 1E+16 / 1E-05.
                int e = r.IndexOf('E');
                string mant = r.Substring(0, e), exp = r.Substring(e + 1);
                string sign = exp.StartsWith("-") ? "-" : "+";
                exp = exp.TrimStart('+', '-').TrimStart('0');
                if (exp.Length < 2) exp = exp.PadLeft(2, '0');
                return mant + "e" + sign + exp;
            }
            return r.IndexOf('.') >= 0 ? r : r + ".0";
        }
    }
}
