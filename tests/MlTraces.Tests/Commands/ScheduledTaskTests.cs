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
            int code = session.RunFile(Script(), new[] { "-TrackingUri", ts.Path, "-ConfigPath", config, "-DeleteOlderThan", $"{cutoffDays}d", "-MaxArchive", "5", "-ArtifactsDestination", Path.Combine(ts.Folder, "mlartifacts") });
            Assert.True(code == 0, output.ToString());
            string log = File.ReadAllText(Path.Combine(ts.Folder, "mltraces-maintenance.log"));
            var line = Assert.Single(log.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            var m = System.Text.RegularExpressions.Regex.Match(line, @"deleted=(\d+) archived=5 failures=0 seconds=[0-9.]+$");
            Assert.True(m.Success, line);
            Assert.True(long.Parse(m.Groups[1].Value) > 0, line);
            Assert.Equal(42 - long.Parse(m.Groups[1].Value), ts.Scalar("SELECT count(*) FROM trace_info"));
            // The deletion ran first: the five archived traces are still there (none was archived only to be
            // deleted), each with its payload, and no trace older than the bound is left.
            int payloads = Directory.Exists(Path.Combine(ts.Folder, "archive"))
                ? Directory.GetFiles(Path.Combine(ts.Folder, "archive"), "traces.pb", SearchOption.AllDirectories).Length : 0;
            Assert.Equal(5, ts.Scalar("SELECT count(*) FROM trace_tags WHERE key = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'"));
            Assert.Equal(5, payloads);
            long bound = DateTimeOffset.UtcNow.AddDays(-cutoffDays).ToUnixTimeMilliseconds();
            Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM trace_info WHERE timestamp_ms <= {bound - 60_000}"));
        }

        /// <summary>Without -DeleteOlderThan nothing is deleted, however old the traces are: no default age.</summary>
        [RealStoreFact]
        public void DeletesNothingUnlessToldHowOld()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            long before = ts.Scalar("SELECT count(*) FROM trace_info");
            // Every trace of the fixture is years old: any default age would take some.
            Assert.Equal(before, ts.Scalar($"SELECT count(*) FROM trace_info WHERE timestamp_ms < {DateTimeOffset.UtcNow.AddDays(-90).ToUnixTimeMilliseconds()}"));
            var output = new StringWriter();
            using var session = new ShellSession(output, workingDirectory: ts.Folder);
            int code = session.RunFile(Script(), new[] { "-TrackingUri", ts.Path });
            Assert.True(code == 0, output.ToString());
            Assert.Equal(before, ts.Scalar("SELECT count(*) FROM trace_info"));
            Assert.Contains("deleted=0 archived=0 failures=0", File.ReadAllText(Path.Combine(ts.Folder, "mltraces-maintenance.log")));
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
            string line = File.ReadAllText(Path.Combine(ts.Folder, "mltraces-maintenance.log")).TrimEnd('\r', '\n');
            Assert.DoesNotContain("\n", line);
            // The log line says why: the error's id and its message, which names the file and what is wrong in it.
            Assert.Matches(@"failures=1 seconds=[0-9.]+ error=InvalidArchivalConfig reason="".*bad\.yaml.*must be a boolean\.""$", line);
        }

        /// <summary>A deletion that fails (a malformed duration) is named in the log line, and the archival pass
        /// still runs; two failures are counted and the first is quoted.</summary>
        [Fact]
        public void TheLogLineNamesEachKindOfFailure()
        {
            using var ts = TestStore.CreateEmpty();
            File.WriteAllText(Path.Combine(ts.Folder, "bad.yaml"), "trace_archival:\n  enabled: perhaps\n");
            var output = new StringWriter();
            using var session = new ShellSession(output, workingDirectory: ts.Folder);
            int code = session.RunFile(Script(), new[] { "-TrackingUri", ts.Path, "-DeleteOlderThan", "ninety days", "-ConfigPath", "bad.yaml" });
            Assert.Equal(1, code);
            string line = File.ReadAllText(Path.Combine(ts.Folder, "mltraces-maintenance.log")).TrimEnd('\r', '\n');
            // Warnings come from the host: the script runs where only the engine's core commands are.
            Assert.DoesNotContain("not recognized", output.ToString());
            Assert.Matches(@"deleted=0 archived=0 failures=2 seconds=[0-9.]+ error=ParameterArgumentTransformationError reason="".*'OlderThan'.*\(and 1 more\)""$", line);
        }
    }
}
