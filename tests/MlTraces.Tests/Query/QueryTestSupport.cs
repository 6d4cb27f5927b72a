using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using MlTraces;
using MlTraces.Core.Json;
using MlTraces.Core.Query;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Query
{
    internal static class QueryTestSupport
    {
        /// <summary>The Data folder beside this source file (reference tables produced from MLflow's parser).</summary>
        public static string DataDir([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "Data");

        /// <summary>Runs SearchCompiler's SQL against the store and returns the trace ids in order.</summary>
        public static List<string> Search(TestStore ts, IEnumerable<string> experimentIds, string? filter,
            IReadOnlyList<string>? orderBy = null, long? limit = null, long offset = 0, List<string>? warnings = null)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            var spec = new SearchSpec
            {
                ExperimentIds = experimentIds.Select(e => long.Parse(e, CultureInfo.InvariantCulture)).ToList(),
                Filter = filter, OrderBy = orderBy, Limit = limit, Offset = offset,
            };
            var compiled = SearchCompiler.Compile(spec, store.Layout, store.Dialect, "ti.request_id");
            warnings?.AddRange(compiled.Warnings);
            using var cmd = store.Command(compiled.Sql, compiled.Parameters);
            var ids = new List<string>();
            using var r = cmd.ExecuteReader();
            while (r.Read()) ids.Add(r.GetString(0));
            return ids;
        }

        public static void Execute(TestStore ts, string sql, params object?[] values)
        {
            using var store = ts.Open();
            var p = new SqlParameters();
            var names = values.Select(v => p.Add(v)).ToArray();
            using var cmd = store.Command(string.Format(CultureInfo.InvariantCulture, sql, names), p);
            cmd.ExecuteNonQuery();
        }

        public static void LinkTraceToRun(TestStore ts, string traceId, string runId) =>
            Execute(ts, "INSERT INTO entity_associations (association_id, source_type, source_id, destination_type, destination_id, created_time) VALUES ({0}, 'trace', {1}, 'run', {2}, 0)",
                Guid.NewGuid().ToString("N"), traceId, runId);

        public static void LinkTraceToPrompt(TestStore ts, string traceId, string nameVersion) =>
            Execute(ts, "INSERT INTO entity_associations (association_id, source_type, source_id, destination_type, destination_id, created_time) VALUES ({0}, 'trace', {1}, 'prompt_version', {2}, 0)",
                Guid.NewGuid().ToString("N"), traceId, nameVersion);

        /// <summary>A span whose content is the JSON MLflow stores (Span.to_dict() through json.dumps): base64
        /// ids, STATUS_CODE_*, and attribute values that are themselves JSON text.</summary>
        public static Span MakeSpan(string traceId, string spanId, string name, string? type, string status,
            IDictionary<string, object?>? attributes = null, string? parentSpanId = null, long start = 1_000_000_000)
        {
            var attrs = new JsonObject();
            attrs.Set("mlflow.traceRequestId", PyJson.DumpString(traceId));
            if (type != null) attrs.Set("mlflow.spanType", PyJson.DumpString(type));
            if (attributes != null) foreach (var kv in attributes) attrs.Set(kv.Key, AttributeJson(kv.Value));
            var content = new JsonObject()
                .Set("trace_id", Convert.ToBase64String(Bytes(traceId, 16)))
                .Set("span_id", Convert.ToBase64String(Bytes(spanId, 8)))
                .Set("trace_state", "")
                .Set("parent_span_id", parentSpanId == null ? "" : Convert.ToBase64String(Bytes(parentSpanId, 8)))
                .Set("name", name)
                .Set("start_time_unix_nano", start)
                .Set("end_time_unix_nano", start + 1000)
                .Set("attributes", attrs)
                .Set("status", new JsonObject().Set("message", "").Set("code", "STATUS_CODE_" + status))
                .Set("events", new JsonArray());
            return new Span
            {
                TraceId = traceId, SpanId = spanId, ParentSpanId = parentSpanId, Name = name, SpanType = type, Status = status,
                StartTimeUnixNano = start, EndTimeUnixNano = start + 1000, Content = content.ToPythonJson(),
            };
        }

        private static string AttributeJson(object? value)
        {
            switch (value)
            {
                case null: return "null";
                case string s: return PyJson.DumpString(s);
                case bool b: return b ? "true" : "false";
                case JsonNode n: return n.ToPythonJson();
                case IFormattable f: return f.ToString(null, CultureInfo.InvariantCulture);
                default: throw new ArgumentException("unsupported attribute value");
            }
        }

        private static byte[] Bytes(string id, int length)
        {
            var b = new byte[length];
            var src = Encoding.UTF8.GetBytes(id);
            Array.Copy(src, 0, b, length - Math.Min(length, src.Length), Math.Min(length, src.Length));
            return b;
        }

        private static int _assessmentCounter;

        public static Assessment MakeAssessment(string traceId, string type, string name, string valueJson,
            bool valid = true, string? metadataJson = null)
        {
            int n = System.Threading.Interlocked.Increment(ref _assessmentCounter);
            return new Assessment
            {
                AssessmentId = "a-" + n.ToString("x32", CultureInfo.InvariantCulture), TraceId = traceId, Name = name,
                AssessmentType = type, Value = valueJson, CreatedTimestampMs = n, LastUpdatedTimestampMs = n,
                SourceType = "HUMAN", SourceId = "tester", Valid = valid, Metadata = metadataJson,
            };
        }

        public static Dictionary<string, string> D(params string[] kv)
        {
            var d = new Dictionary<string, string>();
            for (int i = 0; i < kv.Length; i += 2) d[kv[i]] = kv[i + 1];
            return d;
        }
    }
}
