using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// Every writer decides "dry run" the one way PowerShell does (StoreCmdlet.DryRun): -WhatIf, or $WhatIfPreference
    /// unless -WhatIf:$false says otherwise. A dry run leaves the store and every file beside it (archive folders,
    /// artifacts) byte-identical and shows its plan with "What if:"; -WhatIf:$false runs for real even with the
    /// preference set (Invoke-TraceArchive once wrote payloads from a store it had opened read-only).
    /// </summary>
    public class WriterDryRunTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        public static IEnumerable<object[]> Cases() =>
            from writer in new[] { "Remove-Trace", "Invoke-TraceArchive", "Restore-Trace", "Import-Trace", "Set-ExperimentRetention", "Set-TraceLegalHold", "Clear-TraceLegalHold" }
            from mode in new[] { "-WhatIf", "WhatIfPreference", "WhatIfPreference -WhatIf:$false", "-Confirm:$false" }
            select new object[] { writer, mode };

        [Theory]
        [MemberData(nameof(Cases))]
        public void OneDryRunDecision(string writer, string mode)
        {
            using var ts = TestStore.Generated(GeneratedStores.Revisions.Last(), Kind);
            using var target = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(ts);
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            string export = Path.Combine(target.Folder, "traces.jsonl");
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["config"] = config, ["target"] = target.UriText, ["export"] = export };
            string active = ts.Scalar("SELECT min(experiment_id) FROM experiments WHERE lifecycle_stage = 'active' AND experiment_id IN (SELECT experiment_id FROM trace_info)").ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (writer == "Restore-Trace")
                Assert.False(sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config", vars).Failed);
            string firstTrace = sh.Run("(Search-Trace -TrackingUri $uri -First 1).TraceId", vars).Output.Single().BaseObject.ToString()!;
            if (writer == "Clear-TraceLegalHold")
                Assert.False(sh.Run($"Set-TraceLegalHold -TrackingUri $uri -TraceId {firstTrace}", vars).Failed);
            if (writer == "Import-Trace")
                Assert.False(sh.Run("Search-Trace -TrackingUri $uri -IncludeSpans | Export-Trace -Path $export", vars).Failed);

            string command = writer switch
            {
                "Remove-Trace" => "Remove-Trace -TrackingUri $uri -Before ([DateTime]::MaxValue)",
                "Invoke-TraceArchive" => "Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config",
                "Restore-Trace" => $"Restore-Trace -TrackingUri $uri -ExperimentId {active}",
                "Import-Trace" => "Import-Trace -TrackingUri $target -Path $export -ExperimentName imported",
                "Set-TraceLegalHold" or "Clear-TraceLegalHold" => $"{writer} -TrackingUri $uri -TraceId {firstTrace}",
                _ => $"Set-ExperimentRetention -TrackingUri $uri -ExperimentId {active} -Retention 7d",
            };
            var written = writer == "Import-Trace" ? target : ts;
            string before = State(written);
            bool preference = mode.StartsWith("WhatIfPreference", StringComparison.Ordinal);
            string script = (preference ? "$WhatIfPreference = $true; " : "") + command + " " + mode.Replace("WhatIfPreference", "").Trim()
                + (mode.Contains("-WhatIf:$false") ? " -Confirm:$false" : "");
            var r = sh.Run(script, vars);

            Assert.True(!r.Failed, script + ": " + (r.Terminating?.Message ?? string.Join("; ", r.Errors)));
            bool dry = mode == "-WhatIf" || mode == "WhatIfPreference";
            if (dry)
            {
                Assert.Equal(before, State(written));
                Assert.Contains("What if: ", r.HostText);
            }
            else
            {
                Assert.NotEqual(before, State(written));
                Assert.DoesNotContain("What if: ", r.HostText);
            }
        }

        /// <summary>The store's rows and every file in its folder (the SQLite file itself, archives, artifacts).</summary>
        private static string State(TestStore ts)
        {
            var parts = new List<string> { ts.Fingerprint() };
            using var sha = SHA256.Create();
            foreach (var file in Directory.EnumerateFiles(ts.Folder, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal))
                parts.Add(Path.GetRelativePath(ts.Folder, file) + ":" + Convert.ToHexString(sha.ComputeHash(File.ReadAllBytes(file))));
            parts.AddRange(Directory.EnumerateDirectories(ts.Folder, "*", SearchOption.AllDirectories).Select(d => Path.GetRelativePath(ts.Folder, d) + "/").OrderBy(d => d, StringComparer.Ordinal));
            return string.Join("\n", parts);
        }
    }

    public class WriterDryRunTestsOnPostgres : WriterDryRunTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
