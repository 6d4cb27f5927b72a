using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Archive;
using MlTraces.Core.Export;
using MlTraces.Core.Locations;
using MlTraces.Core.Store;

namespace MlTraces.Core.Spans
{
    /// <summary>
    /// Loads spans from wherever a trace keeps them: rows of the spans table, the archived payload (traces.pb at
    /// mlflow.trace.archiveLocation) of an ARCHIVE_REPO trace, or the trace's traces.json artifact when its
    /// artifact location is on the local file system. What cannot be loaded is reported, not hidden.
    /// </summary>
    public sealed class SpanLoader
    {
        private readonly TraceStore _store;
        private readonly ObjectStoreSettings _settings;
        public List<string> Warnings { get; } = new List<string>();

        /// <summary>A server that stops answering costs one read's retries, not one per trace.</summary>
        private readonly ObjectSession _objects = new ObjectSession();

        /// <param name="settings">How object stores are reached and mlflow-artifacts:/ resolved: the command's.</param>
        public SpanLoader(TraceStore store, ObjectStoreSettings settings) { _store = store; _settings = settings; }

        /// <summary>The columns of a spans row; MLflow searches on them, so they win over the JSON where both exist.</summary>
        private sealed class Row
        {
            public string SpanId = "", Status = "", Content = "";
            public string? ParentSpanId, Name, SpanType;
            public long Start;
            public long? End;
        }

        /// <summary>
        /// Traces piped from Search-Trace come without spans, and a copy (Export-Trace, Import-Trace) needs them: loads
        /// them from each trace's own store. Returns the traces whose store could not be opened, after telling
        /// <paramref name="storeFailed"/>; their spans are still missing.
        /// </summary>
        /// <param name="resolve">The store a trace's TrackingUri names, resolved as the user's paths are.</param>
        public static List<Trace> LoadMissing(IEnumerable<Trace> traces, Func<string, TrackingUri> resolve, ObjectStoreSettings settings, Action<string> warn, Action<string, MlTracesException> storeFailed)
        {
            var failed = new List<Trace>();
            foreach (var group in traces.Where(t => t.Spans == null && !string.IsNullOrEmpty(t.TrackingUri)).GroupBy(t => t.TrackingUri!))
            {
                try
                {
                    using var store = TraceStore.Open(resolve(group.Key));
                    var loader = new SpanLoader(store, settings);
                    loader.Load(group.ToList());
                    foreach (var w in loader.Warnings) warn(w);
                }
                catch (Exception ex) when (ex is MlTracesException || ex is ArgumentException || ex is NotSupportedException)
                {
                    storeFailed(group.Key, ex as MlTracesException ?? new MlTracesException(ErrorKind.InvalidArgument, "InvalidTrackingUri", ex.Message, ex));
                    failed.AddRange(group);
                }
            }
            return failed;
        }

