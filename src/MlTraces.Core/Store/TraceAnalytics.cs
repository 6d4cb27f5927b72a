using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MlTraces.Core.Json;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// MLflow's trace analytics columns (alembic 75868b020152, MLflow 3.17): the trace name, session id, token usage
    /// and cost of a trace in trace_info columns instead of a tag and metadata rows, and the conversions MLflow makes
    /// between the two shapes. Follows mlflow/store/tracking/utils/trace_analytics.py (TOKEN_COLUMN_BY_KEY,
    /// COST_COLUMN_BY_KEY, analytics_columns_from_metadata, compatibility_metadata_from_columns, token_count_or_none,
    /// finite_float_or_none, assessment_aggregate, bounded_model_dimension).
    /// </summary>
    public static class TraceAnalytics
    {
        public const string TraceNameColumn = "trace_name";
        public const string SessionColumn = "session_id";
        public const string TraceNameTag = MlTraces.TraceTagKeys.TraceName;
        public const string SessionMetadata = MlTraces.TraceMetadataKeys.Session;
        public const string TokenUsageMetadata = MlTraces.TraceMetadataKeys.TokenUsage;
        public const string CostMetadata = MlTraces.TraceMetadataKeys.Cost;

        /// <summary>TOKEN_COLUMN_BY_KEY, in its order (the order of the synthesized JSON); key and column share names.</summary>
        public static readonly string[] TokenColumns =
            { "input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation_input_tokens_above_1hr" };
        /// <summary>COST_COLUMN_BY_KEY, in its order.</summary>
        public static readonly string[] CostColumns = { "input_cost", "output_cost", "total_cost" };
        public static readonly string[] PromotedColumns =
            new[] { TraceNameColumn, SessionColumn }.Concat(TokenColumns).Concat(CostColumns).ToArray();

        /// <summary>Whether a store with these promoted columns keeps this tag or metadata key in them, so MLflow
        /// writes no row for it (and its upgrade deleted the rows).</summary>
        public static bool IsHeldInColumns(string key, bool isTag, IReadOnlyCollection<string> present)
        {
            if (isTag) return key == TraceNameTag && present.Contains(TraceNameColumn);
            switch (key)
            {
                case SessionMetadata: return present.Contains(SessionColumn);
                case TokenUsageMetadata: return TokenColumns.Any(present.Contains);
                case CostMetadata: return CostColumns.Any(present.Contains);
                default: return false;
            }
        }

        /// <summary>MAX_CHARS_IN_TRACE_INFO_METADATA and MAX_CHARS_IN_TRACE_INFO_TAGS_VALUE (mlflow/tracing/constant.py),
        /// the limits of validate_session_id and validate_trace_name.</summary>
        public const int SessionIdMaxLength = 250, TraceNameMaxLength = 4096;

        /// <summary>
        /// What MLflow's start_trace refuses on a store whose name and session are columns: validate_session_id and
        /// validate_trace_name (mlflow/store/tracking/utils/trace_analytics.py) call _validate_length_limit, which raises
        /// (it truncates nothing) with exceeds_maximum_length's message when the value has more code points than the
        /// limit. Null when the trace passes, or the store keeps these values in rows.
        /// </summary>
        public static string? LengthProblem(IReadOnlyDictionary<string, string?> tags, IReadOnlyDictionary<string, string?> metadata, IReadOnlyCollection<string> present)
        {
            string? Check(bool held, string? value, string what, string entity, int limit)
            {
                if (!held || value == null) return null;
                int length = PyJson.CodePointLength(value);
                return length <= limit ? null
                    : $"its {what} has {length} characters, and MLflow refuses more than {limit} on this store ('{entity}' exceeds the maximum length of {limit} characters)";
            }
            return Check(present.Contains(SessionColumn), metadata.TryGetValue(SessionMetadata, out var s) ? s : null,
                       $"session id (metadata '{SessionMetadata}')", "Session ID", SessionIdMaxLength)
                ?? Check(present.Contains(TraceNameColumn), tags.TryGetValue(TraceNameTag, out var n) ? n : null,
                       $"name (tag '{TraceNameTag}')", "Trace name", TraceNameMaxLength);
        }

        /// <summary>SPAN bounded_model_dimension and assessment columns' limit (MODEL_DIMENSION_MAX_LENGTH).</summary>
        public const int ModelDimensionMaxLength = 500;

        /// <summary>token_count_or_none: an integral number within BIGINT (numbers, or strings Decimal() reads),
        /// else null; booleans are null.</summary>
        public static long? TokenCountOrNone(JsonNode? value)
        {
            string? text = NumberText(value);
            if (text == null) return null;
            if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal d)) return null;
            if (d != decimal.Truncate(d) || d < long.MinValue || d > long.MaxValue) return null;
            return (long)d;
        }

        /// <summary>finite_float_or_none: a finite float (numbers, or strings float() reads), else null.</summary>
        public static double? FiniteFloatOrNone(JsonNode? value)
        {
            string? text = NumberText(value);
            if (text == null) return null;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return null;
            return double.IsNaN(d) || double.IsInfinity(d) ? (double?)null : d;
        }

        /// <summary>The text Python's Decimal()/float() would read: a number's, or a string's (they strip blanks);
        /// null for booleans, null, objects and lists.</summary>
        private static string? NumberText(JsonNode? value) => value switch
        {
            JsonNumber n => n.Text,
            JsonString s => s.Value.Trim(),
            _ => null,
        };

        private static JsonObject? JsonObjectOf(string? text)
        {
            if (text == null) return null;
            try { return JsonNode.Parse(text) as JsonObject; }
            catch (JsonException) { return null; }
        }

        /// <summary>
        /// analytics_columns_from_metadata plus the trace name: the column values a trace's name tag and reserved
        /// metadata give, for the columns this store has. A key present with an unusable value gives NULL, as in
        /// MLflow; a column whose key is absent is not in the result.
        /// </summary>
        public static Dictionary<string, object?> ColumnsFrom(IReadOnlyDictionary<string, string?> tags,
            IReadOnlyDictionary<string, string?> metadata, IReadOnlyCollection<string> present)
        {
            var columns = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (tags.TryGetValue(TraceNameTag, out var name)) columns[TraceNameColumn] = name;
            if (metadata.TryGetValue(SessionMetadata, out var session)) columns[SessionColumn] = session;
            if (metadata.TryGetValue(TokenUsageMetadata, out var usageText) && JsonObjectOf(usageText) is JsonObject usage)
                foreach (var c in TokenColumns)
                    if (usage.Get(c) is JsonNode v) columns[c] = TokenCountOrNone(v);
            if (metadata.TryGetValue(CostMetadata, out var costText) && JsonObjectOf(costText) is JsonObject cost)
                foreach (var c in CostColumns)
                    if (cost.Get(c) is JsonNode v) columns[c] = FiniteFloatOrNone(v);
            foreach (var c in columns.Keys.ToList()) if (!present.Contains(c)) columns.Remove(c);
            return columns;
        }

        /// <summary>The tag and metadata values compatibility_metadata_from_columns synthesizes from a trace_info row
        /// (the name as tag mlflow.traceName): json.dumps of ints for tokens and of floats for cost, in the columns'
        /// order; a key only when one of its columns is set.</summary>
        public static void Synthesize(Func<string, object?> column, IReadOnlyCollection<string> present,
            IDictionary<string, string?> tags, IDictionary<string, string?> metadata)
        {
            if (present.Contains(TraceNameColumn) && column(TraceNameColumn) is string name) tags[TraceNameTag] = name;
            if (present.Contains(SessionColumn) && column(SessionColumn) is string session) metadata[SessionMetadata] = session;
            var usage = new StringBuilder();
            foreach (var c in TokenColumns)
            {
                if (!present.Contains(c)) continue;
                long? v = column(c) switch
                {
                    long l => l,
                    int i => i,
                    double d => TokenCountOrNone(new JsonNumber(d.ToString("R", CultureInfo.InvariantCulture))),
                    decimal m => TokenCountOrNone(new JsonNumber(m.ToString(CultureInfo.InvariantCulture))),
                    _ => null,
                };
                if (v == null) continue;
                usage.Append(usage.Length == 0 ? "{" : ", ");
                PyJson.AppendString(usage, c);
                usage.Append(": ").Append(v.Value.ToString(CultureInfo.InvariantCulture));
            }
            if (usage.Length > 0) metadata[TokenUsageMetadata] = usage.Append('}').ToString();
            var cost = new StringBuilder();
            foreach (var c in CostColumns)
            {
                if (!present.Contains(c)) continue;
                object? raw = column(c);
                if (raw == null || raw is DBNull) continue;
                double v = Convert.ToDouble(raw, CultureInfo.InvariantCulture);
                cost.Append(cost.Length == 0 ? "{" : ", ");
                PyJson.AppendString(cost, c);
                cost.Append(": ").Append(PyJson.FloatRepr(v));
            }
            if (cost.Length > 0) metadata[CostMetadata] = cost.Append('}').ToString();
        }

        /// <summary>assessment_aggregate over an assessment's stored JSON value: (aggregate_value, is_numeric_value).
        /// Booleans and "yes"/"no" give 1.0/0.0 but are not numeric; finite numbers are; anything else is (null, false).</summary>
        public static (double? Value, bool IsNumeric) AssessmentAggregate(string? valueJson)
        {
            JsonNode? node = null;
            if (valueJson != null)
            {
                try { node = JsonNode.Parse(valueJson); }
                catch (JsonException) { node = new JsonString(valueJson); }
            }
            switch (node)
            {
                case JsonBool b: return (b.Value ? 1.0 : 0.0, false);
                case JsonNumber n:
                    double d = n.AsDouble();
                    return double.IsNaN(d) || double.IsInfinity(d) ? ((double?)null, false) : (d, true);
                case JsonString s:
                    string v = s.Value.Trim().ToLowerInvariant();
                    if (v == "yes" || v == "no") return (v == "yes" ? 1.0 : 0.0, false);
                    break;
            }
            return (null, false);
        }

        public const string SpanCostAttribute = "mlflow.llm.cost";
        public const string SpanModelAttribute = "mlflow.llm.model";
        public const string SpanProviderAttribute = "mlflow.llm.provider";

        /// <summary>A span's input_cost, output_cost, total_cost, model_name and model_provider as the analytics layout
        /// stores them: from the span's cost attribute (SpanAttributeKey.LLM_COST, finite_float_or_none per key) and
        /// its model and provider attributes (SpanAttributeKey.MODEL / MODEL_PROVIDER, bounded_model_dimension).
        /// <paramref name="attributes"/> holds each value as the JSON text a span dict holds.</summary>
        public static object?[] SpanColumns(IReadOnlyDictionary<string, string> attributes)
        {
            JsonNode? Attribute(string key)
            {
                if (!attributes.TryGetValue(key, out var text)) return null;
                try { return JsonNode.Parse(text); }
                catch (JsonException) { return null; }
            }
            var cost = Attribute(SpanCostAttribute);
            // The cost is a dict, which MLflow's span attributes hold JSON-dumped (a string holding an object).
            if (cost is JsonString inner) cost = JsonObjectOf(inner.Value);
            var row = new object?[5];
            if (cost is JsonObject o)
                for (int i = 0; i < CostColumns.Length; i++) row[i] = FiniteFloatOrNone(o.Get(CostColumns[i]));
            // translate_span_when_storing sets mlflow.llm.model / .provider from the OTel translators' keys (or the
            // inputs' and outputs' "model") when the span has none; the columns take those values.
            row[3] = BoundedModelDimension(attributes.ContainsKey(SpanModelAttribute) ? Attribute(SpanModelAttribute) : ModelName(attributes));
            row[4] = BoundedModelDimension(attributes.ContainsKey(SpanProviderAttribute) ? Attribute(SpanProviderAttribute) : ModelProvider(attributes));
            return row;
        }

        public const string SpanInputsAttribute = "mlflow.spanInputs", SpanOutputsAttribute = "mlflow.spanOutputs";

        /// <summary>The translators of _TRANSLATORS (…/translation/__init__.py) that name MODEL_NAME_KEYS and
        /// LLM_PROVIDER_KEY, in its order: open_inference.py and genai_semconv.py (LiveKitTranslator inherits GenAI's
        /// keys and comes after it; SpringAi, Traceloop, GoogleADK, VercelAI and VoltAgent define none).</summary>
        private static readonly (string[] ModelKeys, string ProviderKey)[] ModelTranslators =
        {
            (new[] { "llm.model_name", "embedding.model_name" }, "llm.provider"),
            (new[] { "gen_ai.response.model", "gen_ai.request.model" }, "gen_ai.provider.name"),
        };

        /// <summary>
        /// The model name translate_span_when_storing gives a span as its mlflow.llm.model when it has none
        /// (_get_model_name): the first translator's model key with a value (OtelSchemaTranslator.get_model_name,
        /// decoded by _try_decode_if_json), else the "model" of the span's inputs, else of its outputs. Attributes
        /// are the span's stored values, read as sanitize_attributes reads them. Null when there is none.
        /// </summary>
        public static JsonNode? ModelName(IReadOnlyDictionary<string, string> attributes)
        {
            foreach (var (keys, _) in ModelTranslators)
                foreach (var key in keys)
                    if (Checked(attributes, key) is string value)
                    {
                        var model = DecodeIfJson(value);
                        if (PyJson.Truthy(model)) return model;
                        break; // get_attribute_value returned this value; the translator gave a falsy name
                    }
            foreach (var key in new[] { SpanInputsAttribute, SpanOutputsAttribute })
            {
                // `if inputs := attributes.get(INPUTS)`: json.loads'd, and a dict's truthy "model" ends the search
                // (a non-string one as None); a value that does not parse moves on to the outputs.
                if (!attributes.TryGetValue(key, out var raw) || raw.Length == 0) continue;
                JsonNode? io;
                try { io = JsonNode.Parse(Sanitized(raw)); }
                catch (JsonException) { continue; }
                if (io is JsonObject o && PyJson.Truthy(o.Get("model"))) return o.Get("model") is JsonString m ? m : null;
            }
            return null;
        }

        /// <summary>_get_model_provider: the first translator's LLM_PROVIDER_KEY with a value, decoded.</summary>
        public static JsonNode? ModelProvider(IReadOnlyDictionary<string, string> attributes)
        {
            foreach (var (_, key) in ModelTranslators)
                if (Checked(attributes, key) is string value && DecodeIfJson(value) is JsonNode provider && PyJson.Truthy(provider))
                    return provider;
            return null;
        }

        /// <summary>sanitize_attributes for one value: a string JSON-dumped twice (spans logged over the OTel API) is
        /// read once less, if what it holds is itself a dumped string or object.</summary>
        private static string Sanitized(string value)
        {
            try
            {
                if (JsonNode.Parse(value) is JsonString once)
                {
                    try { if (JsonNode.Parse(once.Value) is JsonNode inner && (inner is JsonString || inner is JsonObject)) return once.Value; }
                    catch (JsonException) { }
                }
            }
            catch (JsonException) { }
            return value;
        }

        /// <summary>_get_and_check_attribute_value's test, in get_attribute_value's truthiness: the (sanitized) value
        /// when it parses to something truthy, or does not parse and is not empty; else null.</summary>
        private static string? Checked(IReadOnlyDictionary<string, string> attributes, string key)
        {
            if (!attributes.TryGetValue(key, out var raw)) return null;
            string value = Sanitized(raw);
            try { return PyJson.Truthy(JsonNode.Parse(value)) ? value : null; }
            catch (JsonException) { return value.Length > 0 ? value : null; }
        }

        /// <summary>_try_decode_if_json: json.loads, or the string itself.</summary>
        private static JsonNode DecodeIfJson(string value)
        {
            try { return JsonNode.Parse(value); }
            catch (JsonException) { return new JsonString(value); }
        }

        /// <summary>bounded_model_dimension: a string cut to 500 characters (Python's, so code points: a surrogate
        /// pair is never split), else null.</summary>
        public static string? BoundedModelDimension(JsonNode? value) =>
            value is JsonString s ? PyJson.TruncateCodePoints(s.Value, ModelDimensionMaxLength) : null;
    }
}
