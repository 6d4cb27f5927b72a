using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection;
using System.Xml.Linq;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Packaging
{
    /// <summary>
    /// The module package (out/MlTraces.&lt;version&gt;.nupkg, packed after this project builds) in the layout the
    /// PowerShell Gallery, Install-PSResource and Install-Module take: the laid-out module at the package root, a
    /// nuspec with the manifest's metadata and the Gallery's tags, and a manifest whose version is the repository's.
    /// </summary>
    public class PackageTests
    {
        private static readonly string[] Rids =
            { "win-x64", "win-x86", "win-arm64", "linux-x64", "linux-arm64", "linux-musl-x64", "osx-x64", "osx-arm64" };

        // NuGet's own parts of any package, which installers leave out.
        private static bool IsPackagingPart(string entry) =>
            entry == "[Content_Types].xml" || entry.StartsWith("_rels/", StringComparison.Ordinal)
            || entry.StartsWith("package/", StringComparison.Ordinal) || entry == "MlTraces.nuspec";

        private static string PackagePath
        {
            get
            {
                string path = Path.Combine(ModuleManifest.RepoRoot, "out", $"MlTraces.{ModuleManifest.Version}.nupkg");
                Assert.True(File.Exists(path), $"{path} is missing: building the tests packs it (or run: dotnet pack src/MlTraces).");
                return path;
            }
        }

        [Fact]
        public void PackageHoldsTheLaidOutModuleAtItsRoot()
        {
            using var zip = ZipFile.OpenRead(PackagePath);
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("MlTraces.nuspec", entries);
            foreach (string file in new[]
            {
                "MlTraces.psd1", "MlTraces.dll", "MlTraces.Loader.dll", "MlTraces.LoadContext.dll", "Dependencies/MlTraces.Core.dll",
                "MlTraces.Format.ps1xml", "LICENSE",
                "en-US/MlTraces.dll-Help.xml", "en-US/about_MlTraces.help.txt", "en-US/about_MlTraces_Filters.help.txt",
            })
                Assert.Contains(file, entries);
            foreach (string rid in Rids)
                Assert.Contains(entries, e => e.StartsWith($"Dependencies/runtimes/{rid}/native/", StringComparison.Ordinal) && e.Contains("e_sqlite3"));
            // A library package's folders would hide the module from PowerShell; the engine is PowerShell's own.
            Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) || e.StartsWith("content/", StringComparison.Ordinal));
            Assert.DoesNotContain("System.Management.Automation.dll", entries);

            // Exactly the laid-out module, file for file.
            string module = Path.Combine(ModuleManifest.RepoRoot, "out", "MlTraces");
            var laidOut = Directory.GetFiles(module, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(module, f).Replace('\\', '/')).OrderBy(x => x, StringComparer.Ordinal);
            Assert.Equal(laidOut, entries.Where(e => !IsPackagingPart(e)).OrderBy(x => x, StringComparer.Ordinal));
        }

        [Fact]
        public void NuspecCarriesTheManifestsMetadataAndTheGalleryTags()
        {
            using var zip = ZipFile.OpenRead(PackagePath);
            var manifest = ModuleManifest.Read(ReadText(zip, "MlTraces.psd1"));
            var psData = (Hashtable)((Hashtable)manifest["PrivateData"]!)["PSData"]!;
            var nuspec = XDocument.Parse(ReadText(zip, "MlTraces.nuspec"));
            string Meta(string name) => nuspec.Descendants().Single(e => e.Name.LocalName == name).Value;

            Assert.Equal("MlTraces", Meta("id"));
            Assert.Equal(ModuleManifest.Version, Meta("version"));
            Assert.Equal(manifest["Author"], Meta("authors"));
            Assert.Equal(manifest["Description"], Meta("description"));
            Assert.Equal(psData["ProjectUri"], Meta("projectUrl"));
            Assert.Equal(psData["LicenseUri"], Meta("licenseUrl"));
            Assert.Equal(psData["ReleaseNotes"], Meta("releaseNotes"));

            var tags = Meta("tags").Split(' ');
            Assert.Contains("PSModule", tags);
            Assert.Contains("PSIncludes_Cmdlet", tags);
            Assert.Contains("PSEdition_Desktop", tags);
            Assert.Contains("PSEdition_Core", tags);
            foreach (string cmdlet in ModuleManifest.Strings(manifest["CmdletsToExport"]))
            {
                Assert.Contains("PSCmdlet_" + cmdlet, tags);
                Assert.Contains("PSCommand_" + cmdlet, tags);
            }
            foreach (string tag in ModuleManifest.Strings(psData["Tags"]))
                Assert.Contains(tag, tags);
        }

        [Fact]
        public void ManifestInThePackageIsCompleteAndVersionedFromOnePlace()
        {
            using var zip = ZipFile.OpenRead(PackagePath);
            var manifest = ModuleManifest.Read(ReadText(zip, "MlTraces.psd1"));
            var entries = zip.Entries.Select(e => e.FullName).ToList();

            Assert.Equal(ModuleManifest.Version, manifest["ModuleVersion"]);
            Assert.Equal(new[] { "Desktop", "Core" }, ModuleManifest.Strings(manifest["CompatiblePSEditions"]));
            Assert.Equal("5.1", manifest["PowerShellVersion"]);
            Assert.True(Guid.TryParse(manifest["GUID"] as string, out _));
            Assert.Contains((string)manifest["RootModule"]!, entries);
            // The loader, imported before the root module, decides where MlTraces.Core and its dependencies load.
            Assert.Equal(new[] { "MlTraces.Loader.dll" }, ModuleManifest.Strings(manifest["NestedModules"]));
            foreach (string nested in ModuleManifest.Strings(manifest["NestedModules"]))
                Assert.Contains(nested, entries);
            foreach (string format in ModuleManifest.Strings(manifest["FormatsToProcess"]))
                Assert.Contains(format, entries);
            // Explicit exports: no wildcard, so command discovery need not load the module.
            foreach (string key in new[] { "CmdletsToExport", "FunctionsToExport", "VariablesToExport", "AliasesToExport" })
            {
                Assert.True(manifest.ContainsKey(key), $"{key} is missing");
                Assert.DoesNotContain("*", ModuleManifest.Strings(manifest[key]));
            }

            var psData = (Hashtable)((Hashtable)manifest["PrivateData"]!)["PSData"]!;
            foreach (string key in new[] { "ProjectUri", "LicenseUri", "ReleaseNotes" })
                Assert.False(string.IsNullOrWhiteSpace(psData[key] as string), $"PSData.{key} is empty");
            foreach (string key in new[] { "ProjectUri", "LicenseUri" })
                Assert.True(Uri.TryCreate((string)psData[key]!, UriKind.Absolute, out _), $"PSData.{key} is not an address");
            var tags = ModuleManifest.Strings(psData["Tags"]);
            Assert.NotEmpty(tags);
            Assert.All(tags, t => Assert.DoesNotContain(' ', t));

            // The assembly in the package is the one built at this version, not a stale copy.
            string dll = Path.Combine(Path.GetTempPath(), $"mltraces-package-{Guid.NewGuid():N}.dll");
            try
            {
                zip.GetEntry("MlTraces.dll")!.ExtractToFile(dll);
                var version = AssemblyName.GetAssemblyName(dll).Version!;
                Assert.Equal(Version.Parse(ModuleManifest.Version), new Version(version.Major, version.Minor, version.Build));
            }
            finally
            {
                File.Delete(dll);
            }
        }

        private static string ReadText(ZipArchive zip, string entry)
        {
            using var reader = new StreamReader(zip.GetEntry(entry)!.Open());
            return reader.ReadToEnd();
        }
    }
}
