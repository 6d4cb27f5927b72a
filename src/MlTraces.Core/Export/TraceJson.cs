using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using MlTraces.Core.Json;

namespace MlTraces.Core.Export
{
    /// <summary>
    /// MLflow's trace JSON: Trace.to_dict() = {"info": TraceInfo.to_dict(), "data": {"spans": [Span.to_dict(), ...]}}.
    /// The info is protobuf JSON of TraceInfoV3 (fields in field-number order, unset fields left out, request_time as
    /// RFC 3339, execution_duration replaced by execution_duration_ms at the end, assessments as protobuf JSON whose
    /// numbers are doubles). Spans are their stored JSON. Written as Python's json.dumps writes, so a line equals
    /// json.dumps(trace.to_dict()) except that tags and metadata come sorted by key (protobuf maps have no order).
    /// </summary>
    public static class TraceJson
    {
        // MLflow's TraceInfo.to_proto truncates metadata to 250 characters, tags to 8000, stack traces to 10000,
        // turns a NULL tag value into "None" and every assessment number into a double. An export is a backup, so
        // it keeps what the store holds instead: the JSON has MLflow's shape and MLflow reads it, and nothing is lost.
        private const string SourceRunIdMetadataKey = "mlflow.assessment.sourceRunId";

        // ---------------------------------------------------------------- writing

        /// <summary>One trace as one line of MLflow trace JSON (no trailing newline).</summary>
        public static string ToJsonLine(Trace trace) => ToJsonNode(trace).ToPythonJson();

        public static JsonObject ToJsonNode(Trace trace)
        {
            if (trace == null) throw new ArgumentNullException(nameof(trace));
            var data = new JsonObject().Set("spans", SpansToJsonNode(trace));
            return new JsonObject().Set("info", InfoToJsonNode(trace)).Set("data", data);
        }

        /// <summary>TraceInfo.to_dict().</summary>
        public static JsonObject InfoToJsonNode(Trace trace)
        {
            var info = new JsonObject();
            info.Set("trace_id", trace.TraceId);
            if (trace.ClientRequestId != null) info.Set("client_request_id", trace.ClientRequestId);
            var experiment = new JsonObject().Set("experiment_id", trace.ExperimentId);
            info.Set("trace_location", new JsonObject().Set("type", "MLFLOW_EXPERIMENT").Set("mlflow_experiment", experiment));
            if (trace.RequestPreview != null) info.Set("request_preview", trace.RequestPreview);
            if (trace.ResponsePreview != null) info.Set("response_preview", trace.ResponsePreview);
            info.Set("request_time", PyFormat.TimestampJson(trace.TimestampMs));
            info.Set("state", trace.State);
            if (trace.Metadata.Count > 0)
                info.Set("trace_metadata", StringMap(trace.Metadata));
            if (trace.Assessments.Count > 0)
            {
                var list = new JsonArray();
                foreach (var a in trace.Assessments) list.Items.Add(AssessmentToJsonNode(a, trace.TraceId));
                info.Set("assessments", list);
            }
            if (trace.Tags.Count > 0)
                info.Set("tags", StringMap(trace.Tags));
            if (trace.ExecutionTimeMs.HasValue) info.Set("execution_duration_ms", trace.ExecutionTimeMs.Value);
            return info;
        }

        /// <summary>The span dicts: each span's stored JSON, parsed and written again with key order kept.</summary>
        public static JsonArray SpansToJsonNode(Trace trace)
        {
            var spans = new JsonArray();
            if (trace.Spans == null) return spans;
            foreach (var span in trace.Spans)
            {
                try { spans.Items.Add(JsonNode.Parse(span.Content)); }
                catch (JsonException ex)
                {
                    throw new MlTracesException(ErrorKind.InvalidData, "InvalidSpanJson",
                        $"The stored JSON of span '{span.SpanId}' of trace '{trace.TraceId}' is not valid JSON: {ex.Message}", ex);
                }
            }
            return spans;
        }

        private static JsonObject StringMap(SortedDictionary<string, string?> map)
        {
            var o = new JsonObject();
            foreach (var kv in map) o.Set(kv.Key, kv.Value);
            return o;
        }

