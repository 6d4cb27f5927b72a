using System;
using System.Collections;
using System.IO;
using System.Linq;
using System.Management.Automation.Language;
using System.Xml.Linq;

namespace MlTraces.Tests.Support
{
    /// <summary>The repository's files that describe the module: the manifest and the one version number.</summary>
    public static class ModuleManifest
    {
        public static string RepoRoot { get; } = FindRoot();

        /// <summary>MlTracesVersion from Directory.Build.props, the one place the version is kept.</summary>
        public static string Version =>
            XDocument.Load(Path.Combine(RepoRoot, "Directory.Build.props")).Descendants("MlTracesVersion").Single().Value;

        /// <summary>A .psd1 as Import-PowerShellDataFile reads it (keys case-insensitive).</summary>
        public static Hashtable Read(string psd1Text)
        {
            var ast = Parser.ParseInput(psd1Text, out _, out var errors);
            if (errors.Length > 0) throw new InvalidDataException("The manifest does not parse: " + errors[0].Message);
            var table = (HashtableAst)ast.Find(a => a is HashtableAst, false)!;
            return new Hashtable((Hashtable)table.SafeGetValue(), StringComparer.OrdinalIgnoreCase);
        }

        public static Hashtable Source => Read(File.ReadAllText(Path.Combine(RepoRoot, "MlTraces.psd1")));

        public static string[] Strings(object? value) =>
            value is string s ? new[] { s } : value is IEnumerable e ? e.Cast<object>().Select(o => o.ToString()!).ToArray() : Array.Empty<string>();

        /// <summary>The commands the manifest exports, for tests that run once per command.</summary>
        public static TheoryData<string> ExportedCmdlets()
        {
            var data = new TheoryData<string>();
            foreach (string name in Strings(Source["CmdletsToExport"])) data.Add(name);
            return data;
        }

        private static string FindRoot()
        {
            string? dir = AppContext.BaseDirectory;
            while (dir != null)
            {
                if (File.Exists(Path.Combine(dir, "MlTraces.psd1")) && File.Exists(Path.Combine(dir, "Directory.Build.props"))) return dir;
                dir = Path.GetDirectoryName(dir.TrimEnd(Path.DirectorySeparatorChar));
            }
            throw new DirectoryNotFoundException("The repository (MlTraces.psd1 beside Directory.Build.props) was not found above " + AppContext.BaseDirectory);
        }
    }
}
