using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// An s3rver or Azurite of one test's own (tests/objectstores/servers.sh), which the test may kill in the middle
    /// of a command (SIGKILL, its data kept) and start again on the same data to see what is left. Stopped, and its
    /// folder removed, when disposed.
    /// </summary>
    public sealed class PrivateObjectStoreServer : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "mltraces-private-" + Guid.NewGuid().ToString("N"));
        private readonly string _script = Path.Combine(PgServer.RepoRoot(), "tests", "objectstores", "servers.sh");

        public string Kind { get; }
        /// <summary>The S3 endpoint URL, or the Azure connection string (with its key).</summary>
        public string Endpoint { get; private set; }
        /// <summary>What servers.sh starts: the kind, or azure-tls.</summary>
        private readonly string _start;
        /// <summary>The certificate an azure-tls server presents, which the raw SDK access here trusts (alone).</summary>
        private readonly System.Security.Cryptography.X509Certificates.X509Certificate2? _certificate;

        public PrivateObjectStoreServer(string kind)
        {
            Kind = _start = kind;
            Endpoint = Run($"start {Kind} \"{_dir}\" {System.Environment.ProcessId}");
        }

        /// <summary>Azurite over HTTPS for this account and key, presenting <paramref name="certificate"/> (with its
        /// RSA key), also at production-style URLs (https://account.blob.core.windows.net, through a proxy).</summary>
        public PrivateObjectStoreServer(string account, string key, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
        {
            Kind = TestLocation.Azure;
            _start = "azure-tls";
            _certificate = certificate;
            Directory.CreateDirectory(_dir);
            File.WriteAllText(Path.Combine(_dir, "tls.crt"), certificate.ExportCertificatePem());
            using (var rsa = System.Security.Cryptography.X509Certificates.RSACertificateExtensions.GetRSAPrivateKey(certificate)!)
                File.WriteAllText(Path.Combine(_dir, "tls.key"), rsa.ExportPkcs8PrivateKeyPem());
            Endpoint = Run($"start {_start} \"{_dir}\" {System.Environment.ProcessId} \"{account}:{key}\"");
        }

        /// <summary>The environment a user's session would have to reach this server.</summary>
        public Dictionary<string, string> Environment => Kind == TestLocation.S3
            ? new Dictionary<string, string> { ["MLFLOW_S3_ENDPOINT_URL"] = Endpoint, ["AWS_ACCESS_KEY_ID"] = ObjectStoreServers.S3AccessKey, ["AWS_SECRET_ACCESS_KEY"] = ObjectStoreServers.S3SecretKey }
            : new Dictionary<string, string> { ["AZURE_STORAGE_CONNECTION_STRING"] = Endpoint };

        public string Part(string name) => Endpoint.Split(';').First(p => p.StartsWith(name + "=", StringComparison.Ordinal)).Substring(name.Length + 1);

        /// <summary>The root URI of a bucket or container on this server, as MLflow writes it.</summary>
        public string Uri(string container, string prefix) =>
            (Kind == TestLocation.S3 ? $"s3://{container}" : $"wasbs://{container}@{Part("AccountName")}.blob.core.windows.net") + (prefix.Length == 0 ? "" : "/" + prefix);

        // Raw access through the SDKs themselves (not the code under test), at the current endpoint.
        private Amazon.S3.AmazonS3Client S3() => new Amazon.S3.AmazonS3Client(new Amazon.Runtime.BasicAWSCredentials(ObjectStoreServers.S3AccessKey, ObjectStoreServers.S3SecretKey),
            new Amazon.S3.AmazonS3Config { ServiceURL = Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });

        private Azure.Storage.Blobs.BlobContainerClient Blobs(string container)
        {
            var options = new Azure.Storage.Blobs.BlobClientOptions();
            if (_certificate is { } trusted)
                options.Transport = new Azure.Core.Pipeline.HttpClientTransport(new System.Net.Http.HttpClientHandler
                    { ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Thumbprint == trusted.Thumbprint });
            return new Azure.Storage.Blobs.BlobServiceClient(Endpoint, options).GetBlobContainerClient(container);
        }

        public void CreateContainer(string container)
        {
            if (Kind == TestLocation.S3) { using var c = S3(); c.PutBucketAsync(container).GetAwaiter().GetResult(); }
            else Blobs(container).Create();
        }

        public void Put(string container, string key, byte[] data)
        {
            if (Kind == TestLocation.S3)
            {
                using var c = S3();
                c.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = container, Key = key, InputStream = new MemoryStream(data), UseChunkEncoding = false }).GetAwaiter().GetResult();
            }
            else Blobs(container).GetBlobClient(key).Upload(new BinaryData(data));
        }

        /// <summary>The object at a key; null when there is none.</summary>
        public byte[]? Get(string container, string key)
        {
            if (Kind == TestLocation.Azure)
            {
                // One request: an Exists before the download races a command deleting the blob meanwhile.
                try { return Blobs(container).GetBlobClient(key).DownloadContent().Value.Content.ToArray(); }
                catch (Azure.RequestFailedException ex) when (ex.Status == 404) { return null; }
            }
            using var c = S3();
            try
            {
                using var response = c.GetObjectAsync(container, key).GetAwaiter().GetResult();
                using var buffer = new MemoryStream();
                response.ResponseStream.CopyTo(buffer);
                return buffer.ToArray();
            }
            catch (Amazon.S3.AmazonS3Exception ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound) { return null; }
        }

        /// <summary>Every key in the container (that starts with <paramref name="prefix"/>), sorted.</summary>
        public List<string> Keys(string container, string prefix = "")
        {
            if (Kind == TestLocation.Azure) return Blobs(container).GetBlobs(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, default).Select(b => b.Name).OrderBy(k => k, StringComparer.Ordinal).ToList();
            using var c = S3();
            var keys = new List<string>();
            string? token = null;
            do
            {
                var page = c.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = container, Prefix = prefix, ContinuationToken = token }).GetAwaiter().GetResult();
                keys.AddRange((page.S3Objects ?? new List<Amazon.S3.Model.S3Object>()).Select(o => o.Key));
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            } while (token != null);
            return keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        }

        /// <summary>Kills the server's process group while requests are on their way; its data stays. s3rver gets
        /// SIGKILL (it writes each object to disk before it answers); Azurite SIGTERM, since it keeps its blob index in
        /// memory and saves it now and then, so a SIGKILL would undo deletes it had already answered, which no real
        /// Azure account does.</summary>
        public void Kill()
        {
            int pid = int.Parse(File.ReadAllText(Path.Combine(_dir, _start + ".pid")).Trim());
            string signal = Kind == TestLocation.S3 ? "KILL" : "TERM";
            using (var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} -- -{pid}") { UseShellExecute = false })!) kill.WaitForExit();
            for (int i = 0; i < 100 && Alive(pid); i++) System.Threading.Thread.Sleep(50);
            if (Kind == TestLocation.S3) RemoveTornObjects();
        }

        /// <summary>s3rver writes an object as three files in place (the bytes, their MD5, then its metadata) and
        /// answers after the last; a kill in between leaves a torn object no S3 has (a PUT there is atomic: it was
        /// never answered, so it never happened), and a torn metadata file fails every later listing with a 500.
        /// Those are removed, as S3 would never have had them.</summary>
        private void RemoveTornObjects()
        {
            const string Suffix = "._S3rver_object";
            foreach (var file in Directory.EnumerateFiles(Path.Combine(_dir, Kind), "*" + Suffix, SearchOption.AllDirectories).ToList())
            {
                string md5 = file + ".md5", metadata = file.Substring(0, file.Length - "object".Length) + "metadata.json";
                bool whole = File.Exists(md5) && File.Exists(metadata) && ParsesAsJson(metadata)
                    && File.ReadAllText(md5).Trim() == Convert.ToHexString(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(file))).ToLowerInvariant();
                if (whole) continue;
                foreach (var f in new[] { file, md5, metadata }) File.Delete(f);
            }
        }

        /// <summary>Starts the server again on the same data (a new port: <see cref="Endpoint"/> changes).</summary>
        public void Restart() =>
            Endpoint = Run($"start {_start} \"{_dir}\" {System.Environment.ProcessId}" + (Kind == TestLocation.Azure ? $" \"{Part("AccountName")}:{Part("AccountKey")}\"" : ""));

        private static bool ParsesAsJson(string file)
        {
            try
            {
                using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
                return true;
            }
            catch (System.Text.Json.JsonException) { return false; }
        }

        private static bool Alive(int pid)
        {
            try { return !Process.GetProcessById(pid).HasExited; }
            catch (ArgumentException) { return false; }
        }

        private string Run(string args)
        {
            var psi = new ProcessStartInfo("bash", $"\"{_script}\" {args}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"{_script} {args} failed ({p.ExitCode}): {err.Result}");
            return output.Trim().Split('\n').Last().Trim();
        }

        public void Dispose()
        {
            try { Run($"stop \"{_dir}\""); } catch (InvalidOperationException) { }
        }
    }
}
