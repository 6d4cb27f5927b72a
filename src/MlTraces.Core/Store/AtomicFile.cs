using System;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Renames a file over another in one step, as POSIX rename(2) and Windows' MoveFileEx(REPLACE_EXISTING) do:
    /// whoever opens the target sees the old file or the new one, never none. netstandard2.0 has no
    /// File.Move(overwrite); the runtime that hosts PowerShell 7 has it (and it is exactly those calls), so it is
    /// used when present, and the system call directly otherwise (Windows PowerShell on .NET Framework).
    /// </summary>
    public static class AtomicFile
    {
        private static readonly Action<string, string, bool>? MoveOverwrite = FindMoveOverwrite();

        private static Action<string, string, bool>? FindMoveOverwrite()
        {
            var method = typeof(File).GetMethod("Move", BindingFlags.Public | BindingFlags.Static, null, new[] { typeof(string), typeof(string), typeof(bool) }, null);
            return method == null ? null : (Action<string, string, bool>)Delegate.CreateDelegate(typeof(Action<string, string, bool>), method);
        }

        /// <summary>Renames <paramref name="source"/> to <paramref name="target"/>, replacing it atomically if it
        /// exists. Both must be on the same volume (a temporary file beside the target is).</summary>
        public static void Replace(string source, string target)
        {
            if (MoveOverwrite != null)
            {
                MoveOverwrite(source, target, true);
                return;
            }
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                if (!MoveFileEx(source, target, MoveFileReplaceExisting | MoveFileWriteThrough))
                    throw new IOException($"Could not rename '{source}' to '{target}' (Windows error {Marshal.GetLastWin32Error()}).");
                return;
            }
            if (rename(source, target) != 0)
                throw new IOException($"Could not rename '{source}' to '{target}' (errno {Marshal.GetLastWin32Error()}).");
        }

        /// <summary>The end of the name a file has while <see cref="Write"/> writes it: &lt;name&gt;.&lt;32 hex digits&gt;.tmp.</summary>
        public const string TemporarySuffix = ".tmp";

        /// <summary>Writes <paramref name="data"/> beside <paramref name="path"/> under a name no one else uses, then
        /// renames it over the target in one step: a reader (or a crash) sees the old file or the new one, never half,
        /// never none. Only the temporary file is cleaned up on failure: the target may be another writer's finished
        /// file. No fsync: a killed process loses nothing the OS has.</summary>
        public static void Write(string path, byte[] data)
        {
            string temp = path + "." + Guid.NewGuid().ToString("N") + TemporarySuffix;
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None)) f.Write(data, 0, data.Length);
                Replace(temp, path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                try { if (File.Exists(temp)) File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                throw;
            }
        }

        private const int MoveFileReplaceExisting = 0x1, MoveFileWriteThrough = 0x8;

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern bool MoveFileEx(string existing, string replacement, int flags);

        [DllImport("libc", SetLastError = true)]
        private static extern int rename(string oldPath, string newPath);
    }
}
