using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>Counts the commands report say what they count: SpanCount is not 0 for spans never read, and the
    /// archive plan, the archive result, the restore plan and the restore receipt give one byte count per trace.</summary>
    public class ReportedCountsTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static string Samples() => Path.Combine(ModuleManifest.RepoRoot, "samples", "traces.jsonl");

        /// <summary>The samples in a new store, the first trace's text made non-ASCII so bytes and characters differ.</summary>
        private TestStore SampleStore(out Dictionary<string, object?> vars)
        {
            var ts = TestStore.CreateEmpty(Kind);
            var lines = File.ReadAllLines(Samples());
            lines[0] = lines[0].Replace("Draft a reply", "Draft a r\u00e9ply \u2013 \u6771\u4eac \u2713");
            string file = Path.Combine(ts.Folder, "samples.jsonl");
            File.WriteAllLines(file, lines);
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["file"] = file, ["config"] = config };
            using var sh = new PsShell(ts);
            var r = sh.Run("Import-Trace -TrackingUri $uri -Path $file -ExperimentName samples", vars);
            Assert.Empty(r.Errors);
            return ts;
        }

        [Fact]
        public void SpanCountIsNullAndSpansLoadedFalseWhenSpansWereNotRead()
        {
            using var ts = SampleStore(out var vars);
            using var sh = new PsShell(ts);
            var searched = sh.Objects<Trace>("Search-Trace -TrackingUri $uri -First 5", vars);
            Assert.All(searched, t => { Assert.Null(t.SpanCount); Assert.False(t.SpansLoaded); });
            var withSpans = sh.Objects<Trace>("Search-Trace -TrackingUri $uri -First 5 -IncludeSpans", vars);
            Assert.All(withSpans, t => { Assert.True(t.SpanCount > 0); Assert.True(t.SpansLoaded); Assert.Equal(t.Spans!.Count, t.SpanCount); });
            Assert.All(sh.Objects<Trace>("Search-Trace -TrackingUri $uri -First 2 | Get-Trace", vars), t => Assert.True(t.SpanCount > 0));
            Assert.All(sh.Objects<Trace>("Search-Trace -TrackingUri $uri -First 2 | Get-Trace -ExcludeSpans", vars), t => Assert.Null(t.SpanCount));
            // (What a person sees in a console, the list view's "(not loaded)", is tested in tests/Views.Tests.ps1.)
        }

        private static Dictionary<string, long> BytesPerTrace(string hostText, string pattern) =>
            Regex.Matches(hostText, pattern).ToDictionary(m => m.Groups["id"].Value,
                m => long.Parse(m.Groups["bytes"].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture));

        [Fact]
        public void ArchiveAndRestoreCountTheSameBytesForTheSameTraces()
        {
            using var ts = SampleStore(out var vars);
            using var sh = new PsShell(ts);
            // The span content of each trace, as UTF-8, read before anything moves: the count each report must give.
            var content = new Dictionary<string, long>();
            using (var store = ts.Open(StoreAccess.ReadOnly))
            using (var cmd = store.Command("SELECT trace_id, content FROM spans"))
            using (var r = cmd.ExecuteReader())
                while (r.Read()) content[r.GetString(0)] = content.GetValueOrDefault(r.GetString(0)) + System.Text.Encoding.UTF8.GetByteCount(r.GetString(1));
            string first = "tr-acb74a8dfda60658ed0638430937976c";
            Assert.True(content[first] > 0);

            var plan = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 6 -WhatIf", vars);
            var planned = BytesPerTrace(plan.HostText, "\"Archive trace\" on target \"trace (?<id>tr-[0-9a-f]+) \\([^\"]*, (?<bytes>[0-9,]+) bytes of span content\\)");
            Assert.Equal(6, planned.Count);
            Assert.Contains(first, planned.Keys);

            var archived = sh.Objects<ArchivalReceipt>("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 6 -PassThru -Confirm:$false", vars)
                .ToDictionary(r => r.TraceId, r => r.PayloadBytes);
            var files = archived.Keys.ToDictionary(id => id, id => new FileInfo(Directory.GetFiles(Path.Combine(ts.Folder, "archive"), "traces.pb", SearchOption.AllDirectories)
                .Single(f => f.Contains(id, StringComparison.Ordinal))).Length);

            var restorePlan = sh.Run("Restore-Trace -TrackingUri $uri -ExperimentName samples -WhatIf", vars);
            var restorePlanned = BytesPerTrace(restorePlan.HostText, "\"Restore trace\" on target \"(?<id>tr-[0-9a-f]+) \\([^\"]*spans, (?<bytes>[0-9,]+) bytes of span content from [^\"]* \\((?<file>[0-9,]+) bytes in traces\\.pb\\)\\)");
            Assert.Contains($" spans, {archived.Values.Sum():N0} bytes of span content) into the store", restorePlan.HostText);

            var restored = sh.Objects<RestoreReceipt>("Restore-Trace -TrackingUri $uri -ExperimentName samples -PassThru -Confirm:$false", vars);
            var expected = archived.Keys.OrderBy(k => k).ToDictionary(id => id, id => content[id]);
            Assert.Equal(expected, planned.OrderBy(k => k.Key).ToDictionary(k => k.Key, k => k.Value));
            Assert.Equal(expected, archived.OrderBy(k => k.Key).ToDictionary(k => k.Key, k => k.Value));
            Assert.Equal(expected, restorePlanned.OrderBy(k => k.Key).ToDictionary(k => k.Key, k => k.Value));
            Assert.Equal(expected, restored.OrderBy(r => r.TraceId).ToDictionary(r => r.TraceId, r => r.PayloadBytes));
            // The file is counted apart, under its own name: traces.pb's size.
            Assert.Equal(files.OrderBy(k => k.Key), restored.OrderBy(r => r.TraceId).Select(r => new KeyValuePair<string, long>(r.TraceId, r.ArchiveFileBytes)));
            Assert.NotEqual(content[first], files[first]);
        }

        /// <summary>The archive plan's line (the dry run's confirmation, the real run's Verbose line and audit plan)
        /// counts the bytes of the traces offered, also when every upload then fails: it said "0 bytes" then.</summary>
        [Fact]
        public void TheArchivePlanLineCountsThePlannedBytesEvenWhenEveryTraceFails()
        {
            using var ts = SampleStore(out var vars);
            using var sh = new PsShell(ts);
            // The archive folder cannot be made: a file stands where it would go.
            File.WriteAllText(Path.Combine(ts.Folder, "archive"), "not a folder");
            var plan = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 3 -WhatIf", vars);
            var line = Regex.Match(plan.HostText, "Archive 3 trace\\(s\\) with (?<bytes>[0-9,]+) bytes of span content");
            Assert.True(line.Success, plan.HostText);
            Assert.NotEqual("0", line.Groups["bytes"].Value);

            var r = sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 3 -Confirm:$false -Verbose", vars);
            Assert.Equal(3, r.Errors.Count);
            Assert.Contains(r.Verbose, v => v.Message.StartsWith(line.Value, StringComparison.Ordinal));
        }
    }

    public class ReportedCountsTestsOnPostgres : ReportedCountsTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
