using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MlTraces.Core;
using MlTraces.Core.Delete;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;
using static MlTraces.Tests.Query.QueryTestSupport;

namespace MlTraces.Tests.Delete
{
    public class DeletionCoreTests
    {
        /// <summary>Says yes to every trace and keeps the receipts; a file left behind fails the test.</summary>
        private sealed class Listener : IWriterListener<PlannedDeletion, DeletionReceipt>
        {
            public List<DeletionReceipt> Receipts { get; } = new List<DeletionReceipt>();
            public Action<long>? AfterBatch { get; set; }
            public bool Approve(PlannedDeletion planned) => true;
            public void PlanSummary(string summary) { }
            public void Progress(long done, long total) => AfterBatch?.Invoke(done);
            public void Outcome(DeletionReceipt receipt, MlTracesException? error) => Receipts.Add(receipt);
            public void Committed(IEnumerable<string> traceIds) { }
            public void Problem(string traceId, MlTracesException error) => throw error;
            public void Warning(string message) { }
            public void Note(string message) { }
        }

        private static DeletionPlan PlanAll(TraceStore store) =>
            new DeletionPlanner(store, Experiments.All(store), MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).ForQuery(new DeletionQuery
            {
                ExperimentIds = Experiments.All(store).Select(e => e.ExperimentId).ToList(),
                MaxTimestampMs = long.MaxValue,
            });

        /// <summary>A plan is read a chunk at a time (on PostgreSQL on two connections, alternating chunks): every
        /// trace must come back once, in the plan's order, with the rows that hang on it counted.</summary>
        [Theory]
        [InlineData(StoreKind.Sqlite)]
        [InlineData(StoreKind.Postgres)]
        public void APlanOfManyChunksHasEveryTraceInOrderWithItsRowsCounted(StoreKind kind)
        {
            int count = DeletionPlanner.ChunkSize * 2 + 37;
            using var ts = RichStore(count, out _, kind: kind);
            var rows = Snapshot(ts).ToDictionary(kv => kv.Key, kv => kv.Value.Split(',').Select(x => x.Split('='))
                .ToDictionary(x => x[0], x => int.Parse(x[1], System.Globalization.CultureInfo.InvariantCulture)));
            int Rows(string id, params string[] tables) => tables.Sum(t => rows[id].TryGetValue(t, out int n) ? n : 0);
            using var store = ts.Open(StoreAccess.ReadOnly);
            var oldestFirst = PlanAll(store).Traces;
            Assert.Equal(Enumerable.Range(0, count).Select(Id), oldestFirst.Select(t => t.TraceId));
            var asked = Enumerable.Range(0, count).Select(Id).Reverse().Append("tr-missing").ToList();
            var byId = new DeletionPlanner(store, Experiments.All(store), MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).ForIds(asked, null);
            Assert.Equal(asked.Take(count), byId.Traces.Select(t => t.TraceId));
            Assert.Equal(new[] { "tr-missing" }, byId.NotFound);
            foreach (var t in oldestFirst.Concat(byId.Traces))
            {
                Assert.True(t.Spans == 2 && t.Assessments == 1, t.Describe());
                Assert.Equal((Rows(t.TraceId, "spans"), Rows(t.TraceId, "assessments"), Rows(t.TraceId, "trace_tags"), Rows(t.TraceId, "trace_request_metadata"),
                              Rows(t.TraceId, "trace_metrics", "span_metrics"), Rows(t.TraceId, "ea-source", "ea-destination")),
                             (t.Spans, t.Assessments, t.Tags, t.Metadata, t.Metrics, t.Associations));
            }
        }

        [Fact]
        public void CancellingStopsBetweenBatchesWithEveryTraceWhollyDeletedOrWhollyThere()
        {
            using var ts = RichStore(25, out _);
            var before = Snapshot(ts);
            using (var store = ts.Open())
            {
                var plan = PlanAll(store);
                Assert.Equal(25, plan.Traces.Count);
                using var cancel = new CancellationTokenSource();
                var listener = new Listener { AfterBatch = done => cancel.Cancel() };
                var executor = new DeletionExecutor(store) { Sizer = new TransactionSizer(10, 10) };
                Assert.Throws<OperationCanceledException>(() => executor.Run(plan, false, listener, cancel.Token));
                // One batch, cut from the id order.
                Assert.Equal(Enumerable.Range(0, 10).Select(Id), listener.Receipts.Select(r => r.TraceId));
            }
            Assert.Equal(Enumerable.Range(10, 15).Select(Id), TraceIds(ts));
            AssertConsistent(ts, before);
        }

        [Fact]
        public void AHoldSetOrADeletionMadeAfterThePlanWins()
        {
            using var ts = RichStore(3, out _);
            using var store = ts.Open();
            var plan = new DeletionPlanner(store, Experiments.All(store), MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).ForIds(new[] { "tr-00", "tr-01", "tr-02" }, null);
            Assert.Equal(3, plan.Traces.Count);
            Execute(ts, "INSERT INTO trace_tags (\"key\", value, request_id) VALUES ('mltraces.legalHold', 'true', 'tr-01')");
            // Another Remove-Trace deletes tr-02 meanwhile.
            Execute(ts, "DELETE FROM trace_info WHERE request_id = 'tr-02'; DELETE FROM entity_associations WHERE 'tr-02' IN (source_id, destination_id)");
            var listener = new Listener();
            new DeletionExecutor(store).Run(plan, false, listener, CancellationToken.None);
            Assert.Equal(new[] { DeletionStatus.Deleted, DeletionStatus.Held, DeletionStatus.NotFound }, listener.Receipts.Select(r => r.Status));
            Assert.Equal(new[] { "tr-01" }, TraceIds(ts));
            AssertConsistent(ts);
        }

