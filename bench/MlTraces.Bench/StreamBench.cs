using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace MlTraces.Bench
{
    /// <summary>
    /// Streams every trace of a store (no spans) through a PowerShell pipeline in a fresh MlTraces.Shell process
    /// and reports the process's peak memory. Run it on stores of different sizes: the peak must not grow.
    /// </summary>
    public static class StreamBench
    {
        public static int Run(Args a)
        {
            string shell = Path.Combine(AppContext.BaseDirectory, "MlTraces.Shell.dll");
            string script = "$n = 0; Search-Trace -TrackingUri '" + a.Store.Replace("'", "''") + "' | ForEach-Object { $n++ }; " +
                            "\"$n $([System.Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64)\"";
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(shell);
            psi.ArgumentList.Add("-Command");
            psi.ArgumentList.Add(script);
            var sw = Stopwatch.StartNew();
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            string errors = p.StandardError.ReadToEnd();
            p.WaitForExit();
            sw.Stop();
            var last = output.Trim().Split('\n').Last().Trim().Split(' ');
            if (p.ExitCode != 0 || last.Length != 2) { Console.Error.WriteLine(output + errors); return 1; }
            long count = long.Parse(last[0]);
            double peakMb = long.Parse(last[1]) / 1024.0 / 1024.0;
            Stats.Report(a.Out, new[]
            {
                $"## Streaming every trace through the pipeline ({a.Store})",
                "",
                $"`Search-Trace | ForEach-Object {{ $n++ }}` in a fresh MlTraces.Shell: {count:N0} traces in {sw.Elapsed.TotalSeconds:0.0} s, " +
                $"peak working set {peakMb:0} MB ({(peakMb < 200 ? "under" : "OVER")} 200 MB).",
            });
            return 0;
        }
    }

    /// <summary>Import-Module plus a first search on a small store, in fresh processes (engine already started).</summary>
    public static class StartupBench
    {
        public static int Run(Args a)
        {
            var times = new List<double>();
            for (int i = 0; i < a.Runs; i++)
            {
                var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
                psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "MlTraces.Bench.dll"));
                psi.ArgumentList.Add("startup-child");
                psi.ArgumentList.Add("--store");
                psi.ArgumentList.Add(a.Store);
                using var p = Process.Start(psi)!;
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                times.Add(double.Parse(output.Trim().Split('\n').Last(), System.Globalization.CultureInfo.InvariantCulture));
            }
            double median = Stats.Median(times);
            Stats.Report(a.Out, new[]
            {
                $"## Import-Module plus a first search ({a.Store})",
                "",
                $"Median of {a.Runs} fresh processes: {median:0} ms ({(median < 1000 ? "under" : "OVER")} one second); runs: {string.Join(", ", times.Select(t => t.ToString("0")))} ms.",
            });
            return 0;
        }

        public static int Child(Args a)
        {
            using var runspace = System.Management.Automation.Runspaces.RunspaceFactory.CreateRunspace(
                System.Management.Automation.Runspaces.InitialSessionState.CreateDefault2());
            runspace.Open();
            string module = MlTraces.Shell.ShellSession.FindModule();
            var sw = Stopwatch.StartNew();
            using var ps = System.Management.Automation.PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddScript("Import-Module $args[0]; Search-Trace -TrackingUri $args[1] -First 1").AddArgument(module).AddArgument(a.Store);
            var result = ps.Invoke();
            sw.Stop();
            if (ps.HadErrors || result.Count == 0) { Console.Error.WriteLine("the first search returned nothing"); return 1; }
            Console.WriteLine(sw.Elapsed.TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture));
            return 0;
        }
    }
}
