using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;

namespace MlTraces.Commands
{
    /// <summary>
    /// On Windows PowerShell 5.1 (.NET Framework) the module's dependencies (System.Memory and the other
    /// netstandard polyfills, Microsoft.Data.Sqlite) are not found by version-exact binding without a config file
    /// the module cannot ship; this resolver answers such requests from the module's own folder. PowerShell 7
    /// resolves them itself, so the resolver is registered only on .NET Framework.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        private static readonly string ModuleFolder = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location) ?? "";

        private static bool IsNetFramework =>
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal);

        public void OnImport()
        {
            if (IsNetFramework) AppDomain.CurrentDomain.AssemblyResolve += Resolve;
        }

        public void OnRemove(PSModuleInfo psModuleInfo)
        {
            if (IsNetFramework) AppDomain.CurrentDomain.AssemblyResolve -= Resolve;
        }

        private static Assembly? Resolve(object? sender, ResolveEventArgs args)
        {
            string name = new AssemblyName(args.Name).Name ?? "";
            string candidate = Path.Combine(ModuleFolder, name + ".dll");
            return File.Exists(candidate) ? Assembly.LoadFrom(candidate) : null;
        }
    }
}
