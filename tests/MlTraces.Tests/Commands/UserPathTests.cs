using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// Every path a user gives (a store's path or sqlite:/// URI, Export-/Import-Trace -Path, -ConfigPath,
    /// -ArtifactRoot) is read as PowerShell's own cmdlets read it, on every OS: relative to the PowerShell location,
    /// '.\' and './', '~', drives of New-PSDrive and provider-qualified paths; another provider's item is refused.
    /// </summary>
    public class UserPathTests
    {
        /// <summary>A shell whose location is the folder 'here' under a new test folder, with the drive Arc: on
        /// the folder 'drive' and the FileSystem provider's home (~) on the folder 'home'.</summary>
        private static (PsShell sh, string root) Shell()
        {
            string root = TestStore.NewFolder();
            foreach (var f in new[] { "here", "drive", "home", "elsewhere" }) Directory.CreateDirectory(Path.Combine(root, f));
            var sh = new PsShell(Path.Combine(root, "elsewhere"));
            // The engine's own calls (the in-process host loads no Management module): Set-Location, New-PSDrive, ~.
            var r = sh.Run("$s = $ExecutionContext.SessionState; $null = $s.Path.SetLocation([Management.Automation.WildcardPattern]::Escape($here)); " +
                           "$null = $s.Drive.New([Management.Automation.PSDriveInfo]::new('Arc', $s.Provider.GetOne('FileSystem'), $drive, '', $null), 'global'); " +
                           "$s.Provider.GetOne('FileSystem').Home = $home_",
                new Dictionary<string, object?> { ["here"] = Path.Combine(root, "here"), ["drive"] = Path.Combine(root, "drive"), ["home_"] = Path.Combine(root, "home") });
            Assert.False(r.Failed, r.Terminating?.Message + string.Join("\n", r.Errors));
            return (sh, root);
        }

        /// <summary>No file anywhere under the test folder has a backslash or a drive-like prefix in its name.</summary>
        private static void NoOddNames(string root) =>
            Assert.Empty(Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
                .Select(Path.GetFileName).Where(n => n!.Contains('\\') || n.Contains(':')));

        [Theory]
        [InlineData(@".\staging.db", "here/staging.db")]
        [InlineData("./staging.db", "here/staging.db")]
        [InlineData(@"sub\staging.db", "here/sub/staging.db")]
        [InlineData(@"..\here\staging.db", "here/staging.db")]
        [InlineData("~/staging.db", "home/staging.db")]
        [InlineData(@"~\staging.db", "home/staging.db")]
        [InlineData(@"Arc:\staging.db", "drive/staging.db")]
        [InlineData("Arc:/nested/staging.db", "drive/nested/staging.db")]
        [InlineData(@"sqlite:///.\staging.db", "here/staging.db")]
        [InlineData("sqlite:///staging.db", "here/staging.db")]
        [InlineData("sqlite:///Arc:/staging.db", "drive/staging.db")]
        public void NewTraceStoreCreatesTheStoreWherePowerShellWouldPutTheFile(string given, string expected)
        {
            var (sh, root) = Shell();
            using var _ = sh;
            Directory.CreateDirectory(Path.Combine(root, "here", "sub"));
            Directory.CreateDirectory(Path.Combine(root, "drive", "nested"));
            string full = Path.GetFullPath(Path.Combine(root, expected));
            var vars = new Dictionary<string, object?> { ["p"] = given };

            var dry = sh.Run("New-TraceStore $p -WhatIf", vars);
            Assert.False(dry.Failed, dry.Terminating?.Message);
            Assert.Contains($"on target \"{full}\"", dry.HostText);
            Assert.False(File.Exists(full));

            var r = sh.Run("New-TraceStore $p", vars);
            Assert.False(r.Failed, r.Terminating?.Message ?? string.Join("\n", r.Errors));
            Assert.True(File.Exists(full), $"{given} should have created {full}");
            NoOddNames(root);
            // The other commands find the same store by the same words.
            var search = sh.Run("Search-Trace -TrackingUri $p", vars);
            Assert.False(search.Failed, search.Terminating?.Message ?? string.Join("\n", search.Errors));
        }

        [Fact]
        public void AProviderQualifiedPathAndAnAbsolutePathWork()
        {
            var (sh, root) = Shell();
            using var _ = sh;
            string full = Path.Combine(root, "elsewhere", "q.db");
            var r = sh.Run("New-TraceStore $p", new Dictionary<string, object?> { ["p"] = "FileSystem::" + full });
            Assert.False(r.Failed, r.Terminating?.Message);
            Assert.True(File.Exists(full));
            Assert.False(sh.Run("Search-Trace -TrackingUri $p", new Dictionary<string, object?> { ["p"] = full }).Failed);
        }

        [Theory]
        [InlineData(@"Env:\mltraces.db", "Environment")]
        [InlineData("Function:mltraces.db", "Function")]
        [InlineData("Variable:/mltraces.db", "Variable")]
        public void AnotherProvidersItemIsRefusedAndNoFileIsMade(string given, string provider)
        {
            var (sh, root) = Shell();
            using var _ = sh;
            var vars = new Dictionary<string, object?> { ["p"] = given };
            foreach (var command in new[] { "New-TraceStore $p", "Search-Trace -TrackingUri $p", "Search-Trace -TrackingUri ('sqlite:///' + $p)", "@() | Export-Trace -Path $p" })
            {
                var e = Assert.Single(sh.Run(command, vars).Errors);
                Assert.Contains($"of the {provider} provider, not a file", e.Exception.Message);
                Assert.StartsWith("Invalid", e.FullyQualifiedErrorId);
            }
            Assert.Empty(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories));
        }

        /// <summary>On Linux and macOS 'C:' is a drive that does not exist, as for PowerShell's own cmdlets.</summary>
        [Fact]
        public void ADriveThatDoesNotExistIsAnErrorNotAFileName()
        {
            var (sh, root) = Shell();
            using var _ = sh;
            var commands = new List<string> { @"New-TraceStore Nowhere:\x.db", @"Search-Trace -TrackingUri sqlite:///Nowhere:/x.db", "@() | Export-Trace -Path Nowhere:/x.jsonl" };
            if (!System.OperatingSystem.IsWindows()) commands.Add(@"New-TraceStore C:\x.db");
            foreach (var command in commands)
            {
                var e = Assert.Single(sh.Run(command).Errors);
                Assert.Contains("cannot be resolved", e.Exception.Message);
            }
            Assert.Empty(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories));
        }

        [Fact]
        public void ExportAndImportPathsResolveAsPowerShellsOwn()
        {
            var (sh, root) = Shell();
            using var _ = sh;
            Assert.False(sh.Run(@"New-TraceStore .\source.db; New-TraceStore ~\target.db; New-TraceStore Arc:\target2.db; New-TraceStore ..\target3.db").Failed);
            using (var source = Core.Store.TraceStore.Open(Core.Store.TrackingUri.Parse(Path.Combine(root, "here", "source.db"), "/"), Core.Store.StoreAccess.ReadWrite))
            using (var tx = source.BeginTransaction())
            {
                using (var w = new Core.Store.TraceWriter(source, tx))
                    foreach (var id in new[] { "tr-p1", "tr-p2" }) w.Write(TestStore.MakeTrace(id, "0"));
                tx.Commit();
            }
            // Export by each form; each file holds both traces.
            foreach (var (given, expected) in new[] { (@".\out1.jsonl", "here/out1.jsonl"), ("~/out2.jsonl", "home/out2.jsonl"), (@"Arc:\out3.jsonl", "drive/out3.jsonl") })
            {
                var r = sh.Run(@"Search-Trace -TrackingUri .\source.db | Export-Trace -Path $p", new Dictionary<string, object?> { ["p"] = given });
                Assert.False(r.Failed, r.Terminating?.Message ?? string.Join("\n", r.Errors));
                Assert.Equal(2, File.ReadAllLines(Path.Combine(root, expected)).Length);
            }
            // Import by -Path (wildcards), -LiteralPath, and traces piped from a store named relative to the location.
            var imported = sh.Run(@"Import-Trace -Path Arc:\out*.jsonl -TrackingUri ~\target.db -ExperimentName a -PassThru");
            Assert.False(imported.Failed, imported.Terminating?.Message ?? string.Join("\n", imported.Errors));
            Assert.Equal(2, imported.Output.Count);
            var literal = sh.Run(@"Import-Trace -LiteralPath ~\out2.jsonl -TrackingUri sqlite:///Arc:\target2.db -ExperimentName b -PassThru");
            Assert.False(literal.Failed, literal.Terminating?.Message ?? string.Join("\n", literal.Errors));
            Assert.Equal(2, literal.Output.Count);
            var piped = sh.Run(@"Search-Trace -TrackingUri .\source.db | Import-Trace -TrackingUri ~\..\target3.db -ExperimentName c -PassThru");
            Assert.False(piped.Failed, piped.Terminating?.Message ?? string.Join("\n", piped.Errors));
            Assert.Equal(2, piped.Output.Count);
            NoOddNames(root);

            var other = sh.Run(@"Import-Trace -Path Env:\PATH -TrackingUri ~\target.db -ExperimentName d");
            Assert.Null(other.Terminating);
            Assert.Contains(other.Errors, e => e.FullyQualifiedErrorId.StartsWith("InvalidPath,") && e.Exception.Message.Contains("Environment provider"));
        }

        [Fact]
        public void ConfigPathAndArtifactRootResolveToo()
        {
            var (sh, root) = Shell();
            using var _ = sh;
            File.WriteAllText(Path.Combine(root, "drive", "archival.yaml"),
                "trace_archival:\n  enabled: true\n  location: " + new System.Uri(Path.Combine(root, "archive")).AbsoluteUri + "\n  retention: 30d\n");
            Assert.False(sh.Run(@"New-TraceStore .\s.db").Failed);
            foreach (var config in new[] { @"Arc:\archival.yaml", @"..\drive\archival.yaml", "FileSystem::" + Path.Combine(root, "drive", "archival.yaml") })
            {
                var r = sh.Run(@"Get-ExperimentRetention -TrackingUri .\s.db -ConfigPath $c", new Dictionary<string, object?> { ["c"] = config });
                Assert.False(r.Failed, config + ": " + (r.Terminating?.Message ?? string.Join("\n", r.Errors)));
                var policy = (ExperimentRetention)r.Output.Single().BaseObject;
                Assert.Equal("30d", policy.ArchiveAfter);
                Assert.Equal(Path.Combine(root, "drive", "archival.yaml"), policy.ConfigPath);
            }
            // A plain path as -ArtifactRoot becomes the file URI of the folder it names (MLflow's resolve_uri_if_local).
            Assert.False(sh.Run(@"New-TraceStore .\a.db -ArtifactRoot ~\artifacts").Failed);
            using var store = Core.Store.TraceStore.Open(Core.Store.TrackingUri.Parse(Path.Combine(root, "here", "a.db"), "/"));
            Assert.Equal(new System.Uri(Path.Combine(root, "home", "artifacts")).AbsoluteUri + "/0", Core.Store.Experiments.ById(store, "0")!.ArtifactLocation);
            // A URI stays as it is.
            Assert.False(sh.Run(@"New-TraceStore .\b.db -ArtifactRoot s3://bucket/mlflow").Failed);
            using var b = Core.Store.TraceStore.Open(Core.Store.TrackingUri.Parse(Path.Combine(root, "here", "b.db"), "/"));
            Assert.Equal("s3://bucket/mlflow/0", Core.Store.Experiments.ById(b, "0")!.ArtifactLocation);
        }
    }
}
