using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Azure;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace MlTraces.Core.Locations
{
    /// <summary>
    /// A wasbs:// or abfss:// location through the official SDK (Azure.Storage.Blobs), reached as MLflow's
    /// AzureBlobArtifactRepository reaches it (mlflow/store/artifact/azure_blob_artifact_repo.py, __init__):
    /// AZURE_STORAGE_CONNECTION_STRING (whose endpoint then wins, as in MLflow), else AZURE_STORAGE_ACCESS_KEY for the
    /// URI's account, else AZURE_STORAGE_SAS_TOKEN (MLflow's Data Lake repository's variable), else the default Azure
    /// credential (Azure.Identity: environment, workload and managed identity, Azure CLI ...).
    /// </summary>
    public sealed class AzureBlobLocation : IObjectLocation
    {
        private static readonly ConcurrentDictionary<string, Lazy<BlobServiceClient>> Clients = new ConcurrentDictionary<string, Lazy<BlobServiceClient>>(StringComparer.Ordinal);

        private readonly BlobContainerClient _container;
        private readonly ObjectStoreSettings _settings;

        public AzureBlobLocation(LocationUri root, ObjectStoreSettings settings)
        {
            if (root.Kind != LocationKind.AzureBlob) throw new ArgumentException("Not an Azure Blob location.", nameof(root));
            Root = root;
            _settings = settings;
            var service = Clients.GetOrAdd(settings.Fingerprint() + "|" + root.Account + "." + root.HostSuffix,
                _ => new Lazy<BlobServiceClient>(() => CreateClient(root, settings))).Value;
            _container = service.GetBlobContainerClient(root.Container);
        }

        public LocationUri Root { get; }

        private static BlobServiceClient CreateClient(LocationUri root, ObjectStoreSettings settings)
        {
            // One retry policy for every store (Transient); the SDK's own would multiply it.
            var options = new BlobClientOptions();
            options.Retry.MaxRetries = 0;
            options.Retry.NetworkTimeout = settings.RequestTimeout;
            var account = new Uri("https://" + root.Account + "." + root.HostSuffix);
            // MLflow's order: the first variable set is the one used, so a malformed value is named alone.
            var (variable, form) = CredentialVariables.FirstOrDefault(v => settings.Get(v.Name) != null);
            string value = variable == null ? "" : settings.Get(variable)!;
            try
            {
                switch (variable)
                {
                    case "AZURE_STORAGE_CONNECTION_STRING": return new BlobServiceClient(value, options);
                    case "AZURE_STORAGE_ACCESS_KEY": return new BlobServiceClient(account, new StorageSharedKeyCredential(root.Account, value), options);
                    case "AZURE_STORAGE_SAS_TOKEN": return new BlobServiceClient(account, new AzureSasCredential(value.TrimStart('?')), options);
                    default: return new BlobServiceClient(account, new DefaultAzureCredential(), options);
                }
            }
            catch (Exception ex) when (variable != null && (ex is FormatException || ex is ArgumentException))
            {
                // The SDK's text may quote the malformed value: it is not shown.
                throw new MlTracesException(ErrorKind.InvalidArgument, "ObjectStoreCredentialsInvalid",
                    $"The Azure storage credentials for '{root}' could not be used: $env:{variable} is malformed ({ex.GetType().Name}). Set it to {form}.");
            }
        }

        /// <summary>Where MLflow's AzureBlobArtifactRepository looks, in its order (then the default credential), each
        /// with the form its value takes.</summary>
        private static readonly (string Name, string Form)[] CredentialVariables =
        {
            ("AZURE_STORAGE_CONNECTION_STRING", "the storage account's connection string (DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...)"),
            ("AZURE_STORAGE_ACCESS_KEY", "one of the storage account's access keys (base64, as the Azure portal shows it)"),
            ("AZURE_STORAGE_SAS_TOKEN", "a SAS token (sv=...&sig=..., with or without its leading '?')"),
        };

        private string Shown(string key) => "wasbs://" + Root.Container + "@" + Root.Account + "." + Root.HostSuffix + "/" + key;

        public byte[] Read(string key, CancellationToken cancel = default)
        {
            string full = Root.Key(key);
            return Call("read", full, async () =>
            {
                var response = await _container.GetBlobClient(full).DownloadContentAsync(cancel).ConfigureAwait(false);
                return response.Value.Content.ToArray();
            }, cancel);
        }

        public void Write(string key, byte[] data, CancellationToken cancel = default) => Transient.Wait(Put(key, data, cancel));

        public Task WriteAsync(string key, byte[] data, CancellationToken cancel = default) => Put(key, data, cancel);

        private Task<bool> Put(string key, byte[] data, CancellationToken cancel)
        {
            string full = Root.Key(key);
            // One Put Blob (or blocks committed in one Put Block List): readers see the old blob or the new one.
            return CallAsync("write", full, async () =>
            {
                await _container.GetBlobClient(full).UploadAsync(new BinaryData(data), overwrite: true, cancel).ConfigureAwait(false);
                return true;
            }, cancel);
        }

        public bool Exists(string key, CancellationToken cancel = default)
        {
            string full = Root.Key(key);
            return Call("check", full, async () =>
            {
                // One request on the blob itself: its 404 says whether the blob or the container is missing (a missing
                // container is an error), and a SAS scoped to the container may not read the container's properties.
                try { await _container.GetBlobClient(full).GetPropertiesAsync(null, cancel).ConfigureAwait(false); return true; }
                catch (RequestFailedException ex) when (ex.Status == 404 && ex.ErrorCode != "ContainerNotFound") { return false; }
            }, cancel);
        }

        public bool Delete(string key, CancellationToken cancel = default)
        {
            string full = Root.Key(key);
            return Call("delete", full, () => DeleteFull(full, cancel), cancel);
        }

        private async Task<bool> DeleteFull(string full, CancellationToken cancel)
        {
            try
            {
                await _container.GetBlobClient(full).DeleteAsync(DeleteSnapshotsOption.IncludeSnapshots, null, cancel).ConfigureAwait(false);
                return true;
            }
            catch (RequestFailedException ex) when (ex.ErrorCode == "BlobNotFound") { return false; }
        }

        public IReadOnlyList<DeleteFailure> DeleteMany(IReadOnlyList<string> keys, CancellationToken cancel = default)
        {
            var full = keys.Select(k => (Key: k, Full: Root.Key(k))).ToList();
            // Blob batches need a separate package and are not served by every endpoint: one delete per blob,
            // bounded in parallel, each with its own retries; once the server has not answered one, the rest are not
            // sent (a hung server would cost every blob its retries).
            MlTracesException? unreachable = null;
            var results = Transient.Wait(Transient.ForEachAsync(full, Transient.Concurrency, async k =>
            {
                if (Volatile.Read(ref unreachable) is MlTracesException gone)
                    return new DeleteFailure(k.Key, new MlTracesException(gone.Kind, gone.ErrorId, $"'{Shown(k.Full)}' was not deleted: the server did not answer for another blob of the same request. {gone.Message}"), sent: false);
                try { await CallAsync("delete", k.Full, () => DeleteFull(k.Full, cancel), cancel).ConfigureAwait(false); return null; }
                catch (MlTracesException ex)
                {
                    if (ex.ErrorId == "ObjectStoreUnreachable") Interlocked.CompareExchange(ref unreachable, ex, null);
                    return new DeleteFailure(k.Key, ex);
                }
            }, cancel));
            return results.Where(r => r != null).Select(r => r!).ToList();
        }

        public IEnumerable<ObjectEntry> List(string prefix, CancellationToken cancel = default)
        {
            string rootPrefix = Root.Prefix.Length == 0 ? "" : Root.Prefix + "/";
            string listPrefix = prefix.Length == 0 ? rootPrefix : Root.Key(prefix.TrimEnd('/')) + "/";
            string? token = null;
            do
            {
                var page = Call("list", listPrefix, async () =>
                {
                    await using var pages = _container.GetBlobsAsync(BlobTraits.None, BlobStates.None, listPrefix, cancel).AsPages(token, 5000).GetAsyncEnumerator(cancel);
                    return await pages.MoveNextAsync().ConfigureAwait(false) ? pages.Current : null;
                }, cancel);
                if (page == null) yield break;
                foreach (var blob in page.Values)
                {
                    if (!blob.Name.StartsWith(listPrefix, StringComparison.Ordinal)) continue;
                    yield return new ObjectEntry(blob.Name.Substring(rootPrefix.Length), blob.Properties.LastModified ?? DateTimeOffset.MinValue, blob.Properties.ContentLength ?? 0);
                }
                token = string.IsNullOrEmpty(page.ContinuationToken) ? null : page.ContinuationToken;
            } while (token != null);
        }

        private T Call<T>(string what, string fullKey, Func<Task<T>> action, CancellationToken cancel) =>
            Transient.Wait(CallAsync(what, fullKey, action, cancel));

        private Task<T> CallAsync<T>(string what, string fullKey, Func<Task<T>> action, CancellationToken cancel) =>
            Transient.GuardedAsync(action, IsTransient, ex => Error(what, fullKey, ex), cancel);

        /// <summary>Throttling (503 ServerBusy, 429), server errors, timeouts and dropped connections are tried again.</summary>
        public static bool IsTransient(Exception ex)
        {
            if (ex is RequestFailedException r)
                return r.Status == 0 || Transient.IsRetryableStatus(r.Status)
                    || (r.InnerException != null && IsTransient(r.InnerException));
            if (ex is AggregateException a) return a.InnerExceptions.Any(IsTransient);
            return Transient.IsNetworkFailure(ex);
        }

        /// <summary>What went wrong, for a person: the location, the status and the service's error code, what to
        /// do. The SDK's text (which lists request headers) is not kept; only its first line, scrubbed.</summary>
        private MlTracesException Error(string what, string fullKey, Exception ex)
        {
            string where = Shown(fullKey);
            if (ex is RequestFailedException r)
            {
                if (r.ErrorCode == "ContainerNotFound")
                    return new MlTracesException(ErrorKind.NotFound, "ObjectStoreContainerMissing",
                        $"Could not {what} '{where}': the container '{Root.Container}' does not exist in account '{Root.Account}'. Check the location, or create the container.");
                if (r.Status == 404)
                    return new MlTracesException(ErrorKind.NotFound, "ObjectMissing", $"The object '{where}' does not exist.");
                if (r.Status == 401 || r.Status == 403)
                    return new MlTracesException(ErrorKind.AuthenticationFailed, "ObjectStoreAccessDenied",
                        $"Azure Storage refused to {what} '{where}' ({r.Status} {r.ErrorCode}): check the credentials (AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCESS_KEY, AZURE_STORAGE_SAS_TOKEN, or the signed-in identity) and that they may use this container.");
                if (r.Status == 0 || IsTransient(r))
                    return new MlTracesException(ErrorKind.StoreUnavailable, "ObjectStoreUnreachable",
                        $"Could not {what} '{where}' after {Transient.MaxAttempts} tries ({r.Status} {r.ErrorCode}): {Transient.Describe(r, _settings)}{_settings.TimeoutNote(r)}");
                return new MlTracesException(ErrorKind.IOError, "ObjectStoreRequestFailed",
                    $"Could not {what} '{where}' ({r.Status} {r.ErrorCode}): {Transient.Describe(r, _settings)}");
            }
            if (ex is AuthenticationFailedException || ex is CredentialUnavailableException)
                return new MlTracesException(ErrorKind.AuthenticationFailed, "ObjectStoreCredentialsMissing",
                    $"Could not {what} '{where}': no Azure credential was available. Set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCESS_KEY (or AZURE_STORAGE_SAS_TOKEN), or sign in (Connect-AzAccount / az login), or run with a managed identity.");
            if (IsTransient(ex))
                return new MlTracesException(ErrorKind.StoreUnavailable, "ObjectStoreUnreachable",
                    $"Could not {what} '{where}' after {Transient.MaxAttempts} tries: {Transient.Describe(ex, _settings)}{_settings.TimeoutNote(ex)}");
            return new MlTracesException(ErrorKind.IOError, "ObjectStoreRequestFailed",
                $"Could not {what} '{where}': {Transient.Describe(ex, _settings)}");
        }
    }
}
