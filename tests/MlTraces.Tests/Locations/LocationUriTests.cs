using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MlTraces.Core;
using MlTraces.Core.Locations;

namespace MlTraces.Tests.Locations
{
    /// <summary>URIs as MLflow parses them (s3_artifact_repo.py, azure_blob_artifact_repo.py,
    /// azure_data_lake_artifact_repo.py, mlflow_artifacts_repo.py), and what is refused.</summary>
    public class LocationUriTests
    {
        private static ObjectStoreSettings Settings(params (string Name, string Value)[] values) =>
            new ObjectStoreSettings(n => values.FirstOrDefault(v => v.Name == n).Value);

        [Theory]
        [InlineData("s3://bucket/mlartifacts/team-a", "bucket", "mlartifacts/team-a")]
        [InlineData("s3://bucket/mlartifacts/team-a/", "bucket", "mlartifacts/team-a")]
        [InlineData("s3://bucket", "bucket", "")]
        [InlineData("s3://bucket/", "bucket", "")]
        [InlineData("s3://my.bucket-1/a/b/c", "my.bucket-1", "a/b/c")]
        public void S3TakesTheBucketFromTheHostAndThePrefixFromThePath(string uri, string bucket, string prefix)
        {
            var parsed = LocationUri.Parse(uri, Settings());
            Assert.Equal(LocationKind.S3, parsed.Kind);
            Assert.Equal(bucket, parsed.Container);
            Assert.Equal(prefix, parsed.Prefix);
            Assert.Equal("0/traces/tr-1/artifacts/traces.pb", parsed.WithPrefix("").Key("0/traces/tr-1/artifacts/traces.pb"));
            Assert.Equal(prefix.Length == 0 ? "x" : prefix + "/x", parsed.Key("x"));
        }

        [Theory]
        [InlineData("wasbs://cont@acct.blob.core.windows.net/mlartifacts", "cont", "acct", "blob.core.windows.net", "mlartifacts")]
        [InlineData("wasbs://cont@acct.blob.core.chinacloudapi.cn/a/b", "cont", "acct", "blob.core.chinacloudapi.cn", "a/b")]
        [InlineData("wasbs://cont@acct.blob.core.usgovcloudapi.net", "cont", "acct", "blob.core.usgovcloudapi.net", "")]
        [InlineData("abfss://fs@acct.dfs.core.windows.net/lake/mlflow", "fs", "acct", "blob.core.windows.net", "lake/mlflow")]
        [InlineData("abfss://fs@acct.dfs.core.chinacloudapi.cn/x", "fs", "acct", "blob.core.chinacloudapi.cn", "x")]
        public void AzureTakesContainerAccountAndSuffixAsMlflowDoes(string uri, string container, string account, string suffix, string prefix)
        {
            var parsed = LocationUri.Parse(uri, Settings());
            Assert.Equal(LocationKind.AzureBlob, parsed.Kind);
            Assert.Equal(container, parsed.Container);
            Assert.Equal(account, parsed.Account);
            Assert.Equal(suffix, parsed.HostSuffix);
            Assert.Equal(prefix, parsed.Prefix);
        }

        [Theory]
        // MLflow's wasbs rule is a full match on one of three clouds' blob hosts.
        [InlineData("wasbs://cont@acct.dfs.core.windows.net/x")]
        [InlineData("wasbs://acct.blob.core.windows.net/x")]
        [InlineData("wasbs://cont@acct.blob.core.windows.net.evil.example/x")]
        [InlineData("abfss://acct.dfs.core.windows.net/x")]
        public void MalformedAzureUrisSayWhatFormIsExpected(string uri)
        {
            var ex = Assert.Throws<MlTracesException>(() => LocationUri.Parse(uri, Settings()));
            Assert.Equal("UnsupportedLocation", ex.ErrorId);
            Assert.Contains("must be of the form", ex.Message);
        }

