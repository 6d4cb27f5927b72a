using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;

namespace MlTraces.Loader
{
    /// <summary>
    /// Where MlTraces.Core and its dependencies (Dependencies/ beside this assembly) come from. On PowerShell 7 (.NET 8
    /// or later) they load into a private AssemblyLoadContext (MlTraces.LoadContext.dll, net8.0, loaded by path since
    /// this assembly is netstandard2.0), so another module's YamlDotNet, Npgsql, Google.Protobuf or
    /// Microsoft.Data.Sqlite in the session is no conflict. Windows PowerShell 5.1 (.NET Framework) has no such
    /// context: a resolver answers from Dependencies/, which version-exact binding without a config file would not
    /// find, as the module always loaded there.
    /// </summary>
    public sealed class ModuleLoader : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        private static readonly string ModuleFolder = Path.GetDirectoryName(typeof(ModuleLoader).Assembly.Location) ?? "";
        private static readonly string DependencyFolder = Path.Combine(ModuleFolder, "Dependencies");

        // .NET Framework, or a .NET older than the context's net8.0 (PowerShell 7.3 and before, out of support).
        private static bool UsesResolver =>
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal)
            || Environment.Version.Major < 8;

        public void OnImport()
        {
            if (UsesResolver)
            {
                AppDomain.CurrentDomain.AssemblyResolve += Resolve;
                return;
            }
            Assembly.LoadFrom(Path.Combine(ModuleFolder, "MlTraces.LoadContext.dll"))
                .GetType("MlTraces.LoadContext.DependencyContext", throwOnError: true)!
                .GetMethod("Register", new[] { typeof(string) })!
                .Invoke(null, new object[] { DependencyFolder });
        }

        public void OnRemove(PSModuleInfo psModuleInfo)
        {
            if (UsesResolver) AppDomain.CurrentDomain.AssemblyResolve -= Resolve;
        }

        private static Assembly? Resolve(object? sender, ResolveEventArgs args)
        {
            string name = new AssemblyName(args.Name).Name ?? "";
            string candidate = Path.Combine(DependencyFolder, name + ".dll");
            return File.Exists(candidate) ? Assembly.LoadFrom(candidate) : null;
        }
    }
}
