using System.IO;
using MlTraces.Shell;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>MlTraces.Shell as a console user and a scheduler see it: formatted views, plain text, exit codes.</summary>
    public class ShellTests
    {
        [RealStoreFact]
        public void TracesRenderThroughTheTableViewAsPlainText()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-traces-gen-e.db");
            var output = new StringWriter();
            using var session = new ShellSession(output, width: 120, workingDirectory: ts.Folder);
            int code = session.RunInteractive($"Search-Trace -TrackingUri '{ts.Path}' -First 3");
            string text = output.ToString();
            Assert.Equal(0, code);
            Assert.False(text.Contains((char)27), "escape sequences in plain-text output");
            Assert.Contains("RequestTime", text);
            Assert.Contains("TraceId", text);
            Assert.Matches("tr-[0-9a-f]{32} OK", text);
        }

        [Fact]
        public void ExitCodeSaysWhetherAnErrorWasWritten()
        {
            using var ts = TestStore.CreateEmpty();
            var output = new StringWriter();
            using var session = new ShellSession(output, workingDirectory: ts.Folder);
            Assert.Equal(0, session.RunInteractive("Search-Trace | ForEach-Object { $_ }"));
            Assert.Equal(1, session.RunInteractive("Get-Trace tr-missing"));
            Assert.Contains("Get-Trace: Trace 'tr-missing' was not found", output.ToString());
            // Errors the script chose to silence do not fail the run.
            Assert.Equal(0, session.RunInteractive("Get-Trace tr-missing -ErrorAction SilentlyContinue"));
            string script = Path.Combine(ts.Folder, "job.ps1");
            File.WriteAllText(script, "param($Id) Get-Trace $Id -ErrorAction SilentlyContinue; if (-not $?) { exit 3 }");
            Assert.Equal(3, session.RunFile(script, new[] { "tr-missing" }));
        }
    }
}