        [Theory]
        [InlineData("gs://bucket/path", "'gs:'")]
        [InlineData("hdfs://namenode:8020/path", "'hdfs:'")]
        [InlineData("dbfs:/databricks/mlflow", "'dbfs:'")]
        [InlineData("http://server/artifacts", "'http:'")]
        [InlineData("runs:/abc/model", "'runs:'")]
        [InlineData("relative/folder", "not an absolute local path")]
        [InlineData("s3:bucket/x", "must be followed by '//'")]
        [InlineData("s3:///x", "names no bucket")]
        public void OtherSchemesAreRefusedWithTheListOfSupportedOnes(string uri, string why)
        {
            var ex = Assert.Throws<MlTracesException>(() => LocationUri.Parse(uri, Settings()));
            Assert.Equal("UnsupportedLocation", ex.ErrorId);
            Assert.Equal(ErrorKind.UnsupportedStore, ex.Kind);
            Assert.Contains(why, ex.Message);
            foreach (var scheme in new[] { "s3://", "wasbs://", "abfss://", "mlflow-artifacts:/", "file://" }) Assert.Contains(scheme, ex.Message);
        }

        [Theory]
        [InlineData("mlflow-artifacts:/0/traces/tr-1/artifacts", "s3://bucket/mlartifacts", "s3://bucket/mlartifacts/0/traces/tr-1/artifacts")]
        [InlineData("mlflow-artifacts://server:5000/0/traces/tr-1/artifacts", "s3://bucket/mlartifacts/", "s3://bucket/mlartifacts/0/traces/tr-1/artifacts")]
        [InlineData("mlflow-artifacts://server/3", "wasbs://c@a.blob.core.windows.net/art", "wasbs://c@a.blob.core.windows.net/art/3")]
        [InlineData("mlflow-artifacts:/", "s3://bucket/mlartifacts", "s3://bucket/mlartifacts")]
        [InlineData("mlflow-artifacts:/0", "/srv/mlartifacts", "/srv/mlartifacts/0")]
        public void MlflowArtifactsUrisAreRelativeToTheServersDestination(string uri, string destination, string resolved)
        {
            var settings = Settings((ObjectStoreSettings.ArtifactsDestinationVariable, destination));
            Assert.Equal(resolved, LocationUri.ResolveMlflowArtifacts(uri, settings));
            var parsed = LocationUri.Parse(uri, settings);
            Assert.Equal(uri, parsed.Original);
            Assert.Equal(resolved.TrimEnd('/'), parsed.ToString());
        }

        [Fact]
        public void MlflowArtifactsWithoutADestinationSaysWhatToSet()
        {
            var ex = Assert.Throws<MlTracesException>(() => LocationUri.Parse("mlflow-artifacts:/0/traces/tr-1/artifacts", Settings()));
            Assert.Equal("ArtifactsDestinationMissing", ex.ErrorId);
            Assert.Contains(ObjectStoreSettings.ArtifactsDestinationVariable, ex.Message);
            Assert.Contains("--artifacts-destination", ex.Message);
        }

        [Theory]
        [InlineData("s3://bucket/a/../b")]
        [InlineData("s3://bucket/../b")]
        [InlineData("s3://bucket/a/./b")]
        [InlineData("s3://bucket/a//b")]
        [InlineData("wasbs://c@a.blob.core.windows.net/a/%2e%2e/../b")]
        [InlineData("abfss://c@a.dfs.core.windows.net/a\\b")]
        public void RootPrefixesThatAUrlClientMightFoldAreRefused(string uri)
        {
            var ex = Assert.Throws<MlTracesException>(() => LocationUri.Parse(uri, Settings()));
            Assert.Equal("UnsafeArchiveLocation", ex.ErrorId);
        }

        [Theory]
        [InlineData("wasbs://c@a.blob.core.windows.net/x?sv=2024&sig=SECRETSIGNATURE123")]
        [InlineData("s3://AKIAEXAMPLE:SECRETSIGNATURE123@bucket/x")]
        [InlineData("gs://AKIAEXAMPLE:SECRETSIGNATURE123@bucket/x")]
        public void CredentialsInAUriAreNeverEchoed(string uri)
        {
            var ex = Assert.Throws<MlTracesException>(() => LocationUri.Parse(uri, Settings()));
            Assert.DoesNotContain("SECRETSIGNATURE123", ex.ToString());
        }

