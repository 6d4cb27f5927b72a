using System.Linq;
using MlTraces.ModuleBuilder;

namespace MlTraces.Tests.Help
{
    /// <summary>The help converter refuses markdown that would make wrong or partial help, naming file and line,
    /// and lays about topics out for an 80-column console.</summary>
    public class ModuleBuilderTests
    {
        private const string Valid = @"---
external help file: MlTraces.dll-Help.xml
online version: https://example.org/Get-Thing.md
---

# Get-Thing

## SYNOPSIS
Gets things.

## SYNTAX

### ById (Default)
```
Get-Thing [-Id] <string[]> [-Force] [<CommonParameters>]
```

### All
```
Get-Thing [[-Name] <string>] [<CommonParameters>]
```

## DESCRIPTION
Gets things by id or by name.

## EXAMPLES

### Example 1: One thing
```powershell
Get-Thing 1
```

Gets the thing 1.

## PARAMETERS

### -Id
The ids.

```yaml
Type: String[]
Parameter Sets: ById
Aliases: None

Required: True
Position: 0
Default value: None
Accept pipeline input: True (ByValue)
Accept wildcard characters: False
```

### -Force
Forces.

```yaml
Type: SwitchParameter
Parameter Sets: ById
Aliases: None

Required: False
Position: Named
Default value: False
Accept pipeline input: False
Accept wildcard characters: False
```

### -Name
The name.

```yaml
Type: String
Parameter Sets: All
Aliases: None

Required: False
Position: 0
Default value: None
Accept pipeline input: False
Accept wildcard characters: True
```

### CommonParameters
Common.

## INPUTS

### System.String[]
Ids.

## OUTPUTS

### Thing
Things.

## NOTES
None of note.

## RELATED LINKS

[about_Things](about_Things.md)
";

        private static CommandHelp Read(string text) =>
            CommandHelp.Read(MarkdownDocument.Parse("docs/Get-Thing.md", text.Replace("\r\n", "\n").Split('\n')));

        private static SourceException Fails(string text) => Assert.Throws<SourceException>(() => Read(text));

        [Fact]
        public void ReadsSetsParametersAndLinks()
        {
            var help = Read(Valid);
            Assert.Equal(new[] { "ById", "All" }, help.Syntax.Select(s => s.Name));
            Assert.True(help.Syntax[0].IsDefault);
            var id = help.Syntax[0].Parameters[0];
            Assert.True(id.Required && id.Positional && !id.IsSwitch);
            Assert.True(help.Syntax[0].Parameters[1].IsSwitch);
            Assert.False(help.Syntax[1].Parameters[0].Required);
            Assert.True(help.Parameters.Single(p => p.Name == "Name").Facts.Single().Globbing);
            Assert.Equal(("Online Version:", "https://example.org/Get-Thing.md"), help.Links[0]);
            Assert.Equal(("about_Things", ""), help.Links[1]);
        }

        [Fact]
        public void RefusesAParameterWithoutItsSection()
        {
            var e = Fails(Valid.Replace("[-Force] [<CommonParameters>]", "[-Force] [-Extra] [<CommonParameters>]"));
            Assert.Contains("-Extra", e.Message);
            Assert.EndsWith("Get-Thing.md", e.File);
        }

        [Fact]
        public void RefusesAYamlBlockThatContradictsTheSyntax()
        {
            var e = Fails(Valid.Replace("Get-Thing [-Id] <string[]> [-Force]", "Get-Thing [-Id] <string[]> -Force"));
            Assert.Contains("-Force in 'ById'", e.Message);
            Assert.True(e.Line > 1);
        }

        [Fact]
        public void RefusesMissingOrEmptySectionsAndExamplesWithoutWords()
        {
            Assert.Contains("NOTES", Fails(Valid.Replace("## NOTES\nNone of note.\n", "")).Message);
            Assert.Contains("DESCRIPTION", Fails(Valid.Replace("Gets things by id or by name.", "")).Message);
            Assert.Contains("in words", Fails(Valid.Replace("Gets the thing 1.", "")).Message);
            Assert.Contains("-Name has no description", Fails(Valid.Replace("The name.\n", "")).Message);
        }

        [Fact]
        public void AboutTopicFitsAnEightyColumnConsole()
        {
            string md = "# about_Things\n\n## Short description\nThings, and what they are for, in one long line that the synopsis keeps whole however long it is.\n\n"
                + "## Long description\n" + string.Join(" ", Enumerable.Repeat("A `code span` and [a link](about_Other.md) in words.", 12)) + "\n\n"
                + "| name | means |\n|---|---|\n| `tag.<key>` | " + string.Join(" ", Enumerable.Repeat("a long explanation", 8)) + " |\n\n"
                + "- an item " + string.Join(" ", Enumerable.Repeat("that goes on", 10)) + "\n\n    Get-Thing -Name 'x'\n";
            var lines = AboutTopic.ToText(MarkdownDocument.Parse("about_Things.md", md.Split('\n'))).TrimEnd('\n').Split('\n');
            Assert.Equal(new[] { "TOPIC", "    about_Things", "", "SHORT DESCRIPTION" }, lines.Take(4));
            Assert.StartsWith("    Things, and what they are for", lines[4]);
            Assert.EndsWith("however long it is.", lines[4]);
            Assert.All(lines.Skip(5), l => Assert.True(l.Length <= 80, $"{l.Length} columns: {l}"));
            Assert.Contains("    A code span and a link in words.", string.Join("\n", lines));
            Assert.Contains(lines, l => l.StartsWith("    name", System.StringComparison.Ordinal) && l.Contains("means"));
            Assert.Contains("        Get-Thing -Name 'x'", lines);
        }
    }
}
