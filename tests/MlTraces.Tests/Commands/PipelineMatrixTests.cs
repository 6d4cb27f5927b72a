using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// The pipeline contract, pair by pair: every output type that names a store and an experiment (traces, an
    /// experiment's retention, archival receipts) piped into every command that takes pipeline input. The piped
    /// scope is experiment A of a store the shell does not use by default; each pair either acts within A or
    /// refuses with an error, and never names, plans or changes anything of experiment B (once, a piped experiment
    /// widened Remove-Trace to the whole store). The writers run as dry runs, so the store must not change at all.
    /// </summary>
    public class PipelineMatrixTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static readonly (string Name, string Script)[] Producers =
        {
            ("traces", "Search-Trace -TrackingUri $uri -ExperimentId $a"),
            ("one trace", "Get-Trace -TrackingUri $uri -TraceId $aTrace"),
            ("experiment", "Get-ExperimentRetention -TrackingUri $uri -ExperimentId $a"),
            ("archival receipts", "Invoke-TraceArchive -TrackingUri $uri -ExperimentId $a -ConfigPath $config -PassThru -WhatIf"),
        };

        private static readonly (string Name, string Script)[] Consumers =
        {
            ("Search-Trace", "Search-Trace"),
            ("Get-Trace", "Get-Trace"),
            ("Remove-Trace", "Remove-Trace -WhatIf"),
            ("Remove-Trace by age", "Remove-Trace -OlderThan 1d -WhatIf"),
            ("Restore-Trace", "Restore-Trace -WhatIf"),
            ("Invoke-TraceArchive", "Invoke-TraceArchive -ConfigPath $config -WhatIf"),
            ("Set-TraceLegalHold", "Set-TraceLegalHold -WhatIf"),
            ("Clear-TraceLegalHold", "Clear-TraceLegalHold -WhatIf"),
            ("Get-ExperimentRetention", "Get-ExperimentRetention"),
            ("Set-ExperimentRetention", "Set-ExperimentRetention -Retention 30d -WhatIf"),
            ("Export-Trace", "Export-Trace -Path $export -Force"),
            ("Import-Trace", "Import-Trace -TrackingUri $target -ExperimentName copy -WhatIf"),
        };

        [Fact]
        public void EveryPipedScopeIsHonouredOrRefusedAndNeverWidened()
        {
            using var ts = TestStore.Generated(GeneratedStores.Revisions.Last(), Kind);
            using var target = TestStore.CreateEmpty(Kind);
            // Two active experiments with traces: A and B.
            Query.QueryTestSupport.Execute(ts, "UPDATE experiments SET lifecycle_stage = 'active'");
            var byExperiment = new Dictionary<string, List<string>>();
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var cmd = store.Command("SELECT experiment_id, request_id FROM trace_info ORDER BY timestamp_ms, request_id"))
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                {
                    string e = Convert.ToString(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!;
                    if (!byExperiment.TryGetValue(e, out var list)) byExperiment[e] = list = new List<string>();
                    list.Add(r.GetString(1));
                }
            var withTraces = byExperiment.Where(kv => kv.Value.Count >= 2).Select(kv => kv.Key).ToList();
            Assert.True(withTraces.Count >= 2, "the generated store needs two experiments with two traces each");
            string a = withTraces[0], b = withTraces[1];
            // One archived trace in each, so Restore-Trace has something in scope and something out of it.
            ArchiveTestSupport.Archive(ts, byExperiment[a][0]);
            ArchiveTestSupport.Archive(ts, byExperiment[b][0]);
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            string export = Path.Combine(target.Folder, "export.jsonl");
            var vars = new Dictionary<string, object?>
            {
                ["uri"] = ts.UriText, ["a"] = a, ["aTrace"] = byExperiment[a][1], ["config"] = config, ["export"] = export, ["target"] = target.UriText,
            };
            string before = ts.Fingerprint(), targetBefore = target.Fingerprint();

            // A shell in another folder with no default store: a command that dropped the piped store would fail.
            string elsewhere = TestStore.NewFolder();
            using var sh = new PsShell(elsewhere);
            var problems = new List<string>();
            foreach (var (producer, produce) in Producers)
            foreach (var (consumer, consume) in Consumers)
            {
                if (File.Exists(export)) File.Delete(export);
                var r = sh.Run($"$VerbosePreference = 'Continue'; {produce} | {consume}", vars);
                var evidence = new List<string> { r.HostText };
                evidence.AddRange(r.Warnings.Select(w => w.Message));
                evidence.AddRange(r.Verbose.Select(v => v.Message));
                if (File.Exists(export)) evidence.Add(File.ReadAllText(export));
                var experiments = new List<string>();
                foreach (var o in r.Output)
                {
                    if (o.Properties["TraceId"]?.Value is string id) evidence.Add(id);
                    if (o.Properties["ExperimentId"]?.Value is object e) experiments.Add(e.ToString()!);
                }
                string text = string.Join("\n", evidence);
                string pair = $"{producer} | {consumer}";
                var leaked = byExperiment[b].Where(id => text.Contains(id, StringComparison.Ordinal)).ToList();
                if (leaked.Count > 0 || experiments.Contains(b) || text.Contains($"experiment {b} '", StringComparison.Ordinal)) problems.Add($"{pair}: reached experiment {b} ({string.Join(", ", leaked)})");
                bool acted = byExperiment[a].Any(id => text.Contains(id, StringComparison.Ordinal)) || experiments.Contains(a)
                    || text.Contains($"experiment {a} '", StringComparison.Ordinal);
                if (!acted && !r.Failed) problems.Add($"{pair}: neither acted on experiment {a} nor said why not");
                if (ts.Fingerprint() != before) { problems.Add($"{pair}: changed the store"); break; }
                if (target.Fingerprint() != targetBefore) { problems.Add($"{pair}: changed the import target"); break; }
            }
            Assert.True(problems.Count == 0, string.Join("\n", problems));
        }
    }

    public class PipelineMatrixTestsOnPostgres : PipelineMatrixTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
