using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Bench
{
    /// <summary>
    /// Archival candidate selection on a large store (target: under 2 s on 1M traces, from an index). The plan
    /// streams, so each budget reports the time to the first candidate, to the first finalize batch, and to the
    /// end of the walk (every candidate with its payload bytes). Then the whole unbounded plan as
    /// `Invoke-TraceArchive -WhatIf` prints it, in a fresh MlTraces.Shell: time and peak working set.
    /// </summary>
    public static class ArchivePlanBench
    {
        public static int Run(Args a)
        {
            string config = Path.Combine(Path.GetTempPath(), "mltraces-bench-archival.yaml");
            File.WriteAllText(config, "trace_archival:\n  enabled: true\n  location: file:///tmp/mltraces-bench-archive\n  retention: 30d\n");
            var cfg = ArchivalServerConfig.Load(config);
            var lines = new List<string>
            {
                $"## Archival candidate selection ({a.Store}, retention 30d, warm)", "",
                "| budget | candidates | bytes | first candidate | first 200 | whole walk |", "|---:|---:|---:|---:|---:|---:|",
            };
            foreach (long? budget in new long?[] { 1000, 100_000, null })
            {
                using var store = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var clock = Stopwatch.StartNew();
                var plan = ArchivalPlanner.Plan(store, cfg, Experiments.Active(store), budget, DateTimeOffset.UtcNow);
                double first = -1, batch = -1;
                long count = 0, bytes = 0;
                foreach (var c in plan.Candidates())
                {
                    if (++count == 1) first = clock.Elapsed.TotalMilliseconds;
                    if (count == ArchivalExecutor.FinalizeBatchSize) batch = clock.Elapsed.TotalMilliseconds;
                    bytes += c.PayloadBytes;
                }
                lines.Add($"| {(budget?.ToString("N0") ?? "none")} | {count:N0} | {bytes / 1024.0 / 1024.0:N0} MiB | {first:0} ms | {batch:0} ms | {clock.Elapsed.TotalSeconds:0.00} s |");
            }

            var run = Shell.Run($"$s = Invoke-TraceArchive -TrackingUri '{a.Store}' -ConfigPath '{config}' -WhatIf -ProgressAction SilentlyContinue; " +
                                "\"$($s.Planned) $($s.ArchivedBytes) $([System.Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64)\"");
            if (run == null) return 1;
            lines.Add("");
            lines.Add($"Unbounded `Invoke-TraceArchive -WhatIf` in a fresh MlTraces.Shell: {long.Parse(run.Value.Last[0]):N0} traces, " +
                      $"{long.Parse(run.Value.Last[1]) / 1024.0 / 1024.0:N0} MiB listed in {run.Value.Seconds:0.0} s ({run.Value.Lines:N0} host lines); " +
                      $"peak working set {run.Value.PeakMb(run.Value.Last[2]):0} MB ({(run.Value.PeakMb(run.Value.Last[2]) < 300 ? "under" : "OVER")} 300 MB).");
            Stats.Report(a.Out, lines);
            return 0;
        }
    }

    /// <summary>A command in a fresh MlTraces.Shell; its output is read line by line and only the last line kept.</summary>
    public static class Shell
    {
        public readonly struct Result
        {
            public Result(string[] last, long lines, double seconds) { Last = last; Lines = lines; Seconds = seconds; }
            /// <summary>The last output line, split on spaces.</summary>
            public string[] Last { get; }
            public long Lines { get; }
            public double Seconds { get; }
            public double PeakMb(string bytes) => long.Parse(bytes) / 1024.0 / 1024.0;
        }

        public static Result? Run(string command)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "MlTraces.Shell.dll"));
            psi.ArgumentList.Add("-Command");
            psi.ArgumentList.Add(command);
            var clock = Stopwatch.StartNew();
            using var p = Process.Start(psi)!;
            var errors = p.StandardError.ReadToEndAsync();
            string? line, last = null;
            long lines = 0;
            while ((line = p.StandardOutput.ReadLine()) != null)
            {
                lines++;
                if (line.Trim().Length > 0) last = line.Trim();
            }
            p.WaitForExit();
            clock.Stop();
            if (p.ExitCode != 0 || last == null)
            {
                Console.Error.WriteLine($"exit {p.ExitCode}; last line: {last}\n{errors.Result}");
                return null;
            }
            return new Result(last.Split(' '), lines, clock.Elapsed.TotalSeconds);
        }
    }
}
