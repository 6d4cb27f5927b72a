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
        /// <summary>A copy of the store in bench/data/&lt;name&gt;/ with an archival config whose location is
        /// <paramref name="location"/> (null: the folder archive/ beside the copy; retention 1d), and the first <paramref name="count"/> candidates (null: all).</summary>
        public sealed class Prepared
        {
            public string Dir = "", Work = "", Config = "";
            public List<PlannedArchival> Candidates = new List<PlannedArchival>();
            public List<string> Ids => Candidates.Select(c => c.TraceId).ToList();
            public long Bytes => Candidates.Sum(c => c.PayloadBytes);
        }

        public static Prepared Prepare(Args a, string name, string? location, long? count)
        {
            var p = new Prepared { Dir = Path.Combine(Path.GetDirectoryName(a.Store)!, name) };
            if (Directory.Exists(p.Dir)) Directory.Delete(p.Dir, true);
            Directory.CreateDirectory(p.Dir);
            p.Work = Path.Combine(p.Dir, "work.db");
            File.Copy(a.Store, p.Work);
            // The copy's dirty pages written out now, not during the timed run.
            using (var sync = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sync") { UseShellExecute = false })!) sync.WaitForExit();
            p.Config = Path.Combine(p.Dir, "archival.yaml");
            File.WriteAllText(p.Config, $"trace_archival:\n  enabled: true\n  location: {location ?? new Uri(Path.Combine(p.Dir, "archive")).AbsoluteUri}\n  retention: 1d\n");
            using var store = TraceStore.Open(TrackingUri.Parse(p.Work, "/"));
            var plan = ArchivalPlanner.Plan(store, ArchivalServerConfig.Load(p.Config), Experiments.Active(store), count, DateTimeOffset.UtcNow);
            p.Candidates = plan.Candidates().ToList();
            return p;
        }

        /// <summary>Each trace's span content, in chunks of 500 traces read in id order.</summary>
        public static IEnumerable<(string TraceId, List<string> Contents)> Contents(string work, IReadOnlyList<string> ids)
        {
            using var c = new SqliteConnection($"Data Source={work};Mode=ReadOnly;Pooling=False");
            c.Open();
            foreach (var chunk in TraceReader.Chunks(ids, 500))
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = $"SELECT trace_id, content FROM spans WHERE trace_id IN ({string.Join(",", chunk.Select(i => "'" + i + "'"))}) ORDER BY trace_id";
                using var r = cmd.ExecuteReader();
                string? current = null;
                var contents = new List<string>();
                while (r.Read())
                {
                    string id = r.GetString(0);
                    if (id != current)
                    {
                        if (current != null) yield return (current, contents);
                        current = id; contents = new List<string>();
                    }
                    contents.Add(r.GetString(1));
                }
                if (current != null) yield return (current, contents);
            }
        }

        public static int Run(Args a)
        {
            long? count = a.Traces > 0 ? a.Traces : (long?)null;
            var prepared = Prepare(a, "archive-bench", null, count);
            string dir = prepared.Dir, work = prepared.Work, config = prepared.Config;
            List<string> ids = prepared.Ids;
            long bytes = prepared.Bytes;

            // The floor: the same content bytes out of SQLite into a file per trace.
            string floorDir = Path.Combine(dir, "floor");
            Directory.CreateDirectory(floorDir);
            var floor = Stopwatch.StartNew();
            foreach (var (id, contents) in Contents(work, ids))
            {
                using var f = File.Create(Path.Combine(floorDir, id + ".bin"));
                foreach (var content in contents)
                {
                    var b = System.Text.Encoding.UTF8.GetBytes(content);
                    f.Write(b, 0, b.Length);
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
