using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace MlTraces.ModuleBuilder
{
    internal sealed class SyntaxParameter
    {
        public string Name { get; set; } = "";
        public bool Required { get; set; }
        public bool Positional { get; set; }
        public bool IsSwitch { get; set; }
    }

    internal sealed class ParameterSetSyntax
    {
        public string Name { get; set; } = "";
        public bool IsDefault { get; set; }
        public List<SyntaxParameter> Parameters { get; } = new List<SyntaxParameter>();
    }

    /// <summary>One yaml block of a parameter: what holds in the parameter sets it names.</summary>
    internal sealed class ParameterFacts
    {
        public int Line { get; set; }
        public string Type { get; set; } = "";
        public List<string>? Sets { get; set; }
        public List<string> Aliases { get; set; } = new List<string>();
        public List<string> AcceptedValues { get; set; } = new List<string>();
        public bool Required { get; set; }
        public string Position { get; set; } = "named";
        public string DefaultValue { get; set; } = "";
        public string PipelineInput { get; set; } = "";
        public bool Globbing { get; set; }
        public bool IsSwitch => Type == "SwitchParameter";
        public bool AppliesTo(string set) => Sets == null || Sets.Contains(set);
    }

    internal sealed class ParameterHelp
    {
        public string Name { get; set; } = "";
        public int Line { get; set; }
        public List<string> Description { get; set; } = new List<string>();
        public List<ParameterFacts> Facts { get; } = new List<ParameterFacts>();
    }

    internal sealed class ExampleHelp
    {
        public string Title { get; set; } = "";
        public string Code { get; set; } = "";
        public List<string> Remarks { get; set; } = new List<string>();
    }

    internal sealed class TypeHelp
    {
        public string Name { get; set; } = "";
        public List<string> Description { get; set; } = new List<string>();
    }

    /// <summary>
    /// A command's help in platyPS's markdown layout (schema 2.0.0): the H2 sections SYNOPSIS, SYNTAX, DESCRIPTION,
    /// EXAMPLES, PARAMETERS, INPUTS, OUTPUTS, NOTES, RELATED LINKS in that order, each filled in. The SYNTAX blocks
    /// say which parameters each set has, in which order, and which are required or positional; each parameter's
    /// yaml block says the rest, and the two must agree.
    /// </summary>
    internal sealed class CommandHelp
    {
        public static readonly string[] Sections =
            { "SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS" };

        private static readonly string[] YamlKeys =
            { "Type", "Parameter Sets", "Aliases", "Accepted values", "Required", "Position", "Default value", "Accept pipeline input", "Accept wildcard characters" };

        // One element of a syntax line: [[-Name] <Type>], [-Name] <Type>, [-Name <Type>], [-Name], -Name <Type>, -Name.
        private static readonly Regex SyntaxElement = new Regex(
            @"\G\s*(?:(?<common>\[<CommonParameters>\])" +
            @"|\[\[-(?<name>\w+)\]\s*<(?<type>[^>]+)>\](?<optpos>)" +
            @"|\[-(?<name>\w+)\]\s*<(?<type>[^>]+)>(?<reqpos>)" +
            @"|\[-(?<name>\w+)(?:\s*<(?<type>[^>]+)>)?\](?<opt>)" +
            @"|-(?<name>\w+)(?:\s*<(?<type>[^>]+)>)?(?<req>))");

        public string Name { get; private set; } = "";
        public string Synopsis { get; private set; } = "";
        public List<ParameterSetSyntax> Syntax { get; } = new List<ParameterSetSyntax>();
        public List<string> Description { get; private set; } = new List<string>();
        public List<ExampleHelp> Examples { get; } = new List<ExampleHelp>();
        public List<ParameterHelp> Parameters { get; } = new List<ParameterHelp>();
        public List<TypeHelp> Inputs { get; private set; } = new List<TypeHelp>();
        public List<TypeHelp> Outputs { get; private set; } = new List<TypeHelp>();
        public List<string> Notes { get; private set; } = new List<string>();
        public List<(string Text, string Uri)> Links { get; } = new List<(string, string)>();
        public string HelpFile { get; private set; } = "";

        public string Verb => Name.Substring(0, Name.IndexOf('-'));
        public string Noun => Name.Substring(Name.IndexOf('-') + 1);

        public static CommandHelp Read(MarkdownDocument doc)
        {
            var help = new CommandHelp();
            var blocks = doc.Blocks;
            if (blocks.Count == 0 || !(blocks[0] is Heading h1) || h1.Level != 1)
                throw doc.Error(1, "A command's help starts with '# <Verb-Noun>'.");
            help.Name = h1.Text;
            if (help.Name != System.IO.Path.GetFileNameWithoutExtension(doc.Path) || !help.Name.Contains('-'))
                throw doc.Error(1, $"The title '{help.Name}' must be the command's name, the same as the file's name.");
            if (!doc.FrontMatter.TryGetValue("external help file", out string? helpFile) || helpFile.Length == 0)
                throw doc.Error(1, "The front matter names no 'external help file'.");
            help.HelpFile = helpFile;
            // As platyPS does: the online version comes first, where Get-Help -Online looks for it.
            if (doc.FrontMatter.TryGetValue("online version", out string? online) && online.Length > 0)
                help.Links.Add(("Online Version:", online));

            var sections = SplitSections(doc, blocks.Skip(1).ToList(), 2);
            var names = sections.Select(s => s.Heading.Text).ToList();
            if (!names.SequenceEqual(Sections))
                throw doc.Error(sections.Count > 0 ? sections[0].Heading.Line : h1.Line,
                    $"The sections must be exactly: {string.Join(", ", Sections)} (found: {string.Join(", ", names)}).");
            foreach (var s in sections)
                if (s.Blocks.Count == 0) throw doc.Error(s.Heading.Line, $"The section {s.Heading.Text} is empty.");
            List<Block> Section(string name) => sections.First(s => s.Heading.Text == name).Blocks;

            help.Synopsis = string.Join(" ", TextLayout.Paragraphs(doc, Section("SYNOPSIS")));
            help.ReadSyntax(doc, Section("SYNTAX"));
            help.Description = TextLayout.Paragraphs(doc, Section("DESCRIPTION"));
            help.ReadExamples(doc, Section("EXAMPLES"));
            help.ReadParameters(doc, Section("PARAMETERS"));
            help.Inputs = ReadTypes(doc, Section("INPUTS"));
            help.Outputs = ReadTypes(doc, Section("OUTPUTS"));
            help.Notes = TextLayout.Paragraphs(doc, Section("NOTES"));
            help.ReadLinks(doc, Section("RELATED LINKS"));
            help.Check(doc);
            return help;
        }

        private sealed class Section
        {
            public Heading Heading { get; set; } = new Heading();
            public List<Block> Blocks { get; } = new List<Block>();
        }

        /// <summary>Splits blocks at headings of the given level; anything before the first is an error.</summary>
        private static List<Section> SplitSections(MarkdownDocument doc, List<Block> blocks, int level)
        {
            var sections = new List<Section>();
            foreach (var block in blocks)
            {
                if (block is Heading h && h.Level < level)
                    throw doc.Error(h.Line, $"A level-{h.Level} heading is not expected here.");
                if (block is Heading hh && hh.Level == level) sections.Add(new Section { Heading = hh });
                else if (sections.Count == 0) throw doc.Error(block.Line, $"Expected a level-{level} heading here.");
                else sections[sections.Count - 1].Blocks.Add(block);
            }
            return sections;
        }

        private void ReadSyntax(MarkdownDocument doc, List<Block> blocks)
        {
            if (blocks[0] is CodeBlock single)
            {
                if (blocks.Count > 1) throw doc.Error(blocks[1].Line, "With one parameter set, SYNTAX holds one code block.");
                Syntax.Add(ParseSyntax(doc, single, "__AllParameterSets", true));
                return;
            }
            foreach (var set in SplitSections(doc, blocks, 3))
            {
                if (set.Blocks.Count != 1 || !(set.Blocks[0] is CodeBlock code))
                    throw doc.Error(set.Heading.Line, "Each parameter set holds one code block with its syntax.");
                string name = set.Heading.Text;
                bool isDefault = name.EndsWith(" (Default)", StringComparison.Ordinal);
                if (isDefault) name = name.Substring(0, name.Length - " (Default)".Length);
                Syntax.Add(ParseSyntax(doc, code, name, isDefault));
            }
            if (Syntax.Count(s => s.IsDefault) != 1)
                throw doc.Error(blocks[0].Line, "Exactly one parameter set is marked '(Default)'.");
        }

        private ParameterSetSyntax ParseSyntax(MarkdownDocument doc, CodeBlock code, string name, bool isDefault)
        {
            string text = string.Join(" ", code.Lines.Select(l => l.Trim())).Trim();
            if (!text.StartsWith(Name + " ", StringComparison.Ordinal))
                throw doc.Error(code.Line, $"The syntax must start with the command's name, {Name}.");
            var set = new ParameterSetSyntax { Name = name, IsDefault = isDefault };
            int at = Name.Length;
            bool common = false;
            while (at < text.Length)
            {
                var m = SyntaxElement.Match(text, at);
                if (!m.Success || m.Length == 0)
                    throw doc.Error(code.Line, $"Cannot read the syntax from '{text.Substring(at).Trim()}'.");
                at += m.Length;
                if (m.Groups["common"].Success) { common = true; continue; }
                set.Parameters.Add(new SyntaxParameter
                {
                    Name = m.Groups["name"].Value,
                    Required = m.Groups["reqpos"].Success || m.Groups["req"].Success,
                    Positional = m.Groups["reqpos"].Success || m.Groups["optpos"].Success,
                    IsSwitch = !m.Groups["type"].Success,
                });
            }
            if (!common) throw doc.Error(code.Line, "The syntax ends with [<CommonParameters>].");
            return set;
        }

        private void ReadExamples(MarkdownDocument doc, List<Block> blocks)
        {
            foreach (var example in SplitSections(doc, blocks, 3))
            {
                if (!(example.Blocks.FirstOrDefault() is CodeBlock code) || code.Info != "powershell")
                    throw doc.Error(example.Heading.Line, "An example starts with a ```powershell code block.");
                var remarks = TextLayout.Paragraphs(doc, example.Blocks.Skip(1));
                if (!example.Blocks.Skip(1).OfType<Paragraph>().Any())
                    throw doc.Error(example.Heading.Line, "An example says in words what it does, after its code.");
                Examples.Add(new ExampleHelp { Title = example.Heading.Text, Code = code.Code, Remarks = remarks });
            }
        }

        private void ReadParameters(MarkdownDocument doc, List<Block> blocks)
        {
            bool common = false;
            foreach (var section in SplitSections(doc, blocks, 3))
            {
                if (section.Heading.Text == "CommonParameters") { common = true; continue; }
                if (!section.Heading.Text.StartsWith("-", StringComparison.Ordinal))
                    throw doc.Error(section.Heading.Line, "A parameter's heading is '### -Name'.");
                var p = new ParameterHelp { Name = section.Heading.Text.Substring(1), Line = section.Heading.Line };
                p.Description = TextLayout.Paragraphs(doc, section.Blocks.Where(b => !(b is CodeBlock c && c.Info == "yaml")));
                if (p.Description.Count == 0) throw doc.Error(p.Line, $"The parameter -{p.Name} has no description.");
                foreach (var yaml in section.Blocks.OfType<CodeBlock>().Where(c => c.Info == "yaml"))
                    p.Facts.Add(ReadFacts(doc, yaml));
                if (p.Facts.Count == 0) throw doc.Error(p.Line, $"The parameter -{p.Name} has no ```yaml block.");
                if (Parameters.Any(x => x.Name == p.Name)) throw doc.Error(p.Line, $"The parameter -{p.Name} is described twice.");
                Parameters.Add(p);
            }
            if (!common) throw doc.Error(blocks[0].Line, "PARAMETERS ends with '### CommonParameters'.");
        }

        private static ParameterFacts ReadFacts(MarkdownDocument doc, CodeBlock yaml)
        {
            var values = new Dictionary<string, string>();
            for (int i = 0; i < yaml.Lines.Count; i++)
            {
                string line = yaml.Lines[i];
                if (line.Trim().Length == 0) continue;
                int colon = line.IndexOf(':');
                string key = colon > 0 ? line.Substring(0, colon).Trim() : "";
                if (!YamlKeys.Contains(key)) throw doc.Error(yaml.Line + 1 + i, $"Unknown key in a parameter's yaml block: '{line.Trim()}'.");
                values[key] = line.Substring(colon + 1).Trim();
            }
            foreach (string key in YamlKeys.Where(k => k != "Accepted values"))
                if (!values.ContainsKey(key) || values[key].Length == 0) throw doc.Error(yaml.Line, $"The yaml block has no '{key}'.");
            static List<string> List(string v) => v.Split(',').Select(x => x.Trim()).Where(x => x.Length > 0).ToList();
            bool Bool(string key) => values[key] switch
            {
                "True" => true,
                "False" => false,
                _ => throw doc.Error(yaml.Line, $"'{key}' is True or False."),
            };
            string position = values["Position"];
            if (position != "Named" && !int.TryParse(position, out _)) throw doc.Error(yaml.Line, "'Position' is Named or a number.");
            return new ParameterFacts
            {
                Line = yaml.Line,
                Type = values["Type"],
                Sets = values["Parameter Sets"] == "(All)" ? null : List(values["Parameter Sets"]),
                Aliases = values["Aliases"] == "None" ? new List<string>() : List(values["Aliases"]),
                AcceptedValues = values.TryGetValue("Accepted values", out string? accepted) ? List(accepted) : new List<string>(),
                Required = Bool("Required"),
                Position = position == "Named" ? "named" : position,
                DefaultValue = values["Default value"],
                PipelineInput = values["Accept pipeline input"],
                Globbing = Bool("Accept wildcard characters"),
            };
        }

        private static List<TypeHelp> ReadTypes(MarkdownDocument doc, List<Block> blocks) =>
            SplitSections(doc, blocks, 3).Select(s => new TypeHelp
            {
                Name = s.Heading.Text,
                Description = TextLayout.Paragraphs(doc, s.Blocks),
            }).ToList();

        private void ReadLinks(MarkdownDocument doc, List<Block> blocks)
        {
            foreach (var block in blocks)
            {
                var lines = block is Paragraph p ? p.Lines : block is ListBlock l ? l.Items : null;
                if (lines == null) throw doc.Error(block.Line, "RELATED LINKS holds [text](address) links only.");
                foreach (string line in lines)
                {
                    var links = Inline.Links(line);
                    if (links.Count == 0) throw doc.Error(block.Line, $"Not a link: '{line}'.");
                    // Links to other help files are by name; only absolute addresses keep their URI.
                    foreach (var (text, url) in links)
                        Links.Add((text, url.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? url : ""));
                }
            }
        }

        /// <summary>The syntax and the parameters' yaml blocks describe the same parameters the same way.</summary>
        private void Check(MarkdownDocument doc)
        {
            var setNames = Syntax.Select(s => s.Name).ToList();
            foreach (var p in Parameters)
            {
                if (!Syntax.Any(s => s.Parameters.Any(x => x.Name == p.Name)))
                    throw doc.Error(p.Line, $"The parameter -{p.Name} is in no syntax of SYNTAX.");
                foreach (var f in p.Facts)
                    foreach (string set in f.Sets ?? new List<string>())
                        if (!setNames.Contains(set)) throw doc.Error(f.Line, $"-{p.Name}: there is no parameter set '{set}' in SYNTAX.");
            }
            foreach (var set in Syntax)
            {
                foreach (var sp in set.Parameters)
                {
                    var p = Parameters.FirstOrDefault(x => x.Name == sp.Name)
                        ?? throw doc.Error(1, $"The parameter -{sp.Name} of the syntax '{set.Name}' has no section in PARAMETERS.");
                    var facts = p.Facts.Where(f => f.AppliesTo(set.Name)).ToList();
                    if (facts.Count != 1)
                        throw doc.Error(p.Line, $"-{p.Name}: {facts.Count} yaml blocks apply to the parameter set '{set.Name}'; there must be one.");
                    var f = facts[0];
                    if (f.Required != sp.Required || (f.Position != "named") != sp.Positional || f.IsSwitch != sp.IsSwitch)
                        throw doc.Error(f.Line,
                            $"-{p.Name} in '{set.Name}': the yaml block (Required {f.Required}, Position {f.Position}, Type {f.Type}) does not match the syntax.");
                }
            }
        }

        /// <summary>The yaml block that holds in the set that lists the parameter first (the default set first).</summary>
        public ParameterFacts MainFacts(ParameterHelp p)
        {
            foreach (var set in Syntax.OrderByDescending(s => s.IsDefault))
                if (set.Parameters.Any(x => x.Name == p.Name)) return p.Facts.First(f => f.AppliesTo(set.Name));
            return p.Facts[0];
        }
    }
}
