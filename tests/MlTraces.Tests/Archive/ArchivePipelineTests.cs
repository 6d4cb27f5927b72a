using System;
using System.IO;
using System.Linq;
using System.Threading;
using MlTraces.Core;
using MlTraces.Core.Archive;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;
using Xunit;

namespace MlTraces.Tests.Archive
{
    /// <summary>
    /// A pass uploads one batch while it reads, serializes and finalizes the others (bench archive-s3: store work
    /// and uploads one after the other ran at a third of a plain upload loop). What the overlap must never cost: a
    /// stopped pass leaves no payload that no trace points to, and every trace reads from exactly one place.
    /// </summary>
    public class ArchivePipelineTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        /// <summary>Local files, each write held a while; <see cref="OnWrite"/> runs before the n-th (1-based).</summary>
        private sealed class HeldRepository : IArchiveRepository
        {
            private int _writes;
            public int HoldMs = 50;
            public Action<int>? OnWrite;
            public void Write(string folderUri, byte[] payload)
            {
                OnWrite?.Invoke(Interlocked.Increment(ref _writes));
                Thread.Sleep(HoldMs);
                FileArchiveRepository.Instance.Write(folderUri, payload);
            }
            public byte[] Read(string folderUri) => FileArchiveRepository.Instance.Read(folderUri);
            public bool Exists(string folderUri) => FileArchiveRepository.Instance.Exists(folderUri);
            public bool Delete(string folderUri, System.Threading.CancellationToken cancel = default) => FileArchiveRepository.Instance.Delete(folderUri);
        }

        private sealed class Listener : IWriterListener<PlannedArchival, ArchivalReceipt>
        {
            public int Archived;
            public bool Approve(PlannedArchival planned) => true;
            public void PlanSummary(string summary) { }
            public void Progress(long done, long total) { }
            public void Outcome(ArchivalReceipt receipt, MlTracesException? error) { if (receipt.Status == ArchivalStatus.Archived) Archived++; }
            public void Committed(System.Collections.Generic.IEnumerable<string> traceIds) { }
            public void Problem(string traceId, MlTracesException error) { }
            public void Warning(string message) { }
            public void Note(string message) { }
        }

        private static TraceArchiveSummary Pass(ArchiveKillTests.Setup s, HeldRepository repository, Listener listener, CancellationToken cancel = default)
        {
            using var store = s.Store.Open();
            var plan = ArchivalPlanner.Plan(store, ArchivalServerConfig.Load(s.Config), Experiments.Active(store), null, DateTimeOffset.UtcNow);
            return new ArchivalExecutor(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment(), _ => repository).Run(plan, 0, false, listener, cancel);
        }

        [RealStoreFact]
        public void TheNextBatchUploadsBeforeTheFirstIsFinalized()
        {
            int traces = ArchivalExecutor.FinalizeBatchSize * 3;
            using var s = ArchiveKillTests.Create(Kind, traces);
            long archivedWhenTheSecondBatchUploads = -1;
            var repository = new HeldRepository
            {
                // The first write past the first batch: the first batch's uploads are still out, so nothing is finalized.
                OnWrite = n => { if (n == ArchivalExecutor.FinalizeBatchSize + 1) archivedWhenTheSecondBatchUploads = ArchiveKillTests.Archived(s.Store); },
            };
            var listener = new Listener();
            var summary = Pass(s, repository, listener);
            Assert.Equal(traces, summary.Archived);
            Assert.Equal(traces, listener.Archived);
            Assert.Equal(0, archivedWhenTheSecondBatchUploads);
            var pointed = ArchiveKillTests.AssertEachTraceInOnePlace(s, "after the pass");
            Assert.Equal(traces, pointed.Count);
        }

        /// <summary>Stopped while uploads are out, in the first batch or a later one (with batches behind it
        /// started): what was uploaded and not finalized is removed, nothing else.</summary>
        [RealStoreTheory]
        [InlineData(5)]
        [InlineData(ArchivalExecutor.FinalizeBatchSize + 30)]
        [InlineData(ArchivalExecutor.FinalizeBatchSize * 2 + 1)]
        public void AStoppedPassLeavesNoPayloadThatNoTracePointsTo(int stopAtWrite)
        {
            using var s = ArchiveKillTests.Create(Kind, ArchivalExecutor.FinalizeBatchSize * 4);
            using var stop = new CancellationTokenSource();
            var repository = new HeldRepository { HoldMs = 20, OnWrite = n => { if (n == stopAtWrite) stop.Cancel(); } };
            Assert.ThrowsAny<OperationCanceledException>(() => Pass(s, repository, new Listener(), stop.Token));
            var pointed = ArchiveKillTests.AssertEachTraceInOnePlace(s, $"stopped at write {stopAtWrite}");
            var files = ArchiveKillTests.Files(s);
            Assert.Equal(pointed.OrderBy(f => f, StringComparer.Ordinal), files.OrderBy(f => f, StringComparer.Ordinal));

            // The next pass archives everything.
            var summary = Pass(s, new HeldRepository { HoldMs = 0 }, new Listener());
            Assert.Equal(s.Original.Count - pointed.Count, summary.Archived);
            Assert.Equal(s.Original.Count, ArchiveKillTests.AssertEachTraceInOnePlace(s, "after the next pass").Count);
        }
    }

    public class ArchivePipelineTestsOnPostgres : ArchivePipelineTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
