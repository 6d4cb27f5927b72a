using System;
using System.IO;
using System.Runtime.InteropServices;

namespace MlTraces.Core.Store
{
    /// <summary>The canonical path of an existing file: absolute, with ., .. and symbolic links resolved, so two
    /// spellings of one file compare equal.</summary>
    public static class RealPath
    {
        /// <summary>The real path, or null when the path does not exist (or cannot be resolved).</summary>
        public static string? Of(string path)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                // Windows: the full path (symbolic links there need a handle; NTFS paths also compare without case).
                return File.Exists(path) || Directory.Exists(path) ? Path.GetFullPath(path).ToUpperInvariant() : null;
            IntPtr resolved = realpath(path, IntPtr.Zero);
            if (resolved == IntPtr.Zero) return null;
            try { return Marshal.PtrToStringAnsi(resolved); }
            finally { free(resolved); }
        }

        [DllImport("libc", SetLastError = true)]
        private static extern IntPtr realpath(string path, IntPtr resolved);

        [DllImport("libc")]
        private static extern void free(IntPtr pointer);
    }
}
