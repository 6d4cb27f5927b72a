using System;
using System.Globalization;
using System.Linq;
using System.Text;
using MlTraces.Core.Json;

namespace MlTraces.Core.Query
{
    /// <summary>
    /// MLflow's page token: base64 of Python's json.dumps({"offset": N}), e.g. offset 2 is
    /// <c>eyJvZmZzZXQiOiAyfQ==</c>. Tokens from MLflow and from MlTraces are interchangeable.
    /// </summary>
    public static class PageToken
    {
        public static string Encode(long offset) =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"offset\": " + offset.ToString(CultureInfo.InvariantCulture) + "}"));

        /// <summary>The offset a token stands for; 0 for no token. Bad tokens fail with MLflow's messages.</summary>
        public static long Decode(string? token)
        {
            if (string.IsNullOrEmpty(token)) return 0;
            byte[] bytes = Base64Decode(token!) ?? throw new InvalidParameterException("Invalid page token, could not base64-decode");

            JsonNode parsed;
            try
            {
                parsed = JsonNode.Parse(new UTF8Encoding(false, true).GetString(bytes));
            }
            catch (Exception e) when (e is JsonException || e is FormatException || e is ArgumentException)
            {
                throw new InvalidParameterException($"Invalid page token, decoded value={(bytes.Length > UserText.MaxEcho ? PyRepr.Bytes(bytes.Take(UserText.MaxEcho).ToArray()) + $"... ({bytes.Length:N0} bytes)" : PyRepr.Bytes(bytes))}");
            }

            var offsetNode = (parsed as JsonObject)?.Get("offset");
            if (!(parsed is JsonObject) || offsetNode == null || IsFalsy(offsetNode))
                throw new InvalidParameterException($"Invalid page token, parsed value={UserText.Shorten(PyRepr.Json(parsed))}");

            // Python's int(): integers, numeric strings (surrounding spaces, a sign and _ separators allowed),
            // floats truncated toward zero, True as 1.
            switch (offsetNode)
            {
                case JsonNumber n when n.IsInteger && long.TryParse(n.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l):
                    return l;
                case JsonNumber n:
                    double d = n.AsDouble();
                    if (!double.IsNaN(d) && !double.IsInfinity(d) && Math.Abs(d) < 9.2e18) return (long)Math.Truncate(d);
                    break;
                case JsonBool b:
                    return b.Value ? 1 : 0;
                case JsonString s:
                    string text = s.Value.Trim();
                    if (text.Length > 0 && !text.StartsWith("_") && !text.EndsWith("_") && !text.Contains("__")
                        && long.TryParse(text.Replace("_", ""), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long fromString))
                        return fromString;
                    break;
            }
            throw new InvalidParameterException($"Invalid page token, not stringable {UserText.Shorten(PyRepr.JsonStr(offsetNode))}");
        }

        private static bool IsFalsy(JsonNode node)
        {
            switch (node)
            {
                case JsonNull _: return true;
                case JsonBool b: return !b.Value;
                case JsonString s: return s.Value.Length == 0;
                case JsonNumber n: return n.AsDouble() == 0;
                case JsonArray a: return a.Items.Count == 0;
                case JsonObject o: return o.Count == 0;
                default: return false;
            }
        }

        /// <summary>Python's lenient base64 decoding (binascii.a2b_base64): characters outside the alphabet are
        /// skipped, a pad that completes a quantum ends the data, a short final quantum is an error.</summary>
        private static byte[]? Base64Decode(string token)
        {
            const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            var output = new System.Collections.Generic.List<byte>();
            int quadPos = 0, pads = 0, left = 0;
            foreach (char c in token)
            {
                if (c == '=')
                {
                    if (quadPos >= 2 && quadPos + ++pads >= 4) return output.ToArray();
                    continue;
                }
                int v = c < 128 ? alphabet.IndexOf(c) : -1;
                if (v < 0) continue;
                pads = 0;
                switch (quadPos)
                {
                    case 0: quadPos = 1; left = v; break;
                    case 1: quadPos = 2; output.Add((byte)((left << 2) | (v >> 4))); left = v & 0x0f; break;
                    case 2: quadPos = 3; output.Add((byte)((left << 4) | (v >> 2))); left = v & 0x03; break;
                    default: quadPos = 0; output.Add((byte)((left << 6) | v)); left = 0; break;
                }
            }
            return quadPos == 0 ? output.ToArray() : null;
        }
    }

    public static class SearchLimits
    {
        /// <summary>SEARCH_MAX_RESULTS_THRESHOLD.</summary>
        public const long MaxResultsThreshold = 50000;
        /// <summary>SEARCH_TRACES_DEFAULT_MAX_RESULTS.</summary>
        public const long DefaultMaxResults = 100;

        public static void ValidateMaxResults(long maxResults)
        {
            if (maxResults < 1)
                throw new InvalidParameterException(
                    $"Invalid value {maxResults.ToString(CultureInfo.InvariantCulture)} for parameter 'max_results' supplied. It must be a positive integer");
            if (maxResults > MaxResultsThreshold)
                throw new InvalidParameterException(
                    $"Invalid value {maxResults.ToString(CultureInfo.InvariantCulture)} for parameter 'max_results' supplied. It must be at most {MaxResultsThreshold}");
        }

        /// <summary>MLflow's search_traces rejects a missing max_results too ("Invalid value None ...").</summary>
        public static void ValidateMaxResults(long? maxResults)
        {
            if (maxResults == null)
                throw new InvalidParameterException(
                    "Invalid value None for parameter 'max_results' supplied. It must be a positive integer");
            ValidateMaxResults(maxResults.Value);
        }
    }
}
