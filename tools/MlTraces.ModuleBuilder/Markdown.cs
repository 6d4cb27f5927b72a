using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace MlTraces.ModuleBuilder
{
    /// <summary>A mistake in a source file, reported as MSBuild reads errors: file(line): error.</summary>
    internal sealed class SourceException : Exception
    {
        public SourceException(string file, int line, string message) : base(message)
        {
            File = file; Line = line;
        }

        public string File { get; }
        public int Line { get; }
    }

    internal abstract class Block
    {
        public int Line { get; set; }
    }

    internal sealed class Heading : Block
    {
        public int Level { get; set; }
        public string Text { get; set; } = "";
    }

    internal sealed class Paragraph : Block
    {
        public List<string> Lines { get; } = new List<string>();
        public string Text => string.Join(" ", Lines);
    }

    internal sealed class CodeBlock : Block
    {
        public string Info { get; set; } = "";
        public List<string> Lines { get; } = new List<string>();
        public string Code => string.Join("\n", Lines);
    }

    internal sealed class ListBlock : Block
    {
        public bool Ordered { get; set; }
        public List<string> Items { get; } = new List<string>();
    }

    internal sealed class TableBlock : Block
    {
        /// <summary>The header row first; the |---| row is dropped.</summary>
        public List<string[]> Rows { get; } = new List<string[]>();
    }

    /// <summary>
    /// The part of Markdown the help is written in: front matter, ATX headings, paragraphs, fenced code, flat lists
    /// and pipe tables. Anything else is read as a paragraph, so a mistake shows in the output rather than vanishing.
    /// </summary>
    internal sealed class MarkdownDocument
    {
        private static readonly Regex HeadingLine = new Regex(@"^(#{1,6})\s+(.*?)\s*$");
        private static readonly Regex ListItem = new Regex(@"^\s{0,3}([-*+]|\d+[.)])\s+(.*)$");
        private static readonly Regex Fence = new Regex(@"^\s{0,3}(`{3,}|~{3,})\s*(.*)$");
        private static readonly Regex SeparatorCell = new Regex(@"^\s*:?-+:?\s*$");

        public string Path { get; }
        public Dictionary<string, string> FrontMatter { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public List<Block> Blocks { get; } = new List<Block>();

        private MarkdownDocument(string path) { Path = path; }

        public SourceException Error(int line, string message) => new SourceException(Path, line, message);

        public static MarkdownDocument Load(string path) => Parse(path, File.ReadAllLines(path));

        public static MarkdownDocument Parse(string path, string[] lines)
        {
            var doc = new MarkdownDocument(path);
            int i = 0;
            if (lines.Length > 0 && lines[0].Trim() == "---")
            {
                for (i = 1; i < lines.Length && lines[i].Trim() != "---"; i++)
                {
                    int colon = lines[i].IndexOf(':');
                    if (colon > 0) doc.FrontMatter[lines[i].Substring(0, colon).Trim()] = lines[i].Substring(colon + 1).Trim();
                }
                if (i == lines.Length) throw doc.Error(1, "The front matter is not closed with '---'.");
                i++;
            }
            while (i < lines.Length)
            {
                string line = lines[i];
                if (line.Trim().Length == 0) { i++; continue; }
                Match m;
                if ((m = Fence.Match(line)).Success)
                {
                    var code = new CodeBlock { Line = i + 1, Info = m.Groups[2].Value.Trim() };
                    string fence = m.Groups[1].Value;
                    for (i++; ; i++)
                    {
                        if (i == lines.Length) throw doc.Error(code.Line, "The code block is not closed.");
                        if (lines[i].Trim().StartsWith(fence, StringComparison.Ordinal) && lines[i].Trim().Trim(fence[0]).Length == 0) break;
                        code.Lines.Add(lines[i]);
                    }
                    i++;
                    doc.Blocks.Add(code);
                }
                else if (IsIndentedCode(line))
                {
                    // An indented code block: its lines and the blank lines between them, less four spaces.
                    var code = new CodeBlock { Line = i + 1 };
                    int last = i;
                    for (int j = i; j < lines.Length && (IsIndentedCode(lines[j]) || lines[j].Trim().Length == 0); j++)
                        if (lines[j].Trim().Length > 0) last = j;
                    for (; i <= last; i++) code.Lines.Add(lines[i].Length >= 4 ? lines[i].Substring(4) : "");
                    doc.Blocks.Add(code);
                }
                else if ((m = HeadingLine.Match(line)).Success)
                {
                    doc.Blocks.Add(new Heading { Line = i + 1, Level = m.Groups[1].Length, Text = m.Groups[2].Value.TrimEnd('#').TrimEnd() });
                    i++;
                }
                else if (line.TrimStart().StartsWith("|", StringComparison.Ordinal))
                {
                    var table = new TableBlock { Line = i + 1 };
                    for (; i < lines.Length && lines[i].TrimStart().StartsWith("|", StringComparison.Ordinal); i++)
                    {
                        var cells = SplitRow(lines[i]);
                        if (!cells.All(c => SeparatorCell.IsMatch(c))) table.Rows.Add(cells);
                    }
                    doc.Blocks.Add(table);
                }
                else if ((m = ListItem.Match(line)).Success)
                {
                    var list = new ListBlock { Line = i + 1, Ordered = char.IsDigit(m.Groups[1].Value[0]) };
                    var item = new StringBuilder(m.Groups[2].Value.Trim());
                    for (i++; i < lines.Length; i++)
                    {
                        string next = lines[i];
                        Match nextItem;
                        if (next.Trim().Length == 0)
                        {
                            // A blank line ends the list unless another item or a continuation indented by two or
                            // three spaces follows (four make a code block).
                            int j = i + 1;
                            if (j < lines.Length && (ListItem.IsMatch(lines[j]) || lines[j].StartsWith("  ", StringComparison.Ordinal) && !IsIndentedCode(lines[j]))) continue;
                            break;
                        }
                        if ((nextItem = ListItem.Match(next)).Success)
                        {
                            list.Items.Add(item.ToString());
                            item.Clear().Append(nextItem.Groups[2].Value.Trim());
                        }
                        else if (StartsBlock(next)) break;
                        else item.Append(' ').Append(next.Trim());
                    }
                    list.Items.Add(item.ToString());
                    doc.Blocks.Add(list);
                }
                else
                {
                    var para = new Paragraph { Line = i + 1 };
                    for (; i < lines.Length && lines[i].Trim().Length > 0 && !(para.Lines.Count > 0 && StartsBlock(lines[i])); i++)
                        para.Lines.Add(lines[i].Trim());
                    doc.Blocks.Add(para);
                }
            }
            return doc;
        }

        private static bool IsIndentedCode(string line) => line.StartsWith("    ", StringComparison.Ordinal) && line.Trim().Length > 0;

        private static bool StartsBlock(string line) =>
            Fence.IsMatch(line) || HeadingLine.IsMatch(line) || ListItem.IsMatch(line) || line.TrimStart().StartsWith("|", StringComparison.Ordinal);

        private static string[] SplitRow(string line)
        {
            string s = line.Trim();
            if (s.StartsWith("|", StringComparison.Ordinal)) s = s.Substring(1);
            if (s.EndsWith("|", StringComparison.Ordinal) && !s.EndsWith("\\|", StringComparison.Ordinal)) s = s.Substring(0, s.Length - 1);
            // A pipe inside a code span or escaped with a backslash belongs to the cell.
            var cells = new List<string>();
            var cell = new StringBuilder();
            int ticks = 0;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c == '\\' && i + 1 < s.Length && s[i + 1] == '|') { cell.Append('|'); i++; continue; }
                if (c == '`') ticks++;
                if (c == '|' && ticks % 2 == 0) { cells.Add(cell.ToString().Trim()); cell.Clear(); continue; }
                cell.Append(c);
            }
            cells.Add(cell.ToString().Trim());
            return cells.ToArray();
        }
    }

    /// <summary>Markdown inline text as a console shows it: code spans keep their content, links keep their
    /// text (and an absolute address), emphasis marks and backslash escapes go.</summary>
    internal static class Inline
    {
        public static string Plain(string text)
        {
            var sb = new StringBuilder();
            int i = 0;
            while (i < text.Length)
            {
                char c = text[i];
                if (c == '\\' && i + 1 < text.Length && (char.IsPunctuation(text[i + 1]) || char.IsSymbol(text[i + 1])))
                {
                    sb.Append(text[i + 1]);
                    i += 2;
                }
                else if (c == '`')
                {
                    int run = Run(text, i, '`');
                    int close = FindRun(text, i + run, '`', run);
                    if (close < 0) { sb.Append(text, i, run); i += run; continue; }
                    string content = text.Substring(i + run, close - i - run);
                    if (content.Length > 1 && content[0] == ' ' && content[content.Length - 1] == ' ' && content.Trim().Length > 0)
                        content = content.Substring(1, content.Length - 2);
                    sb.Append(content);
                    i = close + run;
                }
                else if (c == '[' && TryLink(text, i, out string linkText, out string url, out int end))
                {
                    string shown = Plain(linkText);
                    bool absolute = url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
                    sb.Append(absolute && shown != url ? $"{shown} ({url})" : shown);
                    i = end;
                }
                else if (c == '*' && i + 1 < text.Length)
                {
                    int run = Math.Min(Run(text, i, '*'), 2);
                    int close = i + run < text.Length && text[i + run] != ' ' ? FindRun(text, i + run, '*', run) : -1;
                    if (close < 0) { sb.Append(text, i, run); i += run; continue; }
                    sb.Append(Plain(text.Substring(i + run, close - i - run)));
                    i = close + run;
                }
                else
                {
                    sb.Append(c);
                    i++;
                }
            }
            return sb.ToString();
        }

        /// <summary>Every [text](url) in a line, for the RELATED LINKS section.</summary>
        public static List<(string Text, string Url)> Links(string text)
        {
            var links = new List<(string, string)>();
            for (int i = 0; i < text.Length; i++)
                if (text[i] == '[' && TryLink(text, i, out string t, out string u, out int end)) { links.Add((Plain(t), u)); i = end - 1; }
            return links;
        }

        private static int Run(string s, int start, char c)
        {
            int n = 0;
            while (start + n < s.Length && s[start + n] == c) n++;
            return n;
        }

        /// <summary>The start of the next run of exactly <paramref name="length"/> characters c, or -1.</summary>
        private static int FindRun(string s, int from, char c, int length)
        {
            for (int i = from; i < s.Length; i++)
            {
                if (s[i] != c) continue;
                int run = Run(s, i, c);
                if (run == length) return i;
                i += run - 1;
            }
            return -1;
        }

        private static bool TryLink(string s, int open, out string text, out string url, out int end)
        {
            text = url = "";
            end = open;
            int depth = 0, close = -1;
            for (int i = open; i < s.Length; i++)
            {
                if (s[i] == '[') depth++;
                else if (s[i] == ']' && --depth == 0) { close = i; break; }
            }
            if (close < 0 || close + 1 >= s.Length || s[close + 1] != '(') return false;
            int paren = s.IndexOf(')', close + 2);
            if (paren < 0) return false;
            text = s.Substring(open + 1, close - open - 1);
            url = s.Substring(close + 2, paren - close - 2).Trim();
            end = paren + 1;
            return true;
        }
    }
}
