using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Shell;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    public class ModuleTests
    {
        [Fact]
        public void LaidOutModuleHasExplicitExportsAndNativesForEveryPlatform()
        {
            string folder = Path.GetDirectoryName(ShellSession.FindModule())!;
            string manifest = File.ReadAllText(Path.Combine(folder, "MlTraces.psd1"));
            Assert.DoesNotContain("{{", manifest);
            Assert.DoesNotContain("'*'", manifest);
            // At the root only what PowerShell loads into its default context; MlTraces.Core and every dependency in
            // Dependencies/, where only the module's own loading looks: a copy at the root would be found by
            // PowerShell's probing and escape the private load context.
            Assert.Equal(new[] { "MlTraces.LoadContext.dll", "MlTraces.Loader.dll", "MlTraces.dll" },
                Directory.GetFiles(folder, "*.dll").Select(Path.GetFileName).OrderBy(n => n, System.StringComparer.Ordinal));
            Assert.True(File.Exists(Path.Combine(folder, "MlTraces.Format.ps1xml")));
            string dependencies = Path.Combine(folder, "Dependencies");
            foreach (var file in new[] { "MlTraces.Core.dll", "Microsoft.Data.Sqlite.dll", "Npgsql.dll", "YamlDotNet.dll", "Google.Protobuf.dll" })
                Assert.True(File.Exists(Path.Combine(dependencies, file)), file);
            foreach (var rid in new[] { "win-x64", "win-x86", "win-arm64", "linux-x64", "linux-arm64", "linux-musl-x64", "osx-x64", "osx-arm64" })
                Assert.Single(Directory.GetFiles(Path.Combine(dependencies, "runtimes", rid, "native")));
            Assert.False(Directory.Exists(Path.Combine(folder, "runtimes")));
            Assert.False(File.Exists(Path.Combine(folder, "System.Management.Automation.dll")));

            using var sh = new PsShell();
            var commands = sh.Run("(Get-Module MlTraces).ExportedCmdlets.Keys").Output.Select(o => o.BaseObject.ToString()).ToList();
            Assert.Contains("Search-Trace", commands);
            Assert.Contains("Get-Trace", commands);
        }
    }
}
