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
        private readonly ObjectSession _session;

        /// <param name="session">The run's locations (a server that did not answer is not asked again); by default this repository's own.</param>
        public ObjectArchiveRepository(ObjectStoreSettings settings, ObjectSession? session = null)
        {
            _settings = settings;
            _session = session ?? new ObjectSession();
        }

        /// <summary>The location's root and the payload's key in it, or for a resolved local folder, that folder's URI
        /// (which the file repository confines as every local archive folder).</summary>
        private (LocationUri? Root, string Key, string? LocalFolder) Resolve(string folderUri, string? traceId = null, string? experimentId = null)
        {
            var folder = LocationUri.Parse(folderUri, _settings);
            if (folder.Kind == LocationKind.Folder) return (null, "", folder.Prefix);
            var (root, folderKey) = ObjectKeys.SplitTraceFolder(folder, traceId, experimentId);
            return (root, folderKey + "/" + TracePayload.FileName, null);
        }

        private T Use<T>(LocationUri root, Func<IObjectLocation, T> request) => _session.Use(root, _settings, request);

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
            var (root, key, local) = Resolve(folderUri);
            if (local != null) FileArchiveRepository.Instance.Write(local, payload);
            else Use(root!, l => { l.Write(key, payload); return true; });
        }

        /// <summary><see cref="Write"/> without holding a thread while an object store's request is out.</summary>
        public System.Threading.Tasks.Task WriteAsync(string folderUri, byte[] payload, System.Threading.CancellationToken cancel)
        {
            var (root, key, local) = Resolve(folderUri);
            if (local == null) return _session.UseAsync(root!, _settings, l => l.WriteAsync(key, payload, cancel));
            FileArchiveRepository.Instance.Write(local, payload);
            return System.Threading.Tasks.Task.CompletedTask;
        }

        public byte[] Read(string folderUri)
        {
            var (root, key, local) = Resolve(folderUri);
            if (local != null) return FileArchiveRepository.Instance.Read(local);
            try { return Use(root!, l => l.Read(key)); }
            catch (MlTracesException ex) when (ex.ErrorId == "ObjectMissing")
            {
                throw new MlTracesException(ErrorKind.NotFound, "ArchivedPayloadMissing", $"The archived payload '{root!.WithPrefix(root.Key(key))}' does not exist.");
            }
        }

        public bool Exists(string folderUri)
        {
            var (root, key, local) = Resolve(folderUri);
            return local != null ? FileArchiveRepository.Instance.Exists(local) : Use(root!, l => l.Exists(key));
        }

        public bool Delete(string folderUri, System.Threading.CancellationToken cancel = default)
        {
            var (root, key, local) = Resolve(folderUri);
            return local != null ? FileArchiveRepository.Instance.Delete(local) : Use(root!, l => l.Delete(key, cancel));
        }
    }
}
