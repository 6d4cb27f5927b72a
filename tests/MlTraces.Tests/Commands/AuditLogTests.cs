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

        /// <summary>A store for one writer's command: tr-00..tr-04 (tr-00 and tr-02 held and tagged held = yes, an
        /// export of all five beside it, all archived for Restore-Trace), an empty second store, and the variables
        /// the commands use.</summary>
        private sealed class WriterCase : IDisposable
        {
            public readonly TestStore Store, Other;
            public readonly PsShell Shell;
            public readonly Dictionary<string, object?> Vars;
            public readonly string Log, Experiment;

            public WriterCase(AuditLogTests test, string name)
            {
                Store = test.Store(5, out Experiment);
                Other = TestStore.CreateEmpty(test.Kind);
                Shell = new PsShell(Store);
                Log = NewLogPath();
                string export = Path.Combine(Store.Folder, "export.jsonl");
                Vars = new Dictionary<string, object?>
                {
                    ["uri"] = Store.UriText, ["log"] = Log, ["e"] = Experiment, ["other"] = Other.UriText, ["export"] = export,
                    ["config"] = ArchiveTestSupport.Config(Store, new Uri(ArchiveTestSupport.ArchiveRoot(Store)).AbsoluteUri),
                };
                Assert.False(Shell.Run("Search-Trace -TrackingUri $uri | Export-Trace -Path $export", Vars).Failed);
                Assert.False(Shell.Run("Set-TraceLegalHold -TrackingUri $uri -TraceId tr-00, tr-02 -Confirm:$false", Vars).Failed);
                using (var store = Store.Open())
                    foreach (var id in new[] { "tr-00", "tr-02" }) ArchiveTestSupport.SetTag(store, id, "held", "yes");
                if (name == "Restore-Trace") Assert.False(Shell.Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -Confirm:$false", Vars).Failed);
            }

            /// <summary>Both stores and the archive, as one string that changes when any of them does.</summary>
            public string Fingerprint() => Store.Fingerprint() + "\n" + Other.Fingerprint() + "\n" +
                (Directory.Exists(ArchiveTestSupport.ArchiveRoot(Store))
                    ? string.Join("\n", Directory.GetFiles(ArchiveTestSupport.ArchiveRoot(Store), "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).Select(f => f + ":" + Sha(f)))
                    : "");

            public void Dispose()
            {
                Shell.Dispose();
                Other.Dispose();
                Store.Dispose();
            }
        }

        [Theory]
        [MemberData(nameof(Writers))]
        public void EveryWriterLogsItsDryRunAndExactlyWhatItsRealRunChanged(string name, string command)
        {
            using var c = new WriterCase(this, name);
            var (ts, other, sh, vars, log, e) = (c.Store, c.Other, c.Shell, c.Vars, c.Log, c.Experiment);
            bool import = name == "Import-Trace";
            var target = import ? other : ts;
            string fingerprint = c.Fingerprint();
            var before = PerTrace(target);

            var dry = sh.Run(command + " -WhatIf", vars);
            Assert.Null(dry.Terminating);
            Assert.Equal(fingerprint, c.Fingerprint());
            var line = Assert.Single(Lines(log));
            Assert.Equal(name, line.GetProperty("command").GetString());
            Assert.Equal("DryRun", line.GetProperty("outcome").GetString());
            Assert.True(line.GetProperty("dryRun").GetBoolean());
            Assert.True(line.GetProperty("totals").GetProperty("planned").GetInt64() > 0, string.Join("\n", dry.Errors));
            Assert.Empty(Strings(line.GetProperty("traceIds")));
            Assert.Empty(Strings(line.GetProperty("experimentIds")));
            Assert.Equal(target.Uri.Original, line.GetProperty("store").GetString());

            var contentBytes = ContentBytes(target);
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
                Assert.NotEqual(fingerprint, c.Fingerprint());
                return;
            }
            var after = PerTrace(target);
            var changed = before.Keys.Union(after.Keys).Where(id => before.GetValueOrDefault(id) != after.GetValueOrDefault(id)).OrderBy(x => x, StringComparer.Ordinal).ToList();
            Assert.NotEmpty(changed);
            Assert.Equal(changed, Strings(line.GetProperty("traceIds")).OrderBy(x => x, StringComparer.Ordinal));
            Assert.Equal(changed.Count, line.GetProperty("totals").GetProperty("changed").GetInt64());
            Assert.Equal(changed.Count, line.GetProperty("totals").GetProperty("approved").GetInt64());
            if (name == "Invoke-TraceArchive")
                Assert.Equal(changed.Sum(id => contentBytes[id]), line.GetProperty("totals").GetProperty("archivedBytes").GetInt64());
        }

        /// <summary>Per trace id, the UTF-8 bytes of its spans' content (what an archival pass moves).</summary>
        private static Dictionary<string, long> ContentBytes(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT trace_id, content FROM spans");
            using var r = cmd.ExecuteReader();
            var bytes = new Dictionary<string, long>(StringComparer.Ordinal);
            while (r.Read()) bytes[r.GetString(0)] = bytes.GetValueOrDefault(r.GetString(0)) + System.Text.Encoding.UTF8.GetByteCount(r.GetString(1));
            return bytes;
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

        /// <summary>Each writer with a log it cannot write, in turn: a folder, a path under a file, a folder that
        /// does not exist, $env:MLTRACES_AUDIT_LOG naming a folder (no parameter), a file that is not a log (the
        /// SQLite store itself), and a FIFO. The command stops before it reads or changes anything, says why, and the
        /// stores, the archive and the file named are as they were.</summary>
        public static IEnumerable<object[]> UnwritableLogs() => Writers().Select((w, i) => new[] { w[0], w[1], (object)(i % 6) });

        [Theory]
        [MemberData(nameof(UnwritableLogs))]
        public void ALogThatCannotBeWrittenStopsTheCommandBeforeItChangesAnything(string name, string command, int variant)
        {
            using var c = new WriterCase(this, name);
            string folder = Path.GetDirectoryName(c.Log)!;
            string file = Path.Combine(folder, "a-file");
            File.WriteAllText(file, "not a folder");
            string bad = variant switch
            {
                0 => folder,
                1 => Path.Combine(file, "audit.jsonl"),
                2 => Path.Combine(folder, "missing", "audit.jsonl"),
                3 => folder,
                4 when Kind == StoreKind.Sqlite => c.Store.Path,
                4 => file,
                _ => Path.Combine(folder, "fifo"),
            };
            if (variant == 5) Attack.PathAttackTests.Mkfifo(bad);
            string? old = Environment.GetEnvironmentVariable("MLTRACES_AUDIT_LOG");
            if (variant == 3)
            {
                Environment.SetEnvironmentVariable("MLTRACES_AUDIT_LOG", bad);
                command = command.Replace(" -AuditLogPath $log", "");
            }
            else c.Vars["log"] = bad;
            string fingerprint = c.Fingerprint();
            try
            {
                var r = c.Shell.Run(command + " -Confirm:$false", c.Vars);
                // A statement-terminating error: the script's error stream holds it.
                var error = Assert.Single(r.Errors);
                Assert.StartsWith("AuditLogUnavailable", error.FullyQualifiedErrorId);
                Assert.Contains(bad, error.Exception.Message);
                Assert.Contains("Nothing was changed", error.Exception.Message);
                Assert.Empty(r.Output);
            }
            finally
            {
                Environment.SetEnvironmentVariable("MLTRACES_AUDIT_LOG", old);
            }
            Assert.Equal(fingerprint, c.Fingerprint());
            Assert.False(Directory.Exists(Path.Combine(folder, "missing")));
            Assert.Equal("not a folder", File.ReadAllText(file));
        }

        /// <summary>Passwords in tracking URIs (the store's own on PostgreSQL, and one of a server that is not
        /// there), a credential, secrets in the environment echoed in a filter, and span content that a command
        /// reads, deletes and imports: none of it reaches the log, which still has a line for every run.</summary>
        [Fact]
        public void NoSecretAndNoSpanContentReachTheLog()
        {
            using var ts = Store(4, out string e);
            using var other = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(ts);
            string log = NewLogPath();
            var secrets = new Dictionary<string, string>
            {
                ["AWS_SECRET_ACCESS_KEY"] = "AwsSecretValue-91827364",
                ["AWS_SESSION_TOKEN"] = "AwsSessionToken-55443322",
                ["AZURE_STORAGE_CONNECTION_STRING"] = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=AzureAccountKey0123456789==;EndpointSuffix=core.windows.net",
                ["PGPASSWORD"] = "PgPasswordFromEnv-24680",
            };
            var old = secrets.Keys.ToDictionary(k => k, Environment.GetEnvironmentVariable);
            string credentialPassword = "CredentialPassword-13579";
            string uriPassword = "UriPassword-4242";
            var vars = new Dictionary<string, object?>
            {
                ["uri"] = ts.UriText, ["other"] = other.UriText, ["log"] = log, ["e"] = e,
                ["nowhere"] = $"postgresql://admin:{uriPassword}@127.0.0.1:1/none?connect_timeout=2",
                ["cred"] = new System.Management.Automation.PSCredential("someone", new System.Net.NetworkCredential("", credentialPassword).SecurePassword),
                ["aws"] = secrets["AWS_SECRET_ACCESS_KEY"],
            };
            try
            {
                foreach (var kv in secrets) Environment.SetEnvironmentVariable(kv.Key, kv.Value);
                sh.Run("Remove-Trace -TrackingUri $uri -Filter \"tag.k = '$aws'\" -AuditLogPath $log -Confirm:$false", vars);
                sh.Run("Remove-Trace -TrackingUri $uri -TraceId tr-00 -AuditLogPath $log -Confirm:$false", vars);
                sh.Run("Get-Trace -TrackingUri $uri -TraceId tr-01, tr-02 | Import-Trace -TrackingUri $other -ExperimentName copied -AuditLogPath $log -Confirm:$false", vars);
                sh.Run("Remove-Trace -TrackingUri $nowhere -TraceId tr-01 -AuditLogPath $log -Confirm:$false", vars);
                sh.Run("Set-TraceLegalHold -TrackingUri $uri -TraceId tr-03 -Credential $cred -AuditLogPath $log -Confirm:$false", vars);
                sh.Run("Set-ExperimentRetention -TrackingUri $uri -ExperimentId $e -Retention 7d -Credential $cred -AuditLogPath $log -Confirm:$false", vars);
            }
            finally
            {
                foreach (var kv in old) Environment.SetEnvironmentVariable(kv.Key, kv.Value);
            }
            string text = File.ReadAllText(log);
            var lines = Lines(log);
            Assert.Equal(6, lines.Count);
            Assert.Equal(new[] { "Completed", "Completed", "Completed", "Failed", "Failed", "Failed" }, lines.Select(l => l.GetProperty("outcome").GetString()));
            Assert.Equal(new[] { "tr-00" }, Strings(lines[1].GetProperty("traceIds")));
            Assert.Equal(new[] { "tr-01", "tr-02" }, Strings(lines[2].GetProperty("traceIds")));
            Assert.Contains("127.0.0.1:1", lines[3].GetProperty("store").GetString() ?? lines[3].GetProperty("parameters").GetProperty("TrackingUri").GetString());
            Assert.Contains("someone", lines[4].GetProperty("parameters").GetProperty("Credential").GetString());
            var forbidden = secrets.Values.Concat(new[] { credentialPassword, uriPassword, "AzureAccountKey0123456789", SpanMarker }).ToList();
            if (Kind == StoreKind.Postgres) forbidden.Add(ts.UriText.Split("://")[1].Split('@')[0].Split(':')[1]);
            foreach (var secret in forbidden) Assert.DoesNotContain(secret, text);
        }

        /// <summary>Ctrl+C in the middle of a deletion: the line says Stopped, and lists exactly the traces that were
        /// deleted before it (every batch that committed), no more and no fewer.</summary>
        [Fact]
        public void ARunStoppedMidwayIsLoggedAsStoppedWithExactlyWhatItChanged()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string e = ts.AddExperiment("many");
            ts.AddTraces(Enumerable.Range(0, 3000).Select(i => TestStore.MakeTrace($"tr-{i:D5}", e, 1000 + i)));
            var before = TraceIds(ts);
            string log = NewLogPath();
            string? old = Environment.GetEnvironmentVariable("MLTRACES_DELETE_BATCH_SIZE");
            Environment.SetEnvironmentVariable("MLTRACES_DELETE_BATCH_SIZE", "50");
            try
            {
                using var sh = new PsShell(ts.Folder);
                var run = Task.Run(() => sh.Run("Remove-Trace -TrackingUri $uri -Before ([DateTime]::MaxValue) -AuditLogPath $log -Confirm:$false",
                    new Dictionary<string, object?> { ["uri"] = ts.UriText, ["log"] = log }));
                ShellProcess.WaitFor(() => ts.Scalar("SELECT count(*) FROM trace_info") < 3000, "the first batch");
                Assert.True(sh.Session.Stop());
                Assert.True(run.Result.Stopped);
            }
            finally
            {
                Environment.SetEnvironmentVariable("MLTRACES_DELETE_BATCH_SIZE", old);
            }
            var removed = before.Except(TraceIds(ts)).ToList();
            Assert.InRange(removed.Count, 50, 2950);
            var line = Assert.Single(Lines(log));
            Assert.Equal("Stopped", line.GetProperty("outcome").GetString());
            Assert.Equal(3000, line.GetProperty("totals").GetProperty("approved").GetInt64());
            Assert.Equal(removed, Strings(line.GetProperty("traceIds")).OrderBy(x => x, StringComparer.Ordinal));
        }

        /// <summary>An error that ends a run midway (-ErrorAction Stop on the import of a trace that is there
        /// already, after a batch was committed): the line says Failed and lists every trace that was imported,
        /// also those committed in the same batch as the failing one.</summary>
        [Fact]
        public void ARunThatFailsMidwayIsLoggedAsFailedWithExactlyWhatItChanged()
        {
            using var source = Store(150, out _);
            using var target = TestStore.CreateEmpty(Kind);
            string te = target.AddExperiment("target");
            target.AddTraces(new[] { TestStore.MakeTrace("tr-120", te, 1) });
            using var sh = new PsShell(source);
            string log = NewLogPath();
            var before = TraceIds(target);
            var vars = new Dictionary<string, object?> { ["uri"] = source.UriText, ["other"] = target.UriText, ["log"] = log };
            var r = sh.Run("Search-Trace -TrackingUri $uri -OrderBy 'timestamp_ms ASC' | Import-Trace -TrackingUri $other -ExperimentName target -AuditLogPath $log -ErrorAction Stop", vars);
            Assert.NotNull(r.Terminating);
            var imported = TraceIds(target).Except(before).ToList();
            Assert.InRange(imported.Count, 101, 149);
            var line = Assert.Single(Lines(log));
            Assert.Equal("Failed", line.GetProperty("outcome").GetString());
            Assert.NotEqual(JsonValueKind.Null, line.GetProperty("error").ValueKind);
            Assert.Equal(imported, Strings(line.GetProperty("traceIds")).OrderBy(x => x, StringComparer.Ordinal));
        }

        /// <summary>A log that could be written when the command began but not when it ended (replaced by a folder
        /// while the ids were piped in): the command does not end in success; its error says the line is missing and
        /// names the store and every trace it removed.</summary>
        [Fact]
        public void ALineThatCannotBeWrittenAtTheEndIsAnErrorThatNamesWhatChanged()
        {
            using var ts = Store(4, out _);
            using var sh = new PsShell(ts);
            string log = NewLogPath();
            var r = sh.Run("& { 'tr-00'; [IO.File]::Delete($log); [void][IO.Directory]::CreateDirectory($log); 'tr-02' } | " +
                           "Remove-Trace -TrackingUri $uri -AuditLogPath $log -Confirm:$false",
                new Dictionary<string, object?> { ["uri"] = ts.UriText, ["log"] = log });
            Assert.Equal(new[] { "tr-01", "tr-03" }, TraceIds(ts));
            var error = Assert.Single(r.Errors);
            Assert.StartsWith("AuditLogWriteFailed", error.FullyQualifiedErrorId);
            Assert.Contains(log, error.Exception.Message);
            Assert.Contains(ts.Uri.Original, error.Exception.Message);
            Assert.Contains("2 trace(s)", error.Exception.Message);
            Assert.Contains("tr-00, tr-02", error.Exception.Message);
            Assert.True(Directory.Exists(log));
        }

        /// <summary>A run that changed more traces than a line holds: the line names a side file with exactly
        /// those ids, one a line.</summary>
        [Fact]
        public void ManyChangedTracesGoToASideFileTheLineNames()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string e = ts.AddExperiment("many");
            ts.AddTraces(Enumerable.Range(0, 1200).Select(i => TestStore.MakeTrace($"tr-{i:D5}", e, 1000 + i)));
            using var sh = new PsShell(ts);
            string log = NewLogPath();
            var before = TraceIds(ts);
            var r = sh.Run("Remove-Trace -TrackingUri $uri -MaxTraces 1100 -Before ([DateTime]::MaxValue) -AuditLogPath $log -Confirm:$false",
                new Dictionary<string, object?> { ["uri"] = ts.UriText, ["log"] = log });
            Assert.False(r.Failed);
            var removed = before.Except(TraceIds(ts)).ToList();
            Assert.Equal(1100, removed.Count);
            var line = Assert.Single(Lines(log));
            Assert.Empty(Strings(line.GetProperty("traceIds")));
            Assert.Equal(1100, line.GetProperty("totals").GetProperty("changed").GetInt64());
            string side = line.GetProperty("traceIdsFile").GetString()!;
            Assert.Equal(Path.GetDirectoryName(log), Path.GetDirectoryName(side));
            Assert.StartsWith(Path.GetFileName(log) + ".", Path.GetFileName(side));
            Assert.Equal(removed, File.ReadAllLines(side).OrderBy(x => x, StringComparer.Ordinal));
        }
    }

    public class AuditLogTestsOnPostgres : AuditLogTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
