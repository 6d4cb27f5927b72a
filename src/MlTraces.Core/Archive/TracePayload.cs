using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Google.Protobuf;
using MlTraces.Core.Archive.Otlp;
using MlTraces.Core.Export;
using MlTraces.Core.Json;
using MlTraces.Core.Store;

namespace MlTraces.Core.Archive
{
    /// <summary>A traces.pb payload MLflow would refuse to write or read. The message is MLflow's own text.</summary>
    public sealed class ArchivedTraceException : MlTracesException
    {
        public const string WriteErrorId = "ArchivedTraceMalformed";
        public const string ReadErrorId = "ArchivedTracePayloadInvalid";

        public string TraceId { get; }

        public ArchivedTraceException(string traceId, string errorId, string message, Exception? inner = null)
            : base(ErrorKind.InvalidData, errorId, message, inner)
        {
            TraceId = traceId;
        }
    }

    /// <summary>
    /// MLflow's archive format traces.pb (mlflow/tracing/otel/otel_archival.py): binary OTLP TracesData with exactly
    /// one ResourceSpans (the first span's resource; spans from stored JSON have the empty resource) and exactly one
    /// ScopeSpans (no scope), the spans in span-id order as Span.to_otel_proto() writes them. No compression.
    /// </summary>
    public static class TracePayload
    {
        public const string FileName = "traces.pb";
        private const string TraceIdPrefix = "tr-";

        // ---------------------------------------------------------------- write

        /// <summary>spans_to_traces_data_pb: the payload for spans whose Content is MLflow's stored span JSON.</summary>
        /// <summary>The size every archive and restore report gives for a trace: its span content as UTF-8 bytes
        /// (SQL's octet_length), what moves between the store and the archive, not the size of traces.pb.</summary>
        public static long ContentBytes(IEnumerable<string> contents) => contents.Sum(c => (long)Encoding.UTF8.GetByteCount(c));

        public static byte[] Write(string traceId, IReadOnlyList<Span> spans)
        {
            if (spans == null || spans.Count == 0)
                throw WriteError(traceId, "Archived trace payload must include at least one span.");

            var parsed = new List<ParsedSpan>(spans.Count);
            foreach (var span in spans) parsed.Add(ParsedSpan.From(traceId, span));

            var otelTraceIds = new SortedSet<string>(parsed.Select(p => p.OtelTraceIdHex), StringComparer.Ordinal);
            if (otelTraceIds.Count > 1)
                throw WriteError(traceId, "Archived spans must belong to a single OTLP trace, but got distinct trace IDs: "
                    + PyRepr.List(otelTraceIds));
            // "Archived spans must share the same OTLP resource." cannot happen here: MLflow gives every span read
            // from its JSON the empty resource, and so do we.

            var scopeSpans = new ScopeSpans();
            // SqlAlchemyStore.archive_traces reads a trace's spans ORDER BY span_id and spans_to_traces_data_pb keeps
            // that order (only the reader sorts root-first).
            foreach (var p in parsed.OrderBy(x => x.SpanIdHex, StringComparer.Ordinal))
                scopeSpans.Spans.Add(p.ToOtelProto(traceId));
            // resource.CopyFrom(empty) marks the resource present, so it is written (as an empty message); the scope
            // is never touched, so it is absent. Same bytes as MLflow.
            var resourceSpans = new ResourceSpans { Resource = new Otlp.Resource() };
            resourceSpans.ScopeSpans.Add(scopeSpans);
            var data = new TracesData();
            data.ResourceSpans.Add(resourceSpans);
            return data.ToByteArray();
        }

        /// <summary>MLflow's canonical order: roots first, then by start time, then by span id (a stable sort).</summary>
        private static IEnumerable<T> SortRootFirst<T>(IEnumerable<T> items, Func<T, string?> parent, Func<T, long> start, Func<T, string> spanId) =>
            items.OrderBy(x => parent(x) == null ? 0 : 1).ThenBy(start).ThenBy(spanId, StringComparer.Ordinal);

