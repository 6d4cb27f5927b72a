using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MlTraces.Core.Store;
using MlTraces.Shell;
using MlTraces.Tests.Support;
using Xunit;

namespace MlTraces.Tests.Attack
{
    /// <summary>
    /// Export-Trace never destroys what it writes over: a SQLite database (the store itself, named by an easy slip of
    /// the positional path) is refused, the store being read is refused under any spelling, and the old file stays
    /// whole until the new one is complete (a stop or a failing pipeline leaves it, and no temporary file).
    /// </summary>
    public class ExportTargetTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private TestStore NewStore(int traces = 30)
        {
            var ts = TestStore.CreateEmpty(Kind);
            ts.AddTraces(Enumerable.Range(0, traces).Select(i => TestStore.MakeTrace($"tr-{i:D4}", "0", 1000 + i, 5)));
            return ts;
        }

        private static string Hash(string path)
        {
            using var sha = System.Security.Cryptography.SHA256.Create();
            using var f = File.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return Convert.ToHexString(sha.ComputeHash(f));
        }

        /// <summary>Nothing but the files the test made: no temporary file left behind.</summary>
        private static void NoLeftovers(string folder, params string[] expected) =>
            Assert.Equal(expected.OrderBy(x => x, StringComparer.Ordinal),
                Directory.GetFiles(folder).Select(Path.GetFileName).Where(n => !n!.EndsWith("-journal", StringComparison.Ordinal)).OrderBy(x => x, StringComparer.Ordinal));

        private static string ErrorId(RunResult r) =>
            r.Errors.Count == 1 ? r.Errors[0].FullyQualifiedErrorId.Split(',')[0]
            : throw new Xunit.Sdk.XunitException($"expected one error, got {r.Errors.Count}: " + string.Join(" | ", r.Errors.Select(e => e.ToString())));

        [Theory]
        [InlineData("Export-Trace ./{db}")]
        [InlineData("Export-Trace {db} -Append")]
        [InlineData("Export-Trace {db} -Force")]
        [InlineData("Export-Trace {db} -Force -Append")]
        [InlineData("Export-Trace -LiteralPath ./sub/../{db}")]
        [InlineData("Export-Trace ./link.db")]
        [InlineData("Export-Trace {db} -WhatIf")]
        [InlineData("Export-Trace {db} -NoClobber")]
        public void ASqliteDatabaseIsNeverWrittenOver(string export)
        {
            using var ts = NewStore();
            // On SQLite the database is the store being read; on PostgreSQL it is another MLflow store beside it.
            using var other = Kind == StoreKind.Sqlite ? null : TestStore.CreateEmpty(StoreKind.Sqlite);
            string dbPath = other != null ? Path.Combine(ts.Folder, "mlflow.db") : ts.Path;
            if (other != null) File.Copy(other.Path, dbPath);
            string db = Path.GetFileName(dbPath);
            Directory.CreateDirectory(Path.Combine(ts.Folder, "sub"));
            File.CreateSymbolicLink(Path.Combine(ts.Folder, "link.db"), dbPath);
            string before = Hash(dbPath), storeBefore = ts.Fingerprint();
            using var sh = new PsShell(ts.Folder);
            var r = sh.Run("Search-Trace -TrackingUri $u | " + export.Replace("{db}", db), new Dictionary<string, object?> { ["u"] = ts.UriText });
            Assert.Equal("TargetIsDatabase", ErrorId(r));
            Assert.Contains("SQLite database", r.Errors[0].Exception.Message);
            Assert.Equal(before, Hash(dbPath));
            Assert.Equal(storeBefore, ts.Fingerprint());
            Assert.Equal(30, sh.Ids("Search-Trace -TrackingUri $u", new Dictionary<string, object?> { ["u"] = ts.UriText }).Count);
            Assert.DoesNotContain("What if:", r.HostText);
            NoLeftovers(ts.Folder, db, "link.db");
        }

        [Theory]
        [InlineData("-journal")]
        [InlineData("-wal")]
        [InlineData("-shm")]
        public void TheStoresOwnJournalIsNotATarget(string companion)
        {
            if (Kind != StoreKind.Sqlite) return; // a PostgreSQL store has no file beside it
            using var ts = NewStore();
            string before = Hash(ts.Path);
            using var sh = new PsShell(ts.Folder);
            var r = sh.Run($"Search-Trace -TrackingUri $u | Export-Trace -LiteralPath ($u + '{companion}')", new Dictionary<string, object?> { ["u"] = ts.Path });
            Assert.Equal("TargetIsStore", ErrorId(r));
            Assert.Equal(before, Hash(ts.Path));
            NoLeftovers(ts.Folder, Path.GetFileName(ts.Path));
        }

        [Theory]
        [InlineData("")]
        [InlineData("-Append")]
        public void AFailingPipelineLeavesTheOldFileAndNoTemporaryFile(string append)
        {
            using var ts = NewStore(2500); // more than one batch is written before the failure
            string file = Path.Combine(ts.Folder, "backup.jsonl");
            File.WriteAllText(file, "{\"old\": true}\n");
            string before = Hash(file), storeBefore = ts.Fingerprint();
            using var sh = new PsShell(ts.Folder);
            var r = sh.Run($"& {{ Search-Trace -TrackingUri $u -First 2500; throw 'upstream failed' }} | Export-Trace backup.jsonl {append}",
                new Dictionary<string, object?> { ["u"] = ts.UriText });
            Assert.NotNull(r.Terminating);
            Assert.Equal(before, Hash(file));
            Assert.Equal(storeBefore, ts.Fingerprint());
            NoLeftovers(ts.Folder, ts.Kind == StoreKind.Sqlite ? new[] { Path.GetFileName(ts.Path), "backup.jsonl" } : new[] { "backup.jsonl" });

            // A downstream failure too: the pipeline stops after Export-Trace wrote its first batch.
            r = sh.Run($"Search-Trace -TrackingUri $u -First 2500 | Export-Trace backup.jsonl {append} -PassThru | ForEach-Object {{ throw 'downstream' }}",
                new Dictionary<string, object?> { ["u"] = ts.UriText });
            // (PassThru writes once, at the end: the file is complete then, and replaced.)
            Assert.Equal(2500 + (append.Length > 0 ? 1 : 0), File.ReadAllLines(file).Length);
        }

