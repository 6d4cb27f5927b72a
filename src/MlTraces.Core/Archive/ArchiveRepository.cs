using System;
using System.IO;
using System.Linq;

namespace MlTraces.Core.Archive
{
    /// <summary>
    /// Where archived payloads live: one traces.pb per trace, in the folder MLflow records in the trace's
    /// mlflow.trace.archiveLocation tag. Local folders and file:// URIs now; object stores plug in here.
    /// </summary>
    public interface IArchiveRepository
    {
        /// <summary>Writes the payload so that a reader sees all of it or none of it: the old file or the new one,
        /// replaced in one step. A failed write leaves the target as it was.</summary>
        void Write(string folderUri, byte[] payload);
        /// <summary>The payload; an MlTracesException (ArchivedPayloadMissing) when there is none.</summary>
        byte[] Read(string folderUri);
        bool Exists(string folderUri);
        /// <summary>Removes the payload; false when there was none. A cancelled token ends the requests
        /// (OperationCanceledException); whether the server removed the payload is then not known.</summary>
        bool Delete(string folderUri, System.Threading.CancellationToken cancel = default);
    }

    public static class ArchiveRepositories
    {
        /// <summary>The repository for a location: local paths and file:// URIs, s3://, wasbs://, abfss:// and
        /// mlflow-artifacts:/ (reached with <paramref name="settings"/>: the command's credentials and artifacts
        /// destination); UnsupportedArchiveRepository for anything else.</summary>
        /// <param name="session">The run's object locations, so a server that did not answer is not asked again in the run.</param>
        public static IArchiveRepository For(string locationUri, Locations.ObjectStoreSettings settings, Locations.ObjectSession? session = null)
        {
            if (FileArchiveRepository.LocalFolder(locationUri) != null) return FileArchiveRepository.Instance;
            if (Locations.LocationUri.IsObjectStoreScheme(locationUri))
                return new ObjectArchiveRepository(settings, session);
            throw new MlTracesException(ErrorKind.UnsupportedStore, "UnsupportedArchiveRepository",
                $"The archive location '{Locations.LocationUri.Shown(locationUri)}' cannot be reached; MlTraces reaches {Locations.LocationUri.Supported}.");
        }

        /// <summary>UnsafeArchiveLocation unless the location is the trace's own archive folder under its experiment,
        /// checked before anything is read.</summary>
        public static void CheckOwnFolder(IArchiveRepository repository, string traceId, string experimentId, string location)
        {
            if (repository is ObjectArchiveRepository objects) { objects.CheckOwnFolder(traceId, experimentId, location); return; }
            if (repository is FileArchiveRepository && Store.TraceFolders.Archive(traceId, experimentId, location, out string why) == null)
                throw new MlTracesException(ErrorKind.InvalidData, "UnsafeArchiveLocation",
                    $"The archive location '{location}' of trace {traceId} is not read: {why}.");
        }
    }

    public sealed class FileArchiveRepository : IArchiveRepository
    {
        public static readonly FileArchiveRepository Instance = new FileArchiveRepository();

        /// <summary>The end of the name a payload has while it is being written, before it is renamed:
        /// traces.pb.&lt;32 hex digits&gt;.tmp, a name only this class makes.</summary>
        public const string TemporarySuffix = Store.AtomicFile.TemporarySuffix;

        /// <summary>A local folder for a file:// URI or an absolute path; null for anything else.</summary>
        public static string? LocalFolder(string uri) => Store.ConfinedPath.LocalPath(uri);

        /// <summary>traces.pb in the folder, which must be a trace's own (.../traces/&lt;id&gt;/artifacts, resolved and
        /// confined): an UnsafeArchiveLocation error otherwise, before anything is read, written or removed.</summary>
        private static string FilePath(string folderUri) =>
            Path.Combine(Store.TraceFolders.PayloadFolder(folderUri), TracePayload.FileName);

        /// <summary>True for a name <see cref="Write"/> gives its temporary files (and nothing else).</summary>
        public static bool IsTemporaryName(string fileName)
        {
            string prefix = TracePayload.FileName + ".";
            if (!fileName.StartsWith(prefix, StringComparison.Ordinal) || !fileName.EndsWith(TemporarySuffix, StringComparison.Ordinal)) return false;
            string guid = fileName.Substring(prefix.Length, fileName.Length - prefix.Length - TemporarySuffix.Length);
            return guid.Length == 32 && guid.All(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        }

        public void Write(string folderUri, byte[] payload)
        {
            string file = FilePath(folderUri);
            // The store only points here after the finalize commits (MLflow's local repository does not fsync either).
            try { Store.AtomicFile.Write(file, payload); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new MlTracesException(ErrorKind.WriteFailed, "ArchiveWriteFailed", $"Could not write '{file}': {ex.Message}", ex);
            }
        }

        public byte[] Read(string folderUri)
        {
            string file = FilePath(folderUri);
            return Store.ConfinedPath.ReadOwnFile(Path.GetDirectoryName(file)!, TracePayload.FileName, "archived payload", "ArchivedPayloadMissing");
        }

        public bool Exists(string folderUri) => File.Exists(FilePath(folderUri));

        public bool Delete(string folderUri, System.Threading.CancellationToken cancel = default)
        {
            string file = FilePath(folderUri);
            if (!File.Exists(file)) return false;
            try { File.Delete(file); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new MlTracesException(ErrorKind.WriteFailed, "ArchiveDeleteFailed", $"Could not delete '{file}': {ex.Message}", ex);
            }
            return true;
        }
    }
}