        /// <summary>A span dict as the archival pass reads it, Span.from_dict(translate_loaded_span(dict)), ready for to_otel_proto.</summary>
        private sealed class ParsedSpan
        {
            public string OtelTraceIdHex = "";
            public string SpanIdHex = "";
            public string? ParentIdHex;
            public string? Name;
            public long StartTimeNs;
            public long? EndTimeNs;
            public string StatusCode = "UNSET";
            public string StatusMessage = "";
            public JsonObject Attributes = new JsonObject();
            public JsonArray Events = new JsonArray();
            public JsonArray Links = new JsonArray();
            public string SpanIdForErrors = "";

            public static ParsedSpan From(string traceId, Span span)
            {
                JsonNode node;
                try { node = JsonNode.Parse(SpanJson.ToCurrentContent(traceId, span.Content)); }
                catch (MlTracesException ex) { throw WriteError(traceId, ex.Message, ex); }
                catch (JsonException ex) { throw WriteError(traceId, $"Span '{span.SpanId}' is not valid JSON: {ex.Message}", ex); }
                if (!(node is JsonObject o)) throw WriteError(traceId, $"Span '{span.SpanId}' is not a JSON object.");

                // A span that arrived over OTLP keeps the type its semantic conventions give it.
                SpanTranslation.TranslateLoaded(o);
                // Span.from_dict refuses a span that does not name its trace (no attributes, no mlflow.traceRequestId,
                // or an empty one), and the archival pass marks such a trace MALFORMED_TRACE.
                if (!SpanJson.NamesItsTrace(o))
                    throw WriteError(traceId, $"Failed to create a Span object from the given dictionary: the {SpanJson.TraceRequestIdAttribute} "
                        + $"attribute of span '{span.SpanId}' is empty or missing.");

                var p = new ParsedSpan { SpanIdForErrors = span.SpanId };
                // The span dict of MLflow 3.5 (version 4: trace_id is the MLflow id, ids are hex, the OTel trace id is
                // otel_trace_id). MLflow tells it by its version key; to_dict writes both keys together.
                bool v4 = o.Get(SpanJson.OtelTraceIdKey) != null;
                Func<JsonNode?, int, string, string?> id = (node, bytes, field) => Id(traceId, span, node, bytes, field, hexOnly: v4);
                p.OtelTraceIdHex = id(v4 ? o[SpanJson.OtelTraceIdKey] : o["trace_id"], 16, v4 ? SpanJson.OtelTraceIdKey : "trace_id")!;
                p.SpanIdHex = id(o["span_id"], 8, "span_id")!;
                // Proto JSON keeps an empty parent id for roots; MLflow treats "" and null alike.
                p.ParentIdHex = PyJson.Truthy(o["parent_span_id"]) ? id(o["parent_span_id"], 8, "parent_span_id") : null;
                p.Name = o["name"] is JsonString n ? n.Value : null;
                if (p.Name == null)
                    throw WriteError(traceId, $"Span '{span.SpanId}' has no name; an OTLP span needs one.");
                p.StartTimeNs = SpanJson.AsInt64(o["start_time_unix_nano"])
                    ?? throw WriteError(traceId, $"Span '{span.SpanId}' has no valid start_time_unix_nano.");
                p.EndTimeNs = PyJson.Truthy(o["end_time_unix_nano"]) ? SpanJson.AsInt64(o["end_time_unix_nano"]) : null;

                JsonNode? status = o["status"];
                p.StatusCode = SpanJson.NormalizeStatusCode(status is JsonObject so ? so["code"] : status);
                // OpenTelemetry's Status keeps a description only for ERROR; MLflow's span status goes through it.
                p.StatusMessage = p.StatusCode == "ERROR" && status is JsonObject sm ? SpanJson.AsText(sm["message"]) ?? "" : "";

                if (o["attributes"] is JsonObject attributes) p.Attributes = attributes;
                if (o["events"] is JsonArray events) p.Events = events;
                if (o["links"] is JsonArray links) p.Links = links;
                return p;
            }

