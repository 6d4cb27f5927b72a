using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Paths built from store data, resolved and confined before anything is read, written or deleted. A path is
    /// resolved as realpath(3) does: component by component, each link replaced by its target and ".." applied to
    /// the real folder reached so far (not to the text), so neither a link nor "a/link/.." can lead elsewhere
    /// unseen. Links at or above a root are followed (an archive on a linked disk is normal); below the root, the
    /// resolved path must be exactly the root's real path plus the expected names.
    /// </summary>
    public static class ConfinedPath
    {
        /// <summary>The largest file MlTraces reads from a path the store names (traces.pb, traces.json): 1 GiB,
        /// SQLite's own limit on one value (SQLITE_MAX_LENGTH), which bounds what MLflow can store per span.</summary>
        public const long MaxFileBytes = 1L << 30;

        /// <summary>Link hops before a path is taken for a loop, as Linux's ELOOP (40).</summary>
        private const int MaxLinks = 40;

        private static readonly bool Windows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
        private static readonly StringComparison Compare = Windows || RuntimeInformation.IsOSPlatform(OSPlatform.OSX)
            ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        /// <summary>Compares real paths as the platform's file systems usually do (case-blind on Windows and macOS).</summary>
        public static readonly StringComparer PathComparer = Compare == StringComparison.Ordinal ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase;

        /// <summary>FileSystemInfo.LinkTarget (.NET 6+); absent on .NET Framework, where a link is then not followed
        /// but refused: a path through it cannot be proven to stay inside its root.</summary>
        private static readonly PropertyInfo? LinkTargetProperty = typeof(FileSystemInfo).GetProperty("LinkTarget");

        /// <summary>A local absolute path for a file: URI or an absolute path; null for a remote store, a relative
        /// path (relative to what? MLflow's server's folder, not ours) or a device path (\\.\, \\?\).</summary>
        public static string? LocalPath(string? location)
        {
            if (string.IsNullOrEmpty(location)) return null;
            string path;
            if (location!.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            {
                Uri uri;
                try { uri = new Uri(location); } catch (UriFormatException) { return null; }
                if (!uri.IsFile) return null;
                bool localhost = string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase);
                if (!string.IsNullOrEmpty(uri.Host) && !localhost && !Windows) return null;
                // .NET reads file://localhost/x as the UNC path \\localhost\x; MLflow (urllib) reads it as /x.
                path = localhost ? Uri.UnescapeDataString(uri.AbsolutePath) : uri.LocalPath;
                if (localhost && Windows) path = path.TrimStart('/');
            }
            else if (location.IndexOf("://", StringComparison.Ordinal) > 0 || location.StartsWith("mlflow-artifacts:", StringComparison.Ordinal)) return null;
            else path = location;
            return IsAbsolute(path) ? path : null;
        }

        private static bool IsAbsolute(string path)
        {
            if (path.IndexOf('\0') >= 0) return false;
            if (!Windows) return path.StartsWith("/", StringComparison.Ordinal);
            if (path.StartsWith(@"\\.\", StringComparison.Ordinal) || path.StartsWith(@"\\?\", StringComparison.Ordinal)
                || path.StartsWith("//./", StringComparison.Ordinal) || path.StartsWith("//?/", StringComparison.Ordinal)) return false;
            return (path.Length >= 3 && char.IsLetter(path[0]) && path[1] == ':' && (path[2] == '\\' || path[2] == '/'))
                || path.StartsWith(@"\\", StringComparison.Ordinal);
        }

        /// <summary>The real path of an absolute path: every existing link resolved, "." and ".." applied to real
        /// folders; the part that does not exist yet is appended as written. Null, with the reason, when a link
        /// cannot be resolved or they loop.</summary>
        public static string? RealPath(string path, out string? problem)
        {
            problem = null;
            if (!IsAbsolute(path)) { problem = $"'{path}' is not an absolute local path"; return null; }
            string current = Path.GetPathRoot(path)!;
            var pending = new List<string>(Split(path.Substring(current.Length)));
            int links = 0;
            bool exists = true;
            while (pending.Count > 0)
            {
                string part = pending[0];
                pending.RemoveAt(0);
                if (part.Length == 0 || part == ".") continue;
                if (part == "..") { current = Path.GetDirectoryName(current) ?? current; continue; }
                string next = Path.Combine(current, part);
                if (!exists) { current = next; continue; }
                FileSystemInfo info = new FileInfo(next);
                if ((int)info.Attributes == -1) { exists = false; current = next; continue; }
                if ((info.Attributes & FileAttributes.ReparsePoint) == 0) { current = next; continue; }
                string? target = LinkTargetProperty?.GetValue(info) as string;
                if (target == null) { problem = $"'{next}' is a link that cannot be resolved here"; return null; }
                if (++links > MaxLinks) { problem = $"'{path}' has more than {MaxLinks} links in a row (a loop?)"; return null; }
                string? targetRoot = Path.IsPathRooted(target) ? Path.GetPathRoot(target) : null;
                if (targetRoot != null)
                {
                    current = targetRoot;
                    target = target.Substring(targetRoot.Length);
                }
                pending.InsertRange(0, Split(target));
            }
            return current;
        }

        private static string[] Split(string path) => path.Split(new[] { '/', Path.DirectorySeparatorChar }, StringSplitOptions.None);

        /// <summary>
        /// The real path of <paramref name="root"/>/<paramref name="names"/> when it is exactly that inside the
        /// root's real path: each name one plain folder name, and no link below the root leading anywhere else.
        /// Otherwise null, with the reason.
        /// </summary>
        public static string? Within(string root, IReadOnlyList<string> names, out string? problem)
        {
            foreach (var name in names)
            {
                string? bad = TraceIds.PathSegmentProblem(name);
                if (bad != null) { problem = $"the name '{UserText.Printable(name)}' {bad}"; return null; }
            }
            string? realRoot = RealPath(root, out problem);
            if (realRoot == null) return null;
            string expected = names.Aggregate(realRoot, Path.Combine);
            string? real = RealPath(names.Aggregate(root, Path.Combine), out problem);
            if (real == null) return null;
            if (!SamePath(real, expected))
            {
                problem = $"it leads through a link to '{real}' instead of '{expected}'";
                return null;
            }
            return expected;
        }

        public static bool SamePath(string a, string b) =>
            string.Equals(a.TrimEnd('/', Path.DirectorySeparatorChar), b.TrimEnd('/', Path.DirectorySeparatorChar), Compare);

        /// <summary>
        /// Reads a file of a folder already proven to be a trace's own: a link is followed only while it stays in
        /// that folder, and only a regular file of at most <see cref="MaxFileBytes"/> is read. FIFOs, devices and
        /// sockets have no size (stat reports 0), so they are refused before they are opened: opening a FIFO waits
        /// for a writer forever. An empty regular file is no payload either. Throws an MlTracesException whose id
        /// says which rule the file broke.
        /// </summary>
        public static byte[] ReadOwnFile(string ownFolder, string fileName, string what, string missingErrorId)
        {
            string path = Path.Combine(ownFolder, fileName);
            string? real = RealPath(path, out string? problem);
            if (real == null) throw Refused(path, what, problem!);
            if (!SamePath(Path.GetDirectoryName(real) ?? "", ownFolder))
                throw Refused(path, what, $"it is a link to '{real}', outside the trace's own folder");
            var info = new FileInfo(real);
            if ((int)info.Attributes == -1 || !info.Exists)
            {
                if (info.Exists || Directory.Exists(real)) throw Refused(path, what, "it is a folder, not a file");
                throw new MlTracesException(ErrorKind.NotFound, missingErrorId, $"The {what} '{path}' does not exist.");
            }
            if (info.Length == 0) throw Refused(path, what, "it is empty or not a regular file (a FIFO, device or socket)");
            if (info.Length > MaxFileBytes) throw Refused(path, what, $"it is {info.Length:N0} bytes, more than the {MaxFileBytes:N0} a trace's payload can be");
            try
            {
                using var stream = OpenRegularFile(real) ?? throw Refused(path, what, "it is not a regular file (a FIFO, device or socket)");
                var bytes = new byte[info.Length];
                int read = 0, n;
                while (read < bytes.Length && (n = stream.Read(bytes, read, bytes.Length - read)) > 0) read += n;
                if (read != bytes.Length || stream.ReadByte() != -1)
                    throw new MlTracesException(ErrorKind.IOError, "ArchiveReadFailed", $"The {what} '{path}' changed while it was read; try again.");
                return bytes;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new MlTracesException(ErrorKind.IOError, "ArchiveReadFailed", $"Could not read the {what} '{path}': {ex.Message}", ex);
            }
        }

        /// <summary>
        /// Opens a file for reading only if it is a regular file, else null. The size check before cannot see a FIFO
        /// swapped in after it, and a blocking open of a FIFO waits for a writer forever; so on Unix the file is
        /// opened non-blocking (O_NONBLOCK: no wait on a FIFO, no effect on a regular file) and anything that cannot
        /// seek (a FIFO, a socket, a character device) is closed again unread.
        /// </summary>
        public static FileStream? OpenRegularFile(string path)
        {
            FileStream stream;
            if (Windows) stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            else
            {
                int fd = open(path, NonBlocking | CloseOnExec);
                if (fd < 0)
                {
                    int errno = Marshal.GetLastWin32Error();
                    if (errno == 2 || errno == 20) throw new FileNotFoundException($"'{path}' does not exist.", path);
                    throw new IOException($"'{path}' cannot be opened (errno {errno}).");
                }
                stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle((IntPtr)fd, ownsHandle: true), FileAccess.Read);
            }
            if (stream.CanSeek) return stream;
            stream.Dispose();
            return null;
        }

        private static readonly int NonBlocking = RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? 0x4 : 0x800;
        private static readonly int CloseOnExec = RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? 0x1000000 : 0x80000;

        [DllImport("libc", SetLastError = true)]
        private static extern int open(string path, int flags);

        private static MlTracesException Refused(string path, string what, string why) =>
            new MlTracesException(ErrorKind.InvalidData, "UnsafeTraceFile", $"The {what} '{path}' is not read: {why}.");
    }
}