        /// <summary>Assessment.to_dictionary(): protobuf JSON of the assessment, as nested in TraceInfo.to_dict().</summary>
        public static JsonObject AssessmentToJsonNode(Assessment a, string? traceId = null)
        {
            var o = new JsonObject();
            if (!string.IsNullOrEmpty(a.AssessmentId)) o.Set("assessment_id", a.AssessmentId);
            o.Set("assessment_name", a.Name);
            o.Set("trace_id", string.IsNullOrEmpty(a.TraceId) ? traceId ?? "" : a.TraceId);
            if (a.SpanId != null) o.Set("span_id", a.SpanId);
            var source = new JsonObject().Set("source_type", a.SourceType);
            if (a.SourceId != null) source.Set("source_id", a.SourceId);
            o.Set("source", source);
            o.Set("create_time", PyFormat.TimestampJson(a.CreatedTimestampMs));
            o.Set("last_update_time", PyFormat.TimestampJson(a.LastUpdatedTimestampMs));

            JsonNode value = ParseStoredValue(a);
            switch (a.AssessmentType)
            {
                case "expectation":
                    var expectation = new JsonObject();
                    if (value is JsonArray || value is JsonObject)
                    {
                        // ExpectationValue.to_proto: lists and dicts travel as a JSON string.
                        var serialized = new JsonObject().Set("serialization_format", "JSON_FORMAT").Set("value", value.ToPythonJson());
                        expectation.Set("serialized_value", serialized);
                    }
                    else expectation.Set("value", AsProtobufValue(value));
                    o.Set("expectation", expectation);
                    break;
                case "feedback":
                    var feedback = new JsonObject().Set("value", AsProtobufValue(value));
                    var error = ErrorToJsonNode(a);
                    if (error != null) feedback.Set("error", error);
                    o.Set("feedback", feedback);
                    break;
                default:
                    // Not in the protobuf MLflow's TraceInfo.to_dict() knows; kept under its own type name so an
                    // export of such a store can be imported again without loss.
                    o.Set(string.IsNullOrEmpty(a.AssessmentType) ? "issue" : a.AssessmentType, new JsonObject().Set("value", value));
                    break;
            }
            if (a.Rationale != null) o.Set("rationale", a.Rationale);
            var metadata = ParseStoredJson(a, a.Metadata, "metadata") as JsonObject;
            if (metadata != null && metadata.Count > 0)
            {
                var m = new JsonObject();
                foreach (var kv in metadata.Items) m.Set(kv.Key, PyFormat.Str(kv.Value));
                o.Set("metadata", m);
            }
            if (!string.IsNullOrEmpty(a.Overrides)) o.Set("overrides", a.Overrides);
            o.Set("valid", a.Valid);
            return o;
        }

        private static JsonNode ParseStoredValue(Assessment a)
        {
            try { return JsonNode.Parse(a.Value ?? "null"); }
            // Not written by MLflow (which stores json.dumps(value)); read as the text it is.
            catch (JsonException) { return new JsonString(a.Value ?? ""); }
        }

        private static JsonNode? ParseStoredJson(Assessment a, string? text, string what)
        {
            if (text == null) return null;
            try { return JsonNode.Parse(text); }
            catch (JsonException ex)
            {
                throw new MlTracesException(ErrorKind.InvalidData, "InvalidAssessmentJson",
                    $"The stored {what} of assessment '{a.AssessmentId}' of trace '{a.TraceId}' is not valid JSON: {ex.Message}", ex);
            }
        }

        private static JsonObject? ErrorToJsonNode(Assessment a)
        {
            if (!(ParseStoredJson(a, a.Error, "error") is JsonObject stored)) return null;
            var e = new JsonObject();
            string? code = SpanJson.AsText(stored["error_code"]);
            string? message = SpanJson.AsText(stored["error_message"]);
            string? stack = SpanJson.AsText(stored["stack_trace"]);
            if (code != null) e.Set("error_code", code);
            if (!string.IsNullOrEmpty(message)) e.Set("error_message", message);
            if (!string.IsNullOrEmpty(stack)) e.Set("stack_trace", stack);
            return e;
        }