            /// <param name="hexOnly">A version 4 id: hex as decode_id reads it (int(x, 16)), never base64.</param>
            private static string? Id(string traceId, Span span, JsonNode? node, int bytes, string field, bool hexOnly)
            {
                string? text = SpanJson.AsText(node);
                string? hex = hexOnly ? HexId(text, bytes) : SpanJson.DecodeId(text, bytes);
                if (hex == null || hex.Length != bytes * 2 || !IsHex(hex))
                    throw WriteError(traceId, $"Span '{span.SpanId}' has no valid {field} ({text ?? "null"}).");
                return hex;
            }

            public Otlp.Span ToOtelProto(string traceId)
            {
                var s = new Otlp.Span
                {
                    TraceId = ByteString.CopyFrom(FromHex(OtelTraceIdHex)),
                    SpanId = ByteString.CopyFrom(FromHex(SpanIdHex)),
                    Name = Utf8(traceId, SpanIdForErrors, Name!),
                    StartTimeUnixNano = Unsigned(traceId, SpanIdForErrors, StartTimeNs, "start_time_unix_nano"),
                    Status = new Status { Code = StatusCode == "OK" ? Status.Types.StatusCode.Ok : StatusCode == "ERROR" ? Status.Types.StatusCode.Error : Status.Types.StatusCode.Unset, Message = Utf8(traceId, SpanIdForErrors, StatusMessage) },
                };
                if (EndTimeNs.HasValue && EndTimeNs.Value != 0) s.EndTimeUnixNano = Unsigned(traceId, SpanIdForErrors, EndTimeNs.Value, "end_time_unix_nano");
                if (ParentIdHex != null) s.ParentSpanId = ByteString.CopyFrom(FromHex(ParentIdHex));

                foreach (var kv in Attributes.Items)
                    s.Attributes.Add(Attribute(traceId, SpanIdForErrors, kv.Key, StoredAttributeValue(kv.Value)));

                foreach (var e in Events.Items)
                {
                    var ev = new Otlp.Span.Types.Event
                    {
                        // OTelEvent(name=event["name"], timestamp=int(event["time_unix_nano"])): both must be there.
                        Name = Utf8(traceId, SpanIdForErrors, (e["name"] as JsonString)?.Value
                            ?? throw WriteError(traceId, $"Span '{SpanIdForErrors}' has an event without a name.")),
                        TimeUnixNano = Unsigned(traceId, SpanIdForErrors, SpanJson.AsInt64(e["time_unix_nano"])
                            ?? throw WriteError(traceId, $"Span '{SpanIdForErrors}' has an event without a valid time_unix_nano."), "event time_unix_nano"),
                    };
                    if (e["attributes"] is JsonObject ea)
                        foreach (var kv in ea.Items)
                            ev.Attributes.Add(Attribute(traceId, SpanIdForErrors, kv.Key, kv.Value));
                    s.Events.Add(ev);
                }

                foreach (var l in Links.Items)
                {
                    // Link.to_dict(): {"trace_id": "tr-<hex>", "span_id": "<hex>", "attributes": {...} | null}.
                    string linkTrace = SpanJson.AsText(l["trace_id"]) ?? "";
                    int slash = linkTrace.LastIndexOf('/');
                    if (slash >= 0) linkTrace = linkTrace.Substring(slash + 1); // v4 ids: trace:/<location>/<hex>
                    if (linkTrace.StartsWith(TraceIdPrefix, StringComparison.Ordinal)) linkTrace = linkTrace.Substring(TraceIdPrefix.Length);
                    string linkSpan = SpanJson.AsText(l["span_id"]) ?? "";
                    if (!IsHex(linkTrace) || !IsHex(linkSpan))
                        throw WriteError(traceId, $"Span '{SpanIdForErrors}' has a link with an invalid trace or span id ({l.ToPythonJson()}).");
                    var link = new Otlp.Span.Types.Link
                    {
                        TraceId = ByteString.CopyFrom(FromHex(linkTrace)),
                        SpanId = ByteString.CopyFrom(FromHex(linkSpan)),
                    };
                    if (l["attributes"] is JsonObject la)
                        foreach (var kv in la.Items)
                            link.Attributes.Add(Attribute(traceId, SpanIdForErrors, kv.Key, kv.Value));
                    s.Links.Add(link);
                }
                return s;
            }
        }

