using System;
using System.IO;
using System.Runtime.InteropServices;
using SQLitePCL;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Loads the bundled e_sqlite3 for the running platform by full path. A module's assemblies are loaded by
    /// path, so the runtime never probes runtimes/&lt;rid&gt;/native for them; we do it ourselves, once.
    /// </summary>
    public static class SqliteRuntime
    {
        private static readonly object Gate = new object();
        private static bool _initialized;

        public static string? LoadedLibraryPath { get; private set; }

        public static void EnsureInitialized()
        {
            if (_initialized) return;
            lock (Gate)
            {
                if (_initialized) return;
                string baseDir = Path.GetDirectoryName(typeof(SqliteRuntime).Assembly.Location) ?? AppContext.BaseDirectory;
                string rid = RuntimeIdentifier();
                string file = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "e_sqlite3.dll"
                    : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libe_sqlite3.dylib" : "libe_sqlite3.so";
                string path = Path.Combine(baseDir, "runtimes", rid, "native", file);
                if (!File.Exists(path))
                    throw new PlatformNotSupportedException(
                        $"MlTraces has no SQLite library for platform '{rid}' (looked for '{path}').");
                SQLite3Provider_dynamic_cdecl.Setup("e_sqlite3", LoadByPath(path));
                raw.SetProvider(new SQLite3Provider_dynamic_cdecl());
                LoadedLibraryPath = path;
                _initialized = true;
            }
        }

        private static IGetFunctionPointer LoadByPath(string path)
        {
            // On .NET Core (PowerShell 7) the runtime's own NativeLibrary loads by path on every OS; SQLitePCL's
            // netstandard loader would need libdl.so, which modern glibc no longer ships. .NET Framework
            // (Windows PowerShell 5.1) lacks that class, and there SQLitePCL's LoadLibrary-based loader works.
            var runtimeLoader = Type.GetType("System.Runtime.InteropServices.NativeLibrary", throwOnError: false);
            if (runtimeLoader == null)
                return NativeLibrary.Setup(NativeLibrary.Load(path));
            var load = runtimeLoader.GetMethod("Load", new[] { typeof(string) })!;
            var getExport = runtimeLoader.GetMethod("GetExport", new[] { typeof(IntPtr), typeof(string) })!;
            var handle = (IntPtr)load.Invoke(null, new object[] { path })!;
            return new RuntimeExports(handle, getExport);
        }

        private sealed class RuntimeExports : IGetFunctionPointer
        {
            private readonly IntPtr _handle;
            private readonly System.Reflection.MethodInfo _getExport;
            public RuntimeExports(IntPtr handle, System.Reflection.MethodInfo getExport) { _handle = handle; _getExport = getExport; }
            public IntPtr GetFunctionPointer(string name)
            {
                try { return (IntPtr)_getExport.Invoke(null, new object[] { _handle, name })!; }
                catch (System.Reflection.TargetInvocationException) { return IntPtr.Zero; }
            }
        }

        /// <summary>The NuGet runtime identifier whose native folder fits this process.</summary>
        public static string RuntimeIdentifier()
        {
            string arch = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => "x64",
                Architecture.X86 => "x86",
                Architecture.Arm64 => "arm64",
                Architecture.Arm => "arm",
                var other => other.ToString().ToLowerInvariant(),
            };
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return "win-" + arch;
            if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX)) return "osx-" + arch;
            return (IsMusl() ? "linux-musl-" : "linux-") + arch;
        }

        private static bool IsMusl()
        {
            // Alpine and other musl systems ship the musl loader; glibc systems do not.
            try
            {
                foreach (var dir in new[] { "/lib", "/usr/lib" })
                    if (Directory.Exists(dir) && Directory.GetFiles(dir, "ld-musl-*.so.1").Length > 0) return true;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            return false;
        }
    }
}