        /// <summary>A value in protobuf JSON form; numbers keep their stored text (5 stays 5), so an imported
        /// assessment still matches feedback.x = "5" as the original did.</summary>
        private static JsonNode AsProtobufValue(JsonNode node)
        {
            switch (node)
            {
                case JsonNumber n: return n;
                case JsonArray arr:
                    var a = new JsonArray();
                    foreach (var item in arr.Items) a.Items.Add(AsProtobufValue(item));
                    return a;
                case JsonObject obj:
                    var o = new JsonObject();
                    foreach (var kv in obj.Items) o.Set(kv.Key, AsProtobufValue(kv.Value));
                    return o;
                default: return node;
            }
        }

        // ---------------------------------------------------------------- reading

        /// <summary>
        /// A trace from one line of MLflow trace JSON. Accepts the v3 info (trace_id, trace_location, request_time,
        /// state, trace_metadata, ...) and the v2 info (request_id, experiment_id, timestamp_ms, execution_time_ms,
        /// status, request_metadata; tags as a dict or a list of {key, value}). Spans keep their dict as
        /// <see cref="Span.Content"/>, written as json.dumps writes it.
        /// </summary>
        public static Trace FromJson(string line)
        {
            if (line == null) throw new ArgumentNullException(nameof(line));
            JsonNode node;
            try { node = JsonNode.Parse(line); }
            catch (JsonException ex) { throw Invalid(null, "the text is not valid JSON: " + ex.Message, ex); }
            return FromJsonNode(node);
        }

        public static Trace FromJsonNode(JsonNode node)
        {
            if (!(node is JsonObject root))
                throw Invalid(null, $"a trace must be a JSON object with \"info\" and \"data\", not {SpanJson.Describe(node)}");
            if (!(root["info"] is JsonObject info))
                throw Invalid(null, root["info"] == null
                    ? "the object has no \"info\" (expected {\"info\": {...}, \"data\": {\"spans\": [...]}})"
                    : $"\"info\" must be an object, not {SpanJson.Describe(root["info"])}");

            var trace = info["request_id"] != null ? ReadInfoV2(info) : ReadInfoV3(info);

            JsonNode? data = root["data"];
            if (data == null || data is JsonNull) return trace;
            if (!(data is JsonObject dataObject)) throw Invalid(trace.TraceId, $"\"data\" must be an object, not {SpanJson.Describe(data)}");
            JsonNode? spans = dataObject["spans"];
            if (spans == null || spans is JsonNull) { trace.Spans = new List<Span>(); return trace; }
            if (!(spans is JsonArray list)) throw Invalid(trace.TraceId, $"data.spans must be a list, not {SpanJson.Describe(spans)}");
            trace.Spans = new List<Span>(list.Items.Count);
            for (int i = 0; i < list.Items.Count; i++)
            {
                try { trace.Spans.Add(SpanJson.FromNode(trace.TraceId, list.Items[i])); }
                catch (MlTracesException ex) { throw Invalid(trace.TraceId, $"data.spans[{i}]: {ex.Message}", ex); }
            }
            return trace;
        }

        /// <summary>Reads a JSON Lines file of traces line by line; blank lines are skipped. A bad line comes back
        /// as an error that names the line, and reading goes on, so one bad line does not cost the rest.</summary>
        public static IEnumerable<JsonLine> ReadJsonLines(TextReader reader, string? sourceName = null)
        {
            string? line;
            int number = 0;
            while ((line = reader.ReadLine()) != null)
            {
                number++;
                if (line.Trim().Length == 0) continue;
                JsonLine result;
                try { result = new JsonLine(number, FromJson(line), null); }
                catch (MlTracesException ex)
                {
                    result = new JsonLine(number, null, new MlTracesException(ex.Kind, ex.ErrorId,
                        $"{sourceName ?? "Line"}{(sourceName != null ? ", line " : " ")}{number}: {ex.Message}", ex));
                }
                yield return result;
            }
        }

