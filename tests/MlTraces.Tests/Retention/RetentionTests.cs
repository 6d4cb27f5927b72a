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

    /// <summary>
    /// The YAML's edge cases as MLflow's mlflow/tracing/trace_archival_config.py has them
    /// (load_trace_archival_server_config, _get_required_value, _get_required_bool, _get_optional_bounded_positive_int,
    /// _parse_long_retention_allowlist, and mlflow/store/tracking/utils/trace_archival.py
    /// _parse_trace_archival_long_retention_allowlist). Each expectation is what that code answers on PyYAML 6.
    /// </summary>
    public class ArchivalServerConfigEdgeTests
    {
        private const string Head = "trace_archival:\n  enabled: true\n  location: file:///a\n  retention: 1d\n";

        private static string Write(string yaml)
        {
            string path = Path.Combine(TestStore.NewFolder(), "archival.yaml");
            File.WriteAllText(path, yaml);
            return path;
        }

        private static string Refusal(string yaml)
        {
            string path = Write(yaml);
            var ex = Assert.Throws<InvalidParameterException>(() => ArchivalServerConfig.Load(path));
            Assert.Equal("InvalidArchivalConfig", ex.ErrorId);
            string prefix = $"Invalid trace archival config file '{path}': ";
            Assert.StartsWith(prefix, ex.Message);
            return ex.Message.Substring(prefix.Length);
        }

        /// <summary>A key written with no value is present with None (_get_required_value returns payload[key]);
        /// MLflow then refuses the file, where MlTraces used to take "enabled:" as missing and "interval_seconds:" as
        /// the default (and so archived).</summary>
        [Theory]
        [InlineData("trace_archival:\n  enabled:\n  location: file:///a\n  retention: 1d\n", "'trace_archival.enabled' must be a boolean.")]
        [InlineData("trace_archival:\n  enabled: ~\n  location: file:///a\n  retention: 1d\n", "'trace_archival.enabled' must be a boolean.")]
        [InlineData(Head + "  interval_seconds:\n", "'trace_archival.interval_seconds' must be a positive integer.")]
        [InlineData(Head + "  interval_seconds: null\n", "'trace_archival.interval_seconds' must be a positive integer.")]
        [InlineData(Head + "  max_traces_per_pass:\n", "'trace_archival.max_traces_per_pass' must be a positive integer.")]
        [InlineData(Head + "  max_traces_per_pass: -12345678901234567890\n", "'trace_archival.max_traces_per_pass' must be a positive integer.")]
        [InlineData(Head + "  interval_seconds: 12345678901234567890\n", "'trace_archival.interval_seconds' must be <= 86400.")]
        [InlineData(Head + "  max_traces_per_pass: 1.0\n", "'trace_archival.max_traces_per_pass' must be a positive integer.")]
        public void AKeyWithNoValueIsRefusedAsMlflowRefusesIt(string yaml, string message) => Assert.Equal(message, Refusal(yaml));

        /// <summary>Location and retention with no value reach MLflow's validators as None, whose messages come
        /// unwrapped (not "Missing required ...").</summary>
        [Fact]
        public void ALocationOrRetentionWithNoValueGetsTheValidatorsMessage()
        {
            var location = Assert.Throws<InvalidParameterException>(() => ArchivalServerConfig.Load(Write("trace_archival:\n  enabled: true\n  location:\n  retention: 1d\n")));
            Assert.Equal("Invalid value for 'trace_archival.location'. Expected a URI string.", location.Message);
            var retention = Assert.Throws<InvalidParameterException>(() => ArchivalServerConfig.Load(Write("trace_archival:\n  enabled: true\n  location: file:///a\n  retention:\n")));
            Assert.StartsWith("Invalid value for 'trace_archival.retention'. Expected a duration", retention.Message);
        }

        /// <summary>Python's ints have no bound: a 20-digit max_traces_per_pass is valid for MLflow (no limit any store
        /// reaches), where MlTraces threw an OverflowException; 0xFFFFFFFFFFFFFFFF is 2**64-1, not -1.</summary>
        [Theory]
        [InlineData("12345678901234567890")]
        [InlineData("99_999_999_999_999_999_999")]
        [InlineData("0xFFFFFFFFFFFFFFFF")]
        [InlineData("0b" + "1111111111111111111111111111111111111111111111111111111111111111")]
        [InlineData("07777777777777777777777777")]
        [InlineData("9223372036854775807")]
        public void AnIntegerPastALongIsNoLimit(string value)
        {
            var config = ArchivalServerConfig.Load(Write(Head + $"  max_traces_per_pass: {value}\n"));
            Assert.Equal(long.MaxValue, config.MaxTracesPerPass);
            Assert.Equal(ArchivalServerConfig.DefaultIntervalSeconds, config.IntervalSeconds);
        }

        [Fact]
        public void AHugeIntegerIsAParseErrorNotAnHourOfArithmetic()
        {
            // Python's int() refuses more than 4300 digits (sys.int_info.default_max_str_digits); MLflow lets that
            // ValueError escape unwrapped. Here it is the file's parse error, and it comes at once.
            var watch = System.Diagnostics.Stopwatch.StartNew();
            string message = Refusal(Head + "  max_traces_per_pass: 1" + new string('0', 500_000) + "\n");
            Assert.StartsWith("Failed to parse YAML: Exceeds the limit (4300 digits) for integer string conversion", message);
            Assert.True(watch.Elapsed < System.TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        }

        /// <summary>The allowlist: None is empty; a string (even "1,2") or a mapping is "must be a list"; each entry is
        /// str()-ed (None, True, .inf, big ints and sexagesimal ints as Python prints them), the entries are joined
        /// with commas and split again (so "1, 2" is two IDs), strip()-ped with Python's whitespace, blanks skipped,
        /// duplicates dropped; IDs keep their case.</summary>
        [Theory]
        [InlineData("  long_retention_allowlist:\n", new string[0])]
        [InlineData("  long_retention_allowlist: []\n", new string[0])]
        [InlineData("  long_retention_allowlist: ['1, 2', ' 3 ', '', 1]\n", new[] { "1", "2", "3" })]
        [InlineData("  long_retention_allowlist: [Abc, abc, ABC, abc]\n", new[] { "Abc", "abc", "ABC" })]
        [InlineData("  long_retention_allowlist: [null, true, .inf, 12345678901234567890123]\n", new[] { "None", "True", "inf", "12345678901234567890123" })]
        [InlineData("  long_retention_allowlist: [0x10, 0o17, 017, 1:30]\n", new[] { "16", "0o17", "15", "90" })]
        [InlineData("  long_retention_allowlist: [\"\\t7\\x1c\", \"\\u00a07\\u3000\"]\n", new[] { "7" })]
        [InlineData("  long_retention_allowlist: [\"1\\u00b2\", \"a\\u00e9\"]\n", new[] { "1\u00b2", "a\u00e9" })] // Python's \\w: letters and numbers
        public void TheAllowlistIsReadAsMlflowReadsIt(string yaml, string[] expected)
        {
            Assert.Equal(expected, ArchivalServerConfig.Load(Write(Head + yaml)).LongRetentionAllowlist);
        }

        /// <summary>The document as yaml.safe_load composes it: a repeated key is allowed and the last one counts
        /// (MlTraces used to refuse the file with YamlDotNet's "Duplicate key"), keys are typed as values are (a quoted
        /// "enabled" is the key, `on:` is True), an alias is its anchor's value, and more than one document is refused.</summary>
        [Fact]
        public void TheDocumentIsComposedAsPyYamlComposesIt()
        {
            const string Rest = "  location: file:///a\n  retention: 1d\n";
            Assert.True(ArchivalServerConfig.Load(Write("trace_archival:\n  enabled: false\n" + Rest + "  enabled: true\n")).Enabled);
            Assert.False(ArchivalServerConfig.Load(Write("trace_archival:\n  enabled: true\n" + Rest + "  enabled: false\n")).Enabled);
            Assert.False(ArchivalServerConfig.Load(Write("trace_archival: {enabled: true}\ntrace_archival:\n  enabled: off\n" + Rest)).Enabled);
            Assert.Equal(7, ArchivalServerConfig.Load(Write("trace_archival:\n  enabled: true\n" + Rest + "  max_traces_per_pass: 5\n  max_traces_per_pass: 7\n")).MaxTracesPerPass);
            Assert.True(ArchivalServerConfig.Load(Write("trace_archival:\n  \"enabled\": true\n" + Rest)).Enabled);
            Assert.Equal("Missing required 'trace_archival.enabled' value.", Refusal("trace_archival:\n  on: true\n" + Rest));
            var aliased = ArchivalServerConfig.Load(Write("defaults: &keep 7d\ntrace_archival:\n  enabled: true\n  location: file:///a\n  retention: *keep\n"));
            Assert.Equal("7d", aliased.Retention.Text);
            Assert.Equal("Failed to parse YAML: found undefined alias 'nope'", Refusal("trace_archival:\n  enabled: true\n  location: file:///a\n  retention: *nope\n"));
            Assert.Equal("Failed to parse YAML: expected a single document in the stream",
                Refusal("trace_archival:\n  enabled: true\n" + Rest + "---\ntrace_archival:\n  enabled: false\n"));
            Assert.True(ArchivalServerConfig.Load(Write("---\ntrace_archival:\n  enabled: true\n" + Rest + "...\n")).Enabled);
            Assert.StartsWith($"YAML collections are nested more than {ArchivalServerConfig.MaxDepth} deep",
                Refusal("trace_archival:\n  enabled: true\n" + Rest + "  x: " + new string('[', 10_000) + new string(']', 10_000) + "\n"));
        }

        /// <summary>An invalid ID's message is wrapped in the file's, as MLflow wraps it (e.message in
        /// _invalid_trace_archival_config); MlTraces used to raise it bare.</summary>
        [Theory]
        [InlineData("  long_retention_allowlist: '1,2'\n", "'trace_archival.long_retention_allowlist' must be a list.")]
        [InlineData("  long_retention_allowlist: 12\n", "'trace_archival.long_retention_allowlist' must be a list.")]
        [InlineData("  long_retention_allowlist: {a: 1}\n", "'trace_archival.long_retention_allowlist' must be a list.")]
        [InlineData("  long_retention_allowlist: [1, {a: 1}]\n", "'trace_archival.long_retention_allowlist[1]' must be a scalar experiment ID.")]
        [InlineData("  long_retention_allowlist: [1.5]\n", "Invalid experiment ID: '1.5'")]
        [InlineData("  long_retention_allowlist: ['a b']\n", "Invalid experiment ID: 'a b'")]
        [InlineData("  long_retention_allowlist: ['ok, ../x']\n", "Invalid experiment ID: '../x'")]
        [InlineData("  long_retention_allowlist: [\"x\\u0301\"]\n", "Invalid experiment ID: 'x\u0301'")]
        [InlineData("  long_retention_allowlist: [-.inf]\n", "Invalid experiment ID: '-inf'")]
        [InlineData("  long_retention_allowlist: [\"\\u00e9t\\u00e9\"]\n", "Invalid experiment ID: '\u00e9t\u00e9'")] // only [a-zA-Z0-9] may start an ID
        public void AnAllowlistErrorIsWrappedAsMlflowWrapsIt(string yaml, string message) => Assert.Equal(message, Refusal(Head + yaml));
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
