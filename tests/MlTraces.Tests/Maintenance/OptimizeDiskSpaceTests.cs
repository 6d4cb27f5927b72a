using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Tests.Delete;
using MlTraces.Tests.Support;
using static MlTraces.Tests.Support.ShellProcess;

namespace MlTraces.Tests.Maintenance
{
    /// <summary>
    /// Optimize-TraceStore on a file system that is really too small (a tmpfs mounted with unshare in a private mount
    /// namespace, so the test needs no root): the store's own disk, SQLite's temporary folder ($SQLITE_TMPDIR), both;
    /// each refused before VACUUM starts, with the store byte for byte as it was; the dry run says the real run would
    /// refuse; and with room enough the same run goes through.
    /// </summary>
    public class OptimizeDiskSpaceTests
    {
        private static void RequireUnshare()
        {
            var probe = Process.Start(new ProcessStartInfo("unshare", "-rm true") { RedirectStandardError = true })!;
            probe.WaitForExit();
            Assert.True(probe.ExitCode == 0, "This test mounts a small file system in a private mount namespace and needs " +
                "'unshare -rm' (util-linux, with user and mount namespaces allowed): " + probe.StandardError.ReadToEnd());
        }

        /// <summary>Runs the script in a namespace where a tmpfs of this many KiB is mounted on <paramref name="mount"/>;
        /// with <paramref name="storeInside"/> the store is copied into it first and copied back out afterwards (the
        /// namespace's view goes when it ends).</summary>
        private static (string Output, string Errors) Run(MaintenanceStore m, string mount, long kib, bool storeInside, string tempFolder, string script)
        {
            Directory.CreateDirectory(mount);
            string inside = Path.Combine(mount, "mlflow.db");
            string store = storeInside ? inside : m.Store.Path;
            string sh = "d=\"$0\"; src=\"$1\"; in=\"$2\"; tmp=\"$3\"; shift 3; mount -t tmpfs -o size=" + kib + "k tmpfs \"$d\" || exit 90; " +
                        (storeInside ? "cp \"$src\" \"$in\" || exit 91; " : "") +
                        "SQLITE_TMPDIR=\"$tmp\" \"$@\"; rc=$?; " + (storeInside ? "cp \"$in\" \"$src\"; " : "") + "exit $rc";
            var run = ShellProcess.Run(script.Replace("$store", Quote(store)), new[] { "unshare", "-rm", "sh", "-c", sh, mount, m.Store.Path, inside, tempFolder });
            Assert.NotEqual(90, run.ExitCode);
            Assert.NotEqual(91, run.ExitCode);
            return (run.Output, run.Errors);
        }

        private const string Optimize = "try { $r = Optimize-TraceStore -TrackingUri $store -Confirm:$false -ErrorAction Stop; \"DONE|$($r.BytesFreed)\" } " +
                                        "catch { \"ERROR|$($_.FullyQualifiedErrorId)|$($_.CategoryInfo.Category)|$($_.Exception.Message)\" }";

        [Fact]
        public void RefusesWhenTheDiskLacksTheSpaceAndRunsWhenItHasIt()
        {
            RequireUnshare();
            using var m = new MaintenanceStore(StoreKind.Sqlite, new Dictionary<string, int> { ["alpha"] = 150 }, payload: 3000);
            using (var sh = new PsShell(m.Store)) Assert.False(sh.Run("Remove-Trace -OlderThan 60h -Confirm:$false").Failed);
            long file = new FileInfo(m.Store.Path).Length;
            long used = file - m.Store.Scalar("PRAGMA freelist_count") * m.Store.Scalar("PRAGMA page_size");
            string small = Path.Combine(m.Store.Folder, "small");
            string elsewhere = Path.Combine(m.Store.Folder, "tmp");
            Directory.CreateDirectory(elsewhere);
            var traces = MaintenanceStore.ReadAll(m.Store);

            // (where the store is, where SQLite's temporary copy goes, the tmpfs size): each too small for VACUUM.
            var tooSmall = new (bool StoreInside, string Temp, long KiB)[]
            {
                (true, small, (file + used) / 1024),          // the file fits, the journal and the copy do not
                (true, elsewhere, (file + used / 2) / 1024),  // the copy has room elsewhere, the journal does not
                (false, small, used / 2048),                  // the store's disk has room, SQLite's temporary folder has not
            };
            foreach (var (storeInside, temp, kib) in tooSmall)
            {
                string what = $"store {(storeInside ? "in" : "beside")} a {kib} KiB tmpfs, temporary folder {(temp == small ? "in it" : "elsewhere")}";
                string before = DeleteTestSupport.Sha(m.Store.Path);
                var (output, errors) = Run(m, small, kib, storeInside, temp, Optimize);
                var error = output.Split('\n').FirstOrDefault(l => l.StartsWith("ERROR|", StringComparison.Ordinal));
                Assert.True(error != null, $"{what}: not refused\n{output}{errors}");
                var parts = error!.Split('|');
                Assert.StartsWith("InsufficientDiskSpace,", parts[1]);
                Assert.Equal("ResourceUnavailable", parts[2]);
                Assert.Contains("Nothing was changed", parts[3]);
                Assert.Contains(small, parts[3]);
                if (temp == small) Assert.Contains("SQLITE_TMPDIR", parts[3]);
                Assert.True(before == DeleteTestSupport.Sha(m.Store.Path), $"{what}: the store changed");
            }

            // The dry run in the first case: the same numbers, and a warning that the real run would refuse.
            var dry = Run(m, small, (file + used) / 1024, true, small,
                "$r = Optimize-TraceStore -TrackingUri $store -WhatIf -WarningVariable w -WarningAction SilentlyContinue; " +
                "$r.DiskSpaceNeeded.GetEnumerator() | ForEach-Object { \"NEED|$($_.Key)|$($_.Value)|$($r.DiskSpaceAvailable[$_.Key])\" }; $w | ForEach-Object { \"WARN|$_\" }");
            var need = dry.Output.Split('\n').Where(l => l.StartsWith("NEED|", StringComparison.Ordinal)).Select(l => l.Trim().Split('|')).ToList();
            Assert.True(need.Count == 1 && need[0][1].TrimEnd('/') == small, dry.Output + dry.Errors);
            Assert.Equal(2 * used, long.Parse(need[0][2]));
            Assert.True(long.Parse(need[0][3]) < 2 * used, dry.Output);
            Assert.Contains("WARN|The real run would refuse: ", dry.Output);

            // With room for the file, its journal and the copy, the same run goes through.
            var ok = Run(m, small, (file + 2 * used) / 1024 + 512, true, small, Optimize);
            Assert.True(ok.Output.Contains("DONE|"), ok.Output + ok.Errors);
            Assert.True(new FileInfo(m.Store.Path).Length < file);
            using (var store = m.Store.Open(StoreAccess.ReadOnly))
            using (var cmd = store.Command("PRAGMA integrity_check"))
                Assert.Equal("ok", cmd.ExecuteScalar());
            Assert.Equal(traces, MaintenanceStore.ReadAll(m.Store));
        }
    }
}
