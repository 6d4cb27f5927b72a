using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;

namespace MlTraces.LoadContext
{
    /// <summary>
    /// The load context of MlTraces.Core and everything it needs, from the module's Dependencies folder: the pattern of
    /// PowerShell's "Resolving PowerShell module assembly dependency conflicts". The cmdlets (MlTraces.dll) stay in the
    /// default context, where PowerShell finds them; the one name they need that PowerShell cannot find, MlTraces.Core,
    /// is answered from here, and from then on the runtime asks this context for Core's own references. So another
    /// module's YamlDotNet 13 in the default context and MlTraces' YamlDotNet 18 here live side by side, and PowerShell's
    /// type names (<c>[YamlDotNet...]</c>) keep meaning the other module's, since PowerShell sees the default context only.
    /// </summary>
    public sealed class DependencyContext : AssemblyLoadContext
    {
        private static readonly object Gate = new object();
        private static DependencyContext? _instance;

        private readonly string _folder;
        // The runtime's and PowerShell's own assemblies (System.Memory, System.Text.Json, ...), by name.
        private readonly Dictionary<string, string> _platform = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        private DependencyContext(string folder) : base("MlTraces")
        {
            _folder = folder;
            if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string tpa)
                foreach (string path in tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                    _platform[Path.GetFileNameWithoutExtension(path)] = path;
        }

        /// <summary>
        /// Called once per import by MlTraces.Loader (the module's first nested module). One context for the process: a second import
        /// (Import-Module -Force) finds MlTraces.Core bound already, and an assembly can be loaded only once.
        /// </summary>
        public static void Register(string dependencyFolder)
        {
            lock (Gate)
            {
                if (_instance != null) return;
                _instance = new DependencyContext(dependencyFolder);
                Default.Resolving += _instance.ResolveEngine;
            }
        }

        private Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name) =>
            string.Equals(name.Name, "MlTraces.Core", StringComparison.Ordinal) ? LoadFromAssemblyName(name) : null;

        protected override Assembly? Load(AssemblyName name)
        {
            if (name.Name == null) return null;
            // A platform assembly at least as new as asked is shared (null: the default context gives it), so there is
            // one System.Memory and one Span<T> in the process; the module's netstandard polyfills serve only where
            // the platform's is older or missing.
            if (_platform.TryGetValue(name.Name, out string? platform)
                && (name.Version == null || AssemblyName.GetAssemblyName(platform).Version >= name.Version))
                return null;
            string path = Path.Combine(_folder, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
