using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Export;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Loads spans from wherever a trace keeps them: rows of the spans table, or the trace's traces.json artifact
    /// when its artifact location is on the local file system. What cannot be loaded is reported, not hidden.
    /// </summary>
    public sealed class SpanLoader
    {
        private readonly TraceStore _store;
        public List<string> Warnings { get; } = new List<string>();

        public SpanLoader(TraceStore store) { _store = store; }

        public void Load(IReadOnlyList<Trace> traces)
        {
            var byId = traces.ToDictionary(t => t.TraceId, StringComparer.Ordinal);
            if (_store.Layout.HasSpans)
            {
                foreach (var chunk in TraceReader.Chunks(byId.Keys.ToList(), TraceReader.BatchSize))
                {
                    var p = new SqlParameters();
                    using var cmd = _store.Command(
                        "SELECT trace_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content " +
                        $"FROM spans WHERE trace_id IN ({p.AddList(chunk)}) ORDER BY trace_id, start_time_unix_nano, span_id", p);
                    using var r = _store.Translate(() => cmd.ExecuteReader());
                    while (r.Read())
                    {
                        var t = byId[r.GetString(0)];
                        (t.Spans ??= new List<Span>()).Add(ReadRow(r));
                    }
                }
            }
            foreach (var t in traces)
            {
                if (t.Spans != null) continue;
                if (t.SpansLocation == SpansLocations.TrackingStore) { t.Spans = new List<Span>(); continue; }
                LoadFromArtifact(t);
            }
        }

        private Span ReadRow(SqliteDataReader r)
        {
            string traceId = r.GetString(0);
            string content = r.GetString(8);
            Span span;
            try
            {
                span = SpanJson.FromContent(traceId, content);
            }
            catch (MlTracesException ex)
            {
                // The row's columns still say what the span is; the payload is kept as it is for the user to see.
                Warnings.Add($"Span {r.GetString(1)} of trace {traceId} has content that cannot be read: {ex.Message}");
                span = new Span { TraceId = traceId, Content = content };
            }
            // The row's columns are what MLflow searches on; they win over the JSON where both exist.
            span.SpanId = r.GetString(1);
            span.ParentSpanId = r.IsDBNull(2) ? null : r.GetString(2);
            span.Name = r.IsDBNull(3) ? span.Name : r.GetString(3);
            span.SpanType = r.IsDBNull(4) ? span.SpanType : r.GetString(4);
            span.Status = r.GetString(5);
            span.StartTimeUnixNano = r.GetInt64(6);
            span.EndTimeUnixNano = r.IsDBNull(7) ? (long?)null : r.GetInt64(7);
            return span;
        }

        private void LoadFromArtifact(Trace t)
        {
            string? folder = LocalPath(t.ArtifactLocation);
            if (folder == null)
            {
                Warnings.Add(t.ArtifactLocation == null
                    ? $"Trace {t.TraceId} has no spans in the store and no artifact location; its spans cannot be loaded."
                    : $"The spans of trace {t.TraceId} are in the artifact store at '{t.ArtifactLocation}', which is not on the local file system; MlTraces cannot read them.");
                return;
            }
            string file = Path.Combine(folder, "traces.json");
            if (!File.Exists(file))
            {
                Warnings.Add($"The spans of trace {t.TraceId} should be in '{file}', which does not exist.");
                return;
            }
            try
            {
                t.Spans = SpanJson.ReadTraceDataFile(t.TraceId, file);
            }
            catch (MlTracesException ex)
            {
                Warnings.Add($"The spans of trace {t.TraceId} in '{file}' cannot be read: {ex.Message}");
            }
        }

        /// <summary>A local folder for a file:// URI or a rooted path; null for remote artifact stores.</summary>
        public static string? LocalPath(string? location)
        {
            if (string.IsNullOrEmpty(location)) return null;
            if (location!.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            {
                try { return new Uri(location).LocalPath; } catch (UriFormatException) { return null; }
            }
            if (location.IndexOf("://", StringComparison.Ordinal) > 0 || location.StartsWith("mlflow-artifacts:", StringComparison.Ordinal)) return null;
            return Path.IsPathRooted(location) ? location : null;
        }
    }
}
