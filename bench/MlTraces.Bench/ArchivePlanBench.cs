using System;
using System.IO;
using MlTraces.Core.Archive;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Bench
{
    /// <summary>Archival candidate selection on a large store (target: under 2 s on 1M traces, from an index).</summary>
    public static class ArchivePlanBench
    {
        public static int Run(Args a)
        {
            string config = Path.Combine(Path.GetTempPath(), "mltraces-bench-archival.yaml");
            File.WriteAllText(config, "trace_archival:\n  enabled: true\n  location: file:///tmp/mltraces-bench-archive\n  retention: 30d\n");
            var cfg = ArchivalServerConfig.Load(config);
            var lines = new System.Collections.Generic.List<string> { $"## Archival candidate selection ({a.Store}, retention 30d)", "", "| budget | candidates | bytes | time |", "|---:|---:|---:|---:|" };
            foreach (long? budget in new long?[] { 1000, 100_000, null })
            {
                using var store = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var experiments = Experiments.Active(store);
                ArchivalPlan? plan = null;
                double ms = Stats.Time(() => plan = ArchivalPlanner.Plan(store, cfg, experiments, budget, DateTimeOffset.UtcNow));
                lines.Add($"| {(budget?.ToString("N0") ?? "none")} | {plan!.Candidates.Count:N0} | {plan.PayloadBytes / 1024.0 / 1024.0:N0} MiB | {ms / 1000:0.00} s |");
            }
            Stats.Report(a.Out, lines);
            return 0;
        }
    }
}
