using System;
using System.IO;

namespace MlTraces.Core.Archive
{
    /// <summary>
    /// Where archived payloads live: one traces.pb per trace, in the folder MLflow records in the trace's
    /// mlflow.trace.archiveLocation tag. Local folders and file:// URIs now; object stores plug in here.
    /// </summary>
    public interface IArchiveRepository
    {
        /// <summary>Writes the payload so that a reader sees all of it or none of it.</summary>
        void Write(string folderUri, byte[] payload);
        /// <summary>The payload; an MlTracesException (ArchivedPayloadMissing) when there is none.</summary>
        byte[] Read(string folderUri);
        bool Exists(string folderUri);
        /// <summary>Removes the payload; false when there was none.</summary>
        bool Delete(string folderUri);
    }

    public static class ArchiveRepositories
    {
        /// <summary>The repository for a location, or UnsupportedArchiveRepository for one MlTraces cannot reach yet.</summary>
        public static IArchiveRepository For(string locationUri)
        {
            if (FileArchiveRepository.LocalFolder(locationUri) != null) return FileArchiveRepository.Instance;
            throw new MlTracesException(ErrorKind.UnsupportedStore, "UnsupportedArchiveRepository",
                $"The archive location '{locationUri}' is not on the local file system; MlTraces reads and writes archives at local paths and file:// URIs.");
        }
    }

    public sealed class FileArchiveRepository : IArchiveRepository
    {
        public static readonly FileArchiveRepository Instance = new FileArchiveRepository();

        /// <summary>The end of the name a payload has while it is being written, before it is renamed.</summary>
        public const string TemporarySuffix = ".tmp";

        /// <summary>A local folder for a file:// URI or an absolute path; null for anything else.</summary>
        public static string? LocalFolder(string uri) => Store.ConfinedPath.LocalPath(uri);

        /// <summary>traces.pb in the folder, which must be a trace's own (.../traces/&lt;id&gt;/artifacts, resolved and
        /// confined): an UnsafeArchiveLocation error otherwise, before anything is read, written or removed.</summary>
        private static string FilePath(string folderUri) =>
            Path.Combine(Store.TraceFolders.PayloadFolder(folderUri), TracePayload.FileName);

        public void Write(string folderUri, byte[] payload)
        {
            string file = FilePath(folderUri);
            // Written beside the target and renamed over it: a crash leaves the old file or the new one, never half.
            string temp = file + "." + Guid.NewGuid().ToString("N") + TemporarySuffix;
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    // No fsync: a killed process loses nothing the OS has, and the store only points here after the
                    // finalize commits (MLflow's local repository does not fsync either).
                    f.Write(payload, 0, payload.Length);
                }
                if (File.Exists(file)) File.Delete(file);
                File.Move(temp, file);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                try { if (File.Exists(temp)) File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                throw new MlTracesException(ErrorKind.IOError, "ArchiveWriteFailed", $"Could not write '{file}': {ex.Message}", ex);
            }
        }

        public byte[] Read(string folderUri)
        {
            string file = FilePath(folderUri);
            return Store.ConfinedPath.ReadOwnFile(Path.GetDirectoryName(file)!, TracePayload.FileName, "archived payload", "ArchivedPayloadMissing");
        }

        public bool Exists(string folderUri) => File.Exists(FilePath(folderUri));

        public bool Delete(string folderUri)
        {
            string file = FilePath(folderUri);
            if (!File.Exists(file)) return false;
            try { File.Delete(file); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new MlTracesException(ErrorKind.IOError, "ArchiveDeleteFailed", $"Could not delete '{file}': {ex.Message}", ex);
            }
            return true;
        }
    }
}