        private static Trace ReadInfoV3(JsonObject info)
        {
            string id = RequiredText(info, "trace_id", null);
            var trace = new Trace { TraceId = id };
            trace.ClientRequestId = SpanJson.AsText(info["client_request_id"]);
            trace.RequestPreview = SpanJson.AsText(info["request_preview"]);
            trace.ResponsePreview = SpanJson.AsText(info["response_preview"]);
            var location = info["trace_location"];
            if (location is JsonObject loc)
                trace.ExperimentId = SpanJson.AsText(loc["mlflow_experiment"]?["experiment_id"]) ?? "";
            else if (location != null && !(location is JsonNull))
                throw Invalid(id, $"info.trace_location must be an object, not {SpanJson.Describe(location)}");
            else trace.ExperimentId = SpanJson.AsText(info["experiment_id"]) ?? "";

            trace.TimestampMs = ReadTime(info["request_time"], "info.request_time", id)
                ?? throw Invalid(id, "info.request_time is missing");
            if (info["execution_duration_ms"] is JsonNode ms && !(ms is JsonNull))
                trace.ExecutionTimeMs = SpanJson.AsInt64(ms) ?? throw Invalid(id, $"info.execution_duration_ms is not an integer ({SpanJson.AsText(ms)})");
            else if (info["execution_duration"] is JsonNode d && !(d is JsonNull))
                trace.ExecutionTimeMs = d is JsonString ds && PyFormat.TryParseDuration(ds.Value, out long dms) ? dms
                    : SpanJson.AsInt64(d) ?? throw Invalid(id, $"info.execution_duration is not a duration ({SpanJson.AsText(d)})");
            trace.State = ReadState(info["state"], "info.state", id);
            ReadMap(info["trace_metadata"], trace.Metadata, "info.trace_metadata", id);
            ReadMap(info["tags"], trace.Tags, "info.tags", id);
            ReadAssessments(info["assessments"], trace);
            return trace;
        }

        private static Trace ReadInfoV2(JsonObject info)
        {
            string id = RequiredText(info, "request_id", null);
            var trace = new Trace { TraceId = id };
            trace.ExperimentId = SpanJson.AsText(info["experiment_id"]) ?? "";
            trace.TimestampMs = ReadTime(info["timestamp_ms"], "info.timestamp_ms", id)
                ?? throw Invalid(id, "info.timestamp_ms is missing");
            var duration = info["execution_time_ms"];
            if (duration != null && !(duration is JsonNull))
                trace.ExecutionTimeMs = SpanJson.AsInt64(duration) ?? throw Invalid(id, $"info.execution_time_ms is not an integer ({SpanJson.AsText(duration)})");
            trace.State = ReadState(info["status"], "info.status", id);
            trace.ClientRequestId = SpanJson.AsText(info["client_request_id"]);
            trace.RequestPreview = SpanJson.AsText(info["request_preview"]);
            trace.ResponsePreview = SpanJson.AsText(info["response_preview"]);
            ReadMap(info["request_metadata"] ?? info["trace_metadata"], trace.Metadata, "info.request_metadata", id);
            ReadMap(info["tags"], trace.Tags, "info.tags", id);
            ReadAssessments(info["assessments"], trace);
            return trace;
        }

        private static string RequiredText(JsonObject o, string key, string? traceId)
        {
            string? text = SpanJson.AsText(o[key]);
            if (string.IsNullOrEmpty(text)) throw Invalid(traceId, o[key] == null ? $"info.{key} is missing" : $"info.{key} is empty");
            return text!;
        }

        /// <summary>Milliseconds from an RFC 3339 string, an integer, or a numeric string.</summary>
        private static long? ReadTime(JsonNode? node, string what, string? traceId)
        {
            if (node == null || node is JsonNull) return null;
            if (node is JsonString s)
            {
                if (PyFormat.TryParseTimestamp(s.Value, out long ms)) return ms;
                if (long.TryParse(s.Value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ms)) return ms;
                throw Invalid(traceId, $"{what} is not an RFC 3339 time or milliseconds ('{s.Value}')");
            }
            return SpanJson.AsInt64(node) ?? throw Invalid(traceId, $"{what} is not a time ({SpanJson.Describe(node)})");
        }

