using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>Every command on every real MLflow store in ../shared/fixtures: counts and ids match plain SQL.</summary>
    public class FixtureStoreTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        public static IEnumerable<object[]> Fixtures() => RealStores.Folder == null ? new[] { new object[] { "(none)" } } :
            Directory.GetFiles(RealStores.Folder)
                .Where(f => f.EndsWith(".db", StringComparison.Ordinal) || f.EndsWith(".sqlite", StringComparison.Ordinal))
                .Select(f => new object[] { Path.GetFileName(f) });

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
            string before = ts.Fingerprint();
            if (Kind == StoreKind.Sqlite) Assert.Equal(Sha(TestStore.FixturePath(fixture)), before);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText };
            string active = "experiment_id IN (SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'active')";
            Assert.Equal(SqlIds(ts, active), sh.Ids("Search-Trace -TrackingUri $uri", vars));
            Assert.Equal(SqlIds(ts, active + " AND status = 'ERROR'"), sh.Ids("Search-Trace -TrackingUri $uri -Filter \"status = 'ERROR'\"", vars));
            Assert.Equal(SqlIds(ts, active + " AND execution_time_ms > 5000"), sh.Ids("Search-Trace -TrackingUri $uri -Filter 'execution_time_ms > 5000'", vars));
            Assert.Equal(SqlIds(ts, active + " AND request_id IN (SELECT request_id FROM trace_tags WHERE key = 'mlflow.traceName' AND value LIKE '%a%')"),
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
            using var sh = new PsShell(ts);
            var ids = SqlIds(ts, "1 = 1");
            var r = sh.Run("$ids | Get-Trace -TrackingUri $uri -WarningAction SilentlyContinue", new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids.ToArray() });
            Assert.Empty(r.Errors);
            var traces = r.Output.Select(o => (Trace)o.BaseObject).ToList();
            Assert.Equal(ids, traces.Select(t => t.TraceId));
            Assert.Equal(ts.Scalar("SELECT count(*) FROM trace_tags"), traces.Sum(t => t.Tags.Count));
            Assert.Equal(ts.Scalar("SELECT count(*) FROM trace_request_metadata"), traces.Sum(t => t.Metadata.Count));
            using (var store = ts.Open(StoreAccess.ReadOnly))
            {
                if (store.Layout.HasAssessments) Assert.Equal(ts.Scalar("SELECT count(*) FROM assessments"), traces.Sum(t => t.Assessments.Count));
                if (store.Layout.HasSpans)
                {
                    Assert.Equal(ts.Scalar("SELECT count(*) FROM spans"), traces.Sum(t => t.Spans?.Count ?? 0));
                    Assert.All(traces.Where(t => t.Spans != null).SelectMany(t => t.Spans!), s => Assert.Equal(16, s.SpanId.Length));
                }
            }
        }

        [RealStoreTheory]
        [MemberData(nameof(Fixtures))]
        public void ExportImportExportIsByteIdentical(string fixture)
        {
            using var ts = TestStore.CopyOfFixture(fixture, Kind);
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
                    var p = new SqlParameters();
                    using var cmd = copy.Command("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) " +
                        $"VALUES ({p.Add(long.Parse(e.ExperimentId))}, {p.Add(e.Name)}, {p.Add(e.ArtifactLocation)}, {p.Add(e.LifecycleStage)}, 0, 0)", p);
                    cmd.ExecuteNonQuery();
                }
            var second = sh.Run("Import-Trace -Path a.jsonl -TrackingUri sqlite:///copy.db; Search-Trace -TrackingUri sqlite:///copy.db | Export-Trace -Path b.jsonl -WarningAction SilentlyContinue");
            Assert.True(second.Errors.Count == 0, string.Join("\n", second.Errors.Take(3)));
            byte[] a = File.ReadAllBytes(Path.Combine(ts.Folder, "a.jsonl"));
            byte[] b = File.ReadAllBytes(Path.Combine(ts.Folder, "b.jsonl"));
            Assert.True(a.Length > 0);
            Assert.Equal(a, b);
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