        [Fact]
        public void SettingsNameWhatIsSetButNeverAValue()
        {
            var settings = Settings(("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                ("AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleS12YWx1ZS0xMjM0NTY3ODkw;EndpointSuffix=core.windows.net"));
            Assert.Contains("AWS_SECRET_ACCESS_KEY", settings.ToString());
            Assert.DoesNotContain("wJalr", settings.ToString());
            Assert.DoesNotContain("c2VjcmV0", settings.ToString());
            string scrubbed = settings.Scrub("failed: key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, account key c2VjcmV0LWtleS12YWx1ZS0xMjM0NTY3ODkw, encoded " + Uri.EscapeDataString("c2VjcmV0LWtleS12YWx1ZS0xMjM0NTY3ODkw"));
            Assert.DoesNotContain("wJalr", scrubbed);
            Assert.DoesNotContain("c2VjcmV0", scrubbed);
            Assert.Contains("acct", settings.Scrub("account acct"));
        }

        /// <summary>MLflow's MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT: whole seconds, -1 for no limit; anything else is
        /// refused with what to set (and at most a short, printable echo of the value).</summary>
        [Theory]
        [InlineData(null, 300.0)]
        [InlineData("2", 2.0)]
        [InlineData(" 600 ", 600.0)]
        [InlineData("-1", -1.0)]
        [InlineData("0", null)]
        [InlineData("-5", null)]
        [InlineData("1.5", null)]
        [InlineData("ten", null)]
        [InlineData("99999999999", null)]
        public void TheRequestTimeoutIsMlflowsVariable(string? value, double? seconds)
        {
            var settings = value == null ? Settings() : Settings((ObjectStoreSettings.TimeoutVariable, value));
            if (seconds is double s)
            {
                Assert.Equal(s < 0 ? System.Threading.Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(s), settings.RequestTimeout);
                return;
            }
            var ex = Assert.Throws<MlTracesException>(() => settings.RequestTimeout);
            Assert.Equal("ObjectStoreTimeoutInvalid", ex.ErrorId);
            Assert.Contains("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", ex.Message);
            Assert.Contains("-1 for no limit", ex.Message);
        }
    }

    /// <summary>The one retry and concurrency policy of every object store.</summary>
    public class TransientTests
    {
        private static bool Throttled(Exception ex) => ex is TimeoutException;

        [Fact]
        public void ThrottlingIsTriedAgainUntilItPasses()
        {
            int calls = 0;
            int result = Transient.Wait(Transient.RunAsync(() => ++calls < 3 ? throw new TimeoutException("slow down") : Task.FromResult(42), Throttled, default, TimeSpan.FromMilliseconds(1)));
            Assert.Equal(42, result);
            Assert.Equal(3, calls);
        }

        [Fact]
        public void ThrottlingThatLastsGivesUpAfterTheLastTry()
        {
            int calls = 0;
            Assert.Throws<TimeoutException>(() => Transient.Wait(Transient.RunAsync<int>(() => { calls++; throw new TimeoutException("slow down"); }, Throttled, default, TimeSpan.FromMilliseconds(1))));
            Assert.Equal(Transient.MaxAttempts, calls);
        }

        [Fact]
        public void OtherFailuresAreNotTriedAgain()
        {
            int calls = 0;
            Assert.Throws<InvalidOperationException>(() => Transient.Wait(Transient.RunAsync<int>(() => { calls++; throw new InvalidOperationException("403"); }, Throttled, default, TimeSpan.FromMilliseconds(1))));
            Assert.Equal(1, calls);
        }

        [Fact]
        public void BulkWorkKeepsAtMostTheGivenNumberInFlightAndItsOrder()
        {
            int inFlight = 0, peak = 0;
            var items = Enumerable.Range(0, 200).ToList();
            var results = Transient.Wait(Transient.ForEachAsync(items, 5, async i =>
            {
                int now = Interlocked.Increment(ref inFlight);
                lock (items) peak = Math.Max(peak, now);
                await Task.Delay(2);
                Interlocked.Decrement(ref inFlight);
                return i * 2;
            }, default));
            Assert.Equal(items.Select(i => i * 2), results);
            Assert.InRange(peak, 2, 5);
        }

        [Fact]
        public void StoppingStartsNothingNewAndWaitsForWhatIsInFlight()
        {
            using var stop = new CancellationTokenSource();
            int started = 0, finished = 0;
            var items = Enumerable.Range(0, 100).ToList();
            Assert.ThrowsAny<OperationCanceledException>(() => Transient.Wait(Transient.ForEachAsync(items, 4, async i =>
            {
                if (Interlocked.Increment(ref started) == 10) stop.Cancel();
                await Task.Delay(5);
                Interlocked.Increment(ref finished);
                return i;
            }, stop.Token)));
            Assert.InRange(started, 10, 14);
            Assert.Equal(started, finished);
        }
    }
}
