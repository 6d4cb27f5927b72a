using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Delete.DeleteTestSupport;

namespace MlTraces.Tests.Commands
{

    /// <summary>
    /// Remove-Trace while other things happen: Ctrl+C, an MLflow-like writer in another process, and the deleting
    /// process killed outright. Small batches (MLTRACES_DELETE_BATCH_SIZE) make a deletion of a few thousand
    /// traces take hundreds of transactions, as a large deletion does with the default size.
    /// </summary>
    [Collection(MlTraces.Tests.Support.ProcessEnvironmentCollection.Name)]
    public class RemoveTraceUnderLoadTests
    {
        private const string BatchSizeVariable = "MLTRACES_DELETE_BATCH_SIZE";

        private static TestStore ManyTraces(int count, out string experimentId)
        {
            var ts = TestStore.CreateEmpty();
            string e = experimentId = ts.AddExperiment("many");
            ts.AddTraces(Enumerable.Range(0, count).Select(i => TestStore.MakeTrace($"tr-{i:D5}", e, 1000 + i,
                tags: new Dictionary<string, string> { ["mlflow.traceName"] = "t", ["env"] = "prod" })));
            return ts;
        }

        private static long Count(TestStore ts, string where = "1 = 1") => ts.Scalar("SELECT count(*) FROM trace_info WHERE " + where);

        internal static void WaitFor(Func<bool> condition, string what) => ShellProcess.WaitFor(condition, what);

        internal static Process Shell(string command, int batchSize) =>
            ShellProcess.Start(command, new Dictionary<string, string> { [BatchSizeVariable] = batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture) });

        private static string Quote(string path) => ShellProcess.Quote(path);

        [Fact]
        public void CtrlCStopsBetweenBatchesAndEveryTraceIsWhollyDeletedOrWhollyThere()
        {
            using var ts = ManyTraces(3000, out _);
            var before = Snapshot(ts);
            string? old = Environment.GetEnvironmentVariable(BatchSizeVariable);
            Environment.SetEnvironmentVariable(BatchSizeVariable, "50");
            try
            {
                using var sh = new PsShell(ts.Folder);
                var run = Task.Run(() => sh.Run("Remove-Trace -TrackingUri $uri -Before ([DateTime]::MaxValue) -Confirm:$false -PassThru",
                    new Dictionary<string, object?> { ["uri"] = ts.Path }));
                WaitFor(() => Count(ts) < 3000, "the first batch");
                Assert.True(sh.Session.Stop());
                var r = run.Result;
                long deleted = 3000 - Count(ts);
                Assert.True(r.Stopped, $"not stopped ({deleted} deleted)");
                Assert.InRange(deleted, 50, 2950);
                Assert.Equal(0, deleted % 50);
                // Receipts of committed batches, as far as the stopping pipeline took them.
                Assert.InRange(r.Output.Count, 0, (int)deleted);
                Assert.All(r.Output, o => Assert.True(((TraceDeletion)o.BaseObject).Deleted));
            }
            finally
            {
                Environment.SetEnvironmentVariable(BatchSizeVariable, old);
            }
            AssertConsistent(ts, before);
        }

        [Fact]
        public void AWriterInAnotherProcessKeepsEveryRowAndIsNeverLockedOut()
        {
            using var ts = ManyTraces(3000, out string e);
            using var remover = Shell($"Remove-Trace -TrackingUri {Quote(ts.Path)} -ExperimentId {e} -Before ([DateTime]::MaxValue) -Confirm:$false", batchSize: 10);
            WaitFor(() => Count(ts) < 3000, "the deletion to start");

            // An MLflow server logging traces meanwhile: one transaction per trace, MLflow's busy timeout, into the
            // same experiment with old times: they were not in the plan, so they must stay. Each notes in a tag how
            // many of the old traces it saw, which shows afterwards that the two really took turns. It pauses
            // between traces as a server does between requests (a writer that never pauses starves the other).
            var script = new StringBuilder(".bail on\n.timeout 20000\n");
            for (int i = 0; i < 150; i++)
                script.Append($"BEGIN IMMEDIATE; INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status) VALUES ('new-{i}', {e}, {i}, 1, 'OK'); ")
                      .Append($"INSERT INTO trace_tags (\"key\", value, request_id) SELECT 'seen', count(*), 'new-{i}' FROM trace_info WHERE request_id LIKE 'tr-%'; COMMIT;\n.shell sleep 0.01\n");
            var psi = new ProcessStartInfo("sqlite3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(ts.Path);
            using var writer = Process.Start(psi)!;
            writer.StandardInput.Write(script.ToString());
            writer.StandardInput.Close();
            string writerErrors = writer.StandardError.ReadToEnd();
            writer.WaitForExit();
            string removerErrors = remover.StandardError.ReadToEnd() + remover.StandardOutput.ReadToEnd();
            remover.WaitForExit();

            long turns = ts.Scalar("SELECT count(DISTINCT value) FROM trace_tags WHERE \"key\" = 'seen' AND CAST(value AS INTEGER) BETWEEN 1 AND 2999");
            Assert.True(turns >= 2, $"the writer saw {turns} states of the deletion in progress");
            Assert.Equal("", writerErrors);
            Assert.Equal(0, writer.ExitCode);
            Assert.True(remover.ExitCode == 0, removerErrors);
            Assert.Equal(150, Count(ts, "request_id LIKE 'new-%'"));
            Assert.Equal(150, ts.Scalar("SELECT count(*) FROM trace_tags WHERE request_id LIKE 'new-%'"));
            Assert.Equal(0, Count(ts, "request_id LIKE 'tr-%'"));
            AssertConsistent(ts);
        }

        [Fact]
        public void AProcessKilledInTheMiddleLeavesTheStoreConsistent()
        {
            using var ts = RichStore(1500, out _);
            var before = Snapshot(ts);
            using var remover = Shell($"Remove-Trace -TrackingUri {Quote(ts.Path)} -Before ([DateTime]::MaxValue) -Confirm:$false", batchSize: 5);
            WaitFor(() => Count(ts) < 1500, "the deletion to start");
            Thread.Sleep(30);
            remover.Kill(entireProcessTree: true);
            remover.WaitForExit();

            // Opening the store read-write rolls back a transaction the kill interrupted (SQLite's hot journal);
            // a read-only connection could not.
            AssertConsistent(ts, before);
            Assert.InRange(Count(ts), 1, 1499);
        }
    }
}
