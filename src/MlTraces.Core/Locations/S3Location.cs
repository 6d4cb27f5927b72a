using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.S3;
using Amazon.S3.Model;

namespace MlTraces.Core.Locations
{
    /// <summary>
    /// An s3:// location through the official SDK (AWSSDK.S3), reached as MLflow's S3ArtifactRepository reaches it
    /// (mlflow/store/artifact/s3_artifact_repo.py, _get_s3_client): credentials from AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN], else the profile AWS_PROFILE names, else the SDK's default chain
    /// (shared credentials file, SSO, container and instance roles); MLFLOW_S3_ENDPOINT_URL for S3-compatible
    /// servers (MinIO, Ceph, s3rver), with path-style addressing; MLFLOW_S3_IGNORE_TLS; the region from AWS_REGION /
    /// AWS_DEFAULT_REGION, else the SDK's region chain, else us-east-1.
    /// </summary>
    public sealed class S3Location : IObjectLocation
    {
        /// <summary>DeleteObjects takes at most 1,000 keys a request.</summary>
        public const int DeleteBatch = 1000;

        private static readonly ConcurrentDictionary<string, Lazy<AmazonS3Client>> Clients = new ConcurrentDictionary<string, Lazy<AmazonS3Client>>(StringComparer.Ordinal);

        private readonly AmazonS3Client _client;
        private readonly ObjectStoreSettings _settings;

        public S3Location(LocationUri root, ObjectStoreSettings settings)
        {
            if (root.Kind != LocationKind.S3) throw new ArgumentException("Not an S3 location.", nameof(root));
            Root = root;
            _settings = settings;
            _client = Clients.GetOrAdd(settings.Fingerprint(), _ => new Lazy<AmazonS3Client>(() => CreateClient(settings))).Value;
        }

        public LocationUri Root { get; }

        private static AmazonS3Client CreateClient(ObjectStoreSettings settings)
        {
            var config = new AmazonS3Config
            {
                // One retry policy for every store (Transient); the SDK's own would multiply it.
                MaxErrorRetry = 0,
                Timeout = settings.RequestTimeout,
            };
            string? endpoint = settings.S3EndpointUrl;
            string? region = settings.AwsRegion;
            if (endpoint != null)
            {
                config.ServiceURL = endpoint;
                // S3-compatible servers address buckets by path, as MLflow's client does when an endpoint is set.
                config.ForcePathStyle = true;
                config.AuthenticationRegion = region ?? "us-east-1";
                // Checksums only where S3 requires them: the newer default (trailing CRC32) is not understood by
                // every S3-compatible server.
                config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
                config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
            }
            else if (region != null) config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
            else
            {
                try { config.RegionEndpoint = FallbackRegionFactory.GetRegionEndpoint() ?? RegionEndpoint.USEast1; }
                catch (Exception) { config.RegionEndpoint = RegionEndpoint.USEast1; }
            }
            if (settings.S3IgnoreTls) config.HttpClientFactory = new UnverifiedTls();

            string? key = settings.Get("AWS_ACCESS_KEY_ID"), secret = settings.Get("AWS_SECRET_ACCESS_KEY"), token = settings.Get("AWS_SESSION_TOKEN");
            if (key != null && secret != null)
                return new AmazonS3Client(token != null ? new SessionAWSCredentials(key, secret, token) : (AWSCredentials)new BasicAWSCredentials(key, secret), config);
            string? profile = settings.Get("AWS_PROFILE");
            if (profile != null)
            {
                // boto3's rule: AWS_SHARED_CREDENTIALS_FILE names the credentials file when set (the SDK's chain
                // alone does not look there).
                string? file = settings.Get("AWS_SHARED_CREDENTIALS_FILE");
                if (!new CredentialProfileStoreChain(file).TryGetAWSCredentials(profile, out var credentials))
                    throw new MlTracesException(ErrorKind.AuthenticationFailed, "ObjectStoreCredentialsMissing",
                        $"The AWS profile '{UserText.Printable(profile)}' ($env:AWS_PROFILE) is not in the shared credentials file ({(file == null ? "~/.aws/credentials" : UserText.Printable(file))}) or ~/.aws/config: add it, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.");
                return new AmazonS3Client(credentials, config);
            }
            // The default chain: environment, shared files, SSO, container and instance roles.
            return new AmazonS3Client(config);
        }

        /// <summary>MLFLOW_S3_IGNORE_TLS=true: certificates are not verified, as MLflow's boto3 client then does not.</summary>
        private sealed class UnverifiedTls : HttpClientFactory
        {
            public override HttpClient CreateHttpClient(IClientConfig clientConfig) =>
                new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        }

        private string Shown(string key) => "s3://" + Root.Container + "/" + key;