        private static readonly string[] StateNames = { "STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS" };

        /// <summary>The v3 state name; v2 TraceStatus names map as TraceStatus.to_state does.</summary>
        private static string ReadState(JsonNode? node, string what, string traceId)
        {
            if (node is JsonNumber n && n.IsInteger && int.TryParse(n.Text, NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i < StateNames.Length)
                return StateNames[i];
            string? text = SpanJson.AsText(node);
            if (string.IsNullOrEmpty(text)) throw Invalid(traceId, node == null ? $"{what} is missing" : $"{what} is empty");
            if (text == "TRACE_STATUS_UNSPECIFIED") return "STATE_UNSPECIFIED";
            if (text!.StartsWith("TraceState.", StringComparison.Ordinal) || text.StartsWith("TraceStatus.", StringComparison.Ordinal))
                text = text.Substring(text.IndexOf('.') + 1);
            return text;
        }

        /// <summary>A string map from a JSON object or a list of {"key": ..., "value": ...} (protobuf JSON of v2).</summary>
        private static void ReadMap(JsonNode? node, SortedDictionary<string, string?> target, string what, string traceId)
        {
            switch (node)
            {
                case null:
                case JsonNull _:
                    return;
                case JsonObject o:
                    foreach (var kv in o.Items) target[kv.Key] = MapValue(kv.Value);
                    return;
                case JsonArray list:
                    for (int i = 0; i < list.Items.Count; i++)
                    {
                        var item = list.Items[i] as JsonObject;
                        string? key = item == null ? null : SpanJson.AsText(item["key"]);
                        if (key == null) throw Invalid(traceId, $"{what}[{i}] must be an object with a \"key\"");
                        target[key] = MapValue(item!["value"] ?? JsonNull.Instance);
                    }
                    return;
                default:
                    throw Invalid(traceId, $"{what} must be an object, not {SpanJson.Describe(node)}");
            }
        }

        private static string? MapValue(JsonNode value) => value is JsonNull ? null : PyFormat.Str(value);

        private static void ReadAssessments(JsonNode? node, Trace trace)
        {
            if (node == null || node is JsonNull) return;
            if (!(node is JsonArray list)) throw Invalid(trace.TraceId, $"info.assessments must be a list, not {SpanJson.Describe(node)}");
            for (int i = 0; i < list.Items.Count; i++)
                trace.Assessments.Add(AssessmentFromJsonNode(list.Items[i], trace.TraceId, $"info.assessments[{i}]"));
        }

        /// <summary>
        /// An assessment from Assessment.to_dictionary() (protobuf JSON: assessment_name, create_time, feedback.value,
        /// expectation.value or serialized_value, ...) or the older dataclass form (name, create_time_ms, ...).
        /// Its value is stored as MLflow's store does: json.dumps of the Python value.
        /// </summary>
        public static Assessment AssessmentFromJsonNode(JsonNode node, string traceId, string what = "assessment")
        {
            if (!(node is JsonObject o)) throw Invalid(traceId, $"{what} must be an object, not {SpanJson.Describe(node)}");
            var a = new Assessment { TraceId = traceId };
            a.AssessmentId = SpanJson.AsText(o["assessment_id"]) ?? "";
            a.Name = SpanJson.AsText(o["assessment_name"]) ?? SpanJson.AsText(o["name"])
                ?? throw Invalid(traceId, $"{what} has no assessment_name");
            a.SpanId = EmptyToNull(SpanJson.AsText(o["span_id"]));
            a.Rationale = SpanJson.AsText(o["rationale"]);
            a.Overrides = EmptyToNull(SpanJson.AsText(o["overrides"]));
            a.Valid = ReadBool(o["valid"]) ?? true;

            JsonObject? errorNode = null;
            if (o["feedback"] is JsonObject feedback)
            {
                a.AssessmentType = "feedback";
                a.Value = (feedback["value"] ?? JsonNull.Instance).ToPythonJson();
                errorNode = feedback["error"] as JsonObject;
            }
            else if (o["expectation"] is JsonObject expectation)
            {
                a.AssessmentType = "expectation";
                if (expectation["serialized_value"] is JsonObject serialized)
                {
                    string text = SpanJson.AsText(serialized["value"]) ?? "null";
                    try { a.Value = JsonNode.Parse(text).ToPythonJson(); }
                    catch (JsonException ex) { throw Invalid(traceId, $"{what}.expectation.serialized_value.value is not JSON: {ex.Message}", ex); }
                }
                else a.Value = (expectation["value"] ?? JsonNull.Instance).ToPythonJson();
            }
            else if (o["issue"] is JsonObject issue)
            {
                a.AssessmentType = "issue";
                a.Value = (issue["value"] ?? JsonNull.Instance).ToPythonJson();
            }
            else throw Invalid(traceId, $"{what} ('{a.Name}') has neither \"feedback\" nor \"expectation\"");
            if (errorNode == null) errorNode = o["error"] as JsonObject;
            if (errorNode != null)
            {
                // AssessmentError.to_dictionary(): always these three keys.
                var e = new JsonObject();
                e.Set("error_code", errorNode["error_code"] ?? JsonNull.Instance);
                e.Set("error_message", errorNode["error_message"] ?? JsonNull.Instance);
                e.Set("stack_trace", errorNode["stack_trace"] ?? JsonNull.Instance);
                a.Error = e.ToPythonJson();
            }

            var source = o["source"] as JsonObject;
            string? sourceType = source == null ? null : SpanJson.AsText(source["source_type"]);
            if (sourceType == "AI_JUDGE") sourceType = "LLM_JUDGE";
            a.SourceType = sourceType ?? (a.AssessmentType == "expectation" ? "HUMAN" : "CODE");
            a.SourceId = source == null ? null : SpanJson.AsText(source["source_id"]);

            a.CreatedTimestampMs = ReadTime(o["create_time"], what + ".create_time", traceId)
                ?? ReadTime(o["create_time_ms"], what + ".create_time_ms", traceId) ?? 0;
            a.LastUpdatedTimestampMs = ReadTime(o["last_update_time"], what + ".last_update_time", traceId)
                ?? ReadTime(o["last_update_time_ms"], what + ".last_update_time_ms", traceId) ?? a.CreatedTimestampMs;

            if (o["metadata"] is JsonObject metadata && metadata.Count > 0)
            {
                a.Metadata = metadata.ToPythonJson();
                a.RunId = SpanJson.AsText(metadata[SourceRunIdMetadataKey]);
            }
            a.RunId = EmptyToNull(SpanJson.AsText(o["run_id"])) ?? a.RunId;
            return a;
        }

        private static bool? ReadBool(JsonNode? node)
        {
            if (node is JsonBool b) return b.Value;
            string? text = SpanJson.AsText(node);
            if (text == null) return null;
            if (string.Equals(text, "true", StringComparison.OrdinalIgnoreCase) || text == "1") return true;
            if (string.Equals(text, "false", StringComparison.OrdinalIgnoreCase) || text == "0") return false;
            return null;
        }

        private static string? EmptyToNull(string? s) => string.IsNullOrEmpty(s) ? null : s;

        private static MlTracesException Invalid(string? traceId, string what, Exception? inner = null)
        {
            string subject = traceId == null ? "Invalid trace JSON" : $"Invalid trace JSON for trace '{traceId}'";
            return new MlTracesException(ErrorKind.InvalidData, "InvalidTraceJson",
                $"{subject}: {what}" + (what.EndsWith(".", StringComparison.Ordinal) ? "" : "."), inner);
        }
    }

    /// <summary>One line of a JSON Lines file: the trace, or what was wrong with the line.</summary>
    public sealed class JsonLine
    {
        public JsonLine(int number, Trace? trace, MlTracesException? error) { Number = number; Trace = trace; Error = error; }
        public int Number { get; }
        public Trace? Trace { get; }
        public MlTracesException? Error { get; }
    }
}
