using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using MlTraces.Core;
using MlTraces.Core.Locations;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>
    /// One contract, three real places: a local folder, a bucket on s3rver, a container on Azurite. What is written
    /// is checked where it landed with the SDK itself, at the key MLflow would use.
    /// </summary>
    public class ObjectLocationTests
    {
        private const string PayloadKey = "0/traces/tr-0123456789abcdef0123456789abcdef/artifacts/traces.pb";

        [ObjectStoreTheory]
        [InlineData(TestLocation.Folder)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void WrittenObjectsLandAtMlflowsKeyAndReadBack(string kind)
        {
            using var place = TestLocation.Create(kind);
            var location = place.Open();
            var first = Encoding.UTF8.GetBytes("first payload " + kind);
            var second = Encoding.UTF8.GetBytes("the second, longer payload " + kind);

            Assert.False(location.Exists(PayloadKey));
            var missing = Assert.Throws<MlTracesException>(() => location.Read(PayloadKey));
            Assert.Equal("ObjectMissing", missing.ErrorId);
            Assert.Equal(ErrorKind.NotFound, missing.Kind);

            var before = DateTimeOffset.UtcNow.AddSeconds(-5);
            location.Write(PayloadKey, first);
            Assert.Equal(first, place.GetRaw(place.FullKey(PayloadKey)));
            Assert.True(location.Exists(PayloadKey));
            Assert.Equal(first, location.Read(PayloadKey));
            location.Write(PayloadKey, second);
            Assert.Equal(second, location.Read(PayloadKey));
            // Nothing but the object itself is left behind (no temporary file or blob).
            Assert.Equal(new[] { place.FullKey(PayloadKey) }, place.AllRaw());

            var listed = location.List("0/traces").ToList();
            var entry = Assert.Single(listed);
            Assert.Equal(PayloadKey, entry.Key);
            Assert.Equal(second.Length, entry.Size);
            Assert.InRange(entry.LastModified, before, DateTimeOffset.UtcNow.AddSeconds(5));
            Assert.Empty(location.List("1/traces"));
            Assert.Single(location.List(""));

            Assert.True(location.Delete(PayloadKey));
            Assert.False(location.Delete(PayloadKey));
            Assert.False(location.Exists(PayloadKey));
            Assert.Null(place.GetRaw(place.FullKey(PayloadKey)));
        }

        [ObjectStoreTheory]
        [InlineData(TestLocation.Folder)]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void ObjectsPutByOthersAreReadListedAndDeletedInBulk(string kind)
        {
            using var place = TestLocation.Create(kind);
            var location = place.Open();
            // More than one DeleteObjects request (1,000 keys each), put with the SDK as MLflow would.
            var keys = Enumerable.Range(0, 1010).Select(i => $"1/traces/tr-{i:x32}/artifacts/traces.pb").ToList();
            Transient.Wait(Transient.ForEachAsync(keys, 16, k => System.Threading.Tasks.Task.Run(() => { place.PutRaw(place.FullKey(k), Encoding.UTF8.GetBytes(k)); return true; }), default));
            place.PutRaw(place.FullKey("2/traces/tr-keep/artifacts/traces.pb"), new byte[] { 1 });
            // Beside the root prefix, not under it: never listed, never deleted.
            place.PutRaw("mlartifacts/team-ab/1/traces/tr-x/artifacts/traces.pb", new byte[] { 2 });

            Assert.Equal(Encoding.UTF8.GetBytes(keys[7]), location.Read(keys[7]));
            Assert.Equal(keys.OrderBy(k => k, StringComparer.Ordinal), location.List("1").Select(e => e.Key).OrderBy(k => k, StringComparer.Ordinal));

            var failures = location.DeleteMany(keys.Concat(new[] { "1/traces/tr-never-there/artifacts/traces.pb" }).ToList());
            Assert.Empty(failures);
            Assert.Empty(location.List("1"));
            Assert.Equal(new[] { "2/traces/tr-keep/artifacts/traces.pb" }, location.List("").Select(e => e.Key));
            Assert.Equal(new[] { "mlartifacts/team-a/2/traces/tr-keep/artifacts/traces.pb", "mlartifacts/team-ab/1/traces/tr-x/artifacts/traces.pb" }, place.AllRaw());
        }

        public static IEnumerable<object[]> HostileKeys()
        {
            var keys = new[] { "../x", "0/../../x", "0/traces/../../../x", "a//b", "./a", "a/.", "a\\..\\b", "0/traces/tr-1/artifacts/..", "CON", "a/b:c", "a/\u0000b", "" };
            foreach (var kind in TestLocation.Kinds)
                foreach (var key in keys)
                    yield return new object[] { kind, key };
        }

        [ObjectStoreTheory]
        [MemberData(nameof(HostileKeys))]
        public void HostileKeysAreRefusedBeforeAnyRequest(string kind, string key)
        {
            using var place = TestLocation.Create(kind);
            // Something for a climbing key to hit if it got through.
            place.PutRaw("x", new byte[] { 9 });
            place.PutRaw("mlartifacts/x", new byte[] { 9 });
            var location = place.Open();
            foreach (Action act in new Action[]
            {
                () => location.Read(key), () => location.Write(key, new byte[] { 1 }), () => location.Exists(key),
                () => location.Delete(key), () => location.DeleteMany(new[] { "0/traces/tr-1/artifacts/traces.pb", key }),
                // An empty prefix lists everything under the root; any other hostile prefix is refused.
                () => location.List(key.Length == 0 ? "../x" : key).ToList(),
            })
            {
                var ex = Assert.Throws<MlTracesException>(act);
                Assert.Equal("UnsafeArchiveLocation", ex.ErrorId);
            }
            Assert.Equal(new[] { "mlartifacts/x", "x" }, place.AllRaw());
        }

        /// <summary>A SAS scoped to the container (a service SAS, the kind an admin hands out for one container) may
        /// not read the container's properties: asking whether a blob exists must not need them. It got a 403 for
        /// every missing blob.</summary>
        [ObjectStoreFact]
        public void AContainerSasCanAskWhetherABlobExists()
        {
            using var place = TestLocation.Create(TestLocation.Azure);
            var sas = new Azure.Storage.Sas.BlobSasBuilder(
                Azure.Storage.Sas.BlobContainerSasPermissions.Read | Azure.Storage.Sas.BlobContainerSasPermissions.Write
                | Azure.Storage.Sas.BlobContainerSasPermissions.Delete | Azure.Storage.Sas.BlobContainerSasPermissions.List, DateTimeOffset.UtcNow.AddHours(1))
            { BlobContainerName = place.Container, Resource = "c", Protocol = Azure.Storage.Sas.SasProtocol.HttpsAndHttp, StartsOn = DateTimeOffset.UtcNow.AddMinutes(-5) }
                .ToSasQueryParameters(new Azure.Storage.StorageSharedKeyCredential(TestLocation.AzureAccount(), TestLocation.AzureKey())).ToString();
            string endpoint = ObjectStoreServers.AzureConnectionString.Split(';').Single(p => p.StartsWith("BlobEndpoint=", StringComparison.Ordinal));
            string connection = $"{endpoint};SharedAccessSignature={sas}";
            var location = ObjectLocations.Open(place.Uri, new ObjectStoreSettings(n => n == "AZURE_STORAGE_CONNECTION_STRING" ? connection : null));

            Assert.False(location.Exists(PayloadKey));
            location.Write(PayloadKey, new byte[] { 1, 2 });
            Assert.True(location.Exists(PayloadKey));
            Assert.True(location.Delete(PayloadKey));
            Assert.False(location.Exists(PayloadKey));
        }

        [ObjectStoreTheory]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void AMissingBucketOrContainerIsNamedAndNothingIsCreated(string kind)
        {
            using var place = TestLocation.Create(kind);
            string missing = "gone" + Guid.NewGuid().ToString("N").Substring(0, 12);
            string uri = place.Uri.Replace(place.Container, missing);
            var location = ObjectLocations.Open(uri, place.Settings);
            foreach (Action act in new Action[]
            {
                () => location.Read(PayloadKey), () => location.Write(PayloadKey, new byte[] { 1 }), () => location.Exists(PayloadKey),
                () => location.List("0").ToList(),
            })
            {
                var ex = Assert.Throws<MlTracesException>(act);
                Assert.Equal("ObjectStoreContainerMissing", ex.ErrorId);
                Assert.Equal(ErrorKind.NotFound, ex.Kind);
                Assert.Contains(missing, ex.Message);
            }
            var failures = location.DeleteMany(new[] { PayloadKey });
            Assert.Equal("ObjectStoreContainerMissing", Assert.Single(failures).Error.ErrorId);
        }

        [ObjectStoreTheory]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void WrongCredentialsAreRefusedWithoutShowingThem(string kind)
        {
            using var place = TestLocation.Create(kind);
            place.PutRaw(place.FullKey(PayloadKey), new byte[] { 1, 2, 3 });
            string secret = Convert.ToBase64String(Guid.NewGuid().ToByteArray().Concat(Guid.NewGuid().ToByteArray()).ToArray());
            var env = new Dictionary<string, string>(place.Environment);
            var secrets = new List<string> { secret };
            if (kind == TestLocation.S3)
            {
                env["AWS_ACCESS_KEY_ID"] = "AKIAMLTRACESWRONGKEY";
                env["AWS_SECRET_ACCESS_KEY"] = secret;
                env["AWS_SESSION_TOKEN"] = "session-" + secret;
                secrets.Add("session-" + secret);
            }
            else
            {
                env["AZURE_STORAGE_CONNECTION_STRING"] = place.Environment["AZURE_STORAGE_CONNECTION_STRING"].Replace(TestLocation.AzureKey(), secret);
                secrets.Add(env["AZURE_STORAGE_CONNECTION_STRING"]);
            }
            var settings = new ObjectStoreSettings(n => env.TryGetValue(n, out var v) ? v : null);
            var location = ObjectLocations.Open(place.Uri, settings);
            var errors = new List<Exception>();
            foreach (Action act in new Action[]
            {
                () => location.Read(PayloadKey), () => location.Write(PayloadKey, new byte[] { 1 }), () => location.Exists(PayloadKey),
                () => location.Delete(PayloadKey), () => location.List("0").ToList(),
            })
            {
                var ex = Assert.Throws<MlTracesException>(act);
                Assert.Equal("ObjectStoreAccessDenied", ex.ErrorId);
                Assert.Equal(ErrorKind.AuthenticationFailed, ex.Kind);
                errors.Add(ex);
            }
            var failure = Assert.Single(location.DeleteMany(new[] { PayloadKey }));
            errors.Add(failure.Error);
            foreach (var error in errors)
                for (Exception? e = error; e != null; e = e.InnerException)
                    foreach (var s in secrets)
                    {
                        Assert.DoesNotContain(s, e.Message);
                        Assert.DoesNotContain(s, e.ToString());
                        Assert.DoesNotContain(Uri.EscapeDataString(s), e.ToString());
                    }
            Assert.DoesNotContain(secret, settings.ToString());
            Assert.DoesNotContain(secret, location.Root.ToString());
            // Nothing was changed by the refused calls.
            Assert.Equal(new byte[] { 1, 2, 3 }, place.GetRaw(place.FullKey(PayloadKey)));
        }
    }
}

