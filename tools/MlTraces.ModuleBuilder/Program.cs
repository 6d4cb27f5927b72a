using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace MlTraces.ModuleBuilder
{
    /// <summary>
    /// Builds the parts of the laid-out module that are not compiled: the help (docs/en-US/*.md in platyPS's layout
    /// to MAML and about_*.help.txt, as platyPS's New-ExternalHelp would) and the package's .nuspec (from the
    /// manifest). Run by the build after the module is laid out; errors are printed as MSBuild reads them.
    /// </summary>
    internal static class Program
    {
        private const string Usage = "usage: MlTraces.ModuleBuilder <docs folder> <laid-out module folder> <nuspec path>";

        private static int Main(string[] args)
        {
            if (args.Length != 3)
            {
                Console.Error.WriteLine(Usage);
                return 2;
            }
            try
            {
                string docs = Path.GetFullPath(args[0]), module = Path.GetFullPath(args[1]), nuspec = Path.GetFullPath(args[2]);
                string manifest = Directory.GetFiles(module, "*.psd1").SingleOrDefault()
                    ?? throw new SourceException(module, 0, "The module folder holds no single .psd1 manifest.");
                BuildHelp(docs, Path.Combine(module, "en-US"));
                Nuspec.Write(manifest, nuspec);
                return 0;
            }
            catch (SourceException ex)
            {
                Console.Error.WriteLine($"{ex.File}({ex.Line}): error MLHELP: {ex.Message}");
                return 1;
            }
        }

        private static void BuildHelp(string docs, string output)
        {
            Directory.CreateDirectory(output);
            var written = new HashSet<string>(StringComparer.Ordinal);
            var commands = new Dictionary<string, List<CommandHelp>>(StringComparer.Ordinal);
            foreach (string file in Directory.GetFiles(docs, "*.md").OrderBy(f => f, StringComparer.Ordinal))
            {
                var doc = MarkdownDocument.Load(file);
                string name = Path.GetFileNameWithoutExtension(file);
                if (name.StartsWith("about_", StringComparison.Ordinal))
                {
                    string target = Path.Combine(output, name + ".help.txt");
                    // With a byte-order mark, Windows PowerShell reads the text as UTF-8 too.
                    File.WriteAllText(target, AboutTopic.ToText(doc), new UTF8Encoding(true));
                    written.Add(target);
                    continue;
                }
                var help = CommandHelp.Read(doc);
                if (!commands.TryGetValue(help.HelpFile, out var list)) commands[help.HelpFile] = list = new List<CommandHelp>();
                list.Add(help);
            }
            foreach (var (file, list) in commands)
            {
                string target = Path.Combine(output, file);
                MamlWriter.Write(target, list);
                written.Add(target);
            }
            // A topic whose markdown was removed or renamed goes too.
            foreach (string stale in Directory.GetFiles(output, "about_*.help.txt").Where(f => !written.Contains(f)))
                File.Delete(stale);
        }
    }
}
