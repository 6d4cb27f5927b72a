using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using MlTraces.Core.Json;

namespace MlTraces.Core.Export
{
    /// <summary>
    /// Reads MLflow span dicts: the current (3.x) form stored in spans.content and in traces.json artifacts
    /// (OTel-style, base64 ids, status.code STATUS_CODE_*, JSON-encoded attribute values), and the MLflow 2.x form
    /// (context.span_id / trace_id as 0x-hex, parent_id, status_code, start_time / end_time).
    /// Reading is lenient: missing fields become null and numbers written as strings are accepted.
    /// </summary>
    public static class SpanJson
    {
        public const string SpanTypeAttribute = "mlflow.spanType";
        public const string TraceRequestIdAttribute = "mlflow.traceRequestId";
        /// <summary>The OTel trace id (hex) of a version 4 span dict (MLflow 3.5), whose trace_id is the MLflow id.</summary>
        public const string OtelTraceIdKey = "otel_trace_id";

        /// <summary>A span from its stored JSON; <see cref="Span.Content"/> keeps <paramref name="contentJson"/> verbatim.</summary>
        public static Span FromContent(string traceId, string contentJson)
        {
            if (contentJson == null) throw Invalid(traceId, null, "the span JSON is missing (null)");
            JsonNode node;
            try { node = JsonNode.Parse(contentJson); }
            catch (JsonException ex) { throw Invalid(traceId, null, "the span JSON is not valid JSON: " + ex.Message, ex); }
            return FromNode(traceId, node, contentJson);
        }

        /// <summary>A span from a parsed span dict. Without <paramref name="content"/>, the dict is written back as
        /// Python's json.dumps writes it and kept as <see cref="Span.Content"/>.</summary>
        public static Span FromNode(string traceId, JsonNode spanDict, string? content = null) => Parse(traceId, spanDict, content, null);

        private static Span Parse(string traceId, JsonNode spanDict, string? content, int? index)
        {
            if (!(spanDict is JsonObject o))
                throw Invalid(traceId, index, $"a span must be a JSON object, not {Describe(spanDict)}");
            var span = new Span { TraceId = traceId, Content = content ?? o.ToPythonJson() };
            bool v2 = IsV2Dict(o);
            JsonNode? idNode = v2 ? o["context"]?["span_id"] : o["span_id"];
            string? spanId = DecodeId(AsText(idNode), 8);
            if (spanId == null) throw Invalid(traceId, index, "the span has no valid span_id" + (idNode == null ? "" : $" ({AsText(idNode)})"));
            span.SpanId = spanId;
            span.ParentSpanId = DecodeId(AsText(v2 ? o["parent_id"] : o["parent_span_id"]), 8);
            span.Name = AsText(o["name"]);
            span.StartTimeUnixNano = AsInt64(v2 ? o["start_time"] : o["start_time_unix_nano"]) ?? 0;
            span.EndTimeUnixNano = AsInt64(v2 ? o["end_time"] : o["end_time_unix_nano"]);

            if (v2)
            {
                span.Status = NormalizeStatusCode(o["status_code"]);
                span.StatusMessage = AsText(o["status_message"]);
            }
            else if (o["status"] is JsonObject status)
            {
                span.Status = NormalizeStatusCode(status["code"]);
                span.StatusMessage = AsText(status["message"]);
            }
            else
            {
                // Older writers put a bare code string under "status".
                span.Status = NormalizeStatusCode(o["status"]);
            }

            if (o["attributes"] is JsonObject attributes)
                foreach (var kv in attributes.Items)
                    span.Attributes[kv.Key] = AttributeText(kv.Value);
            // MLflow loads a span through translate_loaded_span: one that came over OTLP has the type its
            // semantic conventions name.
            span.SpanType = span.Attributes.TryGetValue(SpanTypeAttribute, out var type) ? DecodeAttributeString(type)
                : o["attributes"] is JsonObject stored ? SpanTranslation.SpanType(stored) : null;
            return span;
        }

