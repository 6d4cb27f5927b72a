using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Maintenance
{
    /// <summary>
    /// A store the maintenance tests measure and optimize, written by the test with figures it knows: experiments of
    /// different sizes (one deleted, Default empty), traces an hour apart back from now in each state, spans of
    /// varied payloads, assessments, an archived trace (MLflow's tags, empty span content, mlflow.trace.sizeBytes)
    /// and a trace under legal hold.
    /// </summary>
    internal sealed class MaintenanceStore : IDisposable
    {
        public TestStore Store { get; }
        public List<Trace> Traces { get; } = new List<Trace>();
        /// <summary>Experiment name -> id.</summary>
        public Dictionary<string, string> Experiments { get; } = new Dictionary<string, string>();
        public HashSet<string> Held { get; } = new HashSet<string>();
        public HashSet<string> Archived { get; } = new HashSet<string>();
        public HashSet<string> DeletedExperiments { get; } = new HashSet<string>();
        /// <summary>An archival configuration with retention 1d and a local archive.</summary>
        public string Config { get; }
        public DateTimeOffset Now { get; } = DateTimeOffset.UtcNow;

        /// <param name="sizes">Traces per experiment, by name; a name starting with "deleted" is a deleted experiment.</param>
        /// <param name="payload">About this many characters of span content per span (varied per trace).</param>
        public MaintenanceStore(StoreKind kind, IDictionary<string, int> sizes, int payload = 600)
        {
            Store = TestStore.CreateEmpty(kind);
            Experiments["Default"] = "0";
            int n = 0;
            foreach (var (name, count) in sizes)
            {
                string e = Experiments[name] = Store.AddExperiment(name, name.StartsWith("deleted", StringComparison.Ordinal) ? "deleted" : "active");
                if (name.StartsWith("deleted", StringComparison.Ordinal)) DeletedExperiments.Add(e);
                var batch = new List<Trace>();
                for (int i = 0; i < count; i++, n++)
                {
                    string id = "tr-" + n.ToString("x32", CultureInfo.InvariantCulture);
                    // An hour apart, half past: no trace sits on a day or -OlderThan boundary however long the test runs.
                    long ts = Now.AddHours(-i).AddMinutes(-30).ToUnixTimeMilliseconds();
                    string state = i % 7 == 3 ? "ERROR" : i % 11 == 5 ? "IN_PROGRESS" : "OK";
                    var t = TestStore.MakeTrace(id, e, ts, state: state);
                    t.Spans = new List<Span>();
                    int spans = 1 + i % 3;
                    for (int s = 0; s < spans; s++)
                        t.Spans.Add(MakeSpan(id, (s + 1).ToString("x16", CultureInfo.InvariantCulture), "span" + s, s == 0 ? "CHAIN" : "LLM", state == "ERROR" ? "ERROR" : "OK",
                            new Dictionary<string, object?> { ["text"] = "é" + new string((char)('a' + i % 26), payload * (1 + (i + s) % 4) / 2) },
                            parentSpanId: s == 0 ? null : "0000000000000001"));
                    for (int a = 0; a < i % 3; a++) t.Assessments.Add(MakeAssessment(id, "feedback", "q" + a, "true"));
                    if (i == 2 && count > 4)
                    {
                        // Archived the way MLflow leaves it: the tags, every span row kept with empty content.
                        t.Tags[TraceTagKeys.SpansLocation] = SpansLocations.ArchiveRepo;
                        t.Tags[TraceTagKeys.ArchiveLocation] = new Uri(Path.Combine(Store.Folder, "archive", e, "traces", id, "artifacts")).AbsoluteUri;
                        t.Metadata[TraceMetadataKeys.SizeBytes] = (12345 + i).ToString(CultureInfo.InvariantCulture);
                        foreach (var sp in t.Spans) sp.Content = "";
                        Archived.Add(id);
                    }
                    if (i == count - 1 && count > 4) { t.Tags[TraceTagKeys.LegalHold] = "true"; Held.Add(id); }
                    batch.Add(t);
                }
                Store.AddTraces(batch);
                Traces.AddRange(batch);
            }
            Config = Path.Combine(Store.Folder, "archival.yaml");
            File.WriteAllText(Config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(Store.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
        }

        public static long ContentBytes(Trace t) => t.Spans!.Sum(s => (long)Encoding.UTF8.GetByteCount(s.Content ?? ""));

        /// <summary>What the test expects Measure-TraceStore to say of one experiment, computed from what it wrote.</summary>
        public ExperimentUsage Expected(string experimentId, TimeSpan? olderThan, bool withConfig)
        {
            var mine = Traces.Where(t => t.ExperimentId == experimentId).ToList();
            var u = new ExperimentUsage { ExperimentId = experimentId };
            foreach (var t in mine)
            {
                u.Traces++;
                u.TracesByState[t.State] = (u.TracesByState.TryGetValue(t.State, out long m) ? m : 0) + 1;
                u.Spans += t.Spans!.Count;
                u.Assessments += t.Assessments.Count;
                u.PayloadBytes += ContentBytes(t);
                if (Archived.Contains(t.TraceId)) { u.ArchivedTraces++; u.ArchivedBytes += long.Parse(t.Metadata[TraceMetadataKeys.SizeBytes]!, CultureInfo.InvariantCulture); }
            }
            if (mine.Count > 0) { u.OldestTrace = mine.Min(t => t.RequestTime); u.NewestTrace = mine.Max(t => t.RequestTime); }
            if (olderThan is TimeSpan age)
            {
                var gone = mine.Where(t => t.RequestTime <= Now - age && !Held.Contains(t.TraceId)).ToList();
                u.OlderThanTraces = gone.Count;
                u.OlderThanBytes = gone.Sum(ContentBytes);
            }
            if (withConfig)
            {
                // MLflow's candidates: active experiment, past the 1d retention, finished, not held, not archived, with content.
                var due = mine.Where(t => !DeletedExperiments.Contains(experimentId) && t.RequestTime <= Now.AddDays(-1) && t.State != "IN_PROGRESS"
                    && !Held.Contains(t.TraceId) && !Archived.Contains(t.TraceId) && ContentBytes(t) > 0).ToList();
                u.NextArchivalTraces = due.Count;
                u.NextArchivalBytes = due.Sum(ContentBytes);
            }
            return u;
        }

        /// <summary>Every trace as it reads from the store: its info, tags, metadata, assessments and span rows.</summary>
        public static SortedDictionary<string, string> ReadAll(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            var ids = new List<string>();
            using (var cmd = store.Command("SELECT request_id FROM trace_info"))
            using (var r = cmd.ExecuteReader()) while (r.Read()) ids.Add(r.GetString(0));
            var reader = new TraceReader(store);
            var traces = reader.GetInfos(ids);
            reader.Hydrate(traces);
            var spans = new Dictionary<string, StringBuilder>();
            using (var cmd = store.Command("SELECT trace_id, span_id, content FROM spans ORDER BY trace_id, span_id"))
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                {
                    if (!spans.TryGetValue(r.GetString(0), out var sb)) spans[r.GetString(0)] = sb = new StringBuilder();
                    sb.Append('\n').Append(r.GetString(1)).Append(' ').Append(r.GetString(2));
                }
            var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var t in traces)
                result[t.TraceId] = TraceJson.InfoToJsonNode(t).ToPythonJson() + (spans.TryGetValue(t.TraceId, out var s) ? s.ToString() : "");
            return result;
        }

        public void Dispose() => Store.Dispose();
    }
}
