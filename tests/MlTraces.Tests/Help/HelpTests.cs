using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Xml.Linq;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Help
{
    /// <summary>One session for all help tests: Get-Help only reads the laid-out module's help files.</summary>
    public sealed class HelpSession : IDisposable
    {
        public PsShell Shell { get; } = new PsShell();
        public void Dispose() => Shell.Dispose();
    }

    /// <summary>
    /// Get-Help, offline, for every exported command, checked against the command itself as Get-Command sees it:
    /// a command or parameter without help, help for a parameter that is gone, a syntax or pipeline binding the help
    /// gets wrong, fewer than two examples, or an example that does not parse or uses a parameter the command does
    /// not have, each fails here.
    /// </summary>
    public class HelpTests : IClassFixture<HelpSession>
    {
        private readonly PsShell _sh;

        public HelpTests(HelpSession session) { _sh = session.Shell; }

        public static TheoryData<string> Commands() => ModuleManifest.ExportedCmdlets();

        [Theory]
        [MemberData(nameof(Commands))]
        public void CommandHasFullHelp(string name)
        {
            var command = Command(name);
            var help = Help(name);
            var problems = new List<string>();
            void Check(bool ok, string problem) { if (!ok) problems.Add(problem); }

            // Without a help file entry, Get-Help makes help up from the syntax; that is not help.
            Assert.True(help.TypeNames.Contains("MamlCommandHelpInfo"), $"{name} has no help in en-US/MlTraces.dll-Help.xml: add docs/en-US/{name}.md.");
            Check(Text(Prop(help, "Synopsis")).Length > 20 && !Text(Prop(help, "Synopsis")).StartsWith(name, StringComparison.Ordinal), "has no synopsis");
            Check(Text(Prop(help, "description")).Length > 100, "has no description");

            var documented = Items(Prop(Prop(help, "parameters"), "parameter")).ToDictionary(p => Text(Prop(p, "name")), StringComparer.OrdinalIgnoreCase);
            foreach (var p in OwnParameters(command))
            {
                if (!documented.TryGetValue(p.Name, out var ph)) { problems.Add($"-{p.Name} has no help"); continue; }
                Check(Text(Prop(ph, "description")).Length > 10, $"-{p.Name} has no description");
                Check(string.Equals(Text(Prop(Prop(ph, "type"), "name")), ShortName(p.ParameterType), StringComparison.OrdinalIgnoreCase),
                    $"-{p.Name}: help says type {Text(Prop(Prop(ph, "type"), "name"))}, the parameter is {ShortName(p.ParameterType)}");
                Check(string.Equals(Text(Prop(ph, "pipelineInput")), PipelineInput(p), StringComparison.OrdinalIgnoreCase),
                    $"-{p.Name}: help says pipeline input '{Text(Prop(ph, "pipelineInput"))}', the parameter takes '{PipelineInput(p)}'");
                var aliases = Text(Prop(ph, "aliases")) is var a && a != "none" ? a.Split(',').Select(x => x.Trim()).ToList() : new List<string>();
                Check(aliases.OrderBy(x => x).SequenceEqual(p.Aliases.OrderBy(x => x), StringComparer.OrdinalIgnoreCase),
                    $"-{p.Name}: help says aliases '{string.Join(", ", aliases)}', the parameter has '{string.Join(", ", p.Aliases)}'");
                if (p.Attributes.OfType<SupportsWildcardsAttribute>().Any())
                    Check(Text(Prop(ph, "globbing")) == "true", $"-{p.Name} supports wildcards; its help says it does not");
                Check(Text(Prop(ph, "defaultValue")).Length > 0, $"-{p.Name} has no default value in its help");
            }
            foreach (string stale in documented.Keys.Where(k => !command.Parameters.ContainsKey(k)))
                problems.Add($"the help describes -{stale}, which the command does not have");

            problems.AddRange(SyntaxProblems(command, help));

            var examples = Items(Prop(Prop(help, "examples"), "example"));
            Check(examples.Count >= 2, $"has {examples.Count} example(s); at least two are needed");
            foreach (var example in examples)
            {
                string title = Text(Prop(example, "title"));
                Check(Text(Prop(example, "remarks")).Length > 20, $"example '{title}' does not say what it does");
                problems.AddRange(ExampleProblems(title, Text(Prop(example, "code"))));
            }

            var outputs = Items(Prop(Prop(help, "returnValues"), "returnValue")).Select(o => Text(Prop(Prop(o, "type"), "name"))).ToList();
            foreach (var type in command.OutputType)
                Check(outputs.Contains(type.Name), $"OUTPUTS does not name {type.Name}, the command's output type");
            Check(Items(Prop(Prop(help, "inputTypes"), "inputType")).Count > 0, "INPUTS is empty");
            Check(Text(Prop(Prop(help, "alertSet"), "alert")).Length > 0, "NOTES is empty");
            Check(Items(Prop(Prop(help, "relatedLinks"), "navigationLink")).Count > 0, "RELATED LINKS is empty");

            Assert.True(problems.Count == 0, $"Help for {name}:\n  " + string.Join("\n  ", problems));
        }

        [Fact]
        public void HelpFileHoldsExactlyTheExportedCommands()
        {
            var exported = _sh.Objects<string>("(Get-Module MlTraces).ExportedCmdlets.Keys").OrderBy(x => x).ToList();
            Assert.Equal(ModuleManifest.Strings(ModuleManifest.Source["CmdletsToExport"]).OrderBy(x => x), exported);
            string file = Path.Combine(Path.GetDirectoryName(_sh.Session.ModulePath)!, "en-US", "MlTraces.dll-Help.xml");
            XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
            var inHelp = XDocument.Load(file).Descendants(command + "details").Select(d => d.Element(command + "name")!.Value).OrderBy(x => x);
            Assert.Equal(exported, inHelp);
        }

        /// <summary>about_MlTraces's table of commands gives each exported command a row of its own, and the
        /// release notes of the module as it is laid out a line of its own.</summary>
        [Theory]
        [MemberData(nameof(Commands))]
        public void AboutTopicAndReleaseNotesListTheCommand(string name)
        {
            _about ??= string.Join("\n", _sh.Objects<object>("Get-Help about_MlTraces").Select(o => o.ToString()));
            int start = _about.IndexOf("Commands\n", StringComparison.Ordinal), end = _about.IndexOf("Stores and tracking URIs", StringComparison.Ordinal);
            Assert.True(start > 0 && end > start, "about_MlTraces has no Commands section before 'Stores and tracking URIs'");
            // A rendered table row: the name in the first column, then what it does.
            Assert.Matches(new System.Text.RegularExpressions.Regex($@"(?m)^ {{4}}{name} {{2,}}\w"), _about.Substring(start, end - start));
            string notes = _sh.Objects<string>("(Get-Module MlTraces).PrivateData.PSData.ReleaseNotes").Single();
            Assert.Matches(new System.Text.RegularExpressions.Regex($@"(?m)^- {name}: \w"), notes);
        }

        private static string? _about;

        [Theory]
        [InlineData("about_MlTraces", "MLTRACES_BUSY_TIMEOUT_MS")]
        [InlineData("about_MlTraces_Filters", "IS NOT NULL")]
        public void AboutTopicsResolve(string topic, string mentions)
        {
            string text = string.Join("\n", _sh.Objects<object>($"Get-Help {topic}").Select(o => o.ToString()));
            Assert.StartsWith("TOPIC", text.TrimStart('\uFEFF'));
            Assert.Contains(topic, text);
            Assert.Contains("SHORT DESCRIPTION", text);
            Assert.Contains("LONG DESCRIPTION", text);
            Assert.Contains(mentions, text);
        }

        [Fact]
        public void AboutTopicsAreListedWithTheirSynopsis()
        {
            // Each topic is a string with note properties (HelpInfoShort).
            var listed = _sh.Run("Get-Help about_MlTraces*").Output
                .ToDictionary(o => o.Properties["Name"].Value.ToString()!, o => o.Properties["Synopsis"].Value?.ToString() ?? "");
            Assert.Equal(new[] { "about_MlTraces", "about_MlTraces_Filters" }, listed.Keys.OrderBy(k => k));
            // The whole short description, not a line cut from it.
            Assert.All(listed.Values, s => Assert.EndsWith(".", s));
        }

        private readonly Dictionary<string, CmdletInfo> _commands = new Dictionary<string, CmdletInfo>(StringComparer.OrdinalIgnoreCase);

        private CmdletInfo Command(string name)
        {
            if (!_commands.TryGetValue(name, out var command))
                _commands[name] = command = _sh.Objects<CmdletInfo>($"Get-Command {name} -Module MlTraces").Single();
            return command;
        }

        private PSObject Help(string name)
        {
            var r = _sh.Run($"Get-Help {name} -Full");
            Assert.False(r.Failed, $"Get-Help {name} -Full failed: " + (r.Terminating?.Message ?? string.Join("\n", r.Errors)));
            return r.Output.Single();
        }

        /// <summary>The command's parameters without the common ones (-Verbose, -ErrorAction, ...), which
        /// CommonParameters covers; -WhatIf and -Confirm stay, as platyPS documents them.</summary>
        private static IEnumerable<ParameterMetadata> OwnParameters(CmdletInfo command) =>
            command.Parameters.Values.Where(p => !Cmdlet.CommonParameters.Contains(p.Name));

        /// <summary>Each parameter set is one syntax in the help, with the same parameters, the same ones required
        /// and the same positions.</summary>
        private static IEnumerable<string> SyntaxProblems(CmdletInfo command, PSObject help)
        {
            var items = Items(Prop(Prop(help, "syntax"), "syntaxItem"))
                .Select(i => Items(Prop(i, "parameter")).ToDictionary(p => Text(Prop(p, "name")), StringComparer.OrdinalIgnoreCase))
                .ToList();
            if (items.Count != command.ParameterSets.Count)
                yield return $"the help has {items.Count} syntax(es), the command {command.ParameterSets.Count} parameter set(s)";
            foreach (var set in command.ParameterSets)
            {
                var parameters = set.Parameters.Where(p => !Cmdlet.CommonParameters.Contains(p.Name)).ToList();
                var names = new HashSet<string>(parameters.Select(p => p.Name), StringComparer.OrdinalIgnoreCase);
                // Two sets may name the same parameters (Remove-Trace's ById and ByAge, -TraceId required in one):
                // the syntax that also agrees on what is required and where.
                var item = items.Where(i => names.SetEquals(i.Keys)).OrderByDescending(i => parameters.Count(p =>
                    Text(Prop(i[p.Name], "required")) == (p.IsMandatory ? "true" : "false"))).FirstOrDefault();
                if (item == null)
                {
                    yield return $"no syntax in the help has the parameters of the set '{set.Name}': {string.Join(", ", names)}";
                    continue;
                }
                foreach (var p in parameters)
                {
                    string required = p.IsMandatory ? "true" : "false";
                    string position = p.Position == int.MinValue ? "named" : p.Position.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    if (Text(Prop(item[p.Name], "required")) != required || !string.Equals(Text(Prop(item[p.Name], "position")), position, StringComparison.OrdinalIgnoreCase))
                        yield return $"-{p.Name} in the set '{set.Name}': help says required {Text(Prop(item[p.Name], "required"))}, position {Text(Prop(item[p.Name], "position"))}; the command: {required}, {position}";
                }
            }
        }

        /// <summary>An example parses, and calls MlTraces commands only with parameters they have.</summary>
        private IEnumerable<string> ExampleProblems(string title, string code)
        {
            var ast = Parser.ParseInput(code, out _, out var errors);
            foreach (var e in errors)
                yield return $"example '{title}' does not parse: {e.Message} (line {e.Extent.StartLineNumber}: {e.Extent.Text})";
            var ours = ModuleManifest.Strings(ModuleManifest.Source["CmdletsToExport"]);
            foreach (CommandAst call in ast.FindAll(a => a is CommandAst, true))
            {
                string? name = call.GetCommandName();
                if (name == null || !ours.Contains(name, StringComparer.OrdinalIgnoreCase)) continue;
                var command = Command(name);
                var names = command.Parameters.Values.SelectMany(p => p.Aliases.Prepend(p.Name)).ToList();
                foreach (var parameter in call.CommandElements.OfType<CommandParameterAst>())
                {
                    // PowerShell takes an exact name or alias, or a prefix of exactly one parameter name.
                    bool known = names.Contains(parameter.ParameterName, StringComparer.OrdinalIgnoreCase)
                        || command.Parameters.Keys.Count(k => k.StartsWith(parameter.ParameterName, StringComparison.OrdinalIgnoreCase)) == 1;
                    if (!known) yield return $"example '{title}' calls {name} with -{parameter.ParameterName}, which it does not have";
                }
            }
        }

        private static string PipelineInput(ParameterMetadata p)
        {
            var attributes = p.Attributes.OfType<ParameterAttribute>().ToList();
            var ways = new List<string>();
            if (attributes.Any(a => a.ValueFromPipelineByPropertyName)) ways.Add("ByPropertyName");
            if (attributes.Any(a => a.ValueFromPipeline)) ways.Add("ByValue");
            return ways.Count == 0 ? "False" : $"True ({string.Join(", ", ways)})";
        }

        /// <summary>A type as help names it: String[], Trace[], SwitchParameter, Int32 for int?.</summary>
        private static string ShortName(Type t)
        {
            if (t.IsArray) return ShortName(t.GetElementType()!) + "[]";
            return Nullable.GetUnderlyingType(t) is Type inner ? ShortName(inner) : t.Name;
        }

        private static object? Prop(object? o, string name) => o is PSObject p ? p.Properties[name]?.Value : null;

        private static List<PSObject> Items(object? o) => o switch
        {
            null => new List<PSObject>(),
            PSObject p when p.BaseObject is object[] array => array.Select(PSObject.AsPSObject).ToList(),
            object[] array => array.Select(PSObject.AsPSObject).ToList(),
            _ => new List<PSObject> { PSObject.AsPSObject(o) },
        };

        /// <summary>The text of a help field: a string, or MAML paragraphs (objects with a Text property).</summary>
        private static string Text(object? o)
        {
            if (o == null) return "";
            if (o is PSObject p && p.BaseObject is string s) return s.Trim();
            if (o is string str) return str.Trim();
            return string.Join("\n", Items(o).Select(i => i.Properties["Text"]?.Value?.ToString() ?? (i.BaseObject is string b ? b : ""))).Trim();
        }
    }
}