        /// <summary>Span.from_dict's first test (mlflow/entities/span.py): the dict's attributes hold a truthy
        /// mlflow.traceRequestId, as stored (before any JSON decoding). MLflow refuses to load any other span.</summary>
        public static bool NamesItsTrace(JsonObject spanDict) =>
            spanDict["attributes"] is JsonObject attributes && PyJson.Truthy(attributes.Get(TraceRequestIdAttribute));

        /// <summary>The same test on a span already read: the usual stored value (the JSON text of the id) decides at
        /// once; anything else is decided on the span's own JSON.</summary>
        public static bool NamesItsTrace(Span span)
        {
            if (span.Attributes.TryGetValue(TraceRequestIdAttribute, out var stored) && stored.StartsWith("\"", StringComparison.Ordinal)) return true;
            try { return JsonNode.Parse(span.Content) is JsonObject o && NamesItsTrace(o); }
            catch (JsonException) { return false; }
        }

        /// <summary>True for the MLflow 2.x span dict, which nests the ids under "context".</summary>
        public static bool IsV2Dict(JsonObject spanDict) => spanDict["context"] is JsonObject;

        /// <summary>The spans of a traces.json artifact (TraceData.to_dict(): {"spans": [...]}); a bare list is accepted too.</summary>
        public static List<Span> FromTraceData(string traceId, string traceDataJson)
        {
            JsonNode root;
            try { root = JsonNode.Parse(traceDataJson); }
            catch (JsonException ex) { throw Invalid(traceId, null, "the trace data is not valid JSON: " + ex.Message, ex); }
            JsonNode? spans = root is JsonArray ? root : root["spans"];
            if (spans == null && root is JsonObject) spans = root["data"]?["spans"];
            if (!(spans is JsonArray list))
                throw Invalid(traceId, null, "the trace data has no \"spans\" list");
            var result = new List<Span>(list.Items.Count);
            for (int i = 0; i < list.Items.Count; i++)
                result.Add(Parse(traceId, list.Items[i], null, i));
            return result;
        }

        /// <summary>The file name of a trace's span data in its artifact folder (MLflow 2.x, and 3.x without a spans table).</summary>
        public const string TraceDataFileName = "traces.json";

        /// <summary>Reads the traces.json of a trace's own artifact folder (see ConfinedPath.ReadOwnFile for what is refused).</summary>
        public static List<Span> ReadTraceDataFile(string traceId, string ownFolder)
        {
            byte[] bytes = Store.ConfinedPath.ReadOwnFile(ownFolder, TraceDataFileName, "span data file", "TraceDataMissing");
            return FromTraceDataBytes(traceId, bytes, Path.Combine(ownFolder, TraceDataFileName));
        }

        /// <summary>The spans of a traces.json read from <paramref name="source"/> (a file or an object), if they are the trace's own.</summary>
        public static List<Span> FromTraceDataBytes(string traceId, byte[] bytes, string source)
        {
            var spans = FromTraceData(traceId, new UTF8Encoding(false).GetString(bytes).TrimStart('\uFEFF'));
            CheckBelongsTo(traceId, spans, source);
            return spans;
        }

        /// <summary>
        /// A payload read from a file must be the trace's own: every span that names its trace (attribute
        /// mlflow.traceRequestId, which MLflow writes on each span) must name this one. A copied or swapped file
        /// is refused rather than served as this trace's spans.
        /// </summary>
        public static void CheckBelongsTo(string traceId, IEnumerable<Span> spans, string source)
        {
            foreach (var span in spans)
            {
                if (!span.Attributes.TryGetValue(TraceRequestIdAttribute, out var raw)) continue;
                string owner = DecodeAttributeString(raw) ?? raw;
                if (owner != traceId)
                    throw new MlTracesException(ErrorKind.InvalidData, "PayloadOfAnotherTrace",
                        $"'{source}' holds spans of trace '{UserText.Shorten(UserText.Printable(owner), 80)}', not of trace '{traceId}'; " +
                        "it is not served as this trace's spans. Find the trace's own payload, or restore it from a backup.");
            }
        }

