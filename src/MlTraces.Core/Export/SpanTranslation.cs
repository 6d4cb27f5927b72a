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
