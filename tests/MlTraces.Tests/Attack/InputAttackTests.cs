using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using MlTraces.Core;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using Xunit;

namespace MlTraces.Tests.Attack
{
    /// <summary>
    /// Hostile input that a parser would choke on: a trace archival config nested 50,000 deep or a hundred MiB long,
    /// filters of 60,000 clauses or 100,000 parentheses, a page token of megabytes. Each is refused with a clear error
    /// before it reaches the parser's recursion or the store, and no message echoes more than a few hundred
    /// characters of it.
    /// </summary>
    public class InputAttackTests
    {
        private const int MaxMessage = 2000;

        // ---- the trace archival config (the YAML file of the MLflow server) ----

        public static IEnumerable<object[]> DeepYaml() => new[]
        {
            new object[] { "flow sequences", new string('[', 50_000) },
            new object[] { "flow mappings", string.Concat(Enumerable.Repeat("{a: ", 50_000)) },
            new object[] { "block sequences", string.Concat(Enumerable.Repeat("- ", 50_000)) + "x\n" },
            new object[] { "inside trace_archival", "trace_archival:\n  enabled: true\n  location: file:///tmp/a\n  retention: 30d\n  long_retention_allowlist: " + new string('[', 50_000) + new string(']', 50_000) + "\n" },
            new object[] { "closed and balanced", new string('[', 50_000) + new string(']', 50_000) },
        };

        [Theory]
        [MemberData(nameof(DeepYaml))]
        public void ADeeplyNestedConfigIsAnErrorNotACrash(string what, string yaml)
        {
            using var ts = TestStore.CreateEmpty();
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, yaml);
            // In a process of its own: before the limit, this killed the process with a stack overflow (exit 134).
            var (exit, output, errors) = ShellProcess.Run(
                $"try {{ Get-ExperimentRetention -TrackingUri {ShellProcess.Quote(ts.Path)} -ConfigPath {ShellProcess.Quote(config)} -ErrorAction Stop }} catch {{ 'ERRORID=' + $_.FullyQualifiedErrorId; 'MESSAGE=' + $_.Exception.Message }}");
            Assert.True(exit == 0, $"{what}: exit {exit}: {output}{errors}");
            Assert.Contains("ERRORID=InvalidArchivalConfig", output);
            Assert.Contains("nested more than 32 deep", output);
            Assert.True(output.Length < MaxMessage, output);
        }

        [Fact]
        public void AConfigNestedWithinTheLimitIsReadAsBefore()
        {
            string dir = TestStore.NewFolder();
            string config = Path.Combine(dir, "archival.yaml");
            File.WriteAllText(config, "trace_archival:\n  enabled: true\n  location: file:///tmp/a\n  retention: 30d\n  long_retention_allowlist: " + new string('[', 30) + "'1'" + new string(']', 30) + "\n");
            var ex = Assert.Throws<InvalidParameterException>(() => ArchivalServerConfig.Load(config));
            // MLflow's own validation, not the depth limit: the list's item is a list.
            Assert.Contains("long_retention_allowlist[0]' must be a scalar", ex.Message);
        }

        [Theory]
        [InlineData(1024 * 1024 + 1)]
        [InlineData(64 * 1024 * 1024)]
        public void AnOversizedConfigIsRefusedBeforeItIsParsed(int size)
        {
            string dir = TestStore.NewFolder();
            string config = Path.Combine(dir, "archival.yaml");
            string head = "trace_archival:\n  enabled: true\n  location: file:///tmp/a\n  retention: 30d\n";
            using (var f = new StreamWriter(config))
            {
                f.Write(head);
                f.Write('#');
                f.Write(new string('x', size - head.Length - 2));
                f.Write('\n');
            }
            var ex = Assert.Throws<InvalidParameterException>(() => ArchivalServerConfig.Load(config));
            Assert.Equal("InvalidArchivalConfig", ex.ErrorId);
            Assert.Contains("larger than 1 MiB", ex.Message);
            // Just under the limit, the same file is read.
            File.WriteAllText(config, head + "#" + new string('x', 1024 * 1024 - head.Length - 10) + "\n");
            Assert.True(ArchivalServerConfig.Load(config).Enabled);
        }
    }
}
