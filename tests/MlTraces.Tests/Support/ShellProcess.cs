using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace MlTraces.Tests.Support
{
    /// <summary>MlTraces.Shell in its own process, as a scheduled task runs it: for tests that kill it or run
    /// beside it.</summary>
    internal static class ShellProcess
    {
        public static string ShellDll => Path.Combine(AppContext.BaseDirectory, "MlTraces.Shell.dll");

        /// <param name="prefix">A program (and its arguments) that runs the shell, e.g. unshare; null: dotnet itself.</param>
        public static Process Start(string command, IDictionary<string, string>? environment = null, IReadOnlyList<string>? prefix = null)
        {
            var psi = new ProcessStartInfo(prefix?[0] ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (prefix != null)
            {
                for (int i = 1; i < prefix.Count; i++) psi.ArgumentList.Add(prefix[i]);
                psi.ArgumentList.Add("dotnet");
            }
            psi.ArgumentList.Add(ShellDll);
            psi.ArgumentList.Add("-Command");
            psi.ArgumentList.Add(command);
            if (environment != null)
                foreach (var kv in environment) psi.Environment[kv.Key] = kv.Value;
            return Process.Start(psi)!;
        }

        /// <summary>Runs the command to its end: exit code and everything it printed.</summary>
        public static (int ExitCode, string Output, string Errors) Run(string command, IReadOnlyList<string>? prefix = null)
        {
            using var p = Start(command, prefix: prefix);
            var errors = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output, errors.Result);
        }

        public static string Quote(string path) => "'" + path.Replace("'", "''") + "'";

        public static void WaitFor(Func<bool> condition, string what, Process? process = null)
        {
            var sw = Stopwatch.StartNew();
            while (!condition())
            {
                // The work may have happened between the check and the exit: look once more before calling it a failure.
                if (process != null && process.HasExited && !condition())
                    throw new InvalidOperationException($"The process ended (exit {process.ExitCode}) before {what}: {process.StandardError.ReadToEnd()}");
                if (sw.Elapsed > TimeSpan.FromSeconds(60))
                {
                    string printed = "";
                    if (process != null)
                    {
                        process.Kill(entireProcessTree: true);
                        process.WaitForExit();
                        printed = ": " + process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
                    }
                    throw new TimeoutException("Timed out waiting for " + what + printed);
                }
                Thread.Sleep(2);
            }
        }
    }
}
