using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using MlTraces.Tests.Support;
using Xunit.Abstractions;

namespace MlTraces.Tests.Pester
{
    /// <summary>
    /// The Pester suite (tests/*.Tests.ps1) in real pwsh 7.6.10 with Pester 5.7.1, against the laid-out module: the
    /// formatter, help, completion and pipeline behaviour only a real pwsh shows. Both come from NuGet: pwsh is the
    /// local tool in .config/dotnet-tools.json (restored here when missing), Pester a PackageDownload of this project.
    /// </summary>
    public class PesterTests
    {
        private readonly ITestOutputHelper _output;
        public PesterTests(ITestOutputHelper output) { _output = output; }

        private static (int ExitCode, string Output) Run(string file, params string[] args)
        {
            var psi = new ProcessStartInfo(file) { WorkingDirectory = ModuleManifest.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.StandardInput.Close();
            var text = new StringBuilder();
            p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (text) text.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (text) text.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            if (!p.WaitForExit((int)TimeSpan.FromMinutes(15).TotalMilliseconds)) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} {string.Join(" ", args)} ran over 15 minutes:\n{text}"); }
            p.WaitForExit();
            lock (text) return (p.ExitCode, text.ToString());
        }

        [Fact]
        public void EveryPesterTestPassesInRealPwsh()
        {
            string pester = typeof(PesterTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "PesterModule").Value!;
            Assert.True(File.Exists(pester), $"Pester 5.7.1 is not at {pester}: `dotnet restore tests/MlTraces.Tests` fetches it from NuGet.");
            var restore = Run("dotnet", "tool", "restore");
            Assert.True(restore.ExitCode == 0, "`dotnet tool restore` (pwsh 7.6.10 from NuGet) failed:\n" + restore.Output);

            var (exit, output) = Run("dotnet", "tool", "run", "pwsh", "-NoLogo", "-NoProfile", "-NonInteractive",
                "-File", Path.Combine("tests", "Invoke-PesterSuite.ps1"), "-PesterModule", pester);
            _output.WriteLine(output);
            string summary = output.Split('\n').LastOrDefault(l => l.StartsWith("Pester ", StringComparison.Ordinal))?.Trim() ?? "(no summary line)";
            var failures = output.Split('\n').Where(l => l.StartsWith("FAILED", StringComparison.Ordinal)).ToList();
            Assert.True(exit == 0, $"{summary}\n{string.Join("\n", failures)}\n\nThe last lines:\n{string.Join("\n", output.Split('\n').TakeLast(60))}");
            Assert.Contains("in pwsh 7.6.10:", summary);
            Assert.Contains(" 0 failed", summary);
        }
    }
}
