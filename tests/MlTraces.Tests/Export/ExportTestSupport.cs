using System;
using System.Collections.Generic;
using System.IO;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Export
{
    internal static class ExportTestSupport
    {
        /// <summary>The repository's samples/traces.jsonl (found beside MlTraces.psd1 above the test binaries).</summary>
        public static string SamplePath()
        {
            string? dir = AppContext.BaseDirectory;
            while (dir != null)
            {
                if (File.Exists(Path.Combine(dir, "MlTraces.psd1")))
                    return Path.Combine(dir, "samples", "traces.jsonl");
                dir = Path.GetDirectoryName(dir);
            }
            throw new DirectoryNotFoundException("The repository root (MlTraces.psd1) was not found above the test binaries.");
        }

        public static string[] SampleLines()
        {
            var lines = new List<string>();
            foreach (var line in File.ReadAllLines(SamplePath()))
                if (line.Length > 0) lines.Add(line);
            return lines.ToArray();
        }

        /// <summary>
        /// Every trace of a store with its tags, metadata, assessments and spans, in insertion order. A minimal
        /// reader for the tests of this folder: the module's own reader lives elsewhere.
        /// </summary>
        public static List<Trace> ReadAll(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            var traces = new List<Trace>();
            var byId = new Dictionary<string, Trace>(StringComparer.Ordinal);
            using (var cmd = store.Command("SELECT request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, request_preview, response_preview FROM trace_info ORDER BY rowid"))
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                {
                    var t = new Trace
                    {
                        TraceId = r.GetString(0),
                        ExperimentId = r.GetInt64(1).ToString(System.Globalization.CultureInfo.InvariantCulture),
                        TimestampMs = r.GetInt64(2),
                        ExecutionTimeMs = r.IsDBNull(3) ? (long?)null : r.GetInt64(3),
                        State = r.GetString(4),
                        ClientRequestId = r.IsDBNull(5) ? null : r.GetString(5),
                        RequestPreview = r.IsDBNull(6) ? null : r.GetString(6),
                        ResponsePreview = r.IsDBNull(7) ? null : r.GetString(7),
                        Spans = new List<Span>(),
                    };
                    traces.Add(t);
                    byId[t.TraceId] = t;
                }
            ReadMap(store, "trace_tags", byId, t => t.Tags);
            ReadMap(store, "trace_request_metadata", byId, t => t.Metadata);
            using (var cmd = store.Command("SELECT assessment_id, trace_id, name, assessment_type, value, error, created_timestamp, last_updated_timestamp, source_type, source_id, run_id, span_id, rationale, overrides, valid, assessment_metadata FROM assessments ORDER BY rowid"))
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                    byId[r.GetString(1)].Assessments.Add(new Assessment
                    {
                        AssessmentId = r.GetString(0), TraceId = r.GetString(1), Name = r.GetString(2), AssessmentType = r.GetString(3),
                        Value = r.GetString(4), Error = r.IsDBNull(5) ? null : r.GetString(5), CreatedTimestampMs = r.GetInt64(6),
                        LastUpdatedTimestampMs = r.GetInt64(7), SourceType = r.GetString(8), SourceId = r.IsDBNull(9) ? null : r.GetString(9),
                        RunId = r.IsDBNull(10) ? null : r.GetString(10), SpanId = r.IsDBNull(11) ? null : r.GetString(11),
                        Rationale = r.IsDBNull(12) ? null : r.GetString(12), Overrides = r.IsDBNull(13) ? null : r.GetString(13),
                        Valid = r.GetBoolean(14), Metadata = r.IsDBNull(15) ? null : r.GetString(15),
                    });
            using (var cmd = store.Command("SELECT trace_id, content FROM spans ORDER BY rowid"))
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                    byId[r.GetString(0)].Spans!.Add(SpanJson.FromContent(r.GetString(0), r.GetString(1)));
            return traces;
        }

        private static void ReadMap(TraceStore store, string table, Dictionary<string, Trace> byId, Func<Trace, SortedDictionary<string, string?>> map)
        {
            using var cmd = store.Command($"SELECT request_id, key, value FROM {table}");
            using var r = cmd.ExecuteReader();
            while (r.Read()) map(byId[r.GetString(0)])[r.GetString(1)] = r.IsDBNull(2) ? null : r.GetString(2);
        }
    }
}
