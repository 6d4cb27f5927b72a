using System;
using System.IO;
using System.Linq;
using MlTraces.Shell;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>examples/nightly-maintenance.ps1 as a scheduler runs it: MlTraces.Shell -File, a log line, an exit code.</summary>
    public class ScheduledTaskTests
    {
        private static string Script()
        {
            string? dir = AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "MlTraces.psd1"))) dir = Path.GetDirectoryName(dir);
            return Path.Combine(dir!, "examples", "nightly-maintenance.ps1");
        }

        [RealStoreFact]
        public void ArchivesDeletesLogsAndExitsZero()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            // Half the traces are older than the deletion bound; all are older than the retention.
            long cutoffDays = (long)(DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeMilliseconds(ts.Scalar("SELECT min(timestamp_ms) FROM trace_info"))).TotalDays - 1;
            var output = new StringWriter();
            using var session = new ShellSession(output, workingDirectory: ts.Folder);
            int code = session.RunFile(Script(), new[] { "-TrackingUri", ts.Path, "-ConfigPath", config, "-DeleteOlderThan", $"{cutoffDays}d", "-MaxArchive", "5" });
            Assert.True(code == 0, output.ToString());
            string log = File.ReadAllText(Path.Combine(ts.Folder, "mltraces-maintenance.log"));
            var line = Assert.Single(log.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            var m = System.Text.RegularExpressions.Regex.Match(line, @"archived=5 deleted=(\d+) failures=0");
            Assert.True(m.Success, line);
            Assert.Equal(42 - long.Parse(m.Groups[1].Value), ts.Scalar("SELECT count(*) FROM trace_info"));
            // The deletion took the oldest traces, the archived ones among them: no payload outlives its trace.
            int payloads = Directory.Exists(Path.Combine(ts.Folder, "archive"))
                ? Directory.GetFiles(Path.Combine(ts.Folder, "archive"), "traces.pb", SearchOption.AllDirectories).Length : 0;
            Assert.Equal(ts.Scalar("SELECT count(*) FROM trace_tags WHERE key = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'"), payloads);
        }

        [Fact]
        public void AFailureGivesExitCodeOne()
        {
            using var ts = TestStore.CreateEmpty();
            File.WriteAllText(Path.Combine(ts.Folder, "bad.yaml"), "trace_archival:\n  enabled: perhaps\n");
            var output = new StringWriter();
            using var session = new ShellSession(output, workingDirectory: ts.Folder);
            int code = session.RunFile(Script(), new[] { "-ConfigPath", "bad.yaml" });
            Assert.Equal(1, code);
            Assert.Contains("failures=1", File.ReadAllText(Path.Combine(ts.Folder, "mltraces-maintenance.log")));
        }
    }
}
