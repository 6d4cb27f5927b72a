using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MlTraces.Core.Store;

namespace MlTraces.Core.Locations
{
    /// <summary>
    /// A local folder (an absolute path or a file:// URI) as an object location. Paths are confined as every local
    /// path built from store data is (<see cref="ConfinedPath.Within"/>: no link below the root leads elsewhere),
    /// reads go through <see cref="ConfinedPath.ReadOwnFile"/>, writes are a temporary file beside the target renamed
    /// over it (<see cref="AtomicFile.Replace"/>).
    /// </summary>
    public sealed class FolderLocation : IObjectLocation
    {
        public FolderLocation(LocationUri root)
        {
            if (root.Kind != LocationKind.Folder) throw new ArgumentException("Not a folder location.", nameof(root));
            Root = root;
        }

        public LocationUri Root { get; }

        /// <summary>The confined real path of a key: UnsafeArchiveLocation before anything is touched otherwise.</summary>
        private string PathOf(string key)
        {
            string? problem = ObjectKeys.Problem(key);
            string? path = problem == null ? ConfinedPath.Within(Root.Prefix, key.Split('/'), out problem) : null;
            return path ?? throw new MlTracesException(ErrorKind.InvalidData, "UnsafeArchiveLocation",
                $"The key '{UserText.Printable(key)}' under '{Root}' is not used: {problem}.");
        }

        public byte[] Read(string key, CancellationToken cancel = default)
        {
            string path = PathOf(key);
            return ConfinedPath.ReadOwnFile(Path.GetDirectoryName(path)!, Path.GetFileName(path), "object", "ObjectMissing");
        }

        public void Write(string key, byte[] data, CancellationToken cancel = default)
        {
            string path = PathOf(key);
            try { AtomicFile.Write(path, data); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new MlTracesException(ErrorKind.WriteFailed, "ObjectWriteFailed", $"Could not write '{path}': {ex.Message}", ex);
            }
        }

        /// <summary><see cref="Write"/>: a local file is written on the caller's thread.</summary>
        public Task WriteAsync(string key, byte[] data, CancellationToken cancel = default)
        {
            Write(key, data, cancel);
            return Task.CompletedTask;
        }

        public bool Exists(string key, CancellationToken cancel = default) => File.Exists(PathOf(key));

        public bool Delete(string key, CancellationToken cancel = default)
        {
            string path = PathOf(key);
            if (!File.Exists(path)) return false;
            try { File.Delete(path); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new MlTracesException(ErrorKind.WriteFailed, "ObjectDeleteFailed", $"Could not delete '{path}': {ex.Message}", ex);
            }
            return true;
        }

        public IReadOnlyList<DeleteFailure> DeleteMany(IReadOnlyList<string> keys, CancellationToken cancel = default)
        {
            // Every key is checked before anything is deleted, as the clouds' batches are.
            foreach (var key in keys) PathOf(key);
            var failures = new List<DeleteFailure>();
            foreach (var key in keys)
            {
                cancel.ThrowIfCancellationRequested();
                try { Delete(key, cancel); }
                catch (MlTracesException ex) { failures.Add(new DeleteFailure(key, ex)); }
            }
            return failures;
        }

        public IEnumerable<ObjectEntry> List(string prefix, CancellationToken cancel = default)
        {
            string start = prefix.Length == 0 ? ConfinedPath.RealPath(Root.Prefix, out _) ?? Root.Prefix : PathOf(prefix.TrimEnd('/'));
            if (!Directory.Exists(start)) yield break;
            string rootReal = ConfinedPath.RealPath(Root.Prefix, out _) ?? Root.Prefix;
            var pending = new Stack<string>();
            pending.Push(start);
            while (pending.Count > 0)
            {
                cancel.ThrowIfCancellationRequested();
                string dir = pending.Pop();
                foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
                {
                    // A link is not followed: what it leads to is not provably under the root.
                    if ((entry.Attributes & FileAttributes.ReparsePoint) != 0) continue;
                    if (entry is DirectoryInfo) { pending.Push(entry.FullName); continue; }
                    string relative = entry.FullName.Substring(rootReal.Length).TrimStart(Path.DirectorySeparatorChar, '/').Replace(Path.DirectorySeparatorChar, '/');
                    yield return new ObjectEntry(relative, new DateTimeOffset(entry.LastWriteTimeUtc, TimeSpan.Zero), ((FileInfo)entry).Length);
                }
            }
        }
    }
}
