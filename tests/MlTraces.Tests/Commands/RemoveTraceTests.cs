using MlTraces.Core.Store;
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Commands
{
    public class RemoveTraceTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        // Twelve rich traces one minute apart, the oldest 60.5 minutes old: -OlderThan 55m takes tr-00..tr-05.
        private TestStore Store(out long start)
        {
            start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_630_000;
            return RichStore(12, out _, start);
        }

        public static IEnumerable<object[]> Forms() => new[]
        {
            new object[] { "Remove-Trace -TrackingUri $uri -TraceId tr-01, tr-03, tr-05, tr-missing" },
            new object[] { "'tr-02', 'tr-04' | Remove-Trace -TrackingUri $uri" },
            new object[] { "[pscustomobject]@{ RequestId = 'tr-06' }, [pscustomobject]@{ TraceId = 'tr-07' } | Remove-Trace -TrackingUri $uri" },
            new object[] { "Search-Trace -TrackingUri $uri -Filter \"name LIKE '%1%'\" | Remove-Trace" },
            new object[] { "Remove-Trace -TrackingUri $uri -InputObject (Search-Trace -TrackingUri $uri -Filter \"name = 'name-tr-09'\")" },
            new object[] { "Remove-Trace -TrackingUri $uri -ExperimentName rich -Before ([DateTimeOffset]::FromUnixTimeMilliseconds($start + 3 * 60000).UtcDateTime)" },
            new object[] { "Remove-Trace -TrackingUri $uri -OlderThan 55m" },
            new object[] { "Remove-Trace -TrackingUri $uri -OlderThan ([TimeSpan]::FromMinutes(58)) -MaxTraces 2" },
            new object[] { "Remove-Trace -TrackingUri $uri -Filter \"name LIKE '%0%'\"" },
            new object[] { "Remove-Trace -TrackingUri $uri -Filter \"span.type = 'LLM'\" -MaxTraces 5 -ExperimentId 1" },
        };

        [Theory]
        [MemberData(nameof(Forms))]
        public void WhatIfChangesNothingAndListsExactlyWhatTheRealRunDeletes(string command)
        {
            using var ts = Store(out long start);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["start"] = start };
            var before = Snapshot(ts);
            string hash = ts.Fingerprint();

            var dry = sh.Run(command + " -WhatIf", vars);
            Assert.Empty(dry.Errors);
            Assert.Empty(dry.Output);
            Assert.Equal(hash, ts.Fingerprint());
            var listed = WhatIfIds(dry.HostText);
            Assert.NotEmpty(listed);
            Assert.Contains($"What if: Remove {listed.Count} trace", dry.HostText);

            var real = sh.Run(command + " -Confirm:$false", vars);
            Assert.Empty(real.Errors);
            var deleted = before.Keys.Except(TraceIds(ts)).OrderBy(id => id, StringComparer.Ordinal).ToList();
            Assert.Equal(listed.OrderBy(id => id, StringComparer.Ordinal), deleted);
            AssertConsistent(ts, before);
        }

        [Fact]
        public void PassThruWritesOneReceiptPerRequestedTraceWithWhatWentWithIt()
        {
            using var ts = Store(out _);
            using var sh = new PsShell(ts);
            var quiet = sh.Run("Remove-Trace -TrackingUri $uri -TraceId tr-00 -Confirm:$false", new Dictionary<string, object?> { ["uri"] = ts.UriText });
            Assert.Empty(quiet.Output);
            var r = sh.Run("Remove-Trace -TrackingUri $uri -TraceId tr-01, tr-00, tr-02, tr-01 -Confirm:$false -PassThru", new Dictionary<string, object?> { ["uri"] = ts.UriText });
            Assert.Empty(r.Errors);
            var receipts = r.Output.Select(o => (DeletionReceipt)o.BaseObject).ToList();
            Assert.Equal(new[] { "tr-00", "tr-01", "tr-02" }, receipts.Select(x => x.TraceId).OrderBy(x => x));
            var gone = receipts.Single(x => x.TraceId == "tr-00");
            Assert.False(gone.Deleted);
            Assert.Equal(DeletionStatus.NotFound, gone.Status);
            var one = receipts.Single(x => x.TraceId == "tr-01");
            Assert.True(one.Deleted);
            Assert.Equal((2, 1, 2, 2, 1, 1), (one.Spans, one.Assessments, one.Metrics, one.Associations, one.Metadata, one.Tags));
            Assert.Equal(ts.Path, one.TrackingUri);
            Assert.Contains("tr-00", Assert.Single(r.Warnings).Message);
            // The count a script needs, without parsing text.
            Assert.Equal(2, receipts.Count(x => x.Deleted));

            // In a console the receipts are a table a person scans.
            Execute(ts, "INSERT INTO trace_tags (\"key\", value, request_id) VALUES ('mlflow.artifactLocation', 's3://b/1/traces/tr-03/artifacts', 'tr-03')");
            sh.Session.RunInteractive($"Remove-Trace -TrackingUri '{ts.Path}' -TraceId tr-03 -Confirm:$false -PassThru -WarningAction SilentlyContinue");
            string text = System.Text.RegularExpressions.Regex.Replace(sh.Session.HostText, "\u001b\\[[0-9;]*m", "");
            var table = text.Split('\n').SkipWhile(l => !l.StartsWith("TraceId")).Take(3).ToList();
            // (120 columns: what went first, then the rest; the time in UTC, marked Z, as -WhatIf shows it.)
            Assert.Matches(@"^TraceId +Status +Spans +Files +Assess +Links +Exp +RequestTime *$", table[0]);
            Assert.Matches(@"^tr-03 +Deleted +2 +1 left behind +1 +2 +1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ *$", table[2].TrimEnd('\r'));
        }

        [Fact]
        public void ProgressCompletesAndConfirmAsksPerTraceWithYesToAll()
        {
            using var ts = Store(out _);
            using (var sh = new PsShell(ts, input: "y\nn\na\n"))
            {
                var r = sh.Run("Remove-Trace -TrackingUri $uri -OlderThan 55m -PassThru", new Dictionary<string, object?> { ["uri"] = ts.UriText });
                Assert.Empty(r.Errors);
                // ConfirmImpact High: asked without -Confirm. Yes, No, then Yes to All for the remaining four.
                Assert.Equal(3, r.HostText.Split("Are you sure you want to perform this action?").Length - 1);
                Assert.Contains("tr-00 (experiment 1 'rich', ", r.HostText);
                Assert.Equal(new[] { "tr-00", "tr-02", "tr-03", "tr-04", "tr-05" }, r.Output.Select(o => ((DeletionReceipt)o.BaseObject).TraceId));
                Assert.Contains("tr-01", TraceIds(ts));
                Assert.Equal(ProgressRecordType.Completed, r.Progress.Last().RecordType);
                Assert.Contains(r.Progress, p => p.PercentComplete == 100);
            }
            using (var sh = new PsShell(ts, input: "l\n"))
            {
                var r = sh.Run("Remove-Trace -TrackingUri $uri -TraceId tr-06, tr-07 -Confirm", new Dictionary<string, object?> { ["uri"] = ts.UriText });
                Assert.Empty(r.Errors);
                Assert.Contains("tr-06", TraceIds(ts));
                Assert.Contains("tr-07", TraceIds(ts));
            }
        }

        [Theory]
        [InlineData("-TraceId ''", "A trace id is empty")]
        [InlineData("-TraceId 'tr-*'", "not wildcards")]
        [InlineData("-TraceId \"tr-1'; DROP TABLE trace_info; --\"", "which no MLflow trace id has")]
        [InlineData("-TraceId ('t' * 51)", "51 characters long")]
        [InlineData("-ExperimentId 1", "Either `max_timestamp_millis` or `trace_ids` must be specified.")]
        [InlineData("-TraceId tr-1 -Before ([DateTime]::UtcNow)", "Only one of `max_timestamp_millis` and `trace_ids` can be specified.")]
        [InlineData("-TraceId tr-1 -OlderThan 1d", "Only one of `max_timestamp_millis` and `trace_ids` can be specified.")]
        [InlineData("-TraceId tr-1 -MaxTraces 5", "`max_traces` can't be specified if `trace_ids` is specified.")]
        [InlineData("-OlderThan 1d -MaxTraces 0", "`max_traces` must be a positive integer, received 0.")]
        [InlineData("-Filter \"status = 'OK'\" -MaxTraces -3", "`max_traces` must be a positive integer, received -3.")]
        [InlineData("-OlderThan 30s", "Expected a duration in the form `<int><unit>`")]
        [InlineData("-OlderThan 30", "Expected a duration in the form `<int><unit>`")]
        [InlineData("-OlderThan 1.5d", "Expected a duration in the form `<int><unit>`")]
        [InlineData("-OlderThan ('9' * 33 + 'd')", "Maximum length is 32 characters.")]
        [InlineData("-Before ([DateTime]::UtcNow) -OlderThan 1d", "not both")]
        [InlineData("-Filter 'invalid'", "Invalid clause(s) in filter string")]
        public void BadInputIsRefusedBeforeTheStoreIsTouched(string args, string message)
        {
            string folder = TestStore.NewFolder();
            try
            {
                using var sh = new PsShell(folder);
                var r = sh.Run("Remove-Trace -TrackingUri sqlite:///absent.db -Confirm:$false " + args);
                var error = Assert.Single(r.Errors);
                Assert.Contains(message, error.Exception.Message);
                // A duration PowerShell cannot bind is its own binding error (InvalidData); ours are InvalidArgument.
                if (!(error.Exception is ParameterBindingException))
                    Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
                Assert.False(File.Exists(Path.Combine(folder, "absent.db")));
            }
            finally { Directory.Delete(folder, true); }
        }

        /// <summary>MLflow's test_delete_traces cases (§8.2), through the cmdlet.</summary>
        [Fact]
        public void MlflowDeleteCases()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string e1 = ts.AddExperiment("exp1"), e2 = ts.AddExperiment("exp2"), e3 = ts.AddExperiment("exp3");
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            ts.AddTraces(Enumerable.Range(0, 10).Select(i => TestStore.MakeTrace($"a-{i}", e1, now - i))
                .Concat(Enumerable.Range(0, 10).Select(i => TestStore.MakeTrace($"b-{i}", e2, now - i)))
                .Concat(Enumerable.Range(0, 10).Select(i => TestStore.MakeTrace($"tr-{i}", e3, i))));
            using var sh = new PsShell(ts);
            int Deleted(string args)
            {
                var r = sh.Run("Remove-Trace -TrackingUri $uri -Confirm:$false -PassThru " + args, new Dictionary<string, object?> { ["uri"] = ts.UriText });
                Assert.True(r.Errors.Count == 0 && r.Terminating == null, r.Terminating?.Message ?? string.Join("\n", r.Errors));
                return r.Output.Count(o => ((DeletionReceipt)o.BaseObject).Deleted);
            }
            string At(long ms) => $"([DateTimeOffset]::FromUnixTimeMilliseconds({ms}).UtcDateTime)";

            // Unquoted 1d reaches the cmdlet as the decimal 1 and still means a day.
            Assert.Equal(0, Deleted($"-ExperimentId {e1} -OlderThan 1d"));
            Assert.Equal(0, Deleted($"-ExperimentId {e1} -OlderThan 12h"));
            Assert.Equal(10, Deleted($"-ExperimentId {e1} -Before ([DateTime]::UtcNow)"));
            Assert.Equal(10, Deleted($"-ExperimentName exp2 -Before ([DateTime]::UtcNow)"));
            Assert.Equal(0, Deleted($"-ExperimentId {e1} -Before ([DateTime]::UtcNow)"));
            // The bound is inclusive: times 0..3 go, then 4..9.
            Assert.Equal(4, Deleted($"-ExperimentId {e3} -Before {At(3)}"));
            Assert.Equal(6, Deleted($"-ExperimentId {e3} -Before {At(10)}"));

            ts.AddTraces(Enumerable.Range(0, 10).Select(i => TestStore.MakeTrace($"tr-{i}", e3, i)));
            // Oldest first: four go and every remaining one is at 4 or later.
            Assert.Equal(4, Deleted($"-ExperimentId {e3} -Before {At(10)} -MaxTraces 4"));
            Assert.True(ts.Scalar($"SELECT min(timestamp_ms) FROM trace_info WHERE experiment_id = {e3}") >= 4);
            Assert.Equal(5, Deleted($"-ExperimentId {e3} -Before {At(8)} -MaxTraces 10"));
            Assert.Equal(1, Deleted($"-ExperimentId {e3} -Before {At(10)}"));

            ts.AddTraces(Enumerable.Range(0, 10).Select(i => TestStore.MakeTrace($"tr-{i}", e3, i)));
            Assert.Equal(8, Deleted("-TraceId " + string.Join(",", Enumerable.Range(0, 8).Select(i => $"tr-{i}"))));
            Assert.Equal(new[] { "tr-9", "tr-8" }, sh.Ids($"Search-Trace -TrackingUri $uri -ExperimentId {e3}", new Dictionary<string, object?> { ["uri"] = ts.UriText }));

            // MLflow reads a bound of 0 as "no bound" and deletes everything; here 0 means the instant 0.
            Assert.Equal(0, Deleted($"-ExperimentId {e3} -Before {At(0)}"));
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-0", e3, 0) });
            Assert.Equal(1, Deleted($"-ExperimentId {e3} -Before {At(0)}"));
            Assert.Equal(2, ts.Scalar($"SELECT count(*) FROM trace_info WHERE experiment_id = {e3}"));
        }

        [Fact]
        public void LegalHoldIsNeverDeletedAndIsReported()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string e = ts.AddExperiment("held");
            var holds = new[] { "true", "True", "false", "yes", null, "" };
            ts.AddTraces(holds.Select((h, i) => TestStore.MakeTrace(Id(i), e, i,
                tags: h == null ? null : D("mltraces.legalHold", h))));
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };

            // Held: tr-00 (true), tr-01 (True), tr-03 (yes). The two oldest held ones do not use up -MaxTraces 2.
            var first = sh.Run("Remove-Trace -TrackingUri $uri -Before ([DateTime]::UtcNow) -MaxTraces 2 -Confirm:$false -PassThru", vars);
            Assert.Equal(new[] { ("tr-00", "Held"), ("tr-01", "Held"), ("tr-02", "Deleted"), ("tr-03", "Held"), ("tr-04", "Deleted") },
                first.Output.Select(o => (DeletionReceipt)o.BaseObject).Select(x => (x.TraceId, x.Status.ToString())).OrderBy(x => x.TraceId));
            Assert.Contains("tr-00, tr-01, tr-03", Assert.Single(first.Warnings).Message);
            Assert.Contains("legal hold", first.Warnings[0].Message);

            var dry = sh.Run("Remove-Trace -TrackingUri $uri -TraceId tr-00, tr-03, tr-05 -WhatIf -PassThru", vars);
            Assert.Empty(dry.Output);
            Assert.Equal(ProgressRecordType.Completed, dry.Progress.Last().RecordType);
            Assert.Equal(new[] { "tr-05" }, WhatIfIds(dry.HostText));
            Assert.Contains("2 traces under legal hold", dry.HostText);

            var byId = sh.Run("Remove-Trace -TrackingUri $uri -TraceId tr-00, tr-03, tr-05 -Confirm:$false -PassThru", vars);
            Assert.Equal(new[] { ("tr-00", "Held"), ("tr-03", "Held"), ("tr-05", "Deleted") },
                byId.Output.Select(o => (DeletionReceipt)o.BaseObject).Select(x => (x.TraceId, x.Status.ToString())).OrderBy(x => x.TraceId));
            Assert.Equal(new[] { "tr-00", "tr-01", "tr-03" }, TraceIds(ts));
            Assert.Equal(3, ts.Scalar("SELECT count(*) FROM trace_tags"));
        }

        [Fact]
        public void WorkspacesKeepTenantsApart()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string mine = ts.AddExperiment("mine");
            Execute(ts, "INSERT INTO workspaces (name) VALUES ('team-b')");
            Execute(ts, "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) VALUES (7, 'theirs', 'file:///tmp/x', 'active', 0, 0, 'team-b')");
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-mine", mine, 1), TestStore.MakeTrace("tr-theirs", "7", 1) });
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };

            var hidden = sh.Run("Remove-Trace -TrackingUri $uri -Workspace default -TraceId tr-theirs -Confirm:$false -PassThru", vars);
            var absent = sh.Run("Remove-Trace -TrackingUri $uri -Workspace default -TraceId tr-nothere -Confirm:$false -PassThru", vars);
            Assert.Equal(absent.Warnings.Single().Message.Replace("tr-nothere", "X"), hidden.Warnings.Single().Message.Replace("tr-theirs", "X"));
            Assert.Equal(DeletionStatus.NotFound, ((DeletionReceipt)hidden.Output.Single().BaseObject).Status);

            var otherExperiment = sh.Run("Remove-Trace -TrackingUri $uri -Workspace default -ExperimentId 7 -Before ([DateTime]::UtcNow) -Confirm:$false", vars);
            var noExperiment = sh.Run("Remove-Trace -TrackingUri $uri -Workspace default -ExperimentId 8 -Before ([DateTime]::UtcNow) -Confirm:$false", vars);
            Assert.Equal(noExperiment.Errors.Single().Exception.Message.Replace("ID 8 ", "ID N "), otherExperiment.Errors.Single().Exception.Message.Replace("ID 7 ", "ID N "));
            Assert.Equal("ExperimentNotFound,MlTraces.Commands.RemoveTraceCommand", otherExperiment.Errors[0].FullyQualifiedErrorId);

            Assert.Equal(new[] { "tr-theirs" }, sh.Ids("Search-Trace -TrackingUri $uri -Workspace team-b", vars));
            var all = sh.Run("Remove-Trace -TrackingUri $uri -Workspace default -Filter \"status = 'OK'\" -Confirm:$false", vars);
            Assert.Empty(all.Errors);
            Assert.Equal(new[] { "tr-theirs" }, TraceIds(ts));
        }

        [Fact]
        public void LocalFilesGoAndRemoteOnesAreReported()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            string e = ts.AddExperiment("files");
            string root = Path.Combine(ts.Folder, "mlruns", e, "traces");
            string archive = Path.Combine(ts.Folder, "archive", e, "traces");
            string Folder(string baseDir, string id) { var d = Path.Combine(baseDir, id, "artifacts"); Directory.CreateDirectory(d); return d; }
            string artifacts = Folder(root, "tr-local");
            File.WriteAllText(Path.Combine(artifacts, "traces.json"), "{}");
            string archived = Folder(archive, "tr-local");
            File.WriteAllText(Path.Combine(archived, "traces.pb"), "x");
            string odd = Path.Combine(ts.Folder, "not-a-trace-folder");
            Directory.CreateDirectory(odd);
            ts.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-local", e, 1, tags: D("mlflow.artifactLocation", new Uri(artifacts).AbsoluteUri,
                    "mlflow.trace.spansLocation", "ARCHIVE_REPO", "mlflow.trace.archiveLocation", new Uri(archived).AbsoluteUri)),
                TestStore.MakeTrace("tr-remote", e, 2, tags: D("mlflow.artifactLocation", "s3://bucket/1/traces/tr-remote/artifacts",
                    "mlflow.trace.archiveLocation", "gs://archive/1/traces/tr-remote/artifacts")),
                TestStore.MakeTrace("tr-odd", e, 3, tags: D("mlflow.artifactLocation", odd)),
            });
            using var sh = new PsShell(ts);
            var r = sh.Run("Remove-Trace -TrackingUri $uri -OlderThan 1m -Confirm:$false -PassThru", new Dictionary<string, object?> { ["uri"] = ts.UriText });
            Assert.Empty(r.Errors);
            var receipts = r.Output.Select(o => (DeletionReceipt)o.BaseObject).ToDictionary(x => x.TraceId);
            Assert.Equal(3, receipts.Values.Count(x => x.Deleted));
            Assert.False(Directory.Exists(Path.Combine(root, "tr-local")));
            Assert.False(Directory.Exists(Path.Combine(archive, "tr-local")));
            Assert.Equal(new[] { Path.Combine(root, "tr-local"), Path.Combine(archived, "traces.pb") }, receipts["tr-local"].RemovedFiles);
            Assert.Empty(receipts["tr-local"].LeftBehind);
            Assert.Equal(2, receipts["tr-remote"].LeftBehind.Count);
            Assert.Contains("gs://archive/1/traces/tr-remote/artifacts", receipts["tr-remote"].LeftBehind[1]);
            Assert.True(Directory.Exists(odd));
            Assert.Contains("not the trace's own folder", Assert.Single(receipts["tr-odd"].LeftBehind));
            Assert.Contains("2 removed trace(s) have artifact folders or archived payloads that MlTraces cannot check or remove", Assert.Single(r.Warnings).Message);
        }
    }

    public class RemoveTraceTestsOnPostgres : RemoveTraceTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