        [Fact]
        public void ChildTablesWithoutACascadeAreDeletedExplicitly()
        {
            using var ts = RichStore(4, out _);
            // As a store from before MLflow added ON DELETE CASCADE: trace_tags and spans keep a plain foreign key.
            using (var store = ts.Open())
            {
                foreach (var table in new[] { "trace_tags", "spans" })
                {
                    string sql;
                    using (var get = store.Command($"SELECT sql FROM sqlite_master WHERE name = '{table}'")) sql = (string)get.ExecuteScalar()!;
                    using var cmd = store.Command(
                        "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON; " +
                        $"ALTER TABLE \"{table}\" RENAME TO old_{table}; {sql.Replace("ON DELETE CASCADE", "")}; " +
                        $"INSERT INTO \"{table}\" SELECT * FROM old_{table}; DROP TABLE old_{table}; PRAGMA foreign_keys = ON;");
                    if (table == "spans") cmd.CommandText = cmd.CommandText.Replace("SELECT * FROM old_spans",
                        "(trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content, dimension_attributes) " +
                        "SELECT trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content, dimension_attributes FROM old_spans");
                    cmd.ExecuteNonQuery();
                }
            }
            var before = Snapshot(ts);
            using (var store = ts.Open())
            {
                var family = TraceFamily.Read(store);
                Assert.Equal(new[] { "span_metrics", "spans", "trace_tags" }, family.Explicit.Select(m => m.Table).OrderBy(t => t));
                Assert.Equal("span_metrics", family.Explicit[0].Table);
                var plan = new DeletionPlanner(store, Experiments.All(store), MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).ForIds(new[] { "tr-01", "tr-02" }, null);
                new DeletionExecutor(store).Run(plan, false, new Listener(), CancellationToken.None);
            }
            Assert.Equal(new[] { "tr-00", "tr-03" }, TraceIds(ts));
            AssertConsistent(ts, before);
        }

        [Fact]
        public void TheFamilyOfTheCurrentSchemaCascadesAllTheWay()
        {
            using var ts = TestStore.CreateEmpty();
            using var store = ts.Open(StoreAccess.ReadOnly);
            var family = TraceFamily.Read(store);
            Assert.Empty(family.Explicit);
            Assert.Equal(store.Layout.TraceChildTables.OrderBy(t => t), family.Members.Select(m => m.Table).OrderBy(t => t));
            Assert.Equal(("span_metrics", "trace_id", 2), family.Members.Where(m => m.Table == "span_metrics").Select(m => (m.Table, m.TraceColumn, m.Depth)).Single());
        }

        [Theory]
        [InlineData("tr-0123456789abcdef0123456789abcdef", null)]
        [InlineData("0123456789abcdef0123456789abcdef", null)]
        [InlineData("trace1", null)]
        [InlineData("tr-exp1_0.x", null)]
        [InlineData("", "empty")]
        [InlineData("tr-1 ", "U+0020")]
        [InlineData("tr-%", "not wildcards")]
        [InlineData("trace:/catalog.schema/abc", "':'")]
        [InlineData("tr-ü", "'ü'")]
        public void TraceIdsMlflowCouldNotHaveWrittenAreNamed(string id, string? problem)
        {
            if (problem == null) Assert.Null(Core.Store.TraceIds.Problem(id));
            else Assert.Contains(problem, Core.Store.TraceIds.Problem(id));
            Assert.Contains("at most 50", Core.Store.TraceIds.Problem(new string('a', 51)));
        }

        [Theory]
        [InlineData("30d", 30 * 24 * 60)]
        [InlineData(" 12h ", 12 * 60)]
        [InlineData("90m", 90)]
        public void DurationsFollowMlflowsGrammar(string text, long minutes)
        {
            Assert.Equal(TimeSpan.FromMinutes(minutes), RetentionDuration.Parse(text).TimeSpan);
            foreach (var bad in new[] { "0d", "01d", "1d2h", "30s", "1.5h", "30D", "d", "" })
                Assert.Contains("must be in the form `<int><unit>`", Assert.Throws<InvalidParameterException>(() => RetentionDuration.Parse(bad)).Message);
            Assert.Contains("at most 32 characters", Assert.Throws<InvalidParameterException>(() => RetentionDuration.Parse(new string('9', 32) + "d")).Message);
            // Python's ints do not overflow: a 31-digit amount is valid and means "longer than anything".
            Assert.Equal(TimeSpan.MaxValue, RetentionDuration.Parse(new string('9', 31) + "d").TimeSpan);
            Assert.Equal(1000 - TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond, RetentionDuration.CutoffMs(DateTimeOffset.FromUnixTimeMilliseconds(1000), TimeSpan.MaxValue));
        }
    }
}
