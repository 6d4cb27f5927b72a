using System;
using MlTraces.Core.Locations;

namespace MlTraces.Core.Archive
{
    /// <summary>
    /// Archived payloads in an object store (s3://, wasbs://, abfss://) or behind mlflow-artifacts:/ (wherever the
    /// server's --artifacts-destination is, a local folder included): traces.pb at the key MLflow uses,
    /// &lt;root&gt;[/workspaces/&lt;ws&gt;]/&lt;experiment id&gt;/traces/&lt;trace id&gt;/artifacts/traces.pb. The folder URI must have
    /// a trace's own shape (<see cref="ObjectKeys.SplitTraceFolder"/>) before any request is sent.
    /// </summary>
    public sealed class ObjectArchiveRepository : IArchiveRepository
    {
        private readonly ObjectStoreSettings _settings;

        public ObjectArchiveRepository(ObjectStoreSettings settings) { _settings = settings; }

        /// <summary>The location and the payload's key in it, or for a resolved local folder, that folder's URI
        /// (which the file repository confines as every local archive folder).</summary>
        private (IObjectLocation? Location, string Key, string? LocalFolder) Resolve(string folderUri, string? traceId = null, string? experimentId = null)
        {
            var folder = LocationUri.Parse(folderUri, _settings);
            if (folder.Kind == LocationKind.Folder) return (null, "", folder.Prefix);
            var (root, folderKey) = ObjectKeys.SplitTraceFolder(folder, traceId, experimentId);
            return (ObjectLocations.Open(root, _settings), folderKey + "/" + TracePayload.FileName, null);
        }

        /// <summary>UnsafeArchiveLocation unless <paramref name="folderUri"/> is trace <paramref name="traceId"/>'s own
        /// folder under its experiment <paramref name="experimentId"/>.</summary>
        public void CheckOwnFolder(string traceId, string experimentId, string folderUri)
        {
            var (_, _, local) = Resolve(folderUri, traceId, experimentId);
            if (local != null && Store.TraceFolders.Archive(traceId, experimentId, local, out string why) == null)
                throw new MlTracesException(ErrorKind.InvalidData, "UnsafeArchiveLocation", $"The archive location '{LocationUri.Shown(folderUri)}' of trace {traceId} is not read: {why}.");
        }

        public void Write(string folderUri, byte[] payload)
        {
            var (location, key, local) = Resolve(folderUri);
            if (local != null) FileArchiveRepository.Instance.Write(local, payload);
            else location!.Write(key, payload);
        }

        /// <summary><see cref="Write"/> without holding a thread while an object store's request is out.</summary>
        public System.Threading.Tasks.Task WriteAsync(string folderUri, byte[] payload, System.Threading.CancellationToken cancel)
        {
            var (location, key, local) = Resolve(folderUri);
            if (local == null) return location!.WriteAsync(key, payload, cancel);
            FileArchiveRepository.Instance.Write(local, payload);
            return System.Threading.Tasks.Task.CompletedTask;
        }

        public byte[] Read(string folderUri)
        {
            var (location, key, local) = Resolve(folderUri);
            if (local != null) return FileArchiveRepository.Instance.Read(local);
            try { return location!.Read(key); }
            catch (MlTracesException ex) when (ex.ErrorId == "ObjectMissing")
            {
                throw new MlTracesException(ErrorKind.NotFound, "ArchivedPayloadMissing", $"The archived payload '{location!.Root.WithPrefix(location.Root.Key(key))}' does not exist.");
            }
        }

        public bool Exists(string folderUri)
        {
            var (location, key, local) = Resolve(folderUri);
            return local != null ? FileArchiveRepository.Instance.Exists(local) : location!.Exists(key);
        }

        public bool Delete(string folderUri)
        {
            var (location, key, local) = Resolve(folderUri);
            return local != null ? FileArchiveRepository.Instance.Delete(local) : location!.Delete(key);
        }
    }
}
