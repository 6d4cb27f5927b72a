using System.Collections.Generic;
using MlTraces.Core.Json;

namespace MlTraces.Core.Export
{
    /// <summary>
    /// MLflow's translate_loaded_span (mlflow/tracing/otel/translation/__init__.py): a span that arrived over OTLP
    /// carries its kind in an OpenInference, GenAI, Traceloop or Vercel AI attribute, not in mlflow.spanType; MLflow
    /// derives the type from it whenever it loads a span dict (get_trace, the archival pass).
    /// </summary>
    public static class SpanTranslation
    {
        /// <summary>_TRANSLATORS in MLflow's order; the first that names a known kind wins. GoogleADK defines no
        /// kind attribute, so it never gives a type.</summary>
        private static readonly (string Key, Dictionary<string, string> Types)[] Translators =
        {
            // open_inference.py, OpenInferenceTranslator
            ("openinference.span.kind", new Dictionary<string, string>
            {
                ["TOOL"] = "TOOL", ["CHAIN"] = "CHAIN", ["LLM"] = "LLM", ["RETRIEVER"] = "RETRIEVER", ["EMBEDDING"] = "EMBEDDING",
                ["AGENT"] = "AGENT", ["RERANKER"] = "RERANKER", ["UNKNOWN"] = "UNKNOWN", ["GUARDRAIL"] = "GUARDRAIL", ["EVALUATOR"] = "EVALUATOR",
            }),
            // genai_semconv.py, GenAiTranslator
            ("gen_ai.operation.name", new Dictionary<string, string>
            {
                ["chat"] = "CHAT_MODEL", ["create_agent"] = "AGENT", ["embeddings"] = "EMBEDDING", ["execute_tool"] = "TOOL",
                ["generate_content"] = "LLM", ["invoke_agent"] = "AGENT", ["text_completion"] = "LLM", ["response"] = "LLM",
            }),
            // traceloop.py, TraceloopTranslator
            ("traceloop.span.kind", new Dictionary<string, string>
            {
                ["workflow"] = "WORKFLOW", ["task"] = "TASK", ["agent"] = "AGENT", ["tool"] = "TOOL", ["unknown"] = "UNKNOWN",
            }),
            // vercel_ai.py, VercelAITranslator
            ("ai.operationId", new Dictionary<string, string>
            {
                ["ai.generateText"] = "LLM", ["ai.generateText.doGenerate"] = "LLM", ["ai.toolCall"] = "TOOL", ["ai.streamText"] = "LLM",
                ["ai.streamText.doStream"] = "LLM", ["ai.generateObject"] = "LLM", ["ai.generateObject.doGenerate"] = "LLM",
                ["ai.streamObject"] = "LLM", ["ai.streamObject.doStream"] = "LLM", ["ai.embed"] = "EMBEDDING",
                ["ai.embed.doEmbed"] = "EMBEDDING", ["ai.embedMany"] = "EMBEDDING",
            }),
        };

        /// <summary>translate_span_type_from_otel over a span dict's stored attributes: the MLflow span type, or null.</summary>
        public static string? SpanType(JsonObject attributes)
        {
            foreach (var (key, types) in Translators)
            {
                // OtelSchemaTranslator.translate_span_type: a falsy value is no kind; a string is json.loads'd when it can be.
                JsonNode? raw = attributes.Get(key);
                if (!PyJson.Truthy(raw)) continue;
                JsonNode kind = raw!;
                if (raw is JsonString s)
                {
                    try { kind = JsonNode.Parse(s.Value); }
                    catch (JsonException) { }
                }
                // A list or dict cannot be looked up (TypeError): MLflow's translation gives up on the span.
                if (kind is JsonObject || kind is JsonArray) return null;
                if (kind is JsonString name && types.TryGetValue(name.Value, out var type)) return type;
            }
            return null;
        }

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
            foreach (var key in new[] { SpanJson.InputsAttribute, SpanJson.OutputsAttribute })
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
                    try { if (JsonNode.Parse(once.Value) is JsonString || JsonNode.Parse(once.Value) is JsonObject) return once.Value; }
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

        /// <summary>translate_loaded_span: sets mlflow.spanType (JSON-encoded, appended) when the dict has none and a
        /// translator names one. Returns the dict.</summary>
        public static JsonObject TranslateLoaded(JsonObject spanDict)
        {
            if (spanDict["attributes"] is JsonObject attributes && attributes.Get(SpanJson.SpanTypeAttribute) == null
                && SpanType(attributes) is string type)
                attributes.Set(SpanJson.SpanTypeAttribute, PyJson.DumpString(type));
            return spanDict;
        }
    }
}
