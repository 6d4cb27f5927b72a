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
            foreach (var file in new[] { "MlTraces.dll", "MlTraces.Core.dll", "Microsoft.Data.Sqlite.dll", "MlTraces.Format.ps1xml" })
                Assert.True(File.Exists(Path.Combine(folder, file)), file);
            foreach (var rid in new[] { "win-x64", "win-x86", "win-arm64", "linux-x64", "linux-arm64", "linux-musl-x64", "osx-x64", "osx-arm64" })
                Assert.Single(Directory.GetFiles(Path.Combine(folder, "runtimes", rid, "native")));
            Assert.False(File.Exists(Path.Combine(folder, "System.Management.Automation.dll")));

            using var sh = new PsShell();
            var commands = sh.Run("(Get-Module MlTraces).ExportedCmdlets.Keys").Output.Select(o => o.BaseObject.ToString()).ToList();
            Assert.Contains("Search-Trace", commands);
            Assert.Contains("Get-Trace", commands);
        }
    }
}
