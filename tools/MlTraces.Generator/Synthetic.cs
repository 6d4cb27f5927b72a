using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MlTraces.Generator
{
    /// <summary>One span to generate; <see cref="SpanContent.Build"/> writes it in MLflow 3's stored span JSON.</summary>
    internal sealed class SpanData
    {
        public string SpanId = "";
        public string? ParentId;
        public string Name = "";
        public string Type = "";
        public long Start;
        public long? End;
        /// <summary>OK, ERROR or UNSET.</summary>
        public string Status = "OK";
        public string Message = "";
        public string? InputsJson;
        public string? OutputsJson;
        /// <summary>Attributes besides type, inputs and outputs: key and JSON text of the value.</summary>
        public List<KeyValuePair<string, string>> Extra = new List<KeyValuePair<string, string>>();
        public string? ExceptionType;
        public string? LlmModel, LlmProvider;
    }

    /// <summary>Writes span JSON the way MLflow 3 stores it in spans.content (compare the fixtures).</summary>
    internal static class SpanContent
    {
        public static string Build(string traceId, string otelTraceIdBase64, SpanData s, StringBuilder? reuse = null)
        {
            var sb = reuse ?? new StringBuilder(2048);
            sb.Clear();
            var w = new JsonAppender(sb);
            w.Obj();
            w.Field("trace_id", otelTraceIdBase64);
            w.Field("span_id", HexToBase64(s.SpanId));
            w.Key("parent_span_id").Str(s.ParentId == null ? null : HexToBase64(s.ParentId));
            w.Field("name", s.Name);
            w.Field("start_time_unix_nano", s.Start);
            w.Key("end_time_unix_nano").Num(s.End);
            w.Key("events").Arr();
            if (s.ExceptionType != null)
            {
                w.Obj();
                w.Field("name", "exception");
                w.Field("time_unix_nano", (s.End ?? s.Start) - 1000);
                w.Key("attributes").Obj();
                w.Field("exception.message", s.Message);
                w.Field("exception.type", s.ExceptionType);
                w.Field("exception.stacktrace", "Traceback (most recent call last):\n  File \"app/pipeline.py\", line 88, in " + s.Name
                    + "\n    return client.call(request)\n" + s.ExceptionType + ": " + s.Message);
                w.EndObj();
                w.EndObj();
            }
            w.EndArr();
            w.Key("status").Obj().Field("code", "STATUS_CODE_" + s.Status).Field("message", s.Status == "ERROR" ? s.ExceptionType + ": " + s.Message : "").EndObj();
            w.Key("attributes").Obj();
            w.Field("mlflow.traceRequestId", Core.Json.PyJson.DumpString(traceId));
            w.Field("mlflow.spanType", Core.Json.PyJson.DumpString(s.Type));
            if (s.InputsJson != null) w.Field("mlflow.spanInputs", s.InputsJson);
            foreach (var kv in s.Extra) w.Field(kv.Key, kv.Value);
            if (s.OutputsJson != null) w.Field("mlflow.spanOutputs", s.OutputsJson);
            w.EndObj();
            w.Key("links").Arr().EndArr();
            w.EndObj();
            return sb.ToString();
        }

        private static readonly char[] Base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".ToCharArray();

        public static string HexToBase64(string hex)
        {
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)((HexValue(hex[2 * i]) << 4) | HexValue(hex[2 * i + 1]));
            return Convert.ToBase64String(bytes);
        }

        private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    }

    /// <summary>Ids, words and payloads shared by the sample and the benchmark store.</summary>
    internal static class Vocabulary
    {
        public static string Hex(Random rng, int bytes)
        {
            const string digits = "0123456789abcdef";
            var chars = new char[bytes * 2];
            for (int i = 0; i < bytes; i++)
            {
                int b = rng.Next(256);
                chars[2 * i] = digits[b >> 4];
                chars[2 * i + 1] = digits[b & 15];
            }
            return new string(chars);
        }

        public static T Pick<T>(Random rng, T[] items) => items[rng.Next(items.Length)];

        // Nothing here may contain the word "timeout" in any case: the generators put it into a known share of traces.
        public static readonly string[] Questions =
        {
            "How do I log a model with MLflow and register it in one step?",
            "What is the difference between a run and an experiment?",
            "Summarize the quarterly sales report for the EMEA region.",
            "Which customers churned last month, and what reasons did they give?",
            "Translate the onboarding guide for new analysts into French.",
            "What is our refund policy for annual subscription plans?",
            "Find the latest incident report for the payments service.",
            "How can I compare two versions of the same model side by side?",
            "Explain vector search in simple terms for a product manager.",
            "Draft a reply to a customer asking about invoice 4471.",
            "What were the top five support topics this week?",
            "How do I rotate the API keys for the staging cluster?",
            "Calculate the compound interest on $10,000 at 5% annual rate for 10 years.",
            "List the open pull requests that touch the billing module.",
            "What does error code E1042 mean in the ingestion pipeline?",
            "Recommend three onboarding articles for a new data scientist.",
            "Is the nightly feature pipeline healthy today?",
            "Write a SQL query that counts orders per country for 2024.",
            "What changed between release 2.3 and 2.4 of the recommender?",
            "Give me a short status update on the data quality dashboard.",
            "Which regions had the highest latency in the last 24 hours?",
            "How should I chunk long PDF contracts before embedding them?",
            "Explain the difference between precision and recall with an example.",
            "Can you check whether order 98213 has shipped yet?",
            "Create a checklist for launching the new pricing page.",
            "What is the capital of Australia, and why is it not Sydney?",
            "Classify this ticket: 'The export button does nothing on Safari.'",
            "Suggest tags for the article 'Scaling feature stores on a budget'.",
            "How many active users did the mobile app have in March?",
            "Rewrite this paragraph in a friendlier tone for customers.",
        };

        public static readonly string[] TimeoutQuestions =
        {
            "Why does the retriever call hit a timeout after 30 seconds?",
            "How do I raise the request timeout for the embeddings endpoint?",
            "The chat widget shows a gateway timeout; what should support tell users?",
        };

        public static readonly string[] AnswerOpeners =
        {
            "Here is what I found.", "Short answer: yes.", "Based on the documents provided,", "Good question.",
            "According to the latest report,", "I checked the knowledge base.", "In summary,", "Sure, here you go.",
        };

        public static readonly string[] AnswerBodies =
        {
            "The main steps are to configure the tracking URI, start a run, and call the log function with the model object and a signature.",
            "An experiment groups related runs, while a run records one execution with its parameters, metrics and artifacts.",
            "Revenue grew 8% quarter over quarter, driven mostly by renewals in Germany and the Nordics; new logos were flat.",
            "Most churned accounts cited price increases, followed by missing integrations and slow onboarding.",
            "Annual plans can be refunded pro rata within 30 days of renewal; after that, credits are issued instead.",
            "The last incident was a partial outage of card authorizations for 14 minutes, caused by a misconfigured load balancer.",
            "You can open both versions in the comparison view and pick the metrics you care about, such as accuracy and latency.",
            "Vector search turns text into lists of numbers and finds the entries whose numbers are closest to the question's numbers.",
            "The top topics were password resets, invoice questions, export problems, SSO setup and mobile notifications.",
            "Rotate the keys in the secrets manager, roll the deployment, then revoke the old keys once traffic has moved.",
            "After 10 years at 5% compounded yearly, $10,000 grows to about $16,289.",
            "Error E1042 means a record failed schema validation; the offending field is named in the ingestion log.",
            "The pipeline finished at 03:12 UTC with all 42 tasks green and no data quality alerts.",
            "Release 2.4 adds session-aware ranking and drops the legacy popularity fallback.",
            "Split contracts on section headings first, then into chunks of about 500 tokens with a small overlap.",
            "Precision is the share of flagged items that are correct; recall is the share of correct items that were flagged.",
            "Order 98213 left the warehouse yesterday and should arrive within two business days.",
            "Canberra is the capital; it was chosen as a compromise between Sydney and Melbourne.",
            "This looks like a browser compatibility bug in the export feature; I would route it to the web team.",
            "The mobile app had roughly 182,000 monthly active users in March, up 6% from February.",
        };

        public static readonly string[] TimeoutAnswers =
        {
            "The retriever waits 30 seconds by default; raise the timeout in the client settings or reduce top_k.",
            "Set the timeout parameter on the endpoint configuration; values above 120 seconds are not recommended.",
            "Tell users the request hit a gateway timeout and ask them to retry in a minute while we investigate.",
        };

        public static readonly string[] DocTitles =
        {
            "MLflow Tracking Guide", "Refund Policy 2025", "EMEA Quarterly Review", "Incident Report INC-2291", "Model Registry FAQ",
            "Onboarding Handbook", "Vector Search Primer", "Support Topics Weekly", "Key Rotation Runbook", "Ingestion Error Codes",
            "Release Notes 2.4", "Chunking Best Practices", "Metrics Glossary", "Shipping SLA", "Pricing Page Launch Plan",
        };

        public static readonly string[] DocSnippets =
        {
            "Runs are organized into experiments. Each run records parameters, metrics, tags and artifacts for later comparison.",
            "Customers on annual plans may request a pro-rated refund within thirty days of the renewal date.",
            "Renewals in DACH and the Nordics offset a slower quarter in Southern Europe; pipeline coverage is 3.1x.",
            "At 14:02 UTC the payments gateway began rejecting a share of card authorizations after a config push.",
            "Model versions can carry aliases such as champion and challenger; aliases move without changing the version.",
            "Week one covers access requests, the data catalog, and the team's coding conventions.",
            "Embeddings map text to vectors; similar meanings end up close together under cosine distance.",
            "Password resets remain the most common request, followed by invoice copies and export issues.",
            "Keys are rotated quarterly. Create the new key, deploy, verify traffic, then revoke the old key.",
            "E1042: schema validation failed. E1043: duplicate primary key. E1044: upstream file missing.",
            "The recommender now uses session context and removes the popularity fallback for cold starts.",
            "Chunks of 300 to 800 tokens with 10 percent overlap work well for contracts and policies.",
        };

        public static readonly string[] SystemPrompts =
        {
            "You are a helpful assistant for the analytics team. Answer concisely and cite your sources.",
            "You are a customer support agent. Be friendly, accurate and brief.",
            "You are an MLflow expert. Prefer concrete steps and short code examples.",
        };

        public static readonly (string Model, string Provider)[] Models =
        {
            ("gpt-4o-mini", "openai"), ("gpt-4.1", "openai"), ("claude-sonnet-4-5", "anthropic"),
            ("gemini-2.0-flash", "google"), ("llama-3.1-70b-instruct", "databricks"),
        };

        public static readonly string[] Tools = { "search_knowledge_base", "get_customer_record", "run_sql_query", "fetch_ticket", "calculator", "web_search" };

        public static readonly string[] Users = { "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com", "frank@example.com" };

        public static readonly (string Type, string Message)[] Errors =
        {
            ("ConnectionError", "upstream service returned 503 Service Unavailable"),
            ("RateLimitError", "rate limit reached for requests per minute"),
            ("ValueError", "could not parse the model response as JSON"),
            ("KeyError", "'customer_id'"),
            ("PermissionError", "access denied to collection 'finance-docs'"),
        };

        public static readonly (string Type, string Message) TimeoutError = ("ReadTimeout", "the request exceeded the 30s read timeout");

        public static string Answer(Random rng) => Pick(rng, AnswerOpeners) + " " + Pick(rng, AnswerBodies);

        /// <summary>{"messages": [{"role": "user", "content": q}]}</summary>
        public static string UserMessages(string question)
        {
            var w = new JsonAppender(new StringBuilder(256));
            w.Obj().Key("messages").Arr().Obj().Field("role", "user").Field("content", question).EndObj().EndArr().EndObj();
            return w.Builder.ToString();
        }

        /// <summary>{"choices": [{"message": {"role": "assistant", "content": a}}]}</summary>
        public static string AssistantChoice(string answer)
        {
            var w = new JsonAppender(new StringBuilder(256));
            w.Obj().Key("choices").Arr().Obj().Key("message").Obj().Field("role", "assistant").Field("content", answer).EndObj().EndObj().EndArr().EndObj();
            return w.Builder.ToString();
        }

        public static string LlmInputs(Random rng, string question, string model, string[]? context)
        {
            var w = new JsonAppender(new StringBuilder(1024));
            w.Obj().Key("messages").Arr();
            w.Obj().Field("role", "system").Field("content", Pick(rng, SystemPrompts)).EndObj();
            w.Obj().Field("role", "user").Field("content", question).EndObj();
            w.EndArr();
            if (context != null)
            {
                w.Key("context").Arr();
                foreach (var c in context) w.Str(c);
                w.EndArr();
            }
            w.Field("model", model);
            w.FieldFloat("temperature", Pick(rng, new[] { 0.0, 0.2, 0.7 }));
            w.Field("max_tokens", 512);
            w.EndObj();
            return w.Builder.ToString();
        }

        public static string LlmOutputs(string answer, string model, int inputTokens, int outputTokens)
        {
            var w = new JsonAppender(new StringBuilder(512));
            w.Obj().Field("id", "chatcmpl-" + (inputTokens * 7919 + outputTokens).ToString(CultureInfo.InvariantCulture));
            w.Field("model", model);
            w.Key("choices").Arr().Obj().Field("index", 0).Key("message").Obj().Field("role", "assistant").Field("content", answer).EndObj()
                .Field("finish_reason", "stop").EndObj().EndArr();
            w.Key("usage").Obj().Field("prompt_tokens", inputTokens).Field("completion_tokens", outputTokens)
                .Field("total_tokens", inputTokens + outputTokens).EndObj();
            w.EndObj();
            return w.Builder.ToString();
        }

        public static string TokenUsage(int input, int output)
        {
            var w = new JsonAppender(new StringBuilder(96));
            w.Obj().Field("input_tokens", input).Field("output_tokens", output).Field("total_tokens", input + output).EndObj();
            return w.Builder.ToString();
        }

        /// <summary>MLflow's retriever output schema: a list of documents with page_content, metadata and id.</summary>
        public static string RetrievedDocuments(Random rng, int count, string? extraSnippet, out string[] snippets)
        {
            snippets = new string[count];
            var w = new JsonAppender(new StringBuilder(1024));
            w.Arr();
            for (int i = 0; i < count; i++)
            {
                string snippet = i == 0 && extraSnippet != null ? extraSnippet : Pick(rng, DocSnippets);
                snippets[i] = snippet;
                string title = Pick(rng, DocTitles);
                w.Obj().Field("page_content", snippet);
                w.Key("metadata").Obj().Field("doc_uri", "https://docs.example.com/" + title.ToLowerInvariant().Replace(' ', '-'))
                    .Field("title", title).Field("chunk_id", rng.Next(1, 400)).FieldFloat("score", Math.Round(0.5 + rng.NextDouble() * 0.49, 2)).EndObj();
                w.Field("id", "doc_" + rng.Next(10000).ToString(CultureInfo.InvariantCulture));
                w.EndObj();
            }
            w.EndArr();
            return w.Builder.ToString();
        }
    }
}
