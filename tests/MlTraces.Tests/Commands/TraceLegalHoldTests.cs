using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Commands
{
    /// <summary>Set-TraceLegalHold, Clear-TraceLegalHold and Search-Trace -LegalHold: the tag written as MLflow writes
    /// trace tags, read by the same condition deletion honours, dry runs that change nothing and list exactly what the
    /// real run then changes.</summary>
    public class TraceLegalHoldTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        // tr-00..tr-05 carry mltraces.legalHold = true, True, false, yes, (none), "": held are tr-00, tr-01, tr-03.
        private static readonly string?[] Holds = { "true", "True", "false", "yes", null, "" };

        private TestStore Store(out string experimentId)
        {
            var ts = TestStore.CreateEmpty(Kind);
            string e = experimentId = ts.AddExperiment("held");
            ts.AddTraces(Holds.Select((h, i) => TestStore.MakeTrace(Id(i), e, 1_700_000_000_000 + i * 60_000L,
                tags: h == null ? null : D("mltraces.legalHold", h))));
            return ts;
        }

        /// <summary>trace id -> the mltraces.legalHold value, for the traces that have the tag.</summary>
        private static SortedDictionary<string, string> Tags(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT request_id, value FROM trace_tags WHERE \"key\" = 'mltraces.legalHold'");
            using var r = cmd.ExecuteReader();
            var tags = new SortedDictionary<string, string>(StringComparer.Ordinal);
            while (r.Read()) tags[r.GetString(0)] = r.GetString(1);
            return tags;
        }

        private static List<string> Listed(string hostText, string operation) =>
            Regex.Matches(hostText, $"What if: Performing the operation \"{Regex.Escape(operation)}[^\"]*\" on target \"trace ([^ \"]+) \\(")
                .Cast<Match>().Select(m => m.Groups[1].Value).ToList();

        public static IEnumerable<object[]> Forms() => new[]
        {
            new object[] { "Set-TraceLegalHold -TrackingUri $uri -TraceId tr-00, tr-02, tr-03, tr-04, tr-missing" },
            new object[] { "'tr-00', 'tr-02', 'tr-03', 'tr-04', 'tr-missing' | Set-TraceLegalHold -TrackingUri $uri" },
            new object[] { "[pscustomobject]@{ RequestId = 'tr-02' }, [pscustomobject]@{ TraceId = 'tr-04'; TrackingUri = $uri } | Set-TraceLegalHold -TrackingUri $uri" },
            new object[] { "Search-Trace -TrackingUri $uri | Set-TraceLegalHold" },
            new object[] { "Get-Trace -TrackingUri $uri tr-02, tr-05 | Set-TraceLegalHold" },
            new object[] { "Clear-TraceLegalHold -TrackingUri $uri -TraceId tr-00, tr-02, tr-04, tr-missing" },
            new object[] { "Search-Trace -TrackingUri $uri -LegalHold | Clear-TraceLegalHold" },
            new object[] { "Search-Trace -TrackingUri $uri | Clear-TraceLegalHold" },
        };

        [Theory]
        [MemberData(nameof(Forms))]
        public void WhatIfChangesNothingAndListsExactlyWhatTheRealRunChanges(string command)
        {
            using var ts = Store(out _);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            bool hold = command.Contains("Set-TraceLegalHold");
            string operation = hold ? "Set legal hold" : "Clear legal hold";
            var before = Tags(ts);
            string fingerprint = ts.Fingerprint();

            var dry = sh.Run(command + " -WhatIf", vars);
            Assert.Null(dry.Terminating);
            Assert.Empty(dry.Output);
            Assert.Equal(fingerprint, ts.Fingerprint());
            var listed = Listed(dry.HostText, operation);
            Assert.NotEmpty(listed);

            var real = sh.Run(command + " -Confirm:$false -PassThru", vars);
            Assert.Null(real.Terminating);
            var after = Tags(ts);
            var changed = before.Keys.Union(after.Keys).Where(id => before.GetValueOrDefault(id) != after.GetValueOrDefault(id)).OrderBy(x => x, StringComparer.Ordinal);
            Assert.Equal(listed.OrderBy(x => x, StringComparer.Ordinal), changed);
            // -PassThru writes exactly the changed traces, as they stand now.
            var written = real.Output.Select(o => (Trace)o.BaseObject).ToList();
            Assert.Equal(listed.OrderBy(x => x, StringComparer.Ordinal), written.Select(t => t.TraceId).OrderBy(x => x, StringComparer.Ordinal));
            Assert.All(written, t => Assert.Equal(hold ? "true" : null, t.Tags.GetValueOrDefault("mltraces.legalHold")));
            foreach (var id in listed) Assert.Equal(hold ? "true" : null, after.GetValueOrDefault(id));
            // The same errors in both runs: an unknown id is a per-item error naming it.
            Assert.Equal(dry.Errors.Select(e => (e.FullyQualifiedErrorId, e.TargetObject)), real.Errors.Select(e => (e.FullyQualifiedErrorId, e.TargetObject)));
            if (command.Contains("tr-missing"))
            {
                var error = Assert.Single(real.Errors);
                Assert.StartsWith("TraceNotFound,", error.FullyQualifiedErrorId);
                Assert.Equal("tr-missing", error.TargetObject);
            }
            else Assert.Empty(real.Errors);
        }

        [Fact]
        public void SetWritesTheTagAsMlflowWritesTraceTagsAndLeavesHeldTracesAsTheyAre()
        {
            using var ts = Store(out _);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            long rows = ts.Scalar("SELECT count(*) FROM trace_tags");
            var r = sh.Run("Set-TraceLegalHold -TrackingUri $uri -TraceId tr-00, tr-01, tr-02, tr-03, tr-04, tr-05, tr-04 -Confirm:$false -Verbose", vars);
            Assert.Empty(r.Errors);
            // Held ones keep their own value; the others now read 'true'; one row per trace (tr-04 got one).
            Assert.Equal(new SortedDictionary<string, string> { ["tr-00"] = "true", ["tr-01"] = "True", ["tr-02"] = "true", ["tr-03"] = "yes", ["tr-04"] = "true", ["tr-05"] = "true" }, Tags(ts));
            Assert.Equal(rows + 1, ts.Scalar("SELECT count(*) FROM trace_tags"));
            Assert.Contains(r.Verbose, v => v.Message.Contains("tr-03") && v.Message.Contains("already under legal hold"));
            // Idempotent: a second run changes nothing and lists nothing.
            string fingerprint = ts.Fingerprint();
            var again = sh.Run("Set-TraceLegalHold -TrackingUri $uri -TraceId tr-00, tr-02 -Confirm:$false -PassThru", vars);
            Assert.Empty(again.Output);
            Assert.Equal(fingerprint, ts.Fingerprint());
        }

        [Fact]
        public void RemoveTraceHonoursTheHoldTheCommandsSetAndClear()
        {
            using var ts = Store(out _);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            Assert.Empty(sh.Run("Set-TraceLegalHold -TrackingUri $uri tr-04 -Confirm:$false", vars).Errors);
            Assert.Empty(sh.Run("Clear-TraceLegalHold -TrackingUri $uri tr-01 -Confirm:$false", vars).Errors);
            // Held now: tr-00, tr-03, tr-04. Search-Trace -LegalHold lists exactly those, and Remove-Trace keeps exactly those.
            var listed = sh.Ids("Search-Trace -TrackingUri $uri -LegalHold -OrderBy 'timestamp_ms ASC'", vars);
            Assert.Equal(new[] { "tr-00", "tr-03", "tr-04" }, listed);
            var removed = sh.Run("Remove-Trace -TrackingUri $uri -Before ([DateTime]::UtcNow) -Confirm:$false -PassThru", vars);
            Assert.Equal(new[] { ("tr-00", "Held"), ("tr-01", "Deleted"), ("tr-02", "Deleted"), ("tr-03", "Held"), ("tr-04", "Held"), ("tr-05", "Deleted") },
                removed.Output.Select(o => (DeletionReceipt)o.BaseObject).Select(x => (x.TraceId, x.Status.ToString())).OrderBy(x => x.TraceId));
            Assert.Equal(listed, TraceIds(ts));
        }

        [Fact]
        public void SearchLegalHoldCombinesWithFilterOrderPagingAndEveryExperiment()
        {
            using var ts = Store(out string e1);
            string e2 = ts.AddExperiment("other");
            ts.AddTraces(new[]
            {
                TestStore.MakeTrace("tr-10", e2, 1_700_000_030_000, tags: D("mltraces.legalHold", " ON ")),
                TestStore.MakeTrace("tr-11", e2, 1_700_000_090_000, tags: D("mltraces.legalHold", " Off ")),
                TestStore.MakeTrace("tr-12", e2, 1_700_000_150_000),
            });
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            // The merged walk over both experiments (default order), one query (an explicit order), and a count.
            Assert.Equal(new[] { "tr-03", "tr-01", "tr-10", "tr-00" }, sh.Ids("Search-Trace -TrackingUri $uri -LegalHold", vars));
            Assert.Equal(new[] { "tr-00", "tr-10", "tr-01", "tr-03" }, sh.Ids("Search-Trace -TrackingUri $uri -LegalHold -OrderBy 'timestamp_ms ASC'", vars));
            Assert.Equal(new[] { "tr-01", "tr-10" }, sh.Ids("Search-Trace -TrackingUri $uri -LegalHold -Skip 1 -First 2", vars));
            Assert.Equal(new[] { "tr-10" }, sh.Ids("Search-Trace -TrackingUri $uri -LegalHold -ExperimentName other", vars));
            Assert.Equal(new[] { "tr-01", "tr-00" }, sh.Ids($"Search-Trace -TrackingUri $uri -LegalHold -ExperimentId {e1} -Filter \"timestamp_ms < 1700000150000\"", vars));
            var counted = sh.Run("Search-Trace -TrackingUri $uri -LegalHold -IncludeTotalCount -First 1 | ForEach-Object { \"$_\" }", vars);
            Assert.Equal(new[] { "4", "tr-03" }, counted.Output.Select(o => o.ToString()));
            // Exactly the traces a deletion refuses.
            var removed = sh.Run("Remove-Trace -TrackingUri $uri -Before ([DateTime]::UtcNow) -WhatIf", vars);
            Assert.Equal(new[] { "tr-02", "tr-04", "tr-05", "tr-11", "tr-12" }, WhatIfIds(removed.HostText).OrderBy(x => x));
        }

        [Fact]
        public void PipedTracesAreChangedInTheStoreTheyCameFrom()
        {
            using var a = Store(out _);
            using var b = Store(out _);
            // A shell without a default store (PsShell(store) sets one for PostgreSQL, which pipeline input cannot override).
            using var sh = new PsShell(a.Folder);
            var vars = new Dictionary<string, object?> { ["a"] = a.UriText, ["b"] = b.UriText };
            var r = sh.Run("@(Get-Trace -TrackingUri $a tr-02) + @(Get-Trace -TrackingUri $b tr-04) | Set-TraceLegalHold -Confirm:$false", vars);
            Assert.Empty(r.Errors);
            Assert.Equal("true", Tags(a)["tr-02"]);
            Assert.False(Tags(a).ContainsKey("tr-04"));
            Assert.Equal("true", Tags(b)["tr-04"]);
            Assert.Equal("false", Tags(b)["tr-02"]);
        }

        [Fact]
        public void DryRunByPreferenceAndRealRunByWhatIfFalse()
        {
            using var ts = Store(out _);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            string fingerprint = ts.Fingerprint();
            var dry = sh.Run("$WhatIfPreference = $true; Set-TraceLegalHold -TrackingUri $uri tr-04 -Confirm:$false; Clear-TraceLegalHold -TrackingUri $uri tr-00 -Confirm:$false", vars);
            Assert.Null(dry.Terminating);
            Assert.Equal(fingerprint, ts.Fingerprint());
            Assert.Equal(new[] { "tr-04" }, Listed(dry.HostText, "Set legal hold"));
            Assert.Equal(new[] { "tr-00" }, Listed(dry.HostText, "Clear legal hold"));
            var real = sh.Run("$WhatIfPreference = $true; Set-TraceLegalHold -TrackingUri $uri tr-04 -Confirm:$false -WhatIf:$false; Clear-TraceLegalHold -TrackingUri $uri tr-00 -Confirm:$false -WhatIf:$false; $WhatIfPreference = $false", vars);
            Assert.Empty(real.Errors);
            Assert.Equal("true", Tags(ts)["tr-04"]);
            Assert.False(Tags(ts).ContainsKey("tr-00"));
        }

        [Fact]
        public void IdsMlflowCouldNotHaveWrittenAreRefusedAndTheRestChanged()
        {
            using var ts = Store(out _);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            var r = sh.Run("Set-TraceLegalHold -TrackingUri $uri -TraceId 'tr-*', '../x', '', tr-04, \"tr-0'; DROP TABLE trace_tags; --\" -Confirm:$false", vars);
            Assert.Null(r.Terminating);
            Assert.Equal(4, r.Errors.Count);
            Assert.All(r.Errors, e => Assert.StartsWith("InvalidTraceId,", e.FullyQualifiedErrorId));
            Assert.Equal("true", Tags(ts)["tr-04"]);
            Assert.Equal(6, Tags(ts).Count);
        }
    }

    public class TraceLegalHoldTestsOnPostgres : TraceLegalHoldTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
