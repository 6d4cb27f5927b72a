using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace MlTraces.ModuleBuilder
{
    /// <summary>Plain-text layout for a console: word wrap, tables, and Markdown blocks as help paragraphs.</summary>
    internal static class TextLayout
    {
        public static List<string> Wrap(string text, int width)
        {
            var lines = new List<string>();
            var line = new StringBuilder();
            foreach (string word in text.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.Length > 0 && line.Length + 1 + word.Length > width)
                {
                    lines.Add(line.ToString());
                    line.Clear();
                }
                if (line.Length > 0) line.Append(' ');
                line.Append(word);
            }
            if (line.Length > 0 || lines.Count == 0) lines.Add(line.ToString());
            return lines;
        }

        /// <summary>A pipe table as aligned columns under a dashed rule. When it is wider than the width, the widest
        /// columns narrow (not below 12 characters) and their cells wrap.</summary>
        public static List<string> Table(TableBlock table, int width)
        {
            const int gap = 2, narrowest = 12;
            var rows = table.Rows.Select(r => r.Select(Inline.Plain).ToArray()).ToList();
            int columns = rows.Max(r => r.Length);
            var widths = new int[columns];
            foreach (var row in rows)
                for (int c = 0; c < row.Length; c++) widths[c] = Math.Max(widths[c], row[c].Length);
            while (widths.Sum() + gap * (columns - 1) > width)
            {
                int widest = Array.IndexOf(widths, widths.Max());
                if (widths[widest] <= narrowest) break;
                widths[widest]--;
            }
            var lines = new List<string>();
            for (int r = 0; r < rows.Count; r++)
            {
                var cells = Enumerable.Range(0, columns)
                    .Select(c => Wrap(c < rows[r].Length ? rows[r][c] : "", widths[c])).ToList();
                for (int l = 0; l < cells.Max(x => x.Count); l++)
                {
                    var sb = new StringBuilder();
                    for (int c = 0; c < columns; c++)
                        sb.Append((l < cells[c].Count ? cells[c][l] : "").PadRight(c < columns - 1 ? widths[c] + gap : 0));
                    lines.Add(sb.ToString().TrimEnd());
                }
                if (r == 0) lines.Add(string.Join(new string(' ', gap), widths.Select(w => new string('-', w))));
            }
            return lines;
        }

        /// <summary>Markdown blocks as the paragraphs of a MAML text: one per paragraph, list, code block or
        /// table; lines inside a list, code block or table stay lines.</summary>
        public static List<string> Paragraphs(MarkdownDocument doc, IEnumerable<Block> blocks)
        {
            var paras = new List<string>();
            foreach (var block in blocks)
            {
                switch (block)
                {
                    case Paragraph p:
                        paras.Add(Inline.Plain(p.Text));
                        break;
                    case ListBlock l:
                        paras.Add(string.Join("\n", l.Items.Select((item, n) => (l.Ordered ? $"{n + 1}. " : "- ") + Inline.Plain(item))));
                        break;
                    case CodeBlock c:
                        paras.Add(string.Join("\n", c.Lines.Select(line => "    " + line)));
                        break;
                    case TableBlock t:
                        paras.Add(string.Join("\n", Table(t, 76)));
                        break;
                    default:
                        throw doc.Error(block.Line, "A heading is not expected here.");
                }
            }
            return paras;
        }
    }
}
