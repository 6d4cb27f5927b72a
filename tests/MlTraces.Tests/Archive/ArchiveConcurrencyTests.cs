using System;
using System.IO;
using System.Linq;
using System.Threading;
using MlTraces.Core.Archive;
using MlTraces.Core.Locations;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Archive
{
    /// <summary>
    /// How many payload requests a pass has in flight. An object-store write blocks its pool thread on an async
    /// request: an unbounded loop took every thread the pool made (18 uploads/s to s3rver, bench archive-s3), and the
    /// check that each payload is there before the finalize went one round trip at a time. Writes and checks run
    /// in parallel, at most <see cref="Transient.Concurrency"/> at once. (Executor logic only: no store dialect in it.)
    /// </summary>
    public class ArchiveConcurrencyTests
    {
        /// <summary>Files, as the folder repository writes them, each call held for a while and counted.</summary>
        private sealed class SlowRepository : IArchiveRepository
        {
            private int _writes, _checks;
            public int MaxWrites, MaxChecks;

            private static void Hold(ref int current, ref int max)
            {
                int now = Interlocked.Increment(ref current);
                int seen;
                while ((seen = Volatile.Read(ref max)) < now && Interlocked.CompareExchange(ref max, now, seen) != seen) { }
                Thread.Sleep(150);
                Interlocked.Decrement(ref current);
            }

            public void Write(string folderUri, byte[] payload)
            {
                FileArchiveRepository.Instance.Write(folderUri, payload);
                Hold(ref _writes, ref MaxWrites);
            }

            public bool Exists(string folderUri)
            {
                Hold(ref _checks, ref MaxChecks);
                return FileArchiveRepository.Instance.Exists(folderUri);
            }

            public byte[] Read(string folderUri) => FileArchiveRepository.Instance.Read(folderUri);
            public bool Delete(string folderUri, System.Threading.CancellationToken cancel = default) => FileArchiveRepository.Instance.Delete(folderUri);
        }

        [RealStoreFact]
        public void WritesAreBoundedAndThePayloadChecksRunInParallel()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            string archive = ArchiveTestSupport.ArchiveRoot(ts);
            Directory.CreateDirectory(archive);
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new Uri(archive).AbsoluteUri}\n  retention: 1d\n");
            // Threads enough for more than the bound at once, so an unbounded loop shows as one.
            ThreadPool.GetMinThreads(out int workers, out int io);
            ThreadPool.SetMinThreads(Math.Max(workers, 64), io);
            try
            {
                using var store = ts.Open();
                var repository = new SlowRepository();
                var candidates = ArchivalPlanner.Plan(store, ArchivalServerConfig.Load(config), Experiments.Active(store), null, DateTimeOffset.UtcNow).Candidates().ToList();
                Assert.True(candidates.Count > Transient.Concurrency + 4, $"{candidates.Count} candidates: too few to tell a bound from none");
                var results = new ArchivalExecutor(store, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment(), _ => repository).ArchiveBatch(candidates);
                Assert.All(results, r => Assert.Equal(ArchivalStatus.Archived, r.Status));
                Assert.InRange(repository.MaxWrites, 2, Transient.Concurrency);
                Assert.InRange(repository.MaxChecks, 2, Transient.Concurrency);
            }
            finally { ThreadPool.SetMinThreads(workers, io); }
        }
    }
}
