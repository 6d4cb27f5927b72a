using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Core.Export;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Bench
{
    /// <summary>Where an archival pass spends its time, per piece, on a copy of the store (diagnostic).</summary>
    public static class ArchiveProfile
    {
        public static int Run(Args a)
        {
            string dir = Path.Combine(Path.GetTempPath(), "mltraces-archive-profile");
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
            Directory.CreateDirectory(dir);
            string work = Path.Combine(dir, "work.db");
            File.Copy(a.Store, work);
            string config = Path.Combine(dir, "a.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(dir, "archive")).AbsoluteUri}\n  retention: 1d\n");
            using var store = TraceStore.Open(TrackingUri.Parse(work, "/"), StoreAccess.ReadWrite);
            List<PlannedArchival> candidates = null!;
            Console.WriteLine($"plan 5000: {Stats.Time(() => candidates = ArchivalPlanner.Plan(store, ArchivalServerConfig.Load(config), Experiments.Active(store), 5000, DateTimeOffset.UtcNow).Candidates().ToList()):0} ms");
            var ids = candidates.Select(c => c.TraceId).ToList();
            var contents = new Dictionary<string, List<string>>();
            Console.WriteLine($"read spans: {Stats.Time(() => { foreach (var chunk in TraceReader.Chunks(ids, 200)) { var p = new SqlParameters(); using var cmd = store.Command($"SELECT trace_id, content FROM spans WHERE trace_id IN ({p.AddList(chunk)})", p); using var r = cmd.ExecuteReader(); while (r.Read()) { if (!contents.TryGetValue(r.GetString(0), out var l)) contents[r.GetString(0)] = l = new List<string>(); l.Add(r.GetString(1)); } } }):0} ms");
            var parsed = new Dictionary<string, List<Span>>();
            Console.WriteLine($"parse span JSON: {Stats.Time(() => { foreach (var kv in contents) parsed[kv.Key] = kv.Value.Select(c => SpanJson.FromContent(kv.Key, c)).ToList(); }):0} ms");
            var payloads = new Dictionary<string, byte[]>();
            Console.WriteLine($"serialize OTLP: {Stats.Time(() => { foreach (var kv in parsed) payloads[kv.Key] = TracePayload.Write(kv.Key, kv.Value); }):0} ms");
            Console.WriteLine($"write files: {Stats.Time(() => { foreach (var c in candidates) FileArchiveRepository.Instance.Write(c.ArchiveFolder + "-x", payloads[c.TraceId]); }):0} ms");
            var pass = new ArchivalExecutor(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment());
            Console.WriteLine($"full pass (5000): {Stats.Time(() => { foreach (var chunk in TraceReader.Chunks(candidates, ArchivalExecutor.FinalizeBatchSize)) pass.ArchiveBatch(chunk); }):0} ms");
            return 0;
        }
    }
}
