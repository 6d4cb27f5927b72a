using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using MlTraces.Core;
using MlTraces.Core.Delete;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>
    /// Remove-Trace where MLflow keeps a trace's objects: its artifact folder (traces.json and whatever else) under
    /// its experiment's artifact location, and its archived traces.pb, on a local folder, S3 and Azure Blob; on
    /// SQLite and PostgreSQL. Objects go before rows, only the trace's own, and a trace whose objects could not all
    /// go keeps its rows.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class RemoveTraceOnObjectStoresTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private sealed class Setup
        {
            public string Experiment = "", Other = "", ExperimentRoot = "", OtherRoot = "", ArchiveRoot = "";
            /// <summary>Full keys of each trace's own objects (artifacts, then traces.pb).</summary>
            public Dictionary<string, List<string>> Keys = new Dictionary<string, List<string>>();
        }

        /// <summary>Two experiments whose artifact locations are in the place; each trace with traces.json, one more
        /// artifact and an archived traces.pb where MLflow puts them, its tags naming them.</summary>
        private static Setup Build(TestStore ts, TestLocation place, IEnumerable<string> ids, IEnumerable<string>? otherIds = null) =>
            Build(ts, place.Uri, place.FullKey, place.PutRaw, ids, otherIds);

        private static Setup Build(TestStore ts, string uri, Func<string, string> fullKey, Action<string, byte[]> put, IEnumerable<string> ids, IEnumerable<string>? otherIds = null)
        {
            var s = new Setup { Experiment = ts.AddExperiment("objects"), Other = ts.AddExperiment("others") };
            s.ExperimentRoot = uri + "/" + s.Experiment;
            s.OtherRoot = uri + "/" + s.Other;
            s.ArchiveRoot = uri + "/archive";
            Query.QueryTestSupport.Execute(ts, "UPDATE experiments SET artifact_location = {0} WHERE experiment_id = {1}", s.ExperimentRoot, long.Parse(s.Experiment));
            Query.QueryTestSupport.Execute(ts, "UPDATE experiments SET artifact_location = {0} WHERE experiment_id = {1}", s.OtherRoot, long.Parse(s.Other));
            var traces = new List<Trace>();
            foreach (var (id, e) in ids.Select(i => (i, s.Experiment)).Concat((otherIds ?? new string[0]).Select(i => (i, s.Other))))
            {
                var keys = new List<string>
                {
                    fullKey($"{e}/traces/{id}/artifacts/traces.json"),
                    fullKey($"{e}/traces/{id}/artifacts/extra/notes.txt"),
                    fullKey($"archive/{e}/traces/{id}/artifacts/traces.pb"),
                };
                foreach (var k in keys) put(k, Encoding.UTF8.GetBytes(k));
                s.Keys[id] = keys;
                traces.Add(TestStore.MakeTrace(id, e, 1, tags: new Dictionary<string, string>
                {
                    ["mlflow.artifactLocation"] = $"{uri}/{e}/traces/{id}/artifacts",
                    ["mlflow.trace.spansLocation"] = "ARCHIVE_REPO",
                    ["mlflow.trace.archiveLocation"] = $"{s.ArchiveRoot}/{e}/traces/{id}/artifacts",
                }));
            }
            ts.AddTraces(traces);
            // Bystanders: a key beside each folder that only shares a prefix, and objects of no trace at all.
            foreach (var k in new[] { $"{s.Experiment}/traces/tr-a1x/artifacts/traces.json", $"{s.Experiment}/traces/tr-a1/artifactsX", "archive/readme.txt" })
                put(fullKey(k), new byte[] { 1 });
            return s;
        }

        private static void SetTag(TestStore ts, string id, string key, string value) =>
            Query.QueryTestSupport.Execute(ts, "UPDATE trace_tags SET value = {0} WHERE request_id = {1} AND \"key\" = {2}", value, id, key);

        private static List<string> Rows(TestStore ts) => Delete.DeleteTestSupport.TraceIds(ts);

        /// <summary>Every text a run showed, to look for secrets in.</summary>
        private static string AllText(MlTraces.Shell.RunResult r) => string.Join("\n", new[] { r.HostText }
            .Concat(r.Errors.Select(e => e.ToString() + " " + e.Exception.Message + " " + e.ErrorDetails?.Message))
            .Concat(r.Warnings.Select(w => w.Message)).Concat(r.Verbose.Select(v => v.Message))
            .Concat(r.Output.Select(o => o.ToString() + " " + (o.BaseObject is DeletionReceipt d ? string.Join(" ", d.RemovedFiles.Concat(d.LeftBehind).Concat(d.UnconfirmedFiles)) : ""))));

        private static void AssertNoSecret(string text, TestLocation place)
        {
            foreach (var secret in place.Environment.Where(e => e.Key.Contains("SECRET") || e.Key.Contains("CONNECTION")).Select(e => e.Value))
                Assert.DoesNotContain(secret, text);
            if (place.Kind == TestLocation.Azure) Assert.DoesNotContain(TestLocation.AzureKey(), text);
        }

        [ObjectStoreTheory]
        [InlineData(TestLocation.Folder)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void WhatIfListsTheObjectsAndTheRealRunDeletesExactlyThoseBeforeTheRows(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            var ids = new[] { "tr-a1", "tr-a2", "tr-a3" };
            var s = Build(ts, place, ids, new[] { "tr-b1" });
            using (place.UseEnvironment())
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids };
                var fingerprint = ts.Fingerprint();
                var objects = place.AllRaw();

                var dry = sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -WhatIf", vars);
                Assert.Empty(dry.Errors);
                Assert.Equal(fingerprint, ts.Fingerprint());
                Assert.Equal(objects, place.AllRaw());
                foreach (var id in ids)
                {
                    string line = dry.HostText.Split('\n').Single(l => l.Contains(id + " ("));
                    if (kind == TestLocation.Folder) Assert.Contains("local files", line);
                    else Assert.Contains($"objects in {s.ExperimentRoot}/traces/{id}/artifacts/, {s.ArchiveRoot}/{s.Experiment}/traces/{id}/artifacts/traces.pb", line);
                }
                Assert.Empty(dry.Warnings);

                var r = sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru", vars);
                Assert.Empty(r.Errors);
                Assert.Empty(r.Warnings);
                Assert.All(r.Output.Select(o => (DeletionReceipt)o.BaseObject), d => Assert.Equal(DeletionStatus.Deleted, d.Status));
                Assert.Equal(new[] { "tr-b1" }, Rows(ts));
                var gone = ids.SelectMany(id => s.Keys[id]).ToList();
                // A local trace folder goes whole, as it always did; in a bucket only what is under .../artifacts/.
                if (kind == TestLocation.Folder) gone.Add(place.FullKey($"{s.Experiment}/traces/tr-a1/artifactsX"));
                Assert.Equal(objects.Except(gone).ToList(), place.AllRaw().Where(k => !k.EndsWith("/", StringComparison.Ordinal)).ToList());
                if (kind != TestLocation.Folder)
                    foreach (var d in r.Output.Select(o => (DeletionReceipt)o.BaseObject))
                    {
                        Assert.Contains($"{s.ArchiveRoot}/{s.Experiment}/traces/{d.TraceId}/artifacts/traces.pb", d.RemovedFiles);
                        Assert.Contains($"{s.ExperimentRoot}/traces/{d.TraceId}/artifacts/traces.json", d.RemovedFiles);
                    }
                AssertNoSecret(AllText(dry) + AllText(r), place);
            }
        }

        public static IEnumerable<object[]> HostileKinds() => new[] { new object[] { TestLocation.S3 }, new object[] { TestLocation.Azure } };

        /// <summary>Tags that name another trace's, another experiment's or no trace's objects: the row goes, those
        /// objects stay, and the receipt says what was left and why.</summary>
        [ObjectStoreTheory]
        [MemberData(nameof(HostileKinds))]
        public void HostileLocationTagsNeverReachAnotherTracesObjects(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            var hostile = new[] { "tr-h1", "tr-h2", "tr-h3", "tr-h4", "tr-h5", "tr-h6", "tr-h7", "tr-h8" };
            var s = Build(ts, place, hostile.Concat(new[] { "tr-v1" }), new[] { "tr-v2" });
            string e = s.Experiment, o = s.Other;
            var tags = new (string Id, string Key, string Value)[]
            {
                ("tr-h1", "mlflow.artifactLocation", $"{s.ExperimentRoot}/traces/tr-v1/artifacts"),                    // another trace's folder
                ("tr-h2", "mlflow.trace.archiveLocation", $"{s.ArchiveRoot}/{e}/traces/tr-v1/artifacts"),             // another trace's payload
                ("tr-h3", "mlflow.trace.archiveLocation", $"{s.ArchiveRoot}/{o}/traces/tr-h3/artifacts"),             // another experiment's folder
                ("tr-h4", "mlflow.trace.archiveLocation", $"{s.ArchiveRoot}/{e}/traces/tr-h4/artifacts/../../tr-v1/artifacts"),
                ("tr-h5", "mlflow.artifactLocation", $"{s.OtherRoot}/traces/tr-h5/artifacts"),                        // under the other experiment
                ("tr-h6", "mlflow.artifactLocation", $"{s.ExperimentRoot}/traces"),                                   // every trace's folders
                ("tr-h7", "mlflow.trace.archiveLocation", $"{s.ArchiveRoot}"),                                        // the whole archive
                ("tr-h8", "mlflow.artifactLocation", $"{s.ExperimentRoot}/traces/tr-h8/artifacts/../../tr-v1/artifacts"),
            };
            foreach (var t in tags) SetTag(ts, t.Id, t.Key, t.Value);
            // tr-h3's "own" folder in the other experiment holds a payload that is not its own to delete.
            string planted = place.FullKey($"archive/{o}/traces/tr-h3/artifacts/traces.pb");
            place.PutRaw(planted, new byte[] { 7 });
            using (place.UseEnvironment())
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = hostile };
                var r = sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru", vars);
                Assert.Empty(r.Errors);
                var receipts = r.Output.Select(x => (DeletionReceipt)x.BaseObject).ToDictionary(d => d.TraceId);
                Assert.All(receipts.Values, d => Assert.True(d.Deleted));
                foreach (var t in tags) Assert.Contains(receipts[t.Id].LeftBehind, l => l.Contains("left in place"));
                var left = place.AllRaw();
                foreach (var victim in new[] { "tr-v1", "tr-v2" }) Assert.All(s.Keys[victim], k => Assert.Contains(k, left));
                Assert.Contains(planted, left);
                Assert.Contains(place.FullKey("archive/readme.txt"), left);
                Assert.Contains(place.FullKey($"{e}/traces/tr-a1x/artifacts/traces.json"), left);
                Assert.Equal(new[] { "tr-v1", "tr-v2" }, Rows(ts));
            }
        }

        /// <summary>The race with an archival pass: a trace the plan saw unarchived is pointed at a new payload
        /// before the deletion's transaction. Its row is kept (with an error saying why), the new payload is not
        /// orphaned, and the next run removes both.</summary>
        [ObjectStoreTheory]
        [MemberData(nameof(HostileKinds))]
        public void APayloadFinalizedMeanwhileKeepsTheRow(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            var s = Build(ts, place, new[] { "tr-a1", "tr-a2" });
            Query.QueryTestSupport.Execute(ts, "DELETE FROM trace_tags WHERE request_id = 'tr-a1' AND \"key\" IN ('mlflow.trace.archiveLocation', 'mlflow.trace.spansLocation')");
            string payload = s.Keys["tr-a1"][2];
            using var store = ts.Open();
            var plan = new DeletionPlanner(store, Experiments.All(store), place.Settings).ForIds(new[] { "tr-a1", "tr-a2" }, null);
            Assert.DoesNotContain("traces.pb", plan.Traces[0].Describe());
            // The pass finalizes tr-a1 now: its row points at the payload it uploaded.
            SetTagOrInsert(ts, "tr-a1", "mlflow.trace.archiveLocation", $"{s.ArchiveRoot}/{s.Experiment}/traces/tr-a1/artifacts");
            var listener = new Recorder();
            new DeletionExecutor(store).Run(plan, false, listener, default);
            var a1 = listener.Receipts.Single(x => x.Receipt.TraceId == "tr-a1");
            Assert.Equal(DeletionStatus.ObjectsNotRemoved, a1.Receipt.Status);
            Assert.Equal("TraceObjectsNotRemoved", a1.Error!.ErrorId);
            Assert.Contains("traces.pb", a1.Error.Message);
            Assert.Equal(DeletionStatus.Deleted, listener.Receipts.Single(x => x.Receipt.TraceId == "tr-a2").Receipt.Status);
            Assert.Equal(new[] { "tr-a1" }, Rows(ts));
            Assert.NotNull(place.GetRaw(payload));

            var again = new Recorder();
            new DeletionExecutor(store).Run(new DeletionPlanner(store, Experiments.All(store), place.Settings).ForIds(new[] { "tr-a1" }, null), false, again, default);
            Assert.Equal(DeletionStatus.Deleted, again.Receipts.Single().Receipt.Status);
            Assert.Empty(Rows(ts));
            Assert.Null(place.GetRaw(payload));
        }

        /// <summary>A legal hold set after the plan was made: the held trace keeps its row and all its objects (the
        /// hold is read again before any object is deleted, and again inside the transaction).</summary>
        [ObjectStoreTheory]
        [MemberData(nameof(HostileKinds))]
        public void AHoldSetAfterThePlanKeepsTheObjectsToo(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            var s = Build(ts, place, new[] { "tr-a1", "tr-a2" });
            using var store = ts.Open();
            var plan = new DeletionPlanner(store, Experiments.All(store), place.Settings).ForIds(new[] { "tr-a1", "tr-a2" }, null);
            SetTagOrInsert(ts, "tr-a1", TraceTagKeys.LegalHold, "true");
            var listener = new Recorder();
            new DeletionExecutor(store).Run(plan, false, listener, default);
            Assert.Equal(DeletionStatus.Held, listener.Receipts.Single(x => x.Receipt.TraceId == "tr-a1").Receipt.Status);
            Assert.Equal(new[] { "tr-a1" }, Rows(ts));
            var left = place.AllRaw();
            Assert.All(s.Keys["tr-a1"], k => Assert.Contains(k, left));
            Assert.All(s.Keys["tr-a2"], k => Assert.DoesNotContain(k, left));
        }

        /// <summary>The listener fails while a batch is reported (as a stopped pipeline refuses output) when the next
        /// batch's objects are already on their way: the run ends with that failure, the traces whose objects went
        /// lose their rows first, and every trace is wholly gone or keeps its row and all its objects.</summary>
        [ObjectStoreTheory]
        [MemberData(nameof(HostileKinds))]
        public void AFailureWhileReportingLeavesNoRowWithoutItsObjects(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            var ids = Enumerable.Range(0, 8).Select(i => $"tr-r{i}").ToArray();
            var s = Build(ts, place, ids);
            using var store = ts.Open();
            var plan = new DeletionPlanner(store, Experiments.All(store), place.Settings).ForIds(ids, null);
            var listener = new Recorder { FailAtOutcome = 1 };
            var executor = new DeletionExecutor(store) { Sizer = new TransactionSizer(2, 2) };
            var failure = Assert.Throws<InvalidOperationException>(() => executor.Run(plan, false, listener, default));
            Assert.Contains("stopped", failure.Message);
            var kept = Rows(ts);
            // The reported batch and the one whose objects were on their way.
            Assert.Equal(ids.Skip(4), kept);
            Assert.Equal(ids.Take(4), listener.CommittedIds);
            var left = place.AllRaw();
            foreach (var id in ids)
                if (kept.Contains(id)) Assert.All(s.Keys[id], k => Assert.Contains(k, left));
                else Assert.All(s.Keys[id], k => Assert.DoesNotContain(k, left));
        }

        private static void SetTagOrInsert(TestStore ts, string id, string key, string value) =>
            Query.QueryTestSupport.Execute(ts, "INSERT INTO trace_tags (\"key\", value, request_id) VALUES ({0}, {1}, {2})", key, value, id);

        /// <summary>A bucket or container that is not there, and wrong credentials (403): nothing is deleted, every
        /// row stays with an error naming the location and no secret, and a later run with the right settings
        /// removes them.</summary>
        [ObjectStoreTheory]
        [InlineData(TestLocation.S3, "missing")]
        [InlineData(TestLocation.S3, "credentials")]
        [InlineData(TestLocation.Azure, "missing")]
        [InlineData(TestLocation.Azure, "credentials")]
        public void AnUnreachableStoreKeepsEveryRowAndSaysWhereWithoutSecrets(string kind, string fault)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CreateEmpty(Kind);
            var ids = new[] { "tr-a1", "tr-a2" };
            var s = Build(ts, place, ids);
            var objects = place.AllRaw();
            var env = new Dictionary<string, string>();
            string missing = "nobucket" + Guid.NewGuid().ToString("N").Substring(0, 8);
            if (fault == "missing")
                foreach (var id in ids)
                {
                    string root = kind == TestLocation.S3 ? $"s3://{missing}" : $"wasbs://{missing}@{TestLocation.AzureAccount()}.blob.core.windows.net";
                    Query.QueryTestSupport.Execute(ts, "UPDATE experiments SET artifact_location = {0} WHERE experiment_id = {1}", root + "/" + s.Experiment, long.Parse(s.Experiment));
                    SetTag(ts, id, "mlflow.artifactLocation", $"{root}/{s.Experiment}/traces/{id}/artifacts");
                    SetTag(ts, id, "mlflow.trace.archiveLocation", $"{root}/archive/{s.Experiment}/traces/{id}/artifacts");
                }
            else if (kind == TestLocation.S3)
            {
                env["AWS_ACCESS_KEY_ID"] = "AKIAWRONG" + Guid.NewGuid().ToString("N").Substring(0, 11).ToUpperInvariant();
                env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-" + Guid.NewGuid().ToString("N");
            }
            else env["AZURE_STORAGE_CONNECTION_STRING"] = place.Environment["AZURE_STORAGE_CONNECTION_STRING"].Replace(TestLocation.AzureKey(), Convert.ToBase64String(Guid.NewGuid().ToByteArray().Concat(Guid.NewGuid().ToByteArray()).ToArray()));
            using (place.UseEnvironment(env))
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids };
                var r = sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru -Verbose", vars);
                Assert.Equal(2, r.Errors.Count);
                Assert.All(r.Errors, e =>
                {
                    Assert.Equal("TraceObjectsNotRemoved,MlTraces.Commands.RemoveTraceCommand", e.FullyQualifiedErrorId);
                    Assert.Contains("leaving the trace row intact", e.Exception.Message);
                    Assert.Contains(fault == "missing" ? missing : place.Container, e.Exception.Message);
                });
                Assert.All(r.Output.Select(o => (DeletionReceipt)o.BaseObject), d => Assert.Equal(DeletionStatus.ObjectsNotRemoved, d.Status));
                Assert.Equal(ids, Rows(ts));
                Assert.Equal(objects, place.AllRaw());
                string text = AllText(r);
                AssertNoSecret(text, place);
                foreach (var secret in env.Values) Assert.DoesNotContain(secret, text);
            }
        }

        /// <summary>The server killed (SIGKILL) while Remove-Trace deletes, batch by batch: the traces whose objects
        /// all went are gone, every other keeps its row and the payload it points to, the errors name the location
        /// and no secret, the run does not ask the dead server again for every later batch, and the next run, with
        /// the server back, removes the rest. The kill comes right as a payload goes, so the server may have taken
        /// that delete without answering it: that trace's receipt lists the payload as unconfirmed and its error says
        /// the row may point to nothing (no client can tell while the server is dead); every receipt names exactly
        /// the objects that are gone.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(HostileKinds))]
        public void AServerKilledInTheMiddleKeepsEachRowWithItsPayloadOrSaysItsDeleteWentUnanswered(string kind)
        {
            using var server = new PrivateObjectStoreServer(kind);
            const string Container = "killed";
            string uri = server.Uri(Container, "root");
            void Put(string key, byte[] data) => server.Put(Container, key, data);
            List<string> All() => server.Keys(Container);
            server.CreateContainer(Container);

            using var ts = TestStore.CreateEmpty(Kind);
            var ids = Enumerable.Range(0, 60).Select(i => $"tr-k{i:D3}").ToArray();
            var s = Build(ts, uri, k => "root/" + k, Put, ids);
            var env = new Dictionary<string, string>(server.Environment) { ["MLTRACES_DELETE_BATCH_SIZE"] = "2" };
            var saved = env.Keys.ToDictionary(k => k, System.Environment.GetEnvironmentVariable);
            MlTraces.Shell.RunResult r;
            try
            {
                foreach (var e in env) System.Environment.SetEnvironmentVariable(e.Key, e.Value);
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids };
                var run = System.Threading.Tasks.Task.Run(() => sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru -Verbose", vars));
                // Killed once the first batches have gone, while later ones are on their way.
                var watch = System.Diagnostics.Stopwatch.StartNew();
                while (All().Contains(s.Keys[ids[4]][2]) && watch.Elapsed < TimeSpan.FromSeconds(60)) System.Threading.Thread.Sleep(5);
                server.Kill();
                r = run.GetAwaiter().GetResult();
                // One batch waits out the retries; the rest are not sent to a server known to be gone.
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(40), watch.Elapsed.ToString());
            }
            finally { foreach (var e in saved) System.Environment.SetEnvironmentVariable(e.Key, e.Value); }

            var receipts = r.Output.Select(o => (DeletionReceipt)o.BaseObject).ToList();
            var kept = Rows(ts);
            Assert.NotEmpty(kept);
            Assert.True(kept.Count < ids.Length);
            Assert.Equal(kept, receipts.Where(d => d.Status == DeletionStatus.ObjectsNotRemoved).Select(d => d.TraceId).OrderBy(x => x, StringComparer.Ordinal));
            Assert.Equal(kept.Count, r.Errors.Count);
            Assert.All(r.Errors, e => { Assert.Contains("leaving the trace row intact", e.Exception.Message); Assert.Contains($"{Container}", e.Exception.Message); });
            string text = AllText(r);
            if (kind == TestLocation.Azure) { Assert.DoesNotContain(server.Part("AccountKey"), text); Assert.DoesNotContain(server.Endpoint, text); }

            server.Restart();
            var left = All();
            var byId = receipts.ToDictionary(d => d.TraceId, StringComparer.Ordinal);
            var errors = r.Errors.ToDictionary(e => e.TargetObject?.ToString() ?? "", e => e.Exception.Message, StringComparer.Ordinal);
            int intact = 0;
            foreach (var id in ids)
            {
                if (!kept.Contains(id)) { Assert.All(s.Keys[id], k => Assert.DoesNotContain(k, left)); continue; }
                var d = byId[id];
                // The receipt names what went: each object it says it removed is gone, each one gone it removed or
                // could not confirm.
                foreach (var k in s.Keys[id])
                {
                    string objectUri = server.Uri(Container, k);
                    if (left.Contains(k)) Assert.DoesNotContain(objectUri, d.RemovedFiles);
                    else Assert.True(d.RemovedFiles.Contains(objectUri) || d.UnconfirmedFiles.Contains(objectUri), $"{id}: '{k}' is gone, its receipt does not say so.");
                }
                // A kept row still has the object it reads its spans from (these traces are archived: traces.pb, which
                // goes last), unless the server took that delete and died before answering; the artifacts before it
                // may be gone when the kill fell between two steps, and the next run removes the rest.
                if (left.Contains(s.Keys[id][2])) intact++;
                else Assert.Contains(server.Uri(Container, s.Keys[id][2]), d.UnconfirmedFiles);
                Assert.Contains(d.UnconfirmedFiles.Count == 0 ? "so nothing points to a missing object" : "may be gone already", errors[id]);
            }
            // The batches the dead server was not asked about kept everything.
            Assert.True(intact > 0, "No kept trace has its payload.");

            foreach (var e in server.Environment) saved[e.Key] = System.Environment.GetEnvironmentVariable(e.Key);
            try
            {
                foreach (var e in server.Environment) System.Environment.SetEnvironmentVariable(e.Key, e.Value);
                using var sh = new PsShell(ts);
                var again = sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false", new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = ids });
                Assert.Empty(again.Errors);
            }
            finally { foreach (var e in saved) System.Environment.SetEnvironmentVariable(e.Key, e.Value); }
            Assert.Empty(Rows(ts));
            Assert.Equal(new[] { "root/1/traces/tr-a1/artifactsX", "root/1/traces/tr-a1x/artifacts/traces.json", "root/archive/readme.txt" }.Select(k => k.Replace("/1/", "/" + s.Experiment + "/")).OrderBy(k => k, StringComparer.Ordinal), All());
        }

        private sealed class Recorder : IWriterListener<PlannedDeletion, DeletionReceipt>
        {
            public List<(DeletionReceipt Receipt, MlTracesException? Error)> Receipts { get; } = new List<(DeletionReceipt, MlTracesException?)>();
            public bool Approve(PlannedDeletion planned) => true;
            public void PlanSummary(string summary) { }
            public void Progress(long done, long total) { }
            /// <summary>Fails at this outcome, as a stopped pipeline refuses output (0: never).</summary>
            public int FailAtOutcome { get; set; }
            public List<string> CommittedIds { get; } = new List<string>();
            public void Outcome(DeletionReceipt receipt, MlTracesException? error)
            {
                Receipts.Add((receipt, error));
                if (Receipts.Count == FailAtOutcome) throw new InvalidOperationException("The pipeline has been stopped.");
            }
            public void Committed(IEnumerable<string> traceIds) => CommittedIds.AddRange(traceIds);
            public void Problem(string traceId, MlTracesException error) => throw error;
            public void Warning(string message) { }
            public void Note(string message) { }
        }
    }

    public class RemoveTraceOnObjectStoresTestsOnPostgres : RemoveTraceOnObjectStoresTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
