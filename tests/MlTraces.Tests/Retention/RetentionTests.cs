using MlTraces.Core.Store;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core;
using MlTraces.Core.Retention;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Retention
{
    public class RetentionDurationTests
    {
        [Theory]
        [InlineData("30d", 30L * 86_400_000)]
        [InlineData(" 12h ", 12L * 3_600_000)]
        [InlineData("90m", 90L * 60_000)]
        [InlineData("9999999999999999999999999999999d", long.MaxValue)] // 32 characters: valid in Python, saturates here
        public void ParsesMlflowsGrammar(string text, long ms) => Assert.Equal(ms, RetentionDuration.Parse(text).Milliseconds);

        [Theory]
        [InlineData("0d")]
        [InlineData("01d")]
        [InlineData("30s")]
        [InlineData("1d2h")]
        [InlineData("1.5d")]
        [InlineData("30D")]
        [InlineData("")]
        public void RejectsOtherFormsWithMlflowsMessage(string text)
        {
            var ex = Assert.Throws<InvalidParameterException>(() => RetentionDuration.Parse(text));
            Assert.Equal("Trace archival retention must be in the form `<int><unit>`, where unit is one of 'm', 'h', or 'd'.", ex.Message);
            var named = Assert.Throws<InvalidParameterException>(() => RetentionDuration.Parse(text, "trace_archival.retention"));
            Assert.StartsWith("Invalid value for 'trace_archival.retention'. Expected a duration in the form `<int><unit>`", named.Message);
        }

        [Fact]
        public void TooLongAndFormatting()
        {
            Assert.Equal("Trace archival duration must be at most 32 characters.",
                Assert.Throws<InvalidParameterException>(() => RetentionDuration.Parse(new string('9', 32) + "d")).Message);
            Assert.Equal("1d", RetentionDuration.Format(86_400_000));
            Assert.Equal("90m", RetentionDuration.Format(5_400_000));
            Assert.Equal("30 days", RetentionDuration.Parse("30d").Display);
            Assert.Equal("1 hour", RetentionDuration.Parse("1h").Display);
        }
    }

    public class ArchivalServerConfigTests
    {
        private static string Write(string yaml)
        {
            string path = Path.Combine(TestStore.NewFolder(), "archival.yaml");
            File.WriteAllText(path, yaml);
            return path;
        }

        [Fact]
        public void ReadsEveryKeyWithPyYamlTyping()
        {
            var c = ArchivalServerConfig.Load(Write("trace_archival:\n  enabled: yes\n  location: file:///srv/archive\n  retention: 30d\n  long_retention_allowlist: [12345, \"7\", \" \", 12345, abc-1]\n  interval_seconds: 0x3C\n  max_traces_per_pass: 1_000\n"));
            Assert.True(c.Enabled);
            Assert.Equal("file:///srv/archive", c.Location);
            Assert.Equal("30d", c.Retention.Text);
            Assert.Equal(new[] { "12345", "7", "abc-1" }, c.LongRetentionAllowlist);
            Assert.Equal(60, c.IntervalSeconds);
            Assert.Equal(1000, c.MaxTracesPerPass);
        }

        [Theory]
        [InlineData("- a\n", "Top-level YAML value must be a mapping containing 'trace_archival'.")]
        [InlineData("other: 1\n", "Missing required 'trace_archival' mapping.")]
        [InlineData("trace_archival:\n  location: file:///a\n  retention: 1d\n", "Missing required 'trace_archival.enabled' value.")]
        [InlineData("trace_archival:\n  enabled: 'true'\n  location: file:///a\n  retention: 1d\n", "'trace_archival.enabled' must be a boolean.")]
        [InlineData("trace_archival:\n  enabled: true\n  location: file:///a\n  retention: 1d\n  interval_seconds: true\n", "'trace_archival.interval_seconds' must be a positive integer.")]
        [InlineData("trace_archival:\n  enabled: true\n  location: file:///a\n  retention: 1d\n  interval_seconds: 86401\n", "'trace_archival.interval_seconds' must be <= 86400.")]
        [InlineData("trace_archival:\n  enabled: true\n  location: file:///a\n  retention: 1d\n  max_traces_per_pass: 0\n", "'trace_archival.max_traces_per_pass' must be a positive integer.")]
        [InlineData("trace_archival:\n  enabled: true\n  location: file:///a\n  retention: 1d\n  long_retention_allowlist: '12'\n", "'trace_archival.long_retention_allowlist' must be a list.")]
        [InlineData("trace_archival:\n  enabled: true\n  location: file:///a\n  retention: 1d\n  long_retention_allowlist: [[1]]\n", "'trace_archival.long_retention_allowlist[0]' must be a scalar experiment ID.")]
        [InlineData("trace_archival: [unclosed\n", "Failed to parse YAML: ")]
        public void WrapsMlflowsMessages(string yaml, string message)
        {
            string path = Write(yaml);
            var ex = Assert.Throws<InvalidParameterException>(() => ArchivalServerConfig.Load(path));
            Assert.StartsWith($"Invalid trace archival config file '{path}': {message}", ex.Message);
        }

        [Theory]
        [InlineData("mlflow-artifacts:/archive", "Invalid value for 'trace_archival.location'. Trace archival location cannot use the proxy-only `mlflow-artifacts:` scheme.")]
        [InlineData("archive/local", "Invalid value for 'trace_archival.location'. Expected a URI string.")]
        [InlineData("30", "Invalid value for 'trace_archival.location'. Expected a URI string.")]
        public void LocationAndRetentionErrorsComeUnwrapped(string location, string message)
        {
            var ex = Assert.Throws<InvalidParameterException>(() =>
                ArchivalServerConfig.Load(Write($"trace_archival:\n  enabled: true\n  location: {location}\n  retention: 1d\n")));
            // MLflow's message first; what to write instead may follow.
            Assert.StartsWith(message, ex.Message);
            var retention = Assert.Throws<InvalidParameterException>(() =>
                ArchivalServerConfig.Load(Write("trace_archival:\n  enabled: true\n  location: s3://b/p\n  retention: 5w\n")));
            Assert.StartsWith("Invalid value for 'trace_archival.retention'.", retention.Message);
        }
    }

    /// <summary>A plain folder path as the archive location: MLflow's server refuses it (no URI scheme), so MlTraces
    /// does too, and says the file URI to write instead; a relative one is refused with why.</summary>
    public class ArchivalLocationHintTests
    {
        [Theory]
        [InlineData("/srv/archive", "file:///srv/archive")]
        [InlineData("/srv/mlflow archive/", "file:///srv/mlflow archive/")]
        [InlineData(@"C:\mlflow\archive", "file:///C:/mlflow/archive")]
        [InlineData("D:/archive", "file:///D:/archive")]
        public void APlainAbsolutePathIsRefusedWithTheFileUriToWrite(string location, string uri)
        {
            var ex = Assert.Throws<InvalidParameterException>(() => ArchivalLocation.Validate(location, "trace_archival.location"));
            Assert.Equal("InvalidArchivalLocation", ex.ErrorId);
            Assert.Contains("For a local folder write it as a file URI: " + uri + " (", ex.Message);
            // The URI it names is one MlTraces takes (a drive's only where drives are).
            if (location.StartsWith("/") || System.OperatingSystem.IsWindows())
                Assert.Equal(uri, ArchivalLocation.Validate(uri, "trace_archival.location"));
        }

        [Theory]
        [InlineData("relarch")]
        [InlineData("./relarch")]
        [InlineData(@"..\relarch")]
        public void ARelativePathIsRefusedAndSaysWhy(string location)
        {
            var ex = Assert.Throws<InvalidParameterException>(() => ArchivalLocation.Validate(location, "trace_archival.location"));
            Assert.StartsWith("Invalid value for 'trace_archival.location'. Expected a URI string.", ex.Message);
            Assert.Contains("must be an absolute file URI such as file:///", ex.Message);
        }

        /// <summary>The config shown in the README and about_MlTraces, as written, is one MLflow's rules accept.</summary>
        [Theory]
        [InlineData("README.md")]
        [InlineData("docs/en-US/about_MlTraces.md")]
        public void TheDocumentedConfigLoads(string doc)
        {
            string? dir = System.AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "MlTraces.psd1"))) dir = Path.GetDirectoryName(dir);
            var lines = File.ReadAllLines(Path.Combine(dir!, doc));
            int start = System.Array.FindIndex(lines, l => l.Trim() == "trace_archival:");
            Assert.True(start >= 0, doc + " shows no trace_archival config");
            int indent = lines[start].Length - lines[start].TrimStart().Length;
            var yaml = lines.Skip(start).TakeWhile((l, i) => i == 0 || l.StartsWith(new string(' ', indent + 2))).Select(l => l.Substring(indent));
            string file = Path.Combine(TestStore.NewFolder(), "trace-archival.yaml");
            File.WriteAllLines(file, yaml);
            var config = ArchivalServerConfig.Load(file);
            Assert.True(config.Enabled);
            Assert.Equal("file:///srv/mlflow-archive", config.Location);
            Assert.Equal("30d", config.Retention.ToString());
        }

        [Fact]
        public void ARelativeFileUriStaysRefused()
        {
            var ex = Assert.Throws<InvalidParameterException>(() => ArchivalLocation.Validate("file:relarch", "trace_archival.location"));
            Assert.Contains("is not an absolute local path: write it as file:///absolute/path", ex.Message);
        }
    }

}
