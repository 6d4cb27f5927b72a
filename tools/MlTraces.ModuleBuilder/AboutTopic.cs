using System.Collections.Generic;
using System.Linq;

namespace MlTraces.ModuleBuilder
{
    /// <summary>
    /// An about_ topic in the PowerShell-Docs markdown layout (# about_Name, ## Short description,
    /// ## Long description, more ## sections) as the plain text Get-Help prints: TOPIC, SHORT DESCRIPTION (where
    /// Get-Help finds the synopsis), LONG DESCRIPTION, the text indented and wrapped for an 80-column console.
    /// </summary>
    internal static class AboutTopic
    {
        private const int Width = 80, Indent = 4;

        public static string ToText(MarkdownDocument doc)
        {
            var blocks = doc.Blocks;
            string name = System.IO.Path.GetFileNameWithoutExtension(doc.Path);
            if (blocks.Count == 0 || !(blocks[0] is Heading h1) || h1.Level != 1 || h1.Text != name)
                throw doc.Error(1, $"An about topic starts with '# {name}', its file's name.");
            var headings = blocks.OfType<Heading>().Where(h => h.Level == 2).Select(h => h.Text.ToUpperInvariant()).ToList();
            if (headings.Count < 2 || headings[0] != "SHORT DESCRIPTION" || headings[1] != "LONG DESCRIPTION" || !(blocks[1] is Heading))
                throw doc.Error(h1.Line, "An about topic's first sections are '## Short description' and '## Long description'.");

            var lines = new List<string> { "TOPIC", Pad(Indent) + name };
            string section = "";
            foreach (var block in blocks.Skip(1))
            {
                string pad = Pad(Indent);
                switch (block)
                {
                    case Heading h when h.Level == 1:
                        throw doc.Error(h.Line, "An about topic has one level-1 heading.");
                    case Heading h when h.Level == 2:
                        section = h.Text.ToUpperInvariant();
                        lines.Add("");
                        lines.Add(section);
                        break;
                    case Heading h:
                        lines.Add("");
                        lines.Add(pad + Inline.Plain(h.Text));
                        lines.Add(pad + new string('-', Inline.Plain(h.Text).Length));
                        break;
                    case Paragraph p when section == "SHORT DESCRIPTION":
                        // Get-Help takes the line after SHORT DESCRIPTION as the topic's synopsis: keep it whole.
                        lines.Add(pad + Inline.Plain(p.Text));
                        break;
                    case Paragraph p:
                        lines.AddRange(TextLayout.Wrap(Inline.Plain(p.Text), Width - Indent).Select(l => pad + l));
                        break;
                    case ListBlock l:
                        for (int n = 0; n < l.Items.Count; n++)
                        {
                            string bullet = l.Ordered ? $"{n + 1}. " : "- ";
                            var wrapped = TextLayout.Wrap(Inline.Plain(l.Items[n]), Width - Indent - bullet.Length);
                            lines.AddRange(wrapped.Select((w, i) => pad + (i == 0 ? bullet : Pad(bullet.Length)) + w));
                        }
                        break;
                    case CodeBlock c:
                        lines.AddRange(c.Lines.Select(l => (Pad(2 * Indent) + l).TrimEnd()));
                        break;
                    case TableBlock t:
                        lines.AddRange(TextLayout.Table(t, Width - Indent).Select(l => pad + l));
                        break;
                }
                if (!(block is Heading)) lines.Add("");
                else if (((Heading)block).Level > 2) lines.Add("");
            }
            // One blank line between blocks, none at the end.
            var text = new List<string>();
            foreach (string line in lines)
                if (!(line.Length == 0 && (text.Count == 0 || text[text.Count - 1].Length == 0))) text.Add(line);
            while (text.Count > 0 && text[text.Count - 1].Length == 0) text.RemoveAt(text.Count - 1);
            return string.Join("\n", text) + "\n";
        }

        private static string Pad(int n) => new string(' ', n);
    }
}
