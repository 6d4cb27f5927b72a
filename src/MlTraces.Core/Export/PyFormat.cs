using System;
using System.Globalization;
using System.Text;
using MlTraces.Core.Json;

namespace MlTraces.Core.Export
{
    /// <summary>
    /// The few Python and protobuf text conventions MLflow's trace JSON depends on: float repr (protobuf's
    /// google.protobuf.Value holds every number as a double), str() of metadata values and RFC 3339 timestamps.
    /// </summary>
    internal static class PyFormat
    {
        /// <summary>Python str() of a JSON-decoded value, as MLflow applies it to metadata and tag values.</summary>
        public static string Str(JsonNode node)
        {
            switch (node)
            {
                case JsonString s: return s.Value;
                default: return Repr(node);
            }
        }

        /// <summary>Python repr() of a JSON-decoded value (dicts and lists as Python prints them).</summary>
        public static string Repr(JsonNode node)
        {
            var sb = new StringBuilder();
            WriteRepr(node, sb);
            return sb.ToString();
        }

        private static void WriteRepr(JsonNode node, StringBuilder sb)
        {
            switch (node)
            {
                case JsonNull _: sb.Append("None"); break;
                case JsonBool b: sb.Append(b.Value ? "True" : "False"); break;
                case JsonNumber n:
                    if (n.IsInteger) sb.Append(n.Text);
                    else sb.Append(double.TryParse(n.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? PyJson.FloatRepr(d) : n.Text);
                    break;
                case JsonString s: sb.Append(PyRepr.Str(s.Value)); break;
                case JsonArray a:
                    sb.Append('[');
                    for (int i = 0; i < a.Items.Count; i++) { if (i > 0) sb.Append(", "); WriteRepr(a.Items[i], sb); }
                    sb.Append(']');
                    break;
                case JsonObject o:
                    sb.Append('{');
                    for (int i = 0; i < o.Items.Count; i++)
                    {
                        if (i > 0) sb.Append(", ");
                        sb.Append(PyRepr.Str(o.Items[i].Key));
                        sb.Append(": ");
                        WriteRepr(o.Items[i].Value, sb);
                    }
                    sb.Append('}');
                    break;
            }
        }

        private static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        /// <summary>protobuf Timestamp.ToJsonString for a time in milliseconds: "Z" form with 0, 3 digits of fraction.</summary>
        public static string TimestampJson(long ms)
        {
            long seconds = FloorDiv(ms, 1000);
            long millis = ms - seconds * 1000;
            var dt = Epoch.AddSeconds(seconds);
            string text = dt.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
            return millis == 0 ? text + "Z" : text + "." + millis.ToString("000", CultureInfo.InvariantCulture) + "Z";
        }

        private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

        /// <summary>protobuf Timestamp.FromJsonString then ToMilliseconds: RFC 3339 with "Z" or an offset.</summary>
        public static bool TryParseTimestamp(string s, out long ms)
        {
            ms = 0;
            s = s.Trim();
            int t = s.IndexOf('T');
            if (t < 0) t = s.IndexOf(' ');
            if (t != 10) return false;
            // Split the zone designator off the end.
            int zone = s.Length;
            long offsetSeconds = 0;
            if (s.EndsWith("Z", StringComparison.OrdinalIgnoreCase)) zone = s.Length - 1;
            else
            {
                int sign = Math.Max(s.LastIndexOf('+'), s.LastIndexOf('-'));
                if (sign > t)
                {
                    zone = sign;
                    string off = s.Substring(sign + 1);
                    var parts = off.Split(':');
                    if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int oh)
                        || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int om))
                        return false;
                    offsetSeconds = (oh * 3600 + om * 60) * (s[sign] == '-' ? -1 : 1);
                }
                else return false;
            }
            string main = s.Substring(0, zone);
            long nanos = 0;
            int dot = main.IndexOf('.');
            if (dot >= 0)
            {
                string frac = main.Substring(dot + 1);
                if (frac.Length == 0 || frac.Length > 9) return false;
                foreach (char c in frac) if (c < '0' || c > '9') return false;
                nanos = long.Parse(frac.PadRight(9, '0'), CultureInfo.InvariantCulture);
                main = main.Substring(0, dot);
            }
            if (!DateTime.TryParseExact(main.Replace(' ', 'T'), "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var dt))
                return false;
            long seconds = (long)Math.Floor((dt - Epoch).TotalSeconds) - offsetSeconds;
            ms = seconds * 1000 + nanos / 1_000_000;
            return true;
        }

        /// <summary>protobuf Duration JSON ("1.250s") to milliseconds.</summary>
        public static bool TryParseDuration(string s, out long ms)
        {
            ms = 0;
            s = s.Trim();
            if (!s.EndsWith("s", StringComparison.Ordinal)) return false;
            if (!decimal.TryParse(s.Substring(0, s.Length - 1), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint,
                    CultureInfo.InvariantCulture, out decimal seconds))
                return false;
            ms = (long)decimal.Truncate(seconds * 1000m);
            return true;
        }
    }
}