        public byte[] Read(string key, CancellationToken cancel = default)
        {
            string full = Root.Key(key);
            return Call("read", full, async () =>
            {
                using var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = Root.Container, Key = full }, cancel).ConfigureAwait(false);
                if (response.ContentLength > Store.ConfinedPath.MaxFileBytes)
                    throw new MlTracesException(ErrorKind.InvalidData, "ObjectTooLarge", $"The object '{Shown(full)}' is {response.ContentLength:N0} bytes, more than the {Store.ConfinedPath.MaxFileBytes:N0} a trace's payload can be.");
                using var buffer = new MemoryStream(response.ContentLength > 0 ? (int)response.ContentLength : 0);
                await response.ResponseStream.CopyToAsync(buffer, 81920, cancel).ConfigureAwait(false);
                return buffer.ToArray();
            }, cancel);
        }

        public void Write(string key, byte[] data, CancellationToken cancel = default) => Transient.Wait(Put(key, data, cancel));

        public Task WriteAsync(string key, byte[] data, CancellationToken cancel = default) => Put(key, data, cancel);

        private Task<bool> Put(string key, byte[] data, CancellationToken cancel)
        {
            string full = Root.Key(key);
            // One PUT: S3 shows the whole new object or the old one, never part of it.
            return CallAsync("write", full, async () =>
            {
                using var body = new MemoryStream(data, writable: false);
                await _client.PutObjectAsync(new PutObjectRequest { BucketName = Root.Container, Key = full, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false }, cancel).ConfigureAwait(false);
                return true;
            }, cancel);
        }

        public bool Exists(string key, CancellationToken cancel = default) => ExistsFull(Root.Key(key), cancel);

        private bool ExistsFull(string full, CancellationToken cancel) =>
            Call("check", full, async () =>
            {
                try
                {
                    await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Root.Container, Key = full }, cancel).ConfigureAwait(false);
                    return true;
                }
                catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchBucket")
                {
                    // HEAD has no body, so a missing bucket is told apart by asking for the bucket.
                    if (!await BucketExists(cancel).ConfigureAwait(false)) throw new AmazonS3Exception("The specified bucket does not exist") { StatusCode = HttpStatusCode.NotFound, ErrorCode = "NoSuchBucket" };
                    return false;
                }
            }, cancel);

        private async Task<bool> BucketExists(CancellationToken cancel)
        {
            try
            {
                await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Root.Container, MaxKeys = 1 }, cancel).ConfigureAwait(false);
                return true;
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == "NoSuchBucket") { return false; }
        }

        public bool Delete(string key, CancellationToken cancel = default)
        {
            string full = Root.Key(key);
            // S3 answers 204 whether or not the key was there: ask first, so "false when there was none" holds.
            if (!ExistsFull(full, cancel)) return false;
            Call("delete", full, async () =>
            {
                await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Root.Container, Key = full }, cancel).ConfigureAwait(false);
                return true;
            }, cancel);
            return true;
        }

        public IReadOnlyList<DeleteFailure> DeleteMany(IReadOnlyList<string> keys, CancellationToken cancel = default)
        {
            var full = keys.Select(k => (Key: k, Full: Root.Key(k))).ToList();
            var batches = new List<List<(string Key, string Full)>>();
            for (int i = 0; i < full.Count; i += DeleteBatch) batches.Add(full.Skip(i).Take(DeleteBatch).ToList());
            var results = Transient.Wait(Transient.ForEachAsync(batches, Transient.Concurrency, async batch =>
            {
                var byFull = batch.ToDictionary(b => b.Full, b => b.Key, StringComparer.Ordinal);
                try
                {
                    var response = await CallAsync("delete", batch[0].Full, async () =>
                    {
                        try
                        {
                            return await _client.DeleteObjectsAsync(new DeleteObjectsRequest
                            {
                                BucketName = Root.Container,
                                Quiet = true,
                                Objects = batch.Select(b => new KeyVersion { Key = b.Full }).ToList(),
                            }, cancel).ConfigureAwait(false);
                        }
                        catch (DeleteObjectsException ex) { return ex.Response; }
                    }, cancel).ConfigureAwait(false);
                    return (response.DeleteErrors ?? new List<DeleteError>())
                        .Where(e => byFull.ContainsKey(e.Key) && e.Code != "NoSuchKey")
                        .Select(e => new DeleteFailure(byFull[e.Key], new MlTracesException(ErrorKind.WriteFailed, "ObjectDeleteFailed",
                            $"S3 did not delete '{Shown(e.Key)}' ({e.Code}): {_settings.Scrub(e.Message)}")))
                        .ToList();
                }
                catch (MlTracesException ex) { return batch.Select(b => new DeleteFailure(b.Key, ex)).ToList(); }
            }, cancel));
            return results.SelectMany(r => r).ToList();
        }

        public IEnumerable<ObjectEntry> List(string prefix, CancellationToken cancel = default)
        {
            string rootPrefix = Root.Prefix.Length == 0 ? "" : Root.Prefix + "/";
            string listPrefix = prefix.Length == 0 ? rootPrefix : Root.Key(prefix.TrimEnd('/')) + "/";
            string? token = null;
            do
            {
                var page = Call("list", listPrefix, () => _client.ListObjectsV2Async(new ListObjectsV2Request
                {
                    BucketName = Root.Container, Prefix = listPrefix, ContinuationToken = token,
                }, cancel), cancel);
                foreach (var o in page.S3Objects ?? new List<S3Object>())
                {
                    // Only what is really under the prefix (the server chose what to return).
                    if (!o.Key.StartsWith(listPrefix, StringComparison.Ordinal)) continue;
                    yield return new ObjectEntry(o.Key.Substring(rootPrefix.Length),
                        o.LastModified is DateTime m ? new DateTimeOffset(DateTime.SpecifyKind(m.ToUniversalTime(), DateTimeKind.Utc)) : DateTimeOffset.MinValue,
                        o.Size ?? 0);
                }
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            } while (token != null);
        }

        private T Call<T>(string what, string fullKey, Func<Task<T>> action, CancellationToken cancel) =>
            Transient.Wait(CallAsync(what, fullKey, action, cancel));

        private Task<T> CallAsync<T>(string what, string fullKey, Func<Task<T>> action, CancellationToken cancel) =>
            Transient.GuardedAsync(action, IsTransient, ex => Error(what, fullKey, ex), cancel);

        /// <summary>Throttling (503 SlowDown, 429), server errors and timeouts are tried again.</summary>
        public static bool IsTransient(Exception ex)
        {
            if (ex is AmazonServiceException s)
            {
                int status = (int)s.StatusCode;
                return Transient.IsRetryableStatus(status)
                    || s.ErrorCode is "SlowDown" or "RequestTimeout" or "Throttling" or "ThrottlingException" or "RequestLimitExceeded" or "InternalError"
                    || (status == 0 && s.InnerException != null && IsTransient(s.InnerException));
            }
            if (ex is AmazonClientException c && c.InnerException != null) return IsTransient(c.InnerException);
            return Transient.IsNetworkFailure(ex);
        }

        /// <summary>What went wrong, for a person: the location, the status and S3's error code, what to do. The
        /// SDK's own text only after every secret is scrubbed out; the SDK's exception is not kept (its fields hold
        /// request details).</summary>
        private MlTracesException Error(string what, string fullKey, Exception ex)
        {
            string where = Shown(fullKey);
            if (ex is AmazonS3Exception s3)
            {
                int status = (int)s3.StatusCode;
                if (s3.ErrorCode == "NoSuchBucket")
                    return new MlTracesException(ErrorKind.NotFound, "ObjectStoreContainerMissing",
                        $"Could not {what} '{where}': the bucket '{Root.Container}' does not exist{EndpointNote()}. Check the location, or create the bucket.");
                if (status == 404)
                    return new MlTracesException(ErrorKind.NotFound, "ObjectMissing", $"The object '{where}' does not exist.");
                if (status == 401 || status == 403)
                    return new MlTracesException(ErrorKind.AuthenticationFailed, "ObjectStoreAccessDenied",
                        $"S3 refused to {what} '{where}' ({status} {s3.ErrorCode}){EndpointNote()}: check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the instance role) and that they may use this bucket.");
                if (status == 301 || s3.ErrorCode == "PermanentRedirect" || s3.ErrorCode == "AuthorizationHeaderMalformed")
                    return new MlTracesException(ErrorKind.InvalidArgument, "ObjectStoreWrongRegion",
                        $"Could not {what} '{where}': the bucket is in another region than the one used ({s3.ErrorCode}). Set $env:AWS_REGION to the bucket's region.");
                return new MlTracesException(ErrorKind.IOError, "ObjectStoreRequestFailed",
                    $"Could not {what} '{where}' ({status} {s3.ErrorCode}){EndpointNote()}: {Transient.Describe(s3, _settings)}");
            }
            if (ex is AmazonClientException client && client.Message.IndexOf("credentials", StringComparison.OrdinalIgnoreCase) >= 0)
                return new MlTracesException(ErrorKind.AuthenticationFailed, "ObjectStoreCredentialsMissing",
                    $"Could not {what} '{where}': no AWS credentials were found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an instance or container role is available.");
            if (IsTransient(ex))
                return new MlTracesException(ErrorKind.StoreUnavailable, "ObjectStoreUnreachable",
                    $"Could not {what} '{where}'{EndpointNote()} after {Transient.MaxAttempts} tries: {Transient.Describe(ex, _settings)}{_settings.TimeoutNote(ex)}");
            return new MlTracesException(ErrorKind.IOError, "ObjectStoreRequestFailed",
                $"Could not {what} '{where}'{EndpointNote()}: {Transient.Describe(ex, _settings)}");
        }

        private string EndpointNote() => _settings.S3EndpointUrl is string e ? $" (endpoint {LocationUri.Shown(e)})" : "";
    }
}