        [Fact]
        public void StoppingLeavesTheOldFileAndNoTemporaryFile()
        {
            using var ts = NewStore(2500);
            string file = Path.Combine(ts.Folder, "backup.jsonl");
            File.WriteAllText(file, "{\"old\": true}\n");
            string before = Hash(file);
            using var sh = new PsShell(ts.Folder);
            var run = Task.Run(() => sh.Run("& { Search-Trace -TrackingUri $u -First 2500; Start-Sleep -Seconds 60 } | Export-Trace backup.jsonl",
                new Dictionary<string, object?> { ["u"] = ts.UriText }));
            // The first batch is in the temporary file: the export is under way.
            ShellProcess.WaitFor(() => Directory.GetFiles(ts.Folder, ".backup.jsonl.*").Any(f => new FileInfo(f).Length > 0), "the first batch");
            Assert.True(sh.Session.Stop());
            Assert.True(run.Result.Stopped);
            Assert.Equal(before, Hash(file));
            Assert.Empty(Directory.GetFiles(ts.Folder, ".backup.jsonl.*"));
        }

        [Fact]
        public void ExportCsvsConventionsNoClobberAppendAndForce()
        {
            using var ts = NewStore(3);
            string file = Path.Combine(ts.Folder, "out.jsonl");
            var u = new Dictionary<string, object?> { ["u"] = ts.UriText };
            using var sh = new PsShell(ts.Folder);
            Assert.False(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl", u).Failed);
            Assert.Equal(3, File.ReadAllLines(file).Length);

            // -NoClobber: an existing file is refused, unchanged; with -Append it is added to (as Export-Csv does).
            string before = Hash(file);
            Assert.Equal("FileExists", ErrorId(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl -NoClobber", u)));
            Assert.Equal(before, Hash(file));
            Assert.False(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl -NoClobber -Append", u).Failed);
            Assert.Equal(6, File.ReadAllLines(file).Length);

            // A read-only file: refused without -Force; -Force writes it, and it stays read-only.
            File.SetAttributes(file, FileAttributes.ReadOnly);
            before = Hash(file);
            Assert.Equal("FileReadOnly", ErrorId(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl", u)));
            Assert.Equal("FileReadOnly", ErrorId(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl -Append", u)));
            Assert.Equal(before, Hash(file));
            Assert.False(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl -Append -Force", u).Failed);
            Assert.Equal(9, File.ReadAllLines(file).Length);
            Assert.True((File.GetAttributes(file) & FileAttributes.ReadOnly) != 0);
            Assert.False(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl -Force", u).Failed);
            Assert.Equal(3, File.ReadAllLines(file).Length);
            Assert.True((File.GetAttributes(file) & FileAttributes.ReadOnly) != 0);
            File.SetAttributes(file, FileAttributes.Normal);

            // A replaced file keeps its permissions: an export holds what the store holds.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                Assert.False(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl", u).Failed);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }

            // A folder is no file.
            Directory.CreateDirectory(Path.Combine(ts.Folder, "dir"));
            Assert.Equal("TargetIsFolder", ErrorId(sh.Run("Search-Trace -TrackingUri $u | Export-Trace dir", u)));
            NoLeftovers(ts.Folder, ts.Kind == StoreKind.Sqlite ? new[] { Path.GetFileName(ts.Path), "out.jsonl" } : new[] { "out.jsonl" });
        }

        [Fact]
        public void WhatIfWritesNothingAndTheRealRunWritesWhatItSaid()
        {
            using var ts = NewStore(3);
            string file = Path.Combine(ts.Folder, "out.jsonl");
            File.WriteAllText(file, "{\"old\": true}\n");
            string before = Hash(file);
            var u = new Dictionary<string, object?> { ["u"] = ts.UriText };
            using var sh = new PsShell(ts.Folder);
            foreach (string sw in new[] { "", "-Append" })
            {
                var whatIf = sh.Run($"Search-Trace -TrackingUri $u | Export-Trace out.jsonl {sw} -WhatIf", u);
                Assert.False(whatIf.Failed);
                Assert.Contains($"What if: Performing the operation \"{(sw == "" ? "Export traces" : "Append traces")}\" on target \"{file}\".", whatIf.HostText);
                Assert.Equal(before, Hash(file));
            }
            Assert.False(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl -Append", u).Failed);
            Assert.Equal(4, File.ReadAllLines(file).Length);
            Assert.False(sh.Run("Search-Trace -TrackingUri $u | Export-Trace out.jsonl", u).Failed);
            Assert.Equal(3, File.ReadAllLines(file).Length);
            NoLeftovers(ts.Folder, ts.Kind == StoreKind.Sqlite ? new[] { Path.GetFileName(ts.Path), "out.jsonl" } : new[] { "out.jsonl" });
        }
    }

    public class ExportTargetTestsOnPostgres : ExportTargetTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
