using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using MlTraces.Core;
using MlTraces.Core.Archive;
using MlTraces.Core.Locations;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Shell;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>
    /// -ArtifactsDestination: the server's --artifacts-destination named on the command line, which mlflow-artifacts:/
    /// locations resolve to, over $env:MLTRACES_ARTIFACTS_DESTINATION. A real MLflow server's store (its experiments'
    /// artifact locations are mlflow-artifacts:/&lt;id&gt;), its objects in a local folder, S3 or Azure Blob: read,
    /// archived, restored and removed with the parameter alone, or over a wrong variable; a wrong value stops every
    /// command before it touches anything. SQLite and PostgreSQL stores.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class ArtifactsDestinationTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private const string Variable = ObjectStoreSettings.ArtifactsDestinationVariable;
        private const string Secret = "SECRETSIGNATURE123";

        /// <summary>What $env:MLTRACES_ARTIFACTS_DESTINATION holds while the parameter is given: nothing, another
        /// place that exists (so a command that read it would miss every object), or a value that is no destination.</summary>
        public static IEnumerable<object[]> Cases() => new[]
        {
            new object[] { TestLocation.Folder, "none" }, new object[] { TestLocation.S3, "none" }, new object[] { TestLocation.Azure, "none" },
            new object[] { TestLocation.Folder, "elsewhere" }, new object[] { TestLocation.S3, "elsewhere" }, new object[] { TestLocation.Azure, "elsewhere" },
            new object[] { TestLocation.S3, "invalid" },
        };

        [ObjectStoreTheory(RealStores = true)]
        [MemberData(nameof(Cases))]
        public void TheParameterReachesEveryPayloadPathOverTheVariable(string kind, string variable)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            using var target = TestStore.CreateEmpty();
            string config = ArchiveTestSupport.Config(ts, $"{place.Uri}/archive");
            // The store is a real server's: experiment 1's artifact location is mlflow-artifacts:/1, each trace's
            // mlflow-artifacts:/1/traces/<id>/artifacts. Each trace gets an artifact there, and one more trace keeps
            // its spans there as traces.json (no span rows), as MLflow 3.0/3.1 clients left them.
            Assert.Equal(1, ts.Scalar("SELECT count(*) FROM experiments WHERE experiment_id = 1 AND artifact_location = 'mlflow-artifacts:/1'"));
            string spansInArtifacts = "tr-00000000000000000000000000c0ffee";
            ts.AddTraces(new[] { TestStore.MakeTrace(spansInArtifacts, "1", 1700000000000, tags: new Dictionary<string, string>
            {
                [TraceTagKeys.ArtifactLocation] = $"mlflow-artifacts:/1/traces/{spansInArtifacts}/artifacts",
                [TraceTagKeys.SpansLocation] = SpansLocations.ArtifactRepo,
            }) });
            var all = Delete.DeleteTestSupport.TraceIds(ts, "experiment_id = 1");
            foreach (var id in all) place.PutRaw(place.FullKey($"1/traces/{id}/artifacts/notes.txt"), Encoding.UTF8.GetBytes(id));
            place.PutRaw(place.FullKey($"1/traces/{spansInArtifacts}/artifacts/traces.json"),
                Encoding.UTF8.GetBytes(ArtifactSpansOnObjectStoresTests.TraceData.Replace("TRACEID", spansInArtifacts)));

            string? wrong = variable == "none" ? null : variable == "elsewhere" ? place.Uri + "/elsewhere" : "gs://AKIAEXAMPLE:" + Secret + "@bucket/mlartifacts";
            using (place.UseEnvironment(new Dictionary<string, string> { [Variable] = wrong! }))
            {
                using var sh = new PsShell(ts);
                string export = Path.Combine(ts.Folder, "export.jsonl");
                var vars = new Dictionary<string, object?>
                {
                    ["uri"] = ts.UriText, ["dest"] = place.Uri, ["config"] = config, ["id"] = spansInArtifacts, ["export"] = export, ["target"] = target.UriText,
                };
                var text = new StringBuilder();
                RunResult Run(string script)
                {
                    var r = sh.Run(script, vars);
                    text.Append(AllText(r));
                    return r;
                }

                // Spans in traces.json: Get-Trace, Search-Trace -IncludeSpans, Export-Trace and Import-Trace read them.
                var read = Run("Get-Trace -TrackingUri $uri -TraceId $id -ArtifactsDestination $dest");
                NoErrors(read);
                NoWarnings(read);
                Assert.Equal(new[] { "predict", "llm" }, Assert.Single(read.Output.Select(o => (Trace)o.BaseObject)).Spans!.Select(s => s.Name));
                var found = Run("Search-Trace -TrackingUri $uri -Filter \"trace.request_id = '$id'\" -IncludeSpans -ArtifactsDestination $dest");
                NoWarnings(found);
                Assert.Equal(2, Assert.Single(found.Output.Select(o => (Trace)o.BaseObject)).Spans!.Count);
                var exported = Run("Search-Trace -TrackingUri $uri -Filter \"trace.request_id = '$id'\" | Export-Trace -Path $export -ArtifactsDestination $dest");
                NoErrors(exported);
                NoWarnings(exported);
                Assert.Contains("\"rate limited\"", Assert.Single(File.ReadAllLines(export)));
                var imported = Run("Search-Trace -TrackingUri $uri -Filter \"trace.request_id = '$id'\" | Import-Trace -TrackingUri $target -ExperimentName copies -ArtifactsDestination $dest -Confirm:$false");
                NoErrors(imported);
                Assert.Equal(2, target.Scalar("SELECT count(*) FROM spans"));
                // Without the parameter the variable decides, and says what is wrong.
                var alone = Run("Get-Trace -TrackingUri $uri -TraceId $id");
                Assert.Null(Assert.Single(alone.Output.Select(o => (Trace)o.BaseObject)).Spans);
                string warning = Assert.Single(alone.Warnings).Message;
                Assert.Contains(spansInArtifacts, warning);
                if (variable == "none") Assert.Contains("-ArtifactsDestination", warning);
                if (variable == "invalid") Assert.Contains($"given by $env:{Variable} cannot be used", warning);

                // The archival pass, then the archived payloads read back and restored through mlflow-artifacts:/
                // spellings of their archive locations (the same objects, reached only through the destination).
                var before = sh.Objects<Trace>("Search-Trace -TrackingUri $uri -ExperimentId 1 -IncludeSpans -ArtifactsDestination $dest", vars).ToDictionary(t => t.TraceId);
                var pass = Run("Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -ExperimentId 1 -MaxTraces 2 -PassThru -RemoveOrphanedPayloads -Confirm:$false -ArtifactsDestination $dest");
                NoErrors(pass);
                NoWarnings(pass);
                var archived = pass.Output.Select(o => (ArchivalReceipt)o.BaseObject).ToList();
                Assert.Equal(2, archived.Count);
                Assert.All(archived, a => Assert.Equal(ArchivalStatus.Archived, a.Status));
                var ids = archived.Select(a => a.TraceId).ToArray();
                foreach (var id in ids)
                {
                    Assert.NotNull(place.GetRaw(place.FullKey($"archive/1/traces/{id}/artifacts/traces.pb")));
                    Query.QueryTestSupport.Execute(ts, "UPDATE trace_tags SET value = {0} WHERE request_id = {1} AND \"key\" = {2}",
                        $"mlflow-artifacts:/archive/1/traces/{id}/artifacts", id, TraceTagKeys.ArchiveLocation);
                }
                vars["ids"] = ids;
                vars["restored"] = ids[0];
                vars["removed"] = new[] { ids[1], spansInArtifacts };
                var back = Run("Get-Trace -TrackingUri $uri -TraceId $ids -ArtifactsDestination $dest");
                NoWarnings(back);
                foreach (var t in back.Output.Select(o => (Trace)o.BaseObject))
                    Assert.Equal(ArchiveTestSupport.Describe(before[t.TraceId]), ArchiveTestSupport.Describe(t));

                var fingerprint = ts.Fingerprint();
                var objects = place.AllRaw();
                var dryRestore = Run("Restore-Trace -TrackingUri $uri -TraceId $restored -WhatIf -ArtifactsDestination $dest");
                NoErrors(dryRestore);
                Assert.Contains(ids[0], dryRestore.HostText);
                Assert.Equal(fingerprint, ts.Fingerprint());
                Assert.Equal(objects, place.AllRaw());
                var restore = Run("Restore-Trace -TrackingUri $uri -TraceId $restored -PassThru -Confirm:$false -ArtifactsDestination $dest");
                NoErrors(restore);
                var receipt = (RestoreReceipt)Assert.Single(restore.Output).BaseObject;
                Assert.True(receipt.Restored);
                Assert.True(receipt.ArchiveFileRemoved);
                Assert.Null(place.GetRaw(place.FullKey($"archive/1/traces/{ids[0]}/artifacts/traces.pb")));
                Assert.Equal(ArchiveTestSupport.Describe(before[ids[0]]), ArchiveTestSupport.Describe(sh.Objects<Trace>("Get-Trace -TrackingUri $uri -TraceId $restored", vars).Single()));

                // Remove-Trace: the dry run names the resolved objects, the real run deletes exactly those, objects
                // first, and nothing of any other trace.
                fingerprint = ts.Fingerprint();
                objects = place.AllRaw();
                var dry = Run("Remove-Trace -TrackingUri $uri -TraceId $removed -WhatIf -ArtifactsDestination $dest");
                NoErrors(dry);
                NoWarnings(dry);
                Assert.Equal(fingerprint, ts.Fingerprint());
                Assert.Equal(objects, place.AllRaw());
                string Line(string id) => dry.HostText.Split('\n').Single(l => l.Contains(id + " ("));
                if (kind == TestLocation.Folder)
                    Assert.All(new[] { ids[1], spansInArtifacts }, id => Assert.Contains("local files", Line(id)));
                else
                {
                    Assert.Contains($"objects in {place.Uri}/1/traces/{ids[1]}/artifacts/, {place.Uri}/archive/1/traces/{ids[1]}/artifacts/traces.pb)", Line(ids[1]));
                    Assert.Contains($"objects in {place.Uri}/1/traces/{spansInArtifacts}/artifacts/)", Line(spansInArtifacts));
                }
                var removed = Run("Remove-Trace -TrackingUri $uri -TraceId $removed -PassThru -Confirm:$false -ArtifactsDestination $dest");
                NoErrors(removed);
                NoWarnings(removed);
                Assert.All(removed.Output.Select(o => (DeletionReceipt)o.BaseObject), d => Assert.Equal(DeletionStatus.Deleted, d.Status));
                var gone = new[]
                {
                    $"1/traces/{ids[1]}/artifacts/notes.txt", $"archive/1/traces/{ids[1]}/artifacts/traces.pb",
                    $"1/traces/{spansInArtifacts}/artifacts/notes.txt", $"1/traces/{spansInArtifacts}/artifacts/traces.json",
                }.Select(place.FullKey);
                Assert.Equal(objects.Except(gone).ToList(), place.AllRaw());
                Assert.Equal(0, ts.Scalar($"SELECT count(*) FROM trace_info WHERE request_id IN ('{ids[1]}', '{spansInArtifacts}')"));
                AssertNoSecret(text.ToString(), place);
            }
        }

        /// <summary>Without a destination, an mlflow-artifacts:/ location is not guessed at, and a trace whose own
        /// objects are there keeps its rows: removing them alone would leave the objects in the artifact store with no
        /// row pointing to them, for good (the "nothing is orphaned"). The dry run says which traces would be
        /// kept and why, the real run keeps exactly those, each with a TraceObjectsNotRemoved error that says what to
        /// give, and a run with -ArtifactsDestination then removes them with their objects. A trace whose tag names
        /// another trace's folder is not the owner of what is there: its row goes, that folder stays, as before.</summary>
        [ObjectStoreTheory(RealStores = true)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void WithoutADestinationTracesWithObjectsBehindMlflowArtifactsKeepTheirRows(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            var ids = Delete.DeleteTestSupport.TraceIds(ts, "experiment_id = 1");
            string own = ids[0], archived = ids[1], liar = ids[2];
            // archived: its payload was archived by a server whose archive location is under mlflow-artifacts:/.
            Query.QueryTestSupport.Execute(ts, "UPDATE trace_tags SET value = {0} WHERE request_id = {1} AND \"key\" = {2}", $"mlflow-artifacts:/elsewhere/traces/{archived}/artifacts", archived, TraceTagKeys.ArtifactLocation);
            Query.QueryTestSupport.Execute(ts, "INSERT INTO trace_tags (\"key\", value, request_id) VALUES ({0}, {1}, {2})", TraceTagKeys.ArchiveLocation, $"mlflow-artifacts:/archive/1/traces/{archived}/artifacts", archived);
            // liar: its tag names own's folder.
            Query.QueryTestSupport.Execute(ts, "UPDATE trace_tags SET value = {0} WHERE request_id = {1} AND \"key\" = {2}", $"mlflow-artifacts:/1/traces/{own}/artifacts", liar, TraceTagKeys.ArtifactLocation);
            var objects = new[] { $"1/traces/{own}/artifacts/notes.txt", $"archive/1/traces/{archived}/artifacts/traces.pb", $"1/traces/{liar}/artifacts/notes.txt" }
                .Select(place.FullKey).ToList();
            foreach (var key in objects) place.PutRaw(key, new byte[] { 1 });
            objects.Sort(StringComparer.Ordinal);
            using (place.UseEnvironment(new Dictionary<string, string> { [Variable] = null! }))
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["ids"] = new[] { own, archived, liar }, ["dest"] = place.Uri };
                var fingerprint = ts.Fingerprint();

                var dry = sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -WhatIf", vars);
                NoErrors(dry);
                Assert.Equal(fingerprint, ts.Fingerprint());
                Assert.Equal(objects, place.AllRaw());
                string kept = Assert.Single(dry.Warnings, w => w.Message.Contains("would be kept")).Message;
                Assert.StartsWith("2 trace(s) would be kept, not removed: Trace '", kept);
                foreach (var part in new[] { "mlflow-artifacts:/", "--artifacts-destination", "-ArtifactsDestination", "$env:" + Variable }) Assert.Contains(part, kept);
                // Only the liar is offered for removal, and its warning says its tag's folder stays.
                Assert.Contains($"What if: Performing the operation \"Remove trace\" on target \"{liar} (", dry.HostText);
                Assert.DoesNotContain($"\"{own} (", dry.HostText);
                Assert.DoesNotContain($"\"{archived} (", dry.HostText);
                Assert.Contains("Remove 1 trace from the store", dry.HostText);
                Assert.Contains("leave 2 traces whose objects cannot be reached from here", dry.HostText);
                Assert.Contains(dry.Warnings, w => w.Message.Contains($"mlflow-artifacts:/1/traces/{own}/artifacts (artifact folder"));

                var real = sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru", vars);
                Assert.Equal(new[] { own, archived }, real.Errors.Select(e => (string)e.TargetObject).OrderBy(i => Array.IndexOf(new[] { own, archived }, i)));
                Assert.All(real.Errors, e =>
                {
                    Assert.Equal("TraceObjectsNotRemoved,MlTraces.Commands.RemoveTraceCommand", e.FullyQualifiedErrorId);
                    Assert.Contains("-ArtifactsDestination", e.Exception.Message);
                });
                Assert.Contains($"archived payload 'mlflow-artifacts:/archive/1/traces/{archived}/artifacts'", real.Errors.Single(e => (string)e.TargetObject == archived).Exception.Message);
                var receipts = real.Output.Select(o => (DeletionReceipt)o.BaseObject).ToDictionary(d => d.TraceId);
                Assert.Equal(DeletionStatus.ObjectsNotRemoved, receipts[own].Status);
                Assert.Equal(DeletionStatus.ObjectsNotRemoved, receipts[archived].Status);
                Assert.Equal(DeletionStatus.Deleted, receipts[liar].Status);
                Assert.Equal(new[] { archived, own }.OrderBy(i => i, StringComparer.Ordinal), Delete.DeleteTestSupport.TraceIds(ts, $"request_id IN ('{own}', '{archived}', '{liar}')"));
                Assert.Equal(objects, place.AllRaw());

                var again = sh.Run("Remove-Trace -TrackingUri $uri -TraceId $ids -Confirm:$false -PassThru -ArtifactsDestination $dest", vars);
                NoErrors(again);
                Assert.Empty(Delete.DeleteTestSupport.TraceIds(ts, $"request_id IN ('{own}', '{archived}', '{liar}')"));
                Assert.Equal(new[] { place.FullKey($"1/traces/{liar}/artifacts/notes.txt") }, place.AllRaw());
            }
        }

        public static IEnumerable<object[]> WrongDestinations() => new[]
        {
            new object[] { "gs://bucket/mlartifacts", "InvalidArtifactsDestination", "'gs:'" },
            new object[] { "hdfs://namenode:8020/mlartifacts", "InvalidArtifactsDestination", "'hdfs:'" },
            new object[] { "mlflow-artifacts:/mlartifacts", "InvalidArtifactsDestination", "mlflow-artifacts:" },
            new object[] { "mlflow-artifacts://server:5000/x", "InvalidArtifactsDestination", "mlflow-artifacts:" },
            new object[] { "MLFLOW-ARTIFACTS:/x", "InvalidArtifactsDestination", "mlflow-artifacts:" },
            new object[] { "s3://bucket/a/../b", "InvalidArtifactsDestination", "'..'" },
            new object[] { "s3://", "InvalidArtifactsDestination", "names no bucket" },
            new object[] { "s3://AKIAEXAMPLE:" + Secret + "@bucket/x", "InvalidArtifactsDestination", "has no '@'" },
            new object[] { "wasbs://c@a.blob.core.windows.net/x?sv=2024&sig=" + Secret, "InvalidArtifactsDestination", "query string" },
            new object[] { "gs://AKIAEXAMPLE:" + Secret + "@bucket/x", "InvalidArtifactsDestination", "'gs:'" },
            new object[] { "Env:PATH", "InvalidArgument", "provider" },
        };

        /// <summary>A value that is not where artifacts are stops each command at once: no row, file or object changes,
        /// the error names the parameter, and the value is shown as every location is, without credentials.</summary>
        [RealStoreTheory]
        [MemberData(nameof(WrongDestinations))]
        public void AWrongDestinationStopsEveryCommandBeforeItTouchesAnything(string value, string errorId, string why)
        {
            using var ts = TestStore.CopyOfFixture("cobbie-gen-a.sqlite", Kind);
            using var target = TestStore.CreateEmpty();
            string config = ArchiveTestSupport.Config(ts, new Uri(Path.Combine(ts.Folder, "archive")).AbsoluteUri);
            string export = Path.Combine(ts.Folder, "export.jsonl");
            using var sh = new PsShell(ts);
            string id = Delete.DeleteTestSupport.TraceIds(ts).First();
            var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["id"] = id, ["bad"] = value, ["config"] = config, ["export"] = export, ["target"] = target.UriText };
            var fingerprint = ts.Fingerprint();
            var targetFingerprint = target.Fingerprint();
            var files = Directory.GetFileSystemEntries(ts.Folder, "*", SearchOption.AllDirectories).OrderBy(f => f).ToList();
            foreach (var script in new[]
            {
                "Get-Trace -TrackingUri $uri -TraceId $id -ArtifactsDestination $bad",
                "Search-Trace -TrackingUri $uri -IncludeSpans -ArtifactsDestination $bad",
                "Search-Trace -TrackingUri $uri | Export-Trace -Path $export -ArtifactsDestination $bad",
                "Search-Trace -TrackingUri $uri | Import-Trace -TrackingUri $target -Confirm:$false -ArtifactsDestination $bad",
                "Remove-Trace -TrackingUri $uri -TraceId $id -Confirm:$false -ArtifactsDestination $bad",
                "Remove-Trace -TrackingUri $uri -OlderThan 1d -Confirm:$false -ArtifactsDestination $bad",
                "Restore-Trace -TrackingUri $uri -TraceId $id -Confirm:$false -ArtifactsDestination $bad",
                "Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -Confirm:$false -ArtifactsDestination $bad",
            })
            {
                var r = sh.Run(script, vars);
                var errors = r.Errors.Concat(r.Terminating is IContainsErrorRecord t ? new[] { t.ErrorRecord } : new ErrorRecord[0]).ToList();
                var error = Assert.Single(errors.Where(e => e.FullyQualifiedErrorId.StartsWith(errorId, StringComparison.Ordinal)));
                Assert.Empty(r.Output);
                Assert.Contains(why, error.Exception.Message);
                if (errorId != "InvalidArgument")
                {
                    Assert.Contains("-ArtifactsDestination", error.Exception.Message);
                    Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
                }
                Assert.DoesNotContain(Secret, AllText(r) + string.Join("\n", errors.Select(e => e.Exception.ToString() + " " + e.TargetObject)));
                Assert.Equal(fingerprint, ts.Fingerprint());
                Assert.Equal(targetFingerprint, target.Fingerprint());
                Assert.Equal(files, Directory.GetFileSystemEntries(ts.Folder, "*", SearchOption.AllDirectories).OrderBy(f => f).ToList());
            }
        }

        /// <summary>A path is resolved as PowerShell resolves paths (from the current location), then read as the
        /// file:// URI of that folder.</summary>
        [ObjectStoreTheory(RealStores = true)]
        [InlineData(TestLocation.Folder)]
        public void ARelativePathIsResolvedFromTheCurrentLocation(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            string id = "tr-00000000000000000000000000c0ffee";
            ts.AddTraces(new[] { TestStore.MakeTrace(id, "1", 1700000000000, tags: new Dictionary<string, string>
            {
                [TraceTagKeys.ArtifactLocation] = $"mlflow-artifacts:/1/traces/{id}/artifacts",
                [TraceTagKeys.SpansLocation] = SpansLocations.ArtifactRepo,
            }) });
            place.PutRaw(place.FullKey($"1/traces/{id}/artifacts/traces.json"), Encoding.UTF8.GetBytes(ArtifactSpansOnObjectStoresTests.TraceData.Replace("TRACEID", id)));
            using (place.UseEnvironment(new Dictionary<string, string> { [Variable] = null! }))
            {
                using var sh = new PsShell(ts);
                var vars = new Dictionary<string, object?> { ["uri"] = ts.UriText, ["id"] = id, ["parent"] = place.Container };
                var r = sh.Run("$null = $ExecutionContext.SessionState.Path.SetLocation($parent); Get-Trace -TrackingUri $uri -TraceId $id -ArtifactsDestination ./" + place.Prefix.Replace('/', '\\'), vars);
                NoErrors(r);
                NoWarnings(r);
                Assert.Equal(2, Assert.Single(r.Output.Select(o => (Trace)o.BaseObject)).Spans!.Count);
            }
        }

        /// <summary>The archival pass uploads with the settings it is given, not with whatever the process environment
        /// holds (no credentials here): it used to take the environment's for its writes.</summary>
        [ObjectStoreTheory(RealStores = true)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void TheArchivalPassReachesObjectStoresWithTheSettingsItIsGiven(string kind)
        {
            using var place = TestLocation.Create(kind);
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db", Kind);
            string config = ArchiveTestSupport.Config(ts, place.Uri);
            using var store = ts.Open();
            var plan = ArchivalPlanner.Plan(store, Core.Retention.ArchivalServerConfig.Load(config), Experiments.Active(store), 2, DateTimeOffset.UtcNow);
            var results = new ArchivalExecutor(store, place.Settings).ArchiveBatch(plan.Candidates().ToList());
            Assert.Equal(new[] { ArchivalStatus.Archived, ArchivalStatus.Archived }, results.Select(r => r.Status));
            Assert.Equal(2, place.AllRaw().Count(k => k.EndsWith("/traces.pb", StringComparison.Ordinal)));
        }

        private static void NoErrors(RunResult r) => Assert.True(r.Errors.Count == 0, string.Join("\n", r.Errors.Select(e => e.FullyQualifiedErrorId + ": " + e.Exception.Message)));

        private static void NoWarnings(RunResult r) => Assert.True(r.Warnings.Count == 0, string.Join("\n", r.Warnings.Select(w => w.Message)));

        private static string AllText(RunResult r) => string.Join("\n", new[] { r.HostText, r.Terminating?.ToString() ?? "" }
            .Concat(r.Errors.Select(e => e.ToString() + " " + e.Exception + " " + e.ErrorDetails?.Message + " " + e.TargetObject))
            .Concat(r.Warnings.Select(w => w.Message)).Concat(r.Verbose.Select(v => v.Message))
            .Concat(r.Output.Select(o => o.ToString())));

        private static void AssertNoSecret(string text, TestLocation place)
        {
            Assert.DoesNotContain(Secret, text);
            foreach (var secret in place.Environment.Where(e => e.Key.Contains("SECRET") || e.Key.Contains("CONNECTION")).Select(e => e.Value))
                Assert.DoesNotContain(secret, text);
            if (place.Kind == TestLocation.Azure) Assert.DoesNotContain(TestLocation.AzureKey(), text);
        }
    }

    public class ArtifactsDestinationTestsOnPostgres : ArtifactsDestinationTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
