using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// The audit log of every command that changes a store or an archive: one JSON line per run (a dry run as a dry
    /// run), with who, what, where and exactly the traces changed; a log that cannot be written stops the command
    /// before it changes anything; no secret and no span content in it; runs that fail or are stopped midway say so
    /// and list what did change. Some tests set process environment variables, hence the collection.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class AuditLogTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        internal const string SpanMarker = "SPAN-CONTENT-MARKER-7731";

        /// <summary>tr-00..tr-NN in one experiment, from 2023 (old enough to archive), with spans whose content
        /// carries <see cref="SpanMarker"/>.</summary>
        private TestStore Store(int count, out string experimentId)
        {
            var ts = TestStore.CreateEmpty(Kind);
            string e = experimentId = ts.AddExperiment("audited");
            ts.AddTraces(Enumerable.Range(0, count).Select(i =>
            {
                var t = TestStore.MakeTrace(Id(i), e, 1_700_000_000_000 + i * 60_000L, 5, "OK", D("mlflow.traceName", "t"));
                // An id whose content bytes read back as itself, so the archived payload matches the span row.
                t.Spans = new List<Span> { MakeSpan(Id(i), "3333333333333333", "root", "CHAIN", "OK", new Dictionary<string, object?> { ["note"] = SpanMarker }) };
                return t;
            }));
            return ts;
        }

        internal static List<JsonElement> Lines(string log) =>
            File.ReadAllLines(log).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

        private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

        private static string NewLogPath() => Path.Combine(TestStore.NewFolder(), "audit.jsonl");

        [Fact]
        public void WhatIfIsLoggedAsADryRunAndTheRealRunListsExactlyTheTracesItRemoved()
        {
            using var ts = Store(6, out _);
            using var sh = new PsShell(ts);
            string log = NewLogPath();
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["log"] = log };
            string fingerprint = ts.Fingerprint();

            var dry = sh.Run("Remove-Trace -TrackingUri $uri -TraceId tr-00, tr-02, tr-04, tr-missing -AuditLogPath $log -WhatIf", vars);
            Assert.Null(dry.Terminating);
            Assert.Equal(fingerprint, ts.Fingerprint());
            var line = Assert.Single(Lines(log));
            Assert.Equal("Remove-Trace", line.GetProperty("command").GetString());
            Assert.True(line.GetProperty("dryRun").GetBoolean());
            Assert.Equal("DryRun", line.GetProperty("outcome").GetString());
            Assert.Equal(3, line.GetProperty("totals").GetProperty("planned").GetInt64());
            Assert.Equal(0, line.GetProperty("totals").GetProperty("changed").GetInt64());
            Assert.Empty(Strings(line.GetProperty("traceIds")));
            Assert.StartsWith("Remove 3 traces from the store", line.GetProperty("plan").GetString());

            var before = TraceIds(ts);
            var started = DateTimeOffset.UtcNow.AddSeconds(-1);
            var real = sh.Run("Remove-Trace -TrackingUri $uri -TraceId tr-00, tr-02, tr-04, tr-missing -AuditLogPath $log -Confirm:$false", vars);
            Assert.Null(real.Terminating);
            var removed = before.Except(TraceIds(ts)).ToList();
            Assert.Equal(new[] { "tr-00", "tr-02", "tr-04" }, removed);
            var lines = Lines(log);
            Assert.Equal(2, lines.Count);
            line = lines[1];
            Assert.Equal("Completed", line.GetProperty("outcome").GetString());
            Assert.False(line.GetProperty("dryRun").GetBoolean());
            Assert.Equal(removed, Strings(line.GetProperty("traceIds")));
            Assert.Equal(3, line.GetProperty("totals").GetProperty("approved").GetInt64());
            Assert.Equal(3, line.GetProperty("totals").GetProperty("changed").GetInt64());
            Assert.Equal(ts.Uri.Original, line.GetProperty("store").GetString());
            Assert.Equal(Environment.UserName, line.GetProperty("user").GetString());
            Assert.Equal(Environment.MachineName, line.GetProperty("machine").GetString());
            Assert.Equal(Environment.ProcessId, line.GetProperty("processId").GetInt32());
            var time = DateTimeOffset.Parse(line.GetProperty("time").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.EndsWith("Z", line.GetProperty("time").GetString());
            Assert.InRange(time, started, DateTimeOffset.UtcNow.AddSeconds(1));
            var parameters = line.GetProperty("parameters");
            Assert.Equal(new[] { "tr-00", "tr-02", "tr-04", "tr-missing" }, Strings(parameters.GetProperty("TraceId")));
            Assert.False(parameters.GetProperty("Confirm").GetBoolean());
            Assert.Equal(JsonValueKind.Null, line.GetProperty("traceIdsFile").ValueKind);
        }

        /// <summary>Each writer, dry and real: the dry run's line is a dry run and changes nothing; the real run's
        /// line lists exactly the traces whose rows changed (or the experiments it changed).</summary>
        public static IEnumerable<object[]> Writers() => new[]
        {
            new object[] { "Set-TraceLegalHold", "Set-TraceLegalHold -TrackingUri $uri -TraceId tr-01, tr-03 -AuditLogPath $log" },
            new object[] { "Clear-TraceLegalHold", "Clear-TraceLegalHold -TrackingUri $uri -TraceId tr-00, tr-01, tr-02 -AuditLogPath $log" },
            new object[] { "Clear-TraceLegalHold", "Search-Trace -TrackingUri $uri -Filter \"tag.held = 'yes'\" | Clear-TraceLegalHold -AuditLogPath $log" },
            new object[] { "Set-ExperimentRetention", "Set-ExperimentRetention -TrackingUri $uri -ExperimentId $e -Retention 30d -ArchiveNow -AuditLogPath $log" },
            new object[] { "Import-Trace", "Import-Trace -TrackingUri $other -Path $export -ExperimentName imported -AuditLogPath $log" },
            new object[] { "Import-Trace", "Get-Trace -TrackingUri $uri -TraceId tr-01, tr-04 | Import-Trace -TrackingUri $other -ExperimentName imported -AuditLogPath $log" },
            new object[] { "Invoke-TraceArchive", "Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -MaxTraces 2 -AuditLogPath $log" },
            new object[] { "Restore-Trace", "Restore-Trace -TrackingUri $uri -TraceId tr-03, tr-04 -AuditLogPath $log" },
            new object[] { "Remove-Trace", "Remove-Trace -TrackingUri $uri -Filter \"trace.timestamp_ms < 1700000120000\" -AuditLogPath $log" },
        };

        [Theory]
        [MemberData(nameof(Writers))]
        public void EveryWriterLogsItsDryRunAndExactlyWhatItsRealRunChanged(string name, string command)
        {
            using var ts = Store(5, out string e);
            using var other = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(ts);
            string log = NewLogPath();
            string export = Path.Combine(ts.Folder, "export.jsonl");
            Assert.False(sh.Run("Search-Trace -TrackingUri $uri | Export-Trace -Path $export", new Dictionary<string, object?> { ["uri"] = ts.UriText, ["export"] = export }).Failed);
            Assert.False(sh.Run("Set-TraceLegalHold -TrackingUri $uri -TraceId tr-00, tr-02 -Confirm:$false", new Dictionary<string, object?> { ["uri"] = ts.UriText }).Failed);
            using (var store = ts.Open())
                foreach (var id in new[] { "tr-00", "tr-02" }) ArchiveTestSupport.SetTag(store, id, "held", "yes");
            var vars = new Dictionary<string, object?>
            {
                ["uri"] = ts.UriText, ["log"] = log, ["e"] = e, ["other"] = other.UriText, ["export"] = export,
                ["config"] = ArchiveTestSupport.Config(ts, new Uri(ArchiveTestSupport.ArchiveRoot(ts)).AbsoluteUri),
            };
            if (name == "Restore-Trace") Assert.False(sh.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -Confirm:$false", vars).Failed);
            bool import = name == "Import-Trace";
            var target = import ? other : ts;
            string fingerprint = ts.Fingerprint(), otherFingerprint = other.Fingerprint();
            var before = PerTrace(target);

            var dry = sh.Run(command + " -WhatIf", vars);
            Assert.Null(dry.Terminating);
            Assert.Equal(fingerprint, ts.Fingerprint());
            Assert.Equal(otherFingerprint, other.Fingerprint());
            var line = Assert.Single(Lines(log));
            Assert.Equal(name, line.GetProperty("command").GetString());
            Assert.Equal("DryRun", line.GetProperty("outcome").GetString());
            Assert.True(line.GetProperty("dryRun").GetBoolean());
            Assert.True(line.GetProperty("totals").GetProperty("planned").GetInt64() > 0, string.Join("\n", dry.Errors));
            Assert.Empty(Strings(line.GetProperty("traceIds")));
            Assert.Empty(Strings(line.GetProperty("experimentIds")));
            Assert.Equal(target.Uri.Original, line.GetProperty("store").GetString());

            var real = sh.Run(command + " -Confirm:$false", vars);
            Assert.Null(real.Terminating);
            Assert.True(real.Errors.Count == 0, string.Join("\n", real.Errors.Select(x => x.ToString())));
            var lines = Lines(log);
            Assert.Equal(2, lines.Count);
            line = lines[1];
            Assert.Equal(name, line.GetProperty("command").GetString());
            Assert.Equal("Completed", line.GetProperty("outcome").GetString());
            Assert.Equal(target.Uri.Original, line.GetProperty("store").GetString());
            Assert.Equal(line.GetProperty("runId").GetString()!.Length, 32);
            Assert.NotEqual(lines[0].GetProperty("runId").GetString(), line.GetProperty("runId").GetString());
            if (name == "Set-ExperimentRetention")
            {
                Assert.Equal(new[] { e }, Strings(line.GetProperty("experimentIds")));
                Assert.Empty(Strings(line.GetProperty("traceIds")));
                Assert.NotEqual(fingerprint, ts.Fingerprint());
                return;
            }
            var after = PerTrace(target);
            var changed = before.Keys.Union(after.Keys).Where(id => before.GetValueOrDefault(id) != after.GetValueOrDefault(id)).OrderBy(x => x, StringComparer.Ordinal).ToList();
            Assert.NotEmpty(changed);
            Assert.Equal(changed, Strings(line.GetProperty("traceIds")).OrderBy(x => x, StringComparer.Ordinal));
            Assert.Equal(changed.Count, line.GetProperty("totals").GetProperty("changed").GetInt64());
            Assert.Equal(changed.Count, line.GetProperty("totals").GetProperty("approved").GetInt64());
        }

        /// <summary>Per trace id, everything the store holds for it (its row, tags, metadata, spans' content).</summary>
        internal static Dictionary<string, string> PerTrace(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            var rows = new Dictionary<string, string>(StringComparer.Ordinal);
            void Add(string sql)
            {
                using var cmd = store.Command(sql);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                    rows[r.GetString(0)] = rows.GetValueOrDefault(r.GetString(0)) + "|" + string.Join(",", Enumerable.Range(1, r.FieldCount - 1).Select(i => Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)));
            }
            Add("SELECT request_id, status, timestamp_ms FROM trace_info ORDER BY request_id");
            Add("SELECT request_id, \"key\", value FROM trace_tags ORDER BY request_id, \"key\"");
            Add("SELECT request_id, \"key\", value FROM trace_request_metadata ORDER BY request_id, \"key\"");
            Add("SELECT trace_id, span_id, content FROM spans ORDER BY trace_id, span_id");
            return rows;
        }
    }

    public class AuditLogTestsOnPostgres : AuditLogTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