namespace MlTraces.Tests.Locations
{
    /// <summary>A store that goes away: a private server of each kind, stopped under the location's feet.</summary>
    public class StoppedServerTests
    {
        [ObjectStoreFact]
        public void CertificatesAreCheckedUnlessMlflowS3IgnoreTlsIsTrue()
        {
            var (endpoint, server) = ObjectStoreServers.StartPrivate("s3-tls");
            using (server)
            {
                Assert.StartsWith("https://", endpoint);
                ObjectStoreSettings Settings(string? ignore) => new ObjectStoreSettings(n => n switch
                {
                    "MLFLOW_S3_ENDPOINT_URL" => endpoint, "AWS_ACCESS_KEY_ID" => ObjectStoreServers.S3AccessKey,
                    "AWS_SECRET_ACCESS_KEY" => ObjectStoreServers.S3SecretKey, "MLFLOW_S3_IGNORE_TLS" => ignore, _ => null,
                });
                // A self-signed certificate is refused as it would be by MLflow's client ...
                // (at once: a certificate that fails its check is not tried again).
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var refused = Assert.Throws<MlTracesException>(() => ObjectLocations.Open("s3://tls/root", Settings(null)).Exists("0/traces/tr-1/artifacts/traces.pb"));
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), watch.Elapsed.ToString());
                Assert.Equal("ObjectStoreRequestFailed", refused.ErrorId);
                Assert.Contains("certificate", refused.Message);
                Assert.Contains("s3://tls/root/0/traces/tr-1/artifacts/traces.pb", refused.Message);
                // ... and accepted with MLFLOW_S3_IGNORE_TLS=true (any case, as MLflow reads it): the bucket is then
                // reached, and found missing.
                var reached = Assert.Throws<MlTracesException>(() => ObjectLocations.Open("s3://tls/root", Settings("TRUE")).Exists("0/traces/tr-1/artifacts/traces.pb"));
                Assert.Equal("ObjectStoreContainerMissing", reached.ErrorId);
                Assert.False(new ObjectStoreSettings(n => n == "MLFLOW_S3_IGNORE_TLS" ? "1" : null).S3IgnoreTls);
            }
        }

        [ObjectStoreTheory]
        [InlineData(TestLocation.S3)]
        [InlineData(TestLocation.Azure)]
        public void AStoppedServerIsUnreachableAfterTheRetriesAndNothingSecretIsSaid(string kind)
        {
            var (endpoint, server) = ObjectStoreServers.StartPrivate(kind);
            try
            {
                var env = kind == TestLocation.S3
                    ? new Dictionary<string, string> { ["MLFLOW_S3_ENDPOINT_URL"] = endpoint, ["AWS_ACCESS_KEY_ID"] = ObjectStoreServers.S3AccessKey, ["AWS_SECRET_ACCESS_KEY"] = ObjectStoreServers.S3SecretKey }
                    : new Dictionary<string, string> { ["AZURE_STORAGE_CONNECTION_STRING"] = endpoint };
                string secret = kind == TestLocation.S3 ? "" : endpoint.Split(';').First(p => p.StartsWith("AccountKey=", StringComparison.Ordinal)).Substring("AccountKey=".Length);
                string account = kind == TestLocation.S3 ? "" : endpoint.Split(';').First(p => p.StartsWith("AccountName=", StringComparison.Ordinal)).Substring("AccountName=".Length);
                string uri = kind == TestLocation.S3 ? "s3://stopped/root" : $"wasbs://stopped@{account}.blob.core.windows.net/root";
                var settings = new ObjectStoreSettings(n => env.TryGetValue(n, out var v) ? v : null);
                if (kind == TestLocation.S3)
                {
                    using var client = new Amazon.S3.AmazonS3Client(new Amazon.Runtime.BasicAWSCredentials("S3RVER", "S3RVER"), new Amazon.S3.AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
                    client.PutBucketAsync("stopped").GetAwaiter().GetResult();
                }
                else new Azure.Storage.Blobs.BlobServiceClient(endpoint).GetBlobContainerClient("stopped").Create();
                var location = ObjectLocations.Open(uri, settings);
                location.Write("0/traces/tr-1/artifacts/traces.pb", new byte[] { 1 });
                Assert.True(location.Exists("0/traces/tr-1/artifacts/traces.pb"));

                ObjectStoreServers.Stop(server);
                var watch = System.Diagnostics.Stopwatch.StartNew();
                foreach (Action act in new Action[] { () => location.Read("0/traces/tr-1/artifacts/traces.pb"), () => location.Write("0/traces/tr-2/artifacts/traces.pb", new byte[] { 2 }) })
                {
                    var ex = Assert.Throws<MlTracesException>(act);
                    Assert.Equal("ObjectStoreUnreachable", ex.ErrorId);
                    Assert.Equal(ErrorKind.StoreUnavailable, ex.Kind);
                    Assert.Contains("/root/0/traces/tr-", ex.Message);
                    Assert.Contains($"after {Transient.MaxAttempts} tries", ex.Message);
                    if (secret.Length > 0) Assert.DoesNotContain(secret, ex.ToString());
                }
                // Backed off between the tries (about 6 s each), not given up at once.
                Assert.True(watch.Elapsed > TimeSpan.FromSeconds(5), watch.Elapsed.ToString());
            }
            finally { server.Dispose(); }
        }
    }
}
