using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Text.RegularExpressions;
using YamlDotNet.Core;

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
        /// process. The size is checked before the file is parsed, the depth while the document is built.</summary>
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
            try
            {
                return Parse(Compose(path, text), path);
            }
            catch (YamlException ex)
            {
                throw Wrap(path, "Failed to parse YAML: " + UserText.Shorten(ex.Message, 500));
            }
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

        /// <summary>A YAML node as PyYAML's composer builds it (yaml.safe_load's first step).</summary>
        internal abstract class Node { }
        internal sealed class ScalarNode : Node { public string Value = "", Tag = ""; public ScalarStyle Style; }
        internal sealed class SequenceNode : Node { public readonly List<Node> Items = new List<Node>(); }
        internal sealed class MappingNode : Node
        {
            public readonly List<KeyValuePair<Node, Node>> Pairs = new List<KeyValuePair<Node, Node>>();
            public Node? PendingKey;
        }

        /// <summary>Builds the document from the parser's events in one loop (no recursion, so no nesting can overflow
        /// the stack; deeper than <see cref="MaxDepth"/> is refused), with PyYAML's rules where YamlDotNet's
        /// representation model has others: a repeated key is allowed (the last one wins, as in the dict PyYAML
        /// builds), a stream of more than one document is refused, and an alias is the node its anchor names.</summary>
        private static Node? Compose(string path, string text)
        {
            var parser = new Parser(new StringReader(text));
            var anchors = new Dictionary<string, Node>(StringComparer.Ordinal);
            var open = new Stack<Node>();
            Node? root = null;
            int documents = 0;
            void Add(Node node, AnchorName anchor)
            {
                if (!anchor.IsEmpty) anchors[anchor.Value] = node;
                if (open.Count == 0) { root = node; return; }
                if (open.Peek() is SequenceNode list) { list.Items.Add(node); return; }
                var map = (MappingNode)open.Peek();
                if (map.PendingKey == null) map.PendingKey = node;
                else { map.Pairs.Add(new KeyValuePair<Node, Node>(map.PendingKey, node)); map.PendingKey = null; }
            }
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                switch (e)
                {
                    case YamlDotNet.Core.Events.DocumentStart _:
                        if (++documents > 1) throw new YamlException(e.Start, e.End, "expected a single document in the stream");
                        break;
                    case YamlDotNet.Core.Events.Scalar scalar:
                        Add(new ScalarNode { Value = scalar.Value ?? "", Tag = scalar.Tag.IsEmpty ? "" : scalar.Tag.Value, Style = scalar.Style }, scalar.Anchor);
                        break;
                    case YamlDotNet.Core.Events.AnchorAlias alias:
                        if (!anchors.TryGetValue(alias.Value.Value, out Node? target))
                            throw new YamlException(e.Start, e.End, $"found undefined alias '{UserText.Shorten(alias.Value.Value, 40)}'");
                        Add(target, AnchorName.Empty);
                        break;
                    case YamlDotNet.Core.Events.MappingStart _:
                    case YamlDotNet.Core.Events.SequenceStart _:
                        if (open.Count >= MaxDepth)
                            throw Wrap(path, $"YAML collections are nested more than {MaxDepth} deep (at line {e.Start.Line}); the trace archival config is a flat mapping.");
                        Node collection = e is YamlDotNet.Core.Events.MappingStart ? new MappingNode() : (Node)new SequenceNode();
                        Add(collection, ((YamlDotNet.Core.Events.NodeEvent)e).Anchor);
                        open.Push(collection);
                        break;
                    case YamlDotNet.Core.Events.MappingEnd _:
                    case YamlDotNet.Core.Events.SequenceEnd _:
                        open.Pop();
                        break;
                }
            }
            return root;
        }

        internal static ArchivalServerConfig Parse(Node? root, string path)
        {
            if (!(root is MappingNode top))
                throw Wrap(path, "Top-level YAML value must be a mapping containing 'trace_archival'.");
            if (!(Get(top, "trace_archival") is MappingNode section))
                throw Wrap(path, "Missing required 'trace_archival' mapping.");
            var config = new ArchivalServerConfig { Path = path };

            // MLflow's _get_required_value: only an absent key is "missing". A key with no value (`enabled:`) is
            // present with None, which each check then refuses with its own message.
            object? Required(string key) => Get(section, key) is Node node
                ? Scalar(node)
                : throw Wrap(path, $"Missing required 'trace_archival.{key}' value.");

            if (!(Required("enabled") is bool enabled)) throw Wrap(path, "'trace_archival.enabled' must be a boolean.");
            config.Enabled = enabled;
            // Location and retention errors come unwrapped, named by their key, as MLflow raises them.
            config.Location = ArchivalLocation.Validate(Required("location"), "trace_archival.location");
            config.Retention = RetentionDuration.Parse(Required("retention"), "trace_archival.retention");
            config.LongRetentionAllowlist = Allowlist(Get(section, "long_retention_allowlist"), path);

            if (Get(section, "interval_seconds") is Node interval)
                config.IntervalSeconds = (int)PositiveInteger(Scalar(interval), "interval_seconds", path, maximum: 86400);
            if (Get(section, "max_traces_per_pass") is Node max)
                config.MaxTracesPerPass = PositiveInteger(Scalar(max), "max_traces_per_pass", path, maximum: null);
            return config;
        }

        /// <summary>MLflow's _parse_long_retention_allowlist: None is empty; anything but a list is refused; each
        /// entry is str()-ed, and the entries go through _parse_trace_archival_long_retention_allowlist as one
        /// comma-joined string: so "1, 2" in one entry is two IDs, each is strip()-ped, blanks are skipped, and
        /// duplicates dropped after validation. Comparison stays exact (experiment IDs are case-sensitive).</summary>
        private static IReadOnlyList<string> Allowlist(Node? node, string path)
        {
            if (node == null || (node is ScalarNode && Scalar(node) == null)) return Array.Empty<string>();
            if (!(node is SequenceNode list)) throw Wrap(path, "'trace_archival.long_retention_allowlist' must be a list.");
            var entries = new List<string>();
            for (int i = 0; i < list.Items.Count; i++)
            {
                if (!(list.Items[i] is ScalarNode))
                    throw Wrap(path, $"'trace_archival.long_retention_allowlist[{i}]' must be a scalar experiment ID.");
                entries.Add(PyStr(Scalar(list.Items[i])));
            }
            var ids = new List<string>();
            foreach (string raw in string.Join(",", entries).Split(','))
            {
                string id = PyStrip(raw);
                if (id.Length == 0) continue;
                // MLflow wraps the validator's message in the file's (the location and retention ones it does not).
                if (!ExperimentIdForm.IsMatch(id)) throw Wrap(path, $"Invalid experiment ID: '{id}'");
                if (!ids.Contains(id)) ids.Add(id);
            }
            return ids;
        }

        /// <summary>Python's str.strip(): the whitespace of str.isspace, which also counts U+001C..U+001F.</summary>
        private static string PyStrip(string text)
        {
            static bool Space(char c) => char.IsWhiteSpace(c) || (c >= '\u001c' && c <= '\u001f');
            int start = 0, end = text.Length;
            while (start < end && Space(text[start])) start++;
            while (end > start && Space(text[end - 1])) end--;
            return text.Substring(start, end - start);
        }

        // MLflow's _EXPERIMENT_ID_REGEX, ^[a-zA-Z0-9][\w\-]{0,63}$, with Python's \w (letters, numbers and '_'), not .NET's.
        private static readonly Regex ExperimentIdForm = new Regex(@"^[a-zA-Z0-9][\p{L}\p{N}_\-]{0,63}$", RegexOptions.CultureInvariant);

        /// <summary>MLflow's _get_optional_bounded_positive_int. Python's ints have no bound, so a value past a long
        /// (a 20-digit max_traces_per_pass) is as valid as in MLflow and means what it means there: no limit that
        /// any store reaches; it is held as long.MaxValue.</summary>
        private static long PositiveInteger(object? value, string key, string path, long? maximum)
        {
            // Python's bool is an int, and MLflow rejects it explicitly; None, floats and strings are not ints.
            BigInteger? n = value is long l ? l : value is BigInteger b ? b : (BigInteger?)null;
            if (n == null || n.Value < 1) throw Wrap(path, $"'trace_archival.{key}' must be a positive integer.");
            if (maximum != null && n.Value > maximum.Value) throw Wrap(path, $"'trace_archival.{key}' must be <= {maximum}.");
            return n.Value > long.MaxValue ? long.MaxValue : (long)n.Value;
        }

        private static InvalidParameterException Wrap(string path, string message) =>
            new InvalidParameterException($"Invalid trace archival config file '{path}': {message}", "InvalidArchivalConfig");

        /// <summary>dict.get as PyYAML's mapping answers it: keys are typed as values are (so `"enabled"` is the key
        /// and `yes:` is True, not 'yes'), and of a repeated key the last one counts.</summary>
        private static Node? Get(MappingNode map, string key)
        {
            for (int i = map.Pairs.Count - 1; i >= 0; i--)
                if (map.Pairs[i].Key is ScalarNode k && Scalar(k) is string name && name == key) return map.Pairs[i].Value;
            return null;
        }

        /// <summary>A scalar as PyYAML resolves it: bool, long (BigInteger past a long), double, string, or null; collections return a marker.</summary>
        internal static object? Scalar(Node? node)
        {
            switch (node)
            {
                case null: return null;
                case ScalarNode s:
                    string v = s.Value;
                    string tag = s.Tag;
                    if (tag.EndsWith(":str", StringComparison.Ordinal) || (s.Style != ScalarStyle.Plain && s.Style != ScalarStyle.Any)) return v;
                    if (NullForm.IsMatch(v)) return null;
                    if (BoolTrue.IsMatch(v)) return true;
                    if (BoolFalse.IsMatch(v)) return false;
                    if (IntForm.IsMatch(v)) return ParseInt(v);
                    if (FloatForm.IsMatch(v)) return ParseFloat(v);
                    return v;
                default: return node; // a mapping or sequence: not a scalar value
            }
        }

        private static readonly Regex NullForm = new Regex("^(?:~|null|Null|NULL|)$");
        private static readonly Regex BoolTrue = new Regex("^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$");
        private static readonly Regex BoolFalse = new Regex("^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$");
        // PyYAML's implicit resolvers (resolver.py), word for word.
        private static readonly Regex IntForm = new Regex(@"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$");
        private static readonly Regex FloatForm = new Regex(@"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$");

        /// <summary>Python refuses to convert more decimal digits than this to an int (sys.int_info.default_max_str_digits);
        /// the same bound here keeps a hostile file from costing quadratic time in BigInteger arithmetic.</summary>
        private const int MaxIntDigits = 4300;

        /// <summary>PyYAML's construct_yaml_int: a long, or a BigInteger past a long, as Python's ints have no bound.</summary>
        private static object ParseInt(string text)
        {
            string v = text.Replace("_", "");
            bool negative = v.StartsWith("-", StringComparison.Ordinal);
            v = v.TrimStart('+', '-');
            if (v.Length > MaxIntDigits)
                throw new YamlException($"Exceeds the limit ({MaxIntDigits} digits) for integer string conversion: the integer '{UserText.Shorten(text, 40)}' has {v.Length} characters.");
            BigInteger n;
            if (v.StartsWith("0b", StringComparison.Ordinal)) n = Digits(v.Substring(2), 2);
            else if (v.StartsWith("0x", StringComparison.Ordinal)) n = Digits(v.Substring(2), 16);
            else if (v.Contains(":")) n = v.Split(':').Aggregate(BigInteger.Zero, (acc, part) => acc * 60 + Digits(part, 10));
            else if (v.Length > 1 && v[0] == '0') n = Digits(v, 8);
            else n = Digits(v, 10);
            if (negative) n = -n;
            return n >= long.MinValue && n <= long.MaxValue ? (object)(long)n : n;
        }

        private static BigInteger Digits(string digits, int radix)
        {
            var n = BigInteger.Zero;
            foreach (char c in digits) n = n * radix + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            return n;
        }

        /// <summary>PyYAML's construct_yaml_float, sexagesimal and .inf/.nan included.</summary>
        private static object ParseFloat(string text)
        {
            string v = text.Replace("_", "").ToLowerInvariant();
            double sign = v.StartsWith("-", StringComparison.Ordinal) ? -1 : 1;
            v = v.TrimStart('+', '-');
            if (v == ".inf") return sign * double.PositiveInfinity;
            if (v == ".nan") return double.NaN;
            if (v.Contains(":"))
                return sign * v.Split(':').Aggregate(0.0, (acc, part) => acc * 60 + double.Parse(part, NumberStyles.Float, CultureInfo.InvariantCulture));
            return sign * double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        /// <summary>Python's str() of a scalar.</summary>
        private static string PyStr(object? value) => value switch
        {
            null => "None",
            bool b => b ? "True" : "False",
            long n => n.ToString(CultureInfo.InvariantCulture),
            BigInteger n => n.ToString(CultureInfo.InvariantCulture),
            double d when double.IsNaN(d) => "nan",
            double d when double.IsInfinity(d) => d > 0 ? "inf" : "-inf",
            double d => Json.PyJson.FloatRepr(d),
            _ => value.ToString() ?? "",
        };
    }
}