        /// <summary>
        /// The current (3.x) span dict for a span dict of either form: a 2.x dict is rewritten the way MLflow 3 would
        /// store it (base64 ids, status.code, time_unix_nano events, empty links); a current dict comes back unchanged.
        /// </summary>
        public static string ToCurrentContent(string traceId, string contentJson)
        {
            JsonNode node;
            try { node = JsonNode.Parse(contentJson); }
            catch (JsonException ex) { throw Invalid(traceId, null, "the span JSON is not valid JSON: " + ex.Message, ex); }
            if (!(node is JsonObject o) || !IsV2Dict(o)) return contentJson;
            return ToCurrentDict(traceId, o).ToPythonJson();
        }

        private static JsonObject ToCurrentDict(string traceId, JsonObject v2)
        {
            var span = FromNode(traceId, v2, "");
            string? otelTraceId = DecodeId(AsText(v2["context"]?["trace_id"]), 16);
            var d = new JsonObject();
            d.Set("trace_id", otelTraceId == null ? (JsonNode)JsonNull.Instance : new JsonString(HexToBase64(otelTraceId)));
            d.Set("span_id", HexToBase64(span.SpanId));
            d.Set("parent_span_id", span.ParentSpanId == null ? null : HexToBase64(span.ParentSpanId));
            d.Set("name", span.Name);
            d.Set("start_time_unix_nano", v2["start_time"] is JsonNumber ? v2["start_time"]! : JsonNumber.From(span.StartTimeUnixNano));
            d.Set("end_time_unix_nano", span.EndTimeUnixNano.HasValue ? JsonNumber.From(span.EndTimeUnixNano.Value) : (JsonNode)JsonNull.Instance);
            var events = new JsonArray();
            if (v2["events"] is JsonArray v2Events)
                foreach (var e in v2Events.Items)
                {
                    var ev = new JsonObject();
                    ev.Set("name", e["name"] ?? JsonNull.Instance);
                    ev.Set("time_unix_nano", e["timestamp"] ?? e["time_unix_nano"] ?? JsonNull.Instance);
                    ev.Set("attributes", e["attributes"] ?? new JsonObject());
                    events.Items.Add(ev);
                }
            d.Set("events", events);
            var status = new JsonObject();
            status.Set("code", "STATUS_CODE_" + span.Status);
            status.Set("message", span.StatusMessage ?? "");
            d.Set("status", status);
            d.Set("attributes", v2["attributes"] as JsonObject ?? new JsonObject());
            d.Set("links", new JsonArray());
            return d;
        }

        /// <summary>OK, ERROR or UNSET from STATUS_CODE_*, the bare names, or the OTel enum numbers (0 unset, 1 ok, 2 error).</summary>
        public static string NormalizeStatusCode(JsonNode? code)
        {
            if (code is JsonNumber n && n.IsInteger)
            {
                switch (n.Text) { case "1": return "OK"; case "2": return "ERROR"; default: return "UNSET"; }
            }
            string? text = AsText(code);
            if (string.IsNullOrEmpty(text)) return "UNSET";
            string upper = text!.Trim().ToUpperInvariant();
            if (upper.StartsWith("STATUS_CODE_", StringComparison.Ordinal)) upper = upper.Substring("STATUS_CODE_".Length);
            if (upper.StartsWith("STATUSCODE.", StringComparison.Ordinal)) upper = upper.Substring("STATUSCODE.".Length);
            switch (upper)
            {
                case "OK": case "1": return "OK";
                case "ERROR": case "2": return "ERROR";
                default: return "UNSET";
            }
        }