        public void Load(IReadOnlyList<Trace> traces)
        {
            var byId = traces.ToDictionary(t => t.TraceId, StringComparer.Ordinal);
            // Rows whose content is not there to parse: archived traces', and empty ones of a trace that may have
            // been archived since its tags were read.
            var bare = new Dictionary<string, List<Row>>(StringComparer.Ordinal);
            if (_store.Layout.HasSpans)
            {
                foreach (var chunk in TraceReader.Chunks(byId.Keys.ToList(), TraceReader.BatchSize))
                {
                    var p = new SqlParameters();
                    using var cmd = _store.Command(
                        "SELECT trace_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content " +
                        $"FROM spans WHERE {_store.Dialect.IsAnyOf("trace_id", p, chunk)} ORDER BY trace_id, start_time_unix_nano, span_id", p);
                    using var r = _store.Translate(() => cmd.ExecuteReader());
                    while (r.Read())
                    {
                        var t = byId[r.GetString(0)];
                        var row = ReadRow(r);
                        if (t.SpansLocation == SpansLocations.ArchiveRepo || row.Content.Length == 0)
                        {
                            if (!bare.TryGetValue(t.TraceId, out var rows)) bare[t.TraceId] = rows = new List<Row>();
                            rows.Add(row);
                        }
                        else (t.Spans ??= new List<Span>()).Add(FromRow(t.TraceId, row));
                    }
                }
            }
            // MLflow's _refresh_transitioning_trace_snapshot: an empty row of a DB-backed trace means archival
            // finished while it was read, so its tags are read again and, if archived now, it is served from there.
            var transitioning = traces.Where(t => t.SpansLocation != SpansLocations.ArchiveRepo && bare.ContainsKey(t.TraceId)).ToList();
            if (transitioning.Count > 0)
            {
                new TraceReader(_store).RefreshTags(transitioning);
                foreach (var t in transitioning)
                {
                    if (t.SpansLocation == SpansLocations.ArchiveRepo) { t.Spans = null; continue; }
                    var spans = t.Spans ??= new List<Span>();
                    spans.AddRange(bare[t.TraceId].Select(row => FromRow(t.TraceId, row)));
                    SortAsRows(spans);
                }
            }
            foreach (var t in traces)
            {
                if (t.SpansLocation == SpansLocations.ArchiveRepo)
                {
                    LoadFromArchive(t, bare.TryGetValue(t.TraceId, out var rows) ? rows : new List<Row>());
                    continue;
                }
                if (t.Spans != null) continue;
                if (t.SpansLocation == SpansLocations.TrackingStore) { t.Spans = new List<Span>(); continue; }
                LoadFromArtifact(t);
            }
        }

        private static Row ReadRow(System.Data.Common.DbDataReader r) => new Row
        {
            SpanId = r.GetString(1),
            ParentSpanId = r.IsDBNull(2) ? null : r.GetString(2),
            Name = r.IsDBNull(3) ? null : r.GetString(3),
            SpanType = r.IsDBNull(4) ? null : r.GetString(4),
            Status = r.GetString(5),
            Start = r.GetInt64(6),
            End = r.IsDBNull(7) ? (long?)null : r.GetInt64(7),
            Content = r.IsDBNull(8) ? "" : r.GetString(8),
        };

        private Span FromRow(string traceId, Row row)
        {
            Span span;
            try
            {
                span = SpanJson.FromContent(traceId, row.Content);
            }
            catch (MlTracesException ex)
            {
                // The row's columns still say what the span is; the payload is kept as it is for the user to see.
                Warnings.Add($"Span {row.SpanId} of trace {traceId} has content that cannot be read: {ex.Message}");
                span = new Span { TraceId = traceId, Content = row.Content };
            }
            ApplyColumns(span, row);
            return span;
        }

        private static void ApplyColumns(Span span, Row row)
        {
            span.SpanId = row.SpanId;
            span.ParentSpanId = row.ParentSpanId;
            span.Name = row.Name ?? span.Name;
            span.SpanType = row.SpanType ?? span.SpanType;
            span.Status = row.Status;
            span.StartTimeUnixNano = row.Start;
            span.EndTimeUnixNano = row.End;
        }

        /// <summary>The order of the rows query, so a trace reads the same from the archive as from the store.</summary>
        private static void SortAsRows(List<Span> spans)
        {
            var sorted = spans.OrderBy(s => s.StartTimeUnixNano).ThenBy(s => s.SpanId, StringComparer.Ordinal).ToList();
            spans.Clear();
            spans.AddRange(sorted);
        }

