using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Maintenance
{
    /// <summary>
    /// Measure-TraceStore against a store whose figures the test computed from what it wrote: per experiment, per
    /// workspace and for the whole store; the next archival pass and an -OlderThan deletion exactly as the writers'
    /// own dry runs plan them; free space as the database reports it; and the store left untouched.
    /// </summary>
    public class MeasureTraceStoreTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private static readonly Dictionary<string, int> Sizes = new Dictionary<string, int> { ["alpha"] = 60, ["beta"] = 9, ["deleted-gamma"] = 12, ["tiny"] = 2 };

        private static void AssertSame(ExperimentUsage expected, TraceUsage actual, string what)
        {
            Assert.True(expected.Traces == actual.Traces, $"{what}: Traces {actual.Traces}, expected {expected.Traces}");
            Assert.Equal(expected.TracesByState, actual.TracesByState);
            Assert.True(expected.Spans == actual.Spans, $"{what}: Spans {actual.Spans}, expected {expected.Spans}");
            Assert.True(expected.Assessments == actual.Assessments, $"{what}: Assessments {actual.Assessments}, expected {expected.Assessments}");
            Assert.True(expected.PayloadBytes == actual.PayloadBytes, $"{what}: PayloadBytes {actual.PayloadBytes}, expected {expected.PayloadBytes}");
            Assert.True(expected.ArchivedTraces == actual.ArchivedTraces, $"{what}: ArchivedTraces {actual.ArchivedTraces}, expected {expected.ArchivedTraces}");
            Assert.True(expected.ArchivedBytes == actual.ArchivedBytes, $"{what}: ArchivedBytes {actual.ArchivedBytes}, expected {expected.ArchivedBytes}");
            Assert.Equal(expected.OldestTrace, actual.OldestTrace);
            Assert.Equal(expected.NewestTrace, actual.NewestTrace);
            Assert.True(expected.NextArchivalTraces == actual.NextArchivalTraces, $"{what}: NextArchivalTraces {actual.NextArchivalTraces}, expected {expected.NextArchivalTraces}");
            Assert.True(expected.NextArchivalBytes == actual.NextArchivalBytes, $"{what}: NextArchivalBytes {actual.NextArchivalBytes}, expected {expected.NextArchivalBytes}");
            Assert.True(expected.OlderThanTraces == actual.OlderThanTraces, $"{what}: OlderThanTraces {actual.OlderThanTraces}, expected {expected.OlderThanTraces}");
            Assert.True(expected.OlderThanBytes == actual.OlderThanBytes, $"{what}: OlderThanBytes {actual.OlderThanBytes}, expected {expected.OlderThanBytes}");
        }

        [Fact]
        public void EachExperimentsFiguresAreWhatTheStoreHolds()
        {
            using var m = new MaintenanceStore(Kind, Sizes);
            using var sh = new PsShell(m.Store);
            string before = m.Store.Fingerprint();
            var vars = new Dictionary<string, object?> { ["config"] = m.Config };
            var rows = sh.Objects<ExperimentUsage>("Measure-TraceStore -ConfigPath $config -OlderThan 2d", vars);
            // Every experiment, the deleted and the empty ones too: their traces take space as well.
            Assert.Equal(m.Experiments.Values.OrderBy(x => x), rows.Select(r => r.ExperimentId).OrderBy(x => x));
            foreach (var (name, id) in m.Experiments)
            {
                var row = rows.Single(r => r.ExperimentId == id);
                Assert.Equal(name, row.Name);
                Assert.Equal(m.DeletedExperiments.Contains(id) ? "deleted" : "active", row.LifecycleStage);
                Assert.Equal("1d", row.ArchiveAfter);
                Assert.Equal(TimeSpan.FromDays(2), row.OlderThan);
                AssertSame(m.Expected(id, TimeSpan.FromDays(2), withConfig: true), row, name);
            }
            Assert.Equal(before, m.Store.Fingerprint());

            // Without a configuration or -OlderThan those figures are not there (null), not zero.
            var plain = sh.Objects<ExperimentUsage>($"Measure-TraceStore -ExperimentName alpha, tiny");
            Assert.Equal(new[] { m.Experiments["alpha"], m.Experiments["tiny"] }, plain.Select(r => r.ExperimentId));
            foreach (var row in plain)
            {
                AssertSame(m.Expected(row.ExperimentId, null, withConfig: false), row, row.Name);
                Assert.Null(row.ArchiveAfter);
            }
        }

        [Fact]
        public void TheNextPassAndTheDeletionAreWhatTheWritersDryRunsPlan()
        {
            using var m = new MaintenanceStore(Kind, Sizes);
            using var sh = new PsShell(m.Store);
            var vars = new Dictionary<string, object?> { ["config"] = m.Config };
            var rows = sh.Objects<ExperimentUsage>("Measure-TraceStore -ConfigPath $config -OlderThan 30h", vars);
            var pass = sh.Run("Invoke-TraceArchive -ConfigPath $config -WhatIf", vars);
            Assert.False(pass.Failed, pass.Terminating?.Message);
            Assert.Equal(rows.Sum(r => r.NextArchivalTraces), (long)((TraceArchiveSummary)pass.Output.Single().BaseObject).Planned);
            Assert.Equal(rows.Sum(r => r.NextArchivalBytes), ((TraceArchiveSummary)pass.Output.Single().BaseObject).ArchivedBytes);
            Assert.True(rows.Sum(r => r.NextArchivalTraces) > 0, "the store has traces due");
            foreach (var row in rows)
            {
                var dry = sh.Run($"Remove-Trace -ExperimentId {row.ExperimentId} -OlderThan 30h -WhatIf");
                var said = Regex.Match(dry.HostText, "What if: [^\\n]*Remove ([0-9,]+) trace");
                Assert.True(said.Success, dry.HostText);
                Assert.Equal(row.OlderThanTraces, long.Parse(said.Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture));
            }
            // A budget in the configuration is the pass's: the next pass takes at most that many.
            System.IO.File.AppendAllText(m.Config, "  max_traces_per_pass: 5\n");
            var budgeted = sh.Objects<ExperimentUsage>("Measure-TraceStore -ConfigPath $config", vars);
            Assert.Equal(5, budgeted.Sum(r => r.NextArchivalTraces));
        }

        [Fact]
        public void WorkspacesAndTheStoreAreTheSumOfTheirExperiments()
        {
            using var m = new MaintenanceStore(Kind, Sizes);
            using var sh = new PsShell(m.Store);
            var vars = new Dictionary<string, object?> { ["config"] = m.Config };
            var rows = sh.Objects<ExperimentUsage>("Measure-TraceStore -ConfigPath $config -OlderThan 2d", vars);
            var total = new ExperimentUsage();
            foreach (var r in rows) total.Add(r);
            var ws = sh.Objects<WorkspaceUsage>("Measure-TraceStore -By Workspace -ConfigPath $config -OlderThan 2d", vars).Single();
            Assert.Equal("default", ws.Workspace);
            Assert.Equal(rows.Count, ws.Experiments);
            var store = sh.Objects<StoreUsage>("Measure-TraceStore -By Store -ConfigPath $config -OlderThan 2d", vars).Single();
            foreach (var (what, u) in new (string, TraceUsage)[] { ("workspace", ws), ("store", store) })
            {
                Assert.Equal(total.Traces, u.Traces);
                Assert.Equal(total.TracesByState, u.TracesByState);
                Assert.Equal(total.Spans, u.Spans);
                Assert.Equal(total.PayloadBytes, u.PayloadBytes);
                Assert.Equal(total.Assessments, u.Assessments);
                Assert.Equal(total.ArchivedBytes, u.ArchivedBytes);
                Assert.Equal(total.NextArchivalTraces, u.NextArchivalTraces);
                Assert.Equal(total.OlderThanBytes, u.OlderThanBytes);
                Assert.Equal(total.OldestTrace, u.OldestTrace);
            }
            Assert.Equal(m.Traces.Count, store.Traces);
            Assert.Equal(rows.Count, store.Experiments);
            Assert.Equal(Kind == StoreKind.Sqlite ? "SQLite" : "PostgreSQL", store.Kind);
            if (Kind == StoreKind.Sqlite)
            {
                Assert.Equal(new System.IO.FileInfo(m.Store.Path).Length, store.StoreBytes);
                Assert.Equal(m.Store.Scalar("PRAGMA freelist_count") * m.Store.Scalar("PRAGMA page_size"), store.FreeBytes);
                Assert.Equal("NONE", store.AutoVacuum);
            }
            else
            {
                Assert.Equal(m.Store.Scalar("SELECT pg_database_size(current_database())"), store.StoreBytes);
                Assert.Equal(m.Store.Scalar("SELECT pg_total_relation_size('spans')"), store.TableBytes["spans"]);
                Assert.NotNull(store.DeadRows);
            }
        }

        /// <summary>Deleting traces frees pages inside a SQLite file (or leaves dead rows on PostgreSQL): the store
        /// figures show it, and say Optimize-TraceStore gives it back.</summary>
        [Fact]
        public void FreeSpaceAfterADeletionIsShownAsReclaimable()
        {
            using var m = new MaintenanceStore(Kind, new Dictionary<string, int> { ["alpha"] = 80 }, payload: 3000);
            using var sh = new PsShell(m.Store);
            var before = sh.Objects<StoreUsage>("Measure-TraceStore -By Store").Single();
            Assert.False(sh.Run("Remove-Trace -OlderThan 40h -Confirm:$false").Failed);
            if (Kind == StoreKind.Postgres) m.Store.Scalar("SELECT count(*) FROM (SELECT pg_stat_force_next_flush()) x");
            var after = sh.Objects<StoreUsage>("Measure-TraceStore -By Store").Single();
            Assert.True(after.Traces < before.Traces);
            if (Kind == StoreKind.Sqlite)
            {
                Assert.True(after.FreeBytes > before.FreeBytes + 100_000, $"free {before.FreeBytes} -> {after.FreeBytes}");
                Assert.Equal(after.FreeBytes, after.ReclaimableBytes);
            }
            else Assert.True(after.ReclaimableBytes == after.FreeBytes, $"reclaimable {after.ReclaimableBytes}, free {after.FreeBytes}");
        }

        [Fact]
        public void BadInputIsRefusedBeforeTheStoreIsRead()
        {
            using var m = new MaintenanceStore(Kind, new Dictionary<string, int> { ["alpha"] = 3 });
            using var sh = new PsShell(m.Store);
            var negative = sh.Run("Measure-TraceStore -OlderThan ([TimeSpan]::FromDays(-1))");
            // Remove-Trace's own rule and message, before any figure is written.
            Assert.Equal("InvalidRetention,MlTraces.Commands.MeasureTraceStoreCommand", negative.Errors.Single().FullyQualifiedErrorId);
            Assert.Contains("cannot be negative", negative.Errors.Single().Exception.Message);
            Assert.Empty(negative.Output);
            var missing = sh.Run("Measure-TraceStore -ExperimentName nope, alpha");
            Assert.Equal("ExperimentNotFound,MlTraces.Commands.MeasureTraceStoreCommand", missing.Errors.Single().FullyQualifiedErrorId);
            Assert.Equal(m.Experiments["alpha"], ((ExperimentUsage)missing.Output.Single().BaseObject).ExperimentId);
        }
    }

    public class MeasureTraceStoreTestsOnPostgres : MeasureTraceStoreTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