        /// <summary>
        /// The Python value MLflow's attribute registry gives for a stored attribute: a non-empty string is json.loads'd
        /// (kept as the string if that fails); an empty string or any other falsy value is None; other raw JSON values
        /// (written by OTel exporters) are used as they are.
        /// </summary>
        private static JsonNode StoredAttributeValue(JsonNode stored)
        {
            if (!PyJson.Truthy(stored)) return JsonNull.Instance;
            if (!(stored is JsonString s)) return stored;
            try { return JsonNode.Parse(s.Value); }
            catch (JsonException) { return s; }
        }

        /// <summary>attributes.add() with key and _set_otel_proto_anyvalue(attr.value, value): None leaves the value
        /// field unset, so a null attribute is a KeyValue without a value, not one with an empty AnyValue.</summary>
        private static KeyValue Attribute(string traceId, string spanId, string key, JsonNode value) =>
            new KeyValue { Key = Utf8(traceId, spanId, key), Value = value is JsonNull ? null : ToAnyValue(traceId, spanId, value) };

        /// <summary>Python's protobuf refuses a str it cannot encode as UTF-8 (a lone surrogate, which json.loads
        /// accepts from \ud800) with a ValueError, so MLflow's pass marks the trace MALFORMED_TRACE; C# would write
        /// U+FFFD instead.</summary>
        private static string Utf8(string traceId, string spanId, string text)
        {
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
                if (char.IsSurrogate(c))
                    throw WriteError(traceId, $"Span '{spanId}' has a string that cannot be encoded in UTF-8 (a lone surrogate at position {i}).");
            }
            return text;
        }

        /// <summary>OTLP times are fixed64: Python's protobuf refuses a negative one (ValueError, MALFORMED_TRACE).</summary>
        private static ulong Unsigned(string traceId, string spanId, long nanos, string field) =>
            nanos >= 0 ? (ulong)nanos : throw WriteError(traceId, $"Span '{spanId}' has a negative {field} ({nanos.ToString(CultureInfo.InvariantCulture)}).");