        /// <summary>
        /// An id as lowercase hex: 0x-prefixed or bare hex of the expected length, or base64 of the big-endian bytes
        /// (protobuf JSON). <paramref name="bytes"/> is 8 for span ids and 16 for OTel trace ids. Null or "" gives null.
        /// </summary>
        public static string? DecodeId(string? id, int bytes)
        {
            if (string.IsNullOrEmpty(id)) return null;
            string s = id!.Trim();
            // MLflow 2.x writes 0x-hex; base64 can start with "0x" too ("0XbOyh5c..."), so the prefix alone decides
            // nothing: it is hex only when what follows is hex of at most the id's length.
            if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                string hex = s.Substring(2).ToLowerInvariant();
                if (hex.Length > 0 && hex.Length <= bytes * 2 && IsHex(hex)) return hex.PadLeft(bytes * 2, '0');
            }
            if (s.Length == bytes * 2 && IsHex(s)) return s.ToLowerInvariant();
            try
            {
                byte[] raw = Convert.FromBase64String(s);
                if (raw.Length == 0) return null;
                var sb = new StringBuilder(Math.Max(raw.Length, bytes) * 2);
                for (int i = raw.Length; i < bytes; i++) sb.Append("00");
                foreach (byte b in raw) sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
                return sb.ToString();
            }
            catch (FormatException)
            {
                // An id in a form we do not know is kept as written rather than lost.
                return s;
            }
        }

        /// <summary>Base64 of the big-endian bytes of a hex id, as protobuf JSON writes OTel ids.</summary>
        public static string HexToBase64(string hex)
        {
            if (hex.Length % 2 != 0) hex = "0" + hex;
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] = byte.Parse(hex.Substring(i * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return Convert.ToBase64String(bytes);
        }

        /// <summary>An attribute value decoded once: "\"LLM\"" gives LLM; text that is not JSON is returned as it is.</summary>
        public static string? DecodeAttributeString(string? value)
        {
            if (value == null) return null;
            try
            {
                var node = JsonNode.Parse(value);
                switch (node)
                {
                    case JsonString s: return s.Value;
                    case JsonNull _: return null;
                    default: return value;
                }
            }
            catch (JsonException) { return value; }
        }

        /// <summary>The attribute's stored JSON text: MLflow keeps values as JSON-encoded strings; values written as raw
        /// JSON (by OTel exporters) are kept as their JSON text.</summary>
        private static string AttributeText(JsonNode value) => value is JsonString s ? s.Value : value.ToPythonJson();

        private static bool IsHex(string s)
        {
            if (s.Length == 0) return false;
            foreach (char c in s)
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
            return true;
        }

        internal static string? AsText(JsonNode? node)
        {
            switch (node)
            {
                case null: return null;
                case JsonNull _: return null;
                case JsonString s: return s.Value;
                case JsonNumber n: return n.Text;
                case JsonBool b: return b.Value ? "true" : "false";
                default: return node.ToPythonJson();
            }
        }

        /// <summary>An integer from a JSON number or a numeric string; floats (1.7e18) are truncated as Python's int() does.</summary>
        internal static long? AsInt64(JsonNode? node)
        {
            string? text = node is JsonNumber n ? n.Text : node is JsonString s ? s.Value.Trim() : null;
            if (string.IsNullOrEmpty(text)) return null;
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
            if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal m))
                return (long)decimal.Truncate(m);
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && !double.IsNaN(d) && !double.IsInfinity(d))
                return (long)d;
            return null;
        }

        internal static string Describe(JsonNode? node)
        {
            switch (node)
            {
                case null: return "nothing";
                case JsonNull _: return "null";
                case JsonString _: return "a string";
                case JsonNumber _: return "a number";
                case JsonBool _: return "a boolean";
                case JsonArray _: return "a list";
                default: return "an object";
            }
        }

        private static MlTracesException Invalid(string traceId, int? index, string what, Exception? inner = null)
        {
            string where = index.HasValue ? $"span {index.Value} of trace '{traceId}'" : $"a span of trace '{traceId}'";
            return new MlTracesException(ErrorKind.InvalidData, "InvalidSpanJson",
                $"Cannot read {where}: {what}" + (what.EndsWith(".", StringComparison.Ordinal) ? "" : "."), inner);
        }
    }
}
