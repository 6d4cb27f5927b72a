using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Azure.Storage.Blobs;
using MlTraces.Core.Locations;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// A fresh, empty place to keep objects, of one of the three kinds: a temporary local folder, a new bucket on the
    /// test s3rver, or a new container on the test Azurite (<see cref="ObjectStoreServers"/>). It gives the root URI
    /// as MLflow writes it, the settings (the environment a user would have) that reach it, and raw access through
    /// the SDKs themselves, so a test checks where objects really landed without going through the code under test.
    /// </summary>
    public sealed class TestLocation : IDisposable
    {
        public const string Folder = "folder", S3 = "s3", Azure = "azure";
        public static readonly string[] Kinds = { Folder, S3, Azure };

        public string Kind { get; }
        /// <summary>The root URI, with a prefix inside the bucket or container.</summary>
        public string Uri { get; }
        public ObjectStoreSettings Settings { get; }
        public IReadOnlyDictionary<string, string> Environment { get; }
        /// <summary>The bucket or container name (the folder's path for a folder).</summary>
        public string Container { get; }
        /// <summary>The key prefix of <see cref="Uri"/> inside the container.</summary>
        public string Prefix { get; }

        private TestLocation(string kind, string uri, string container, string prefix, Dictionary<string, string> environment)
        {
            Kind = kind; Uri = uri; Container = container; Prefix = prefix; Environment = environment;
            Settings = new ObjectStoreSettings(n => environment.TryGetValue(n, out var v) ? v : null);
        }

        public static TestLocation Create(string kind, string prefix = "mlartifacts/team-a")
        {
            string name = "t" + Guid.NewGuid().ToString("N").Substring(0, 20);
            switch (kind)
            {
                case Folder:
                {
                    string folder = Path.Combine(Path.GetTempPath(), "mltraces-loc-" + name);
                    Directory.CreateDirectory(folder);
                    return new TestLocation(kind, new System.Uri(Path.Combine(folder, prefix)).AbsoluteUri, folder, prefix, new Dictionary<string, string>());
                }
                case S3:
                {
                    var env = S3Environment();
                    using (var client = S3Client()) client.PutBucketAsync(name).GetAwaiter().GetResult();
                    return new TestLocation(kind, $"s3://{name}/{prefix}", name, prefix, env);
                }
                case Azure:
                {
                    var env = new Dictionary<string, string> { ["AZURE_STORAGE_CONNECTION_STRING"] = ObjectStoreServers.AzureConnectionString };
                    AzureService().GetBlobContainerClient(name).Create();
                    return new TestLocation(kind, $"wasbs://{name}@{AzureAccount()}.blob.core.windows.net/{prefix}", name, prefix, env);
                }
                default: throw new ArgumentException(kind);
            }
        }

        public static Dictionary<string, string> S3Environment() => new Dictionary<string, string>
        {
            ["MLFLOW_S3_ENDPOINT_URL"] = ObjectStoreServers.S3Endpoint,
            ["AWS_ACCESS_KEY_ID"] = ObjectStoreServers.S3AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = ObjectStoreServers.S3SecretKey,
        };

        public static string AzureAccount() => Part(ObjectStoreServers.AzureConnectionString, "AccountName");
        public static string AzureKey() => Part(ObjectStoreServers.AzureConnectionString, "AccountKey");

        private static string Part(string connection, string name) =>
            connection.Split(';').Select(p => p.Split(new[] { '=' }, 2)).First(p => p[0] == name)[1];

        public static AmazonS3Client S3Client() => new AmazonS3Client(new BasicAWSCredentials(ObjectStoreServers.S3AccessKey, ObjectStoreServers.S3SecretKey),
            new AmazonS3Config
            {
                ServiceURL = ObjectStoreServers.S3Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1",
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED, ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            });

        public static BlobServiceClient AzureService() => new BlobServiceClient(ObjectStoreServers.AzureConnectionString);

        /// <summary>Sets this location's environment (plus <paramref name="extra"/>) in the process, as a user's session
        /// would have it, until disposed. Only for tests in <see cref="ProcessEnvironmentCollection"/>.</summary>
        public IDisposable UseEnvironment(IDictionary<string, string>? extra = null)
        {
            var env = new Dictionary<string, string>(Environment);
            if (extra != null) foreach (var e in extra) env[e.Key] = e.Value;
            return SetEnvironment(env);
        }

        /// <summary>Sets these variables in the process until disposed. Only for tests in <see cref="ProcessEnvironmentCollection"/>.</summary>
        public static IDisposable SetEnvironment(IDictionary<string, string> env)
        {
            var saved = env.Keys.ToDictionary(k => k, System.Environment.GetEnvironmentVariable);
            foreach (var e in env) System.Environment.SetEnvironmentVariable(e.Key, e.Value);
            return new Restore(saved);
        }

        private sealed class Restore : IDisposable
        {
            private readonly Dictionary<string, string?> _saved;
            public Restore(Dictionary<string, string?> saved) { _saved = saved; }
            public void Dispose() { foreach (var e in _saved) System.Environment.SetEnvironmentVariable(e.Key, e.Value); }
        }

        public IObjectLocation Open() => ObjectLocations.Open(Uri, Settings);

        /// <summary>The full key (inside the container) of a key relative to the root.</summary>
        public string FullKey(string relative) => Prefix + "/" + relative;

        /// <summary>Puts an object at a full key with the SDK itself (or the file system).</summary>
        public void PutRaw(string fullKey, byte[] data)
        {
            switch (Kind)
            {
                case Folder:
                    string path = Path.Combine(Container, fullKey);
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.WriteAllBytes(path, data);
                    break;
                case S3:
                    using (var client = S3Client())
                        client.PutObjectAsync(new PutObjectRequest { BucketName = Container, Key = fullKey, InputStream = new MemoryStream(data), UseChunkEncoding = false }).GetAwaiter().GetResult();
                    break;
                default:
                    AzureService().GetBlobContainerClient(Container).GetBlobClient(fullKey).Upload(new BinaryData(data), overwrite: true);
                    break;
            }
        }

        /// <summary>The object at a full key, read with the SDK itself; null when there is none.</summary>
        public byte[]? GetRaw(string fullKey)
        {
            switch (Kind)
            {
                case Folder:
                    string path = Path.Combine(Container, fullKey);
                    return File.Exists(path) ? File.ReadAllBytes(path) : null;
                case S3:
                    using (var client = S3Client())
                    {
                        try
                        {
                            using var response = client.GetObjectAsync(Container, fullKey).GetAwaiter().GetResult();
                            using var buffer = new MemoryStream();
                            response.ResponseStream.CopyTo(buffer);
                            return buffer.ToArray();
                        }
                        catch (AmazonS3Exception ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound) { return null; }
                    }
                default:
                    var blob = AzureService().GetBlobContainerClient(Container).GetBlobClient(fullKey);
                    return blob.Exists().Value ? blob.DownloadContent().Value.Content.ToArray() : null;
            }
        }

        /// <summary>Every full key in the container (every file under the folder), sorted.</summary>
        public List<string> AllRaw()
        {
            switch (Kind)
            {
                case Folder:
                    return Directory.EnumerateFiles(Container, "*", SearchOption.AllDirectories)
                        .Select(f => Path.GetRelativePath(Container, f).Replace(Path.DirectorySeparatorChar, '/')).OrderBy(k => k, StringComparer.Ordinal).ToList();
                case S3:
                    using (var client = S3Client())
                    {
                        var keys = new List<string>();
                        string? token = null;
                        do
                        {
                            var page = client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Container, ContinuationToken = token }).GetAwaiter().GetResult();
                            keys.AddRange((page.S3Objects ?? new List<S3Object>()).Select(o => o.Key));
                            token = page.IsTruncated == true ? page.NextContinuationToken : null;
                        } while (token != null);
                        return keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
                    }
                default:
                    return AzureService().GetBlobContainerClient(Container).GetBlobs().Select(b => b.Name).OrderBy(k => k, StringComparer.Ordinal).ToList();
            }
        }

        public void Dispose()
        {
            if (Kind == Folder) try { Directory.Delete(Container, true); } catch (IOException) { }
            // Buckets and containers live in the servers' temporary folders, removed when the servers stop.
        }
    }
}
