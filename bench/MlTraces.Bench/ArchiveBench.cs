using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Archive;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Bench
{
    /// <summary>
    /// Archiving N traces with Invoke-TraceArchive in a fresh MlTraces.Shell (time, peak memory) against the floor:
    /// reading the same span content from SQLite and writing it to one file per trace, on a copy of the same store.
    /// </summary>
    public static class ArchiveBench
    {
        public static int Run(Args a)
        {
            long? count = a.Traces > 0 ? a.Traces : (long?)null;
            string dir = Path.Combine(Path.GetDirectoryName(a.Store)!, "archive-bench");
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
            Directory.CreateDirectory(dir);
            string work = Path.Combine(dir, "work.db");
            File.Copy(a.Store, work);
            string config = Path.Combine(dir, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(dir, "archive")).AbsoluteUri}\n  retention: 1d\n");

            List<string> ids;
            long bytes;
            using (var store = TraceStore.Open(TrackingUri.Parse(work, "/")))
            {
                var plan = ArchivalPlanner.Plan(store, ArchivalServerConfig.Load(config), Experiments.Active(store), count, DateTimeOffset.UtcNow);
                var candidates = plan.Candidates().ToList();
                ids = candidates.Select(c => c.TraceId).ToList();
                bytes = candidates.Sum(c => c.PayloadBytes);
            }

            // The floor: the same content bytes out of SQLite into a file per trace.
            string floorDir = Path.Combine(dir, "floor");
            Directory.CreateDirectory(floorDir);
            var floor = Stopwatch.StartNew();
            using (var c = new SqliteConnection($"Data Source={work};Mode=ReadOnly;Pooling=False"))
            {
                c.Open();
                foreach (var chunk in TraceReader.Chunks(ids, 500))
                {
                    using var cmd = c.CreateCommand();
                    cmd.CommandText = $"SELECT trace_id, content FROM spans WHERE trace_id IN ({string.Join(",", chunk.Select(i => "'" + i + "'"))}) ORDER BY trace_id";
                    using var r = cmd.ExecuteReader();
                    string? current = null;
                    FileStream? f = null;
                    while (r.Read())
                    {
                        string id = r.GetString(0);
                        if (id != current) { f?.Dispose(); current = id; f = File.Create(Path.Combine(floorDir, id + ".bin")); }
                        var b = System.Text.Encoding.UTF8.GetBytes(r.GetString(1));
                        f!.Write(b, 0, b.Length);
                    }
                    f?.Dispose();
                }
            }
            floor.Stop();

            var run = Shell.Run($"$s = Invoke-TraceArchive -TrackingUri '{work}' -ConfigPath '{config}'{(count.HasValue ? $" -MaxTraces {count}" : "")} -ProgressAction SilentlyContinue; " +
                                "\"$($s.Archived) $([System.Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64)\"");
            if (run == null) return 1;
            long archived = long.Parse(run.Value.Last[0]);
            double peakMb = run.Value.PeakMb(run.Value.Last[1]);
            var tool = TimeSpan.FromSeconds(run.Value.Seconds);
            double floorRate = ids.Count / floor.Elapsed.TotalSeconds, toolRate = archived / tool.TotalSeconds;
            Stats.Report(a.Out, new[]
            {
                $"## Archiving {ids.Count:N0} traces ({bytes / 1024.0 / 1024.0:N0} MiB of span content) from a copy of {a.Store}",
                "",
                "| | traces | time | traces/s |",
                "|---|---:|---:|---:|",
                $"| floor: read content, write a file per trace | {ids.Count:N0} | {floor.Elapsed.TotalSeconds:0.0} s | {floorRate:N0} |",
                $"| Invoke-TraceArchive (fresh MlTraces.Shell) | {archived:N0} | {tool.TotalSeconds:0.0} s | {toolRate:N0} |",
                "",
                $"Throughput {toolRate / floorRate:0.00} of the floor (target at least 0.33); peak working set {peakMb:0} MB ({(peakMb < 300 ? "under" : "OVER")} 300 MB).",
            });
            Directory.Delete(dir, true);
            return 0;
        }
    }
}