        /// <summary>_set_otel_proto_anyvalue for a JSON value: None stays unset, lists and dicts are always set (even empty).</summary>
        private static AnyValue ToAnyValue(string traceId, string spanId, JsonNode value)
        {
            var v = new AnyValue();
            switch (value)
            {
                case JsonNull _: break;
                case JsonBool b: v.BoolValue = b.Value; break;
                case JsonString s: v.StringValue = Utf8(traceId, spanId, s.Value); break;
                case JsonNumber n when n.IsInteger && !IsNonFinite(n.Text):
                    // Python ints are unbounded; protobuf's int64 setter refuses the rest, and so does MLflow's archival.
                    if (!long.TryParse(n.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
                        throw WriteError(traceId, $"Span '{spanId}' has an integer attribute value out of the OTLP int64 range: {n.Text}.");
                    v.IntValue = l;
                    break;
                case JsonNumber n:
                    v.DoubleValue = ParseDouble(n.Text);
                    break;
                case JsonArray a:
                    var array = new ArrayValue();
                    foreach (var item in a.Items) array.Values.Add(ToAnyValue(traceId, spanId, item));
                    v.ArrayValue = array;
                    break;
                case JsonObject o:
                    var kvlist = new KeyValueList();
                    foreach (var kv in o.Items) kvlist.Values.Add(Attribute(traceId, spanId, kv.Key, kv.Value));
                    v.KvlistValue = kvlist;
                    break;
            }
            return v;
        }

        /// <summary>Python's json reads NaN, Infinity and -Infinity as floats.</summary>
        private static bool IsNonFinite(string text) => text == "NaN" || text == "Infinity" || text == "-Infinity";

        /// <summary>Python's float('nan') has the sign bit clear; .NET's double.NaN has it set. Same value, not the same bytes.</summary>
        private static readonly double PythonNaN = BitConverter.Int64BitsToDouble(0x7FF8000000000000);

        private static double ParseDouble(string text)
        {
            switch (text)
            {
                case "NaN": return PythonNaN;
                case "Infinity": return double.PositiveInfinity;
                case "-Infinity": return double.NegativeInfinity;
                // A JSON number too large for a double is float('inf') in Python; .NET Framework's parser fails on it.
                default: return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d
                    : text.StartsWith("-", StringComparison.Ordinal) ? double.NegativeInfinity : double.PositiveInfinity;
            }
        }

        // ----------------------------------------------------------------- read

        /// <summary>traces_data_pb_to_spans: the spans of a payload, root-first, each with Content as MLflow's
        /// Span.to_dict() gives it after Span.from_otel_proto.</summary>
        public static List<Span> Read(string traceId, byte[] payload)
        {
            if (payload == null || payload.Length == 0)
                throw ReadError(traceId, "Archived trace payload must be a non-empty OTLP TracesData protobuf.");
            TracesData data;
            try { data = TracesData.Parser.ParseFrom(payload); }
            catch (InvalidProtocolBufferException ex)
            {
                throw ReadError(traceId, "Archived trace payload must be a valid OTLP TracesData protobuf.", ex);
            }
            if (data.ResourceSpans.Count != 1)
                throw ReadError(traceId, "Archived trace payload must contain exactly one ResourceSpans group.");
            if (data.ResourceSpans[0].ScopeSpans.Count != 1)
                throw ReadError(traceId, "Archived trace payload must contain exactly one ScopeSpans group.");

            var read = new List<(string Hex, Span Span)>();
            foreach (var otel in data.ResourceSpans[0].ScopeSpans[0].Spans)
            {
                string otelTraceHex = IdHex(traceId, otel.TraceId, 16);
                var dict = ToSpanDict(traceId, otel, otelTraceHex);
                read.Add((otelTraceHex, SpanJson.FromNode(traceId, dict, dict.ToPythonJson())));
            }
            if (read.Count == 0)
                throw ReadError(traceId, "Archived trace payload must contain at least one span.");
            var otelTraceIds = new SortedSet<string>(read.Select(r => r.Hex), StringComparer.Ordinal);
            if (otelTraceIds.Count > 1)
                throw ReadError(traceId, "Archived trace payload must contain spans for a single OTLP trace, "
                    + "but got distinct trace IDs: " + PyRepr.List(otelTraceIds));
            return SortRootFirst(read.Select(r => r.Span), s => s.ParentSpanId, s => s.StartTimeUnixNano, s => s.SpanId).ToList();
        }

        /// <summary>Span.from_otel_proto(preserve_request_id=True) then Span.to_dict(). Kind, flags, trace_state,
        /// dropped counts, schema URLs and the resource are not part of MLflow's span dict and are not kept.</summary>
        private static JsonObject ToSpanDict(string traceId, Otlp.Span otel, string otelTraceHex)
        {
            string spanHex = IdHex(traceId, otel.SpanId, 8);
            string? parentHex = otel.ParentSpanId.IsEmpty ? null : IdHex(traceId, otel.ParentSpanId, 8);
            var statusCode = otel.Status?.Code ?? Status.Types.StatusCode.Unset;
            string code = statusCode == Status.Types.StatusCode.Ok ? "OK" : statusCode == Status.Types.StatusCode.Error ? "ERROR" : "UNSET";

            var d = new JsonObject();
            d.Set("trace_id", SpanJson.HexToBase64(otelTraceHex));
            d.Set("span_id", SpanJson.HexToBase64(spanHex));
            d.Set("parent_span_id", parentHex == null ? null : SpanJson.HexToBase64(parentHex));
            d.Set("name", otel.Name);
            d.Set("start_time_unix_nano", JsonNumber.From(unchecked((long)otel.StartTimeUnixNano)));
            // An unset end (0) is written as null, as MLflow stores a span that has not ended.
            d.Set("end_time_unix_nano", otel.EndTimeUnixNano == 0 ? (JsonNode)JsonNull.Instance : JsonNumber.From(unchecked((long)otel.EndTimeUnixNano)));

            var events = new JsonArray();
            foreach (var e in otel.Events)
            {
                var ev = new JsonObject();
                ev.Set("name", e.Name);
                ev.Set("time_unix_nano", JsonNumber.From(unchecked((long)e.TimeUnixNano)));
                var attrs = new JsonObject();
                foreach (var kv in e.Attributes) attrs.Set(kv.Key, FromAnyValue(kv.Value, bytesAsBase64: false));
                ev.Set("attributes", attrs);
                events.Items.Add(ev);
            }
            d.Set("events", events);

            var status = new JsonObject();
            status.Set("code", "STATUS_CODE_" + code);
            // OpenTelemetry's Status drops a description unless the code is ERROR.
            status.Set("message", code == "ERROR" ? otel.Status?.Message ?? "" : "");
            d.Set("status", status);

            // Each value is dumped to JSON on its own (json.dumps, ensure_ascii=False), as MLflow stores attributes.
            var attributes = new JsonObject();
            foreach (var kv in otel.Attributes)
                attributes.Set(kv.Key, FromAnyValue(kv.Value, bytesAsBase64: false).ToPythonJson(ensureAscii: false));
            if (attributes.Get(SpanJson.TraceRequestIdAttribute) == null)
                attributes.Set(SpanJson.TraceRequestIdAttribute, new JsonString(TraceIdPrefix + otelTraceHex).ToPythonJson(ensureAscii: false));
            d.Set("attributes", attributes);

            var links = new JsonArray();
            foreach (var l in otel.Links)
            {
                var link = new JsonObject();
                link.Set("trace_id", TraceIdPrefix + IdHex(traceId, l.TraceId, 16));
                link.Set("span_id", IdHex(traceId, l.SpanId, 8));
                var attrs = new JsonObject();
                foreach (var kv in l.Attributes) attrs.Set(kv.Key, FromAnyValue(kv.Value, bytesAsBase64: true));
                link.Set("attributes", attrs.Count == 0 ? (JsonNode)JsonNull.Instance : attrs);
                links.Items.Add(link);
            }
            d.Set("links", links);
            return d;
        }

        /// <summary>_decode_otel_proto_anyvalue as a JSON value. Bytes become Python's repr (what MLflow's JSON encoder
        /// falls back to) or, in links, base64 (Link.from_otel_proto).</summary>
        private static JsonNode FromAnyValue(AnyValue? v, bool bytesAsBase64)
        {
            if (v == null) return JsonNull.Instance;
            switch (v.ValueCase)
            {
                case AnyValue.ValueOneofCase.StringValue: return new JsonString(v.StringValue);
                case AnyValue.ValueOneofCase.BoolValue: return JsonBool.From(v.BoolValue);
                case AnyValue.ValueOneofCase.IntValue: return JsonNumber.From(v.IntValue);
                case AnyValue.ValueOneofCase.DoubleValue: return new JsonNumber(PyJson.FloatRepr(v.DoubleValue));
                case AnyValue.ValueOneofCase.BytesValue:
                    byte[] raw = v.BytesValue.ToByteArray();
                    return new JsonString(bytesAsBase64 ? Convert.ToBase64String(raw) : PyRepr.Bytes(raw));
                case AnyValue.ValueOneofCase.ArrayValue:
                    return new JsonArray(v.ArrayValue.Values.Select(x => FromAnyValue(x, bytesAsBase64)));
                case AnyValue.ValueOneofCase.KvlistValue:
                    var o = new JsonObject();
                    foreach (var kv in v.KvlistValue.Values) o.Set(kv.Key, FromAnyValue(kv.Value, bytesAsBase64));
                    return o;
                default: return JsonNull.Instance;
            }
        }

        /// <summary>An id as fixed-width lowercase hex: MLflow reads the bytes as a big-endian integer and writes it
        /// back at 16 (trace) or 8 (span) bytes, so short ids are zero-padded and empty ones are zero.</summary>
        private static string IdHex(string traceId, ByteString id, int width)
        {
            var bytes = id.ToByteArray();
            int skip = 0;
            while (bytes.Length - skip > width && bytes[skip] == 0) skip++;
            if (bytes.Length - skip > width)
                throw ReadError(traceId, "Archived trace payload must be a valid OTLP TracesData protobuf.");
            var sb = new StringBuilder(width * 2);
            for (int i = bytes.Length - skip; i < width; i++) sb.Append("00");
            for (int i = skip; i < bytes.Length; i++) sb.Append(bytes[i].ToString("x2", CultureInfo.InvariantCulture));
            return sb.ToString();
        }

        // -------------------------------------------------------------- helpers

        private static byte[] FromHex(string hex)
        {
            if (hex.Length % 2 != 0) hex = "0" + hex;
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] = byte.Parse(hex.Substring(i * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return bytes;
        }

        /// <summary>An id as int(x, 16) reads it, at the OTLP width; null when it is not hex or does not fit.</summary>
        private static string? HexId(string? text, int bytes)
        {
            if (text == null) return null;
            string hex = text.Trim();
            if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) hex = hex.Substring(2);
            if (hex.Length == 0) return null;
            hex = hex.TrimStart('0');
            if (hex.Length > bytes * 2 || (hex.Length > 0 && !IsHex(hex))) return null;
            return hex.ToLowerInvariant().PadLeft(bytes * 2, '0');
        }

        private static bool IsHex(string s)
        {
            if (s.Length == 0) return false;
            foreach (char c in s)
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
            return true;
        }

        private static ArchivedTraceException WriteError(string traceId, string message, Exception? inner = null) =>
            new ArchivedTraceException(traceId, ArchivedTraceException.WriteErrorId, message, inner);

        private static ArchivedTraceException ReadError(string traceId, string message, Exception? inner = null) =>
            new ArchivedTraceException(traceId, ArchivedTraceException.ReadErrorId, message, inner);

        /// <summary>
        /// The spans of an archived trace, read only from its own folder (<see cref="TraceFolders.Archive"/>) and
        /// only if they are its own (<see cref="SpanJson.CheckBelongsTo"/>). The one read path of Get-Trace,
        /// Search-Trace -IncludeSpans and Restore-Trace.
        /// </summary>
        /// <param name="objects">The caller's run of object locations (a server that did not answer is not asked again).</param>
        public static List<Span> ReadArchived(string traceId, string experimentId, string location, Locations.ObjectStoreSettings settings, out long bytes, Locations.ObjectSession? objects = null)
        {
            var repository = ArchiveRepositories.For(location, settings, objects);
            ArchiveRepositories.CheckOwnFolder(repository, traceId, experimentId, location);
            byte[] payload = repository.Read(location);
            bytes = payload.LongLength;
            var spans = TracePayload.Read(traceId, payload);
            SpanJson.CheckBelongsTo(traceId, spans, location);
            return spans;
        }
    }
}
