using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>Every command on every real MLflow store in ../shared/fixtures, and on the store of every schema
    /// generation the tests build themselves: counts and ids match plain SQL.</summary>
    public class FixtureStoreTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        public static IEnumerable<object[]> Fixtures() => RealStores.Folder == null ? new[] { new object[] { "(none)" } } :
            Directory.GetFiles(RealStores.Folder)
                .Where(f => f.EndsWith(".db", StringComparison.Ordinal) || f.EndsWith(".sqlite", StringComparison.Ordinal))
                .Select(f => new object[] { Path.GetFileName(f) });

        public static IEnumerable<object[]> Generations() => GeneratedStores.All();

        private static List<string> SqlIds(TestStore ts, string where)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command($"SELECT request_id FROM trace_info WHERE {where} ORDER BY timestamp_ms DESC, request_id");
            using var r = cmd.ExecuteReader();
            var ids = new List<string>();
            while (r.Read()) ids.Add(r.GetString(0));
            return ids;
        }

        [RealStoreTheory]
        [MemberData(nameof(Fixtures))]
        public void SearchMatchesPlainSql(string fixture)
        {
            using var ts = TestStore.CopyOfFixture(fixture, Kind);
            if (Kind == StoreKind.Sqlite) Assert.Equal(Sha(TestStore.FixturePath(fixture)), ts.Fingerprint());
            CheckSearchMatchesPlainSql(ts);
        }

        [Theory]
        [MemberData(nameof(Generations))]
        public void SearchMatchesPlainSqlOnEveryGeneration(string revision)
        {
            using var ts = TestStore.Generated(revision, Kind);
            CheckSearchMatchesPlainSql(ts);
        }

        private static void CheckSearchMatchesPlainSql(TestStore ts)
        {
            string before = ts.Fingerprint();
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            string active = "experiment_id IN (SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'active')";
            Assert.Equal(SqlIds(ts, active), sh.Ids("Search-Trace -TrackingUri $uri", vars));
            Assert.Equal(SqlIds(ts, active + " AND status = 'ERROR'"), sh.Ids("Search-Trace -TrackingUri $uri -Filter \"status = 'ERROR'\"", vars));
            Assert.Equal(SqlIds(ts, active + " AND execution_time_ms > 5000"), sh.Ids("Search-Trace -TrackingUri $uri -Filter 'execution_time_ms > 5000'", vars));
            // The name is a tag row, or a trace_info column on MLflow's analytics layout (75868b020152).
            string named = IsAnalytics(ts) ? "SELECT request_id FROM trace_info WHERE trace_name LIKE '%a%'"
                : "SELECT request_id FROM trace_tags WHERE key = 'mlflow.traceName' AND value LIKE '%a%'";
            Assert.Equal(SqlIds(ts, active + $" AND request_id IN ({named})"),
                sh.Ids("Search-Trace -TrackingUri $uri -Filter \"name LIKE '%a%'\"", vars));
            // Deleted experiments are searched when named.
            var deleted = ts.Scalar("SELECT count(*) FROM trace_info WHERE experiment_id IN (SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'deleted')");
            var deletedIds = sh.Run("(Search-Trace -TrackingUri $uri -ExperimentId ([string[]]$ids)).Count",
                new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = DeletedExperimentIds(ts).ToArray() });
            if (deleted > 0) Assert.Equal((int)deleted, (int)deletedIds.Output.Single().BaseObject);
            // Nothing was written to the store.
            Assert.Equal(before, ts.Fingerprint());
        }

        [RealStoreTheory]
        [MemberData(nameof(Fixtures))]
        public void GetTraceReadsEveryTraceWithItsChildren(string fixture)
        {
            using var ts = TestStore.CopyOfFixture(fixture, Kind);
            CheckGetTraceReadsEveryTraceWithItsChildren(ts);
        }

        [Theory]
        [MemberData(nameof(Generations))]
        public void GetTraceReadsEveryTraceWithItsChildrenOnEveryGeneration(string revision)
        {
            using var ts = TestStore.Generated(revision, Kind);
            var traces = CheckGetTraceReadsEveryTraceWithItsChildren(ts);
            // Every generation's traces come back with their spans: from rows, or from the traces.json artifacts.
            Assert.All(traces, t => Assert.NotEmpty(t.Spans!));
        }

        private static List<Trace> CheckGetTraceReadsEveryTraceWithItsChildren(TestStore ts)
        {
            using var sh = new PsShell(ts);
            var ids = SqlIds(ts, "1 = 1");
            var r = sh.Run("$ids | Get-Trace -TrackingUri $uri -WarningAction SilentlyContinue", new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids.ToArray() });
            Assert.Empty(r.Errors);
            var traces = r.Output.Select(o => (Trace)o.BaseObject).ToList();
            Assert.Equal(ids, traces.Select(t => t.TraceId));
            // On MLflow's analytics layout the name tag and the session, token usage and cost metadata come from
            // trace_info columns (compatibility_metadata_from_columns), one each where a column of theirs is set.
            long promotedTags = 0, promotedMetadata = 0;
            if (IsAnalytics(ts))
            {
                promotedTags = ts.Scalar("SELECT count(*) FROM trace_info WHERE trace_name IS NOT NULL");
                promotedMetadata = ts.Scalar("SELECT count(*) FROM trace_info WHERE session_id IS NOT NULL")
                    + ts.Scalar("SELECT count(*) FROM trace_info WHERE coalesce(input_tokens, output_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens) IS NOT NULL")
                    + ts.Scalar("SELECT count(*) FROM trace_info WHERE coalesce(input_cost, output_cost, total_cost) IS NOT NULL");
                Assert.True(promotedTags > 0 && promotedMetadata > 0);
            }
            Assert.Equal(ts.Scalar("SELECT count(*) FROM trace_tags") + promotedTags, traces.Sum(t => t.Tags.Count));
            Assert.Equal(ts.Scalar("SELECT count(*) FROM trace_request_metadata") + promotedMetadata, traces.Sum(t => t.Metadata.Count));
            using (var store = ts.Open(StoreAccess.ReadOnly))
            {
                if (store.Layout.HasAssessments) Assert.Equal(ts.Scalar("SELECT count(*) FROM assessments"), traces.Sum(t => t.Assessments.Count));
                if (store.Layout.HasSpans)
                {
                    Assert.Equal(ts.Scalar("SELECT count(*) FROM spans"), traces.Sum(t => t.Spans?.Count ?? 0));
                    Assert.All(traces.Where(t => t.Spans != null).SelectMany(t => t.Spans!), s => Assert.Equal(16, s.SpanId.Length));
                }
            }
            return traces;
        }

        [RealStoreTheory]
        [MemberData(nameof(Fixtures))]
        public void ExportImportExportIsByteIdentical(string fixture)
        {
            using var ts = TestStore.CopyOfFixture(fixture, Kind);
            CheckExportImportExportIsByteIdentical(ts);
        }

        [Theory]
        [MemberData(nameof(Generations))]
        public void ExportImportExportIsByteIdenticalOnEveryGeneration(string revision)
        {
            using var ts = TestStore.Generated(revision, Kind);
            CheckExportImportExportIsByteIdentical(ts);
        }

        private static void CheckExportImportExportIsByteIdentical(TestStore ts)
        {
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            var first = sh.Run("Search-Trace -TrackingUri $uri | Export-Trace -Path a.jsonl -WarningAction SilentlyContinue; New-TraceStore -TrackingUri sqlite:///copy.db | Out-Null", vars);
            Assert.Empty(first.Errors);
            // The same experiments (ids, names) in the new store, so traces land where they came from. The copy is a
            // SQLite file for both kinds, so on PostgreSQL this also shows that both read a store identically.
            List<Experiment> experiments;
            using (var source = ts.Open(StoreAccess.ReadOnly)) experiments = Experiments.All(source);
            using (var copy = TraceStore.Open(TrackingUri.Parse(Path.Combine(ts.Folder, "copy.db"), ts.Folder), StoreAccess.ReadWrite))
                foreach (var e in experiments.Where(e => e.ExperimentId != "0"))
                {
                    // In its own workspace too: two workspaces may each have an experiment of the same name.
                    var p = new SqlParameters();
                    string workspace = p.Add(e.Workspace ?? Experiments.DefaultWorkspace);
                    using var cmd = copy.Command($"INSERT OR IGNORE INTO workspaces (name) VALUES ({workspace}); " +
                        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) " +
                        $"VALUES ({p.Add(long.Parse(e.ExperimentId))}, {p.Add(e.Name)}, {p.Add(e.ArtifactLocation)}, {p.Add(e.LifecycleStage)}, 0, 0, {workspace})", p);
                    cmd.ExecuteNonQuery();
                }
            var second = sh.Run("Import-Trace -Path a.jsonl -TrackingUri sqlite:///copy.db; Search-Trace -TrackingUri sqlite:///copy.db | Export-Trace -Path b.jsonl -WarningAction SilentlyContinue");
            Assert.True(second.Errors.Count == 0, string.Join("\n", second.Errors.Take(3)));
            byte[] a = File.ReadAllBytes(Path.Combine(ts.Folder, "a.jsonl"));
            byte[] b = File.ReadAllBytes(Path.Combine(ts.Folder, "b.jsonl"));
            Assert.True(a.Length > 0);
            bool spansInArtifacts;
            using (var source = ts.Open(StoreAccess.ReadOnly)) spansInArtifacts = !source.Layout.HasSpans;
            if (spansInArtifacts && Regex.IsMatch(Encoding.UTF8.GetString(a), "\"spans\": \\[\\{"))
            {
                // Spans read from traces.json artifacts land in the new store's spans table, and the trace says so
                // with MLflow's tag, the one difference between the two exports: each line gains exactly that tag.
                const string tag = "\"mlflow.trace.spansLocation\": \"TRACKING_STORE\", ";
                var before = File.ReadAllLines(Path.Combine(ts.Folder, "a.jsonl"));
                var after = File.ReadAllLines(Path.Combine(ts.Folder, "b.jsonl"));
                Assert.All(before, l => Assert.DoesNotContain("mlflow.trace.spansLocation", l));
                Assert.All(after, l => Assert.Single(Regex.Matches(l, Regex.Escape(tag))));
                Assert.Equal(before, after.Select(l => l.Replace(tag, "")));
                return;
            }
            // Line by line first, so a difference shows as text.
            Assert.Equal(File.ReadAllLines(Path.Combine(ts.Folder, "a.jsonl")), File.ReadAllLines(Path.Combine(ts.Folder, "b.jsonl")));
            Assert.Equal(a, b);
        }

        private static bool IsAnalytics(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            return store.Layout.HasPromotedTraceColumns;
        }

        private static IEnumerable<string> DeletedExperimentIds(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            return Experiments.All(store).Where(e => e.LifecycleStage == "deleted").Select(e => e.ExperimentId).ToList();
        }

        private static string Sha(string path)
        {
            using var sha = System.Security.Cryptography.SHA256.Create();
            using var f = File.OpenRead(path);
            return Convert.ToHexString(sha.ComputeHash(f));
        }
    }

    public class FixtureStoreTestsOnPostgres : FixtureStoreTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
