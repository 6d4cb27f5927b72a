using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace MlTraces.Tests.Architecture
{
    /// <summary>
    /// The layers of the core, as docs/ARCHITECTURE.md draws them: each folder of src/MlTraces.Core may use the ones
    /// below it and never one above, so nothing points back up (the Store once read archived payloads, and the
    /// Archive read the Store); and the core knows no PowerShell. Read from the sources: a using directive or a
    /// qualified name (Core.Archive.X) is a use.
    /// </summary>
    public class LayerTests
    {
        // Lowest first. A layer may use any layer before it in this list.
        private static readonly string[] Layers = { "Json", "Model", "Store", "Locations", "Query", "Export", "Retention", "Archive", "Spans", "Search", "Delete", "Maintenance", "Audit" };

        private static string CoreFolder()
        {
            string dir = AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "MlTraces.slnx"))) dir = Path.GetDirectoryName(dir)!;
            return Path.Combine(dir!, "src", "MlTraces.Core");
        }

        private static IEnumerable<(string Layer, string File, string Text)> Sources()
        {
            string core = CoreFolder();
            foreach (var file in Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(core, file);
                if (relative.StartsWith("bin", StringComparison.Ordinal) || relative.StartsWith("obj", StringComparison.Ordinal)) continue;
                string layer = relative.Contains(Path.DirectorySeparatorChar) ? relative.Split(Path.DirectorySeparatorChar)[0] : "";
                yield return (layer, relative, File.ReadAllText(file));
            }
        }

        [Fact]
        public void EveryFolderOfTheCoreIsALayer()
        {
            var unknown = Sources().Select(s => s.Layer).Where(l => l.Length > 0 && !Layers.Contains(l)).Distinct().ToList();
            Assert.True(unknown.Count == 0, "Folders not placed among the layers: " + string.Join(", ", unknown));
        }

        [Fact]
        public void NothingPointsUp()
        {
            var uses = new Regex(@"(?:using\s+MlTraces\.Core\.|\bCore\.)(" + string.Join("|", Layers) + @")\b");
            var wrong = new List<string>();
            foreach (var (layer, file, text) in Sources())
            {
                if (layer.Length == 0) continue;
                int level = Array.IndexOf(Layers, layer);
                foreach (Match m in uses.Matches(text))
                {
                    string used = m.Groups[1].Value;
                    if (Array.IndexOf(Layers, used) > level) wrong.Add($"{file} ({layer}) uses {used}");
                }
            }
            Assert.True(wrong.Count == 0, string.Join("\n", wrong.Distinct()));
        }

        [Fact]
        public void TheCoreKnowsNoPowerShell()
        {
            var wrong = Sources().Where(s => s.Text.Contains("System.Management.Automation", StringComparison.Ordinal)).Select(s => s.File).ToList();
            Assert.True(wrong.Count == 0, string.Join(", ", wrong));
            string project = File.ReadAllText(Path.Combine(CoreFolder(), "MlTraces.Core.csproj"));
            Assert.DoesNotMatch(new Regex(@"Include=""[^""]*(PowerShell|Management\.Automation)", RegexOptions.IgnoreCase), project);
        }
    }
}