        /// <summary>MLflow's read path for ARCHIVE_REPO: the span JSON from traces.pb, the rows' columns over it.
        /// A trace whose payload cannot be read is still returned, without spans and with a warning.</summary>
        private void LoadFromArchive(Trace t, List<Row> rows)
        {
            t.Spans = null;
            string? location = t.ArchiveLocation;
            if (string.IsNullOrEmpty(location))
            {
                Warnings.Add($"Trace {t.TraceId} is archived ({TraceTagKeys.SpansLocation} = {SpansLocations.ArchiveRepo}) but has no " +
                             $"{TraceTagKeys.ArchiveLocation} tag; the archived trace location cannot be determined and its spans cannot be loaded.");
                return;
            }
            List<Span> spans;
            try
            {
                spans = TracePayload.ReadArchived(t.TraceId, t.ExperimentId, location!, _settings, out _, _objects);
            }
            catch (MlTracesException ex)
            {
                Warnings.Add($"The archived spans of trace {t.TraceId} at '{location}' cannot be read: {ex.Message}");
                return;
            }
            var byId = rows.ToDictionary(r => r.SpanId, StringComparer.Ordinal);
            foreach (var span in spans)
                if (byId.TryGetValue(span.SpanId, out var row)) ApplyColumns(span, row);
            SortAsRows(spans);
            t.Spans = spans;
        }

        private void LoadFromArtifact(Trace t)
        {
            bool remote = LocationUri.IsObjectStoreScheme(t.ArtifactLocation);
            if (ConfinedPath.LocalPath(t.ArtifactLocation) == null && !remote)
            {
                Warnings.Add(t.ArtifactLocation == null
                    ? $"Trace {t.TraceId} has no spans in the store and no artifact location; its spans cannot be loaded."
                    : $"The spans of trace {t.TraceId} are in the artifact store at '{LocationUri.Shown(t.ArtifactLocation)}', which MlTraces cannot reach; it reaches {LocationUri.Supported}.");
                return;
            }
            _experimentLocations ??= Experiments.All(_store).ToDictionary(e => e.ExperimentId, e => e.ArtifactLocation, StringComparer.Ordinal);
            _experimentLocations.TryGetValue(t.ExperimentId, out var root);
            string tag = t.ArtifactLocation!;
            if (remote || LocationUri.IsObjectStoreScheme(root))
            {
                var own = ObjectKeys.OwnArtifacts(t.TraceId, root, tag, _settings, out string reason);
                if (own == null)
                {
                    Warnings.Add($"The spans of trace {t.TraceId} at '{LocationUri.Shown(tag)}' are not read: {reason}");
                    return;
                }
                if (own.Value.Root == null) { root = own.Value.LocalRoot; tag = own.Value.LocalTag!; }
                else
                {
                    LoadFromObjectStore(t, own.Value.Root, own.Value.FolderKey + "/" + SpanJson.TraceDataFileName);
                    return;
                }
            }
            string? folder = TraceFolders.Artifacts(t.TraceId, root, tag, out string why);
            if (folder == null)
            {
                Warnings.Add($"The spans of trace {t.TraceId} at '{t.ArtifactLocation}' are not read: {why}.");
                return;
            }
            try
            {
                t.Spans = SpanJson.ReadTraceDataFile(t.TraceId, folder);
            }
            catch (MlTracesException ex) when (ex.ErrorId == "TraceDataMissing")
            {
                Warnings.Add($"The spans of trace {t.TraceId} should be in '{Path.Combine(folder, SpanJson.TraceDataFileName)}', which does not exist.");
            }
            catch (MlTracesException ex)
            {
                Warnings.Add($"The spans of trace {t.TraceId} at '{t.ArtifactLocation}' cannot be read: {ex.Message}");
            }
        }

        /// <summary>traces.json as an object: read through the run's session (a server that stopped answering is
        /// not asked again for every later trace), checked to be the trace's own, a warning when it cannot be.</summary>
        private void LoadFromObjectStore(Trace t, LocationUri root, string key)
        {
            string shown = root.WithPrefix(root.Key(key)).ToString();
            try
            {
                t.Spans = SpanJson.FromTraceDataBytes(t.TraceId, _objects.Use(root, _settings, l => l.Read(key)), shown);
            }
            catch (MlTracesException ex) when (ex.ErrorId == "ObjectMissing")
            {
                Warnings.Add($"The spans of trace {t.TraceId} should be in '{shown}', which does not exist.");
            }
            catch (MlTracesException ex)
            {
                Warnings.Add($"The spans of trace {t.TraceId} at '{shown}' cannot be read: {ex.Message}");
            }
        }

        private Dictionary<string, string?>? _experimentLocations;
    }
}
