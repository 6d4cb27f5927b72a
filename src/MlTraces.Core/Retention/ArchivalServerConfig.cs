using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MlTraces.Core.Retention
{
    /// <summary>
    /// The MLflow server's trace archival configuration: the YAML file named by MLFLOW_TRACE_ARCHIVAL_CONFIG, read
    /// and validated as MLflow's trace_archival_config.py does, with its messages. YAML scalars are typed as
    /// PyYAML types them (YAML 1.1: yes/on are booleans, 0x1F and 1_000 integers, quoted text strings).
    /// </summary>
    public sealed class ArchivalServerConfig
    {
        public const string EnvironmentVariable = "MLFLOW_TRACE_ARCHIVAL_CONFIG";
        public const int DefaultIntervalSeconds = 300;

        public string Path { get; private set; } = "";
        public bool Enabled { get; private set; }
        public string Location { get; private set; } = "";
        public RetentionDuration Retention { get; private set; } = null!;
        public IReadOnlyList<string> LongRetentionAllowlist { get; private set; } = Array.Empty<string>();
        public int IntervalSeconds { get; private set; } = DefaultIntervalSeconds;
        public long? MaxTracesPerPass { get; private set; }

        /// <summary>The file named by -ConfigPath, else by MLFLOW_TRACE_ARCHIVAL_CONFIG; null when neither names one.</summary>
        /// <param name="fullPath">The caller's reading of a path (PowerShell's, at the cmdlets).</param>
        public static ArchivalServerConfig? LoadDefault(string? configPath, Func<string, string> fullPath)
        {
            string? path = string.IsNullOrWhiteSpace(configPath) ? Environment.GetEnvironmentVariable(EnvironmentVariable) : configPath;
            if (string.IsNullOrWhiteSpace(path)) return null;
            return Load(fullPath(path!.Trim()));
        }

        /// <summary>MLflow's file is a flat mapping of a few keys: anything much larger or deeper is not one, and a
        /// deep enough nesting would overflow the stack of the YAML loader (which recurses per level) and kill the
        /// process. Both are checked before the document is built.</summary>
        public const int MaxFileBytes = 1024 * 1024;
        public const int MaxDepth = 32;

        public static ArchivalServerConfig Load(string path)
        {
            string text;
            try { text = ReadBounded(path); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException || ex is NotSupportedException)
            {
                throw Wrap(path, "Failed to read config file: " + ex.Message);
            }
            YamlNode? root;
            try
            {
                CheckDepth(path, text);
                var stream = new YamlStream();
                stream.Load(new StringReader(text));
                root = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
            }
            catch (YamlException ex)
            {
                throw Wrap(path, "Failed to parse YAML: " + UserText.Shorten(ex.Message, 500));
            }
            return Parse(root, path);
        }

        private static string ReadBounded(string path)
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int n;
            while ((n = f.Read(chunk, 0, chunk.Length)) > 0)
            {
                buffer.Write(chunk, 0, n);
                if (buffer.Length > MaxFileBytes)
                    throw Wrap(path, $"The file is larger than {MaxFileBytes / 1024 / 1024} MiB; a trace archival config is a few lines.");
            }
            buffer.Position = 0;
            using var reader = new StreamReader(buffer, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }

        /// <summary>Walks the parser's events (a loop over a state machine, no recursion) and stops at the first
        /// collection nested deeper than <see cref="MaxDepth"/>.</summary>
        private static void CheckDepth(string path, string text)
        {
            var parser = new Parser(new StringReader(text));
            int depth = 0;
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case YamlDotNet.Core.Events.MappingStart _:
                    case YamlDotNet.Core.Events.SequenceStart _:
                        if (++depth > MaxDepth)
                            throw Wrap(path, $"YAML collections are nested more than {MaxDepth} deep (at line {parser.Current.Start.Line}); the trace archival config is a flat mapping.");
                        break;
                    case YamlDotNet.Core.Events.MappingEnd _:
                    case YamlDotNet.Core.Events.SequenceEnd _:
                        depth--;
                        break;
                }
            }
        }

        internal static ArchivalServerConfig Parse(YamlNode? root, string path)
        {
            if (!(root is YamlMappingNode top))
                throw Wrap(path, "Top-level YAML value must be a mapping containing 'trace_archival'.");
            if (!(Get(top, "trace_archival") is YamlMappingNode section))
                throw Wrap(path, "Missing required 'trace_archival' mapping.");
            var config = new ArchivalServerConfig { Path = path };

            object? Required(string key)
            {
                object? value = Scalar(Get(section, key));
                if (value == null) throw Wrap(path, $"Missing required 'trace_archival.{key}' value.");
                return value;
            }

            if (!(Required("enabled") is bool enabled)) throw Wrap(path, "'trace_archival.enabled' must be a boolean.");
            config.Enabled = enabled;
            // Location and retention errors come unwrapped, named by their key, as MLflow raises them.
            config.Location = ArchivalLocation.Validate(Required("location"), "trace_archival.location");
            config.Retention = RetentionDuration.Parse(Required("retention"), "trace_archival.retention");

            var allowlistNode = Get(section, "long_retention_allowlist");
            if (allowlistNode != null && !(allowlistNode is YamlSequenceNode) && Scalar(allowlistNode) != null)
                throw Wrap(path, "'trace_archival.long_retention_allowlist' must be a list.");
            if (allowlistNode is YamlSequenceNode list)
            {
                var ids = new List<string>();
                for (int i = 0; i < list.Children.Count; i++)
                {
                    if (!(list.Children[i] is YamlScalarNode))
                        throw Wrap(path, $"'trace_archival.long_retention_allowlist[{i}]' must be a scalar experiment ID.");
                    string id = PyStr(Scalar(list.Children[i])).Trim();
                    if (id.Length == 0 || ids.Contains(id)) continue;
                    if (!ExperimentIdForm.IsMatch(id)) throw new InvalidParameterException($"Invalid experiment ID: '{id}'", "InvalidExperimentId");
                    ids.Add(id);
                }
                config.LongRetentionAllowlist = ids;
            }

            object? interval = Scalar(Get(section, "interval_seconds"));
            if (interval != null)
            {
                long n = PositiveInteger(interval, "interval_seconds", path);
                if (n > 86400) throw Wrap(path, "'trace_archival.interval_seconds' must be <= 86400.");
                config.IntervalSeconds = (int)n;
            }
            object? max = Scalar(Get(section, "max_traces_per_pass"));
            if (max != null) config.MaxTracesPerPass = PositiveInteger(max, "max_traces_per_pass", path);
            return config;
        }

        private static readonly Regex ExperimentIdForm = new Regex(@"^[a-zA-Z0-9][\w\-]{0,63}$", RegexOptions.CultureInvariant);

        private static long PositiveInteger(object value, string key, string path)
        {
            // Python's bool is an int, and MLflow rejects it explicitly.
            if (value is long n && n > 0) return n;
            throw Wrap(path, $"'trace_archival.{key}' must be a positive integer.");
        }

        private static InvalidParameterException Wrap(string path, string message) =>
            new InvalidParameterException($"Invalid trace archival config file '{path}': {message}", "InvalidArchivalConfig");

        private static YamlNode? Get(YamlMappingNode map, string key)
        {
            foreach (var kv in map.Children)
                if (kv.Key is YamlScalarNode k && k.Value == key) return kv.Value;
            return null;
        }

        /// <summary>A scalar as PyYAML resolves it: bool, long, double, string, or null; collections return a marker.</summary>
        internal static object? Scalar(YamlNode? node)
        {
            switch (node)
            {
                case null: return null;
                case YamlScalarNode s:
                    string v = s.Value ?? "";
                    string tag = s.Tag.IsEmpty ? "" : s.Tag.Value;
                    if (tag.EndsWith(":str", StringComparison.Ordinal) || (s.Style != ScalarStyle.Plain && s.Style != ScalarStyle.Any)) return v;
                    if (NullForm.IsMatch(v)) return null;
                    if (BoolTrue.IsMatch(v)) return true;
                    if (BoolFalse.IsMatch(v)) return false;
                    if (IntForm.IsMatch(v)) return ParseInt(v);
                    if (FloatForm.IsMatch(v) && double.TryParse(v.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
                    return v;
                default: return node; // a mapping or sequence: not a scalar value
            }
        }

        private static readonly Regex NullForm = new Regex("^(?:~|null|Null|NULL|)$");
        private static readonly Regex BoolTrue = new Regex("^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$");
        private static readonly Regex BoolFalse = new Regex("^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$");
        private static readonly Regex IntForm = new Regex(@"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$");
        private static readonly Regex FloatForm = new Regex(@"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?)$");

        private static object ParseInt(string text)
        {
            string v = text.Replace("_", "");
            bool negative = v.StartsWith("-", StringComparison.Ordinal);
            v = v.TrimStart('+', '-');
            long n;
            if (v.StartsWith("0b", StringComparison.Ordinal)) n = Convert.ToInt64(v.Substring(2), 2);
            else if (v.StartsWith("0x", StringComparison.Ordinal)) n = Convert.ToInt64(v.Substring(2), 16);
            else if (v.Contains(":")) n = v.Split(':').Aggregate(0L, (acc, part) => acc * 60 + long.Parse(part, CultureInfo.InvariantCulture));
            else if (v.Length > 1 && v[0] == '0') n = Convert.ToInt64(v, 8);
            else n = long.Parse(v, CultureInfo.InvariantCulture);
            return negative ? -n : n;
        }

        /// <summary>Python's str() of a scalar.</summary>
        private static string PyStr(object? value) => value switch
        {
            null => "None",
            bool b => b ? "True" : "False",
            long n => n.ToString(CultureInfo.InvariantCulture),
            double d => Json.PyJson.FloatRepr(d),
            _ => value.ToString() ?? "",
        };
    }
}
