using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>New-TraceStore on SQLite; PostgreSQL's case is in Postgres/PostgresStoreTests, paths in UserPathTests.</summary>
    public class NewTraceStoreTests
    {
        [Fact]
        public void NewTraceStoreCreatesOnlyNewStoresAndHonoursWhatIf()
        {
            string folder = TestStore.NewFolder();
            using var sh = new PsShell(folder);
            var whatIf = sh.Run("New-TraceStore -TrackingUri sqlite:///a.db -WhatIf");
            Assert.Contains("What if:", whatIf.HostText);
            Assert.False(File.Exists(Path.Combine(folder, "a.db")));

            var created = sh.Objects<StoreInfo>("New-TraceStore sqlite:///a.db").Single();
            Assert.Equal(StoreSchema.AlembicRevision, created.AlembicRevision);
            Assert.Equal(1, created.Experiments);
            using (var store = TraceStore.Open(TrackingUri.Parse(Path.Combine(folder, "a.db"), folder)))
            {
                Assert.True(store.Layout.HasSpans && store.Layout.HasDbPayloadGeneration && store.Layout.HasWorkspaces);
                using var check = store.Command("PRAGMA integrity_check");
                Assert.Equal("ok", check.ExecuteScalar());
            }
            var again = sh.Run("New-TraceStore sqlite:///a.db");
            Assert.Equal("StoreNotEmpty,MlTraces.Commands.NewTraceStoreCommand", Assert.Single(again.Errors).FullyQualifiedErrorId);
            var noFolder = sh.Run("New-TraceStore sqlite:///missing/dir/a.db");
            Assert.Equal("StoreFolderNotFound,MlTraces.Commands.NewTraceStoreCommand", Assert.Single(noFolder.Errors).FullyQualifiedErrorId);
        }
    }
}
