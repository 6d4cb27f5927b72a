using System.Management.Automation;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    public class RestoreTraceTests
    {
        /// <summary>The kind of store the tests run on; the OnPostgres subclass runs every test again on PostgreSQL.</summary>
        protected virtual StoreKind Kind => StoreKind.Sqlite;


        private Dictionary<string, string> ArchiveFiles(TestStore ts) =>
            Directory.Exists(ArchiveTestSupport.ArchiveRoot(ts))
                ? Directory.GetFiles(ArchiveTestSupport.ArchiveRoot(ts), "*", SearchOption.AllDirectories).ToDictionary(f => f, f => System.Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
                : new Dictionary<string, string>();

        private static List<string> WhatIfIds(string hostText) =>
            Regex.Matches(hostText, "What if: Performing the operation \"Restore trace\" on target \"([^ \"]+) \\(")
                .Select(m => m.Groups[1].Value).ToList();

        private string Experiment(TestStore ts, string id) =>
            System.Convert.ToString(ts.Scalar($"SELECT experiment_id FROM trace_info WHERE request_id = '{id}'"), System.Globalization.CultureInfo.InvariantCulture)!;

        [RealStoreFact]
        public void WhatIfChangesNothingThenTheRealRunRestoresExactlyThatAndSpansReadAsBefore()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            using var sh = new PsShell(ts);
            var ids = ArchiveTestSupport.TraceIds(ts).Take(5).ToList();
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids.ToArray(), ["exp"] = Experiment(ts, ids[0]), ["id0"] = ids[0] };
            var before = sh.Objects<Trace>("Get-Trace -TrackingUri $uri -TraceId $ids", vars);
            string search = "Search-Trace -TrackingUri $uri -ExperimentId $exp -Filter \"trace.text LIKE '%$id0%'\"";
            Assert.Contains(ids[0], sh.Ids(search, vars));
            var folders = ids.Take(4).Select(id => ArchiveTestSupport.Archive(ts, id)).ToList();
            File.Delete(ArchiveTestSupport.PayloadFile(folders[3]));
            Assert.DoesNotContain(ids[0], sh.Ids(search, vars));

            string hash = ts.Fingerprint();
            var files = ArchiveFiles(ts);
            var dry = sh.Run("Restore-Trace -TrackingUri $uri -TraceId $ids -WhatIf", vars);
            Assert.Equal(hash, ts.Fingerprint());
            Assert.Equal(files, ArchiveFiles(ts));
            Assert.Empty(dry.Output);
            Assert.Equal(ids.Take(3), WhatIfIds(dry.HostText));
            Assert.Contains("What if: Restore 3 archived traces", dry.HostText);
            Assert.Equal(new[] { "ArchivedPayloadMissing", "TraceNotArchived" },
                dry.Errors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]));

            var real = sh.Run("Restore-Trace -TrackingUri $uri -TraceId $ids -PassThru", vars);
            var receipts = real.Output.Select(o => (RestoreReceipt)o.BaseObject).ToList();
            Assert.Equal(2, real.Errors.Count);
            Assert.Equal(ids.Take(3), receipts.Where(r => r.Restored).Select(r => r.TraceId));
            Assert.All(receipts.Where(r => r.Restored), r => { Assert.True(r.ArchiveFileRemoved); Assert.True(r.Spans > 0); Assert.True(r.PayloadBytes > 0); });
            Assert.Equal(RestoreStatus.Failed, receipts.Single(r => r.TraceId == ids[3]).Status);
            Assert.Equal("ArchivedPayloadMissing", receipts.Single(r => r.TraceId == ids[3]).ErrorId);
            Assert.Equal(RestoreStatus.NotArchived, receipts.Single(r => r.TraceId == ids[4]).Status);
            Assert.All(folders.Take(3), f => Assert.False(File.Exists(ArchiveTestSupport.PayloadFile(f))));

            var after = sh.Objects<Trace>("Get-Trace -TrackingUri $uri -TraceId $ids", vars);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(SpansLocations.TrackingStore, after[i].SpansLocation);
                Assert.Null(after[i].ArchiveLocation);
                Assert.Equal(ArchiveTestSupport.Describe(before[i]), ArchiveTestSupport.Describe(after[i]));
            }
            Assert.Equal(SpansLocations.ArchiveRepo, after[3].SpansLocation);
            Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM spans WHERE content = '' AND trace_id IN ('{ids[0]}', '{ids[1]}', '{ids[2]}')"));
            Assert.Contains(ids[0], sh.Ids(search, vars));

            // A second restore finds nothing archived.
            var again = sh.Run("Restore-Trace -TrackingUri $uri -TraceId $id0 -PassThru", vars);
            Assert.Equal("TraceNotArchived,MlTraces.Commands.RestoreTraceCommand", Assert.Single(again.Errors).FullyQualifiedErrorId);
            Assert.Equal(RestoreStatus.NotArchived, Assert.Single(again.Output.Select(o => (RestoreReceipt)o.BaseObject)).Status);
        }

        [RealStoreFact]
        public void BadArchivesAreNonTerminatingErrorsThatChangeNothing()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            var ids = ArchiveTestSupport.TraceIds(ts).Take(5).ToList();
            var folders = ids.Select(id => ArchiveTestSupport.Archive(ts, id)).ToList();
            File.WriteAllBytes(ArchiveTestSupport.PayloadFile(folders[0]), new byte[] { 1, 2, 3 });
            File.Copy(ArchiveTestSupport.PayloadFile(folders[4]), ArchiveTestSupport.PayloadFile(folders[3]), overwrite: true);
            using (var store = ts.Open())
            {
                ArchiveTestSupport.SetTag(store, ids[1], TraceTagKeys.ArchiveLocation, null);
                ArchiveTestSupport.SetTag(store, ids[2], TraceTagKeys.ArchiveLocation, "s3://bucket/1/traces/x/artifacts");
            }
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids.Take(4).Append("tr-nope").ToArray() };
            string hash = ts.Fingerprint();
            var files = ArchiveFiles(ts);
            var r = sh.Run("Restore-Trace -TrackingUri $uri -TraceId $ids -PassThru", vars);
            Assert.Null(r.Terminating);
            Assert.Equal(new[] { "ArchivedTracePayloadInvalid", "ArchiveLocationMissing", "UnsafeArchiveLocation", "PayloadOfAnotherTrace", "TraceNotFound" },
                r.Errors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]));
            Assert.Equal(ids.Take(4).Append("tr-nope"), r.Errors.Select(e => (string)e.TargetObject));
            Assert.All(r.Output.Select(o => (RestoreReceipt)o.BaseObject), x => Assert.False(x.Restored));
            Assert.Equal(hash, ts.Fingerprint());
            Assert.Equal(files, ArchiveFiles(ts));
        }

        [RealStoreFact]
        public void RestoresEveryArchivedTraceOfAnExperimentAndTracesFromThePipeline()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            var ids = ArchiveTestSupport.TraceIds(ts);
            string exp = Experiment(ts, ids[0]);
            var ofExp = ids.Where(id => Experiment(ts, id) == exp).Take(3).ToList();
            foreach (var id in ofExp) ArchiveTestSupport.Archive(ts, id);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["exp"] = exp, ["first"] = ofExp[0] };
            Assert.False(sh.Run("Get-Trace -TrackingUri $uri -TraceId $first -ExcludeSpans | Restore-Trace -Confirm:$false", vars).Failed);
            Assert.Equal(2, ts.Scalar("SELECT count(*) FROM trace_tags WHERE key = 'mlflow.trace.spansLocation' AND value = 'ARCHIVE_REPO'"));
            long generation = ts.Scalar($"SELECT db_payload_generation FROM trace_info WHERE request_id = '{ofExp[1]}'");
            var r = sh.Run("Restore-Trace -TrackingUri $uri -ExperimentId $exp -PassThru", vars);
            Assert.Empty(r.Errors);
            Assert.Equal(ofExp.Skip(1).OrderBy(x => x), r.Output.Select(o => ((RestoreReceipt)o.BaseObject).TraceId).OrderBy(x => x));
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_tags WHERE key IN ('mlflow.trace.archiveLocation') OR value = 'ARCHIVE_REPO'"));
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM spans WHERE content = ''"));
            Assert.Empty(Directory.GetFiles(ArchiveTestSupport.ArchiveRoot(ts), "*.pb", SearchOption.AllDirectories));
            // Restore +1, file removal +1: a pass that read the trace in between cannot finalize.
            Assert.Equal(generation + 2, ts.Scalar($"SELECT db_payload_generation FROM trace_info WHERE request_id = '{ofExp[1]}'"));
        }

        [RealStoreFact]
        public void ProgressCountsTheRestoresCompletesAndStaysSilentWhenAsked()
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            var ids = ArchiveTestSupport.TraceIds(ts).Take(10).ToList();
            foreach (var id in ids) ArchiveTestSupport.Archive(ts, id);
            using var sh = new PsShell(ts);
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["a"] = ids.Take(5).ToArray(), ["b"] = ids.Skip(5).ToArray() };
            var quiet = sh.Run("$ProgressPreference = 'SilentlyContinue'; Restore-Trace -TrackingUri $uri -TraceId $a -Confirm:$false; $ProgressPreference = 'Continue'", vars);
            Assert.Empty(quiet.Errors);
            Assert.DoesNotContain(quiet.Progress, p => p.Activity.StartsWith("Restoring"));
            var r = sh.Run("Restore-Trace -TrackingUri $uri -TraceId $b -Confirm:$false", vars);
            Assert.Empty(r.Errors);
            var records = r.Progress.Where(p => p.Activity.StartsWith("Restoring archived traces into")).ToList();
            Assert.NotEmpty(records);
            Assert.Equal(ProgressRecordType.Completed, records[^1].RecordType);
            Assert.Matches("^[1-5] of 5 traces$", records[^1].StatusDescription);
            Assert.Equal(0, ts.Scalar("SELECT count(*) FROM trace_tags WHERE value = 'ARCHIVE_REPO'"));
        }
    }

    public class RestoreTraceTestsOnPostgres : RestoreTraceTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
