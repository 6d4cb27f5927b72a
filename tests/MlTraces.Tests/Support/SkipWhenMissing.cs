using System;
using System.IO;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// Where the real MLflow stores are: the folder $MLTRACES_FIXTURES names, else ../shared/fixtures/mlflow-dbs
    /// beside the repository. They come from projects that may not be redistributed, so a clone elsewhere has none:
    /// the tests that need them are then reported skipped with <see cref="MissingReason"/>, never passed.
    /// </summary>
    public static class RealStores
    {
        public const string Variable = "MLTRACES_FIXTURES";

        private static readonly Lazy<string?> _folder = new Lazy<string?>(Find);

        /// <summary>The folder, or null when there is none.</summary>
        public static string? Folder => _folder.Value;

        public static string MissingReason =>
            Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } named
                ? $"the real MLflow stores are missing: ${Variable} names '{named}', which is not a folder."
                : $"the real MLflow stores are missing: no ../shared/fixtures/mlflow-dbs beside the repository and no ${Variable} (set it to a folder of MLflow stores to run these tests).";

        private static string? Find()
        {
            // An explicit folder wins, and a wrong one is not silently replaced by another.
            if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } named)
                return Directory.Exists(named) ? Path.GetFullPath(named) : null;
            for (string? dir = AppContext.BaseDirectory; dir != null; dir = Path.GetDirectoryName(dir))
            {
                string candidate = Path.Combine(dir, "..", "shared", "fixtures", "mlflow-dbs");
                if (File.Exists(Path.Combine(dir, "MlTraces.psd1")))
                    return Directory.Exists(candidate) ? Path.GetFullPath(candidate) : null;
            }
            return null;
        }
    }

    /// <summary>A fact that needs the real MLflow stores: skipped, with the reason, where they are missing.</summary>
    public sealed class RealStoreFactAttribute : FactAttribute
    {
        public RealStoreFactAttribute() { if (RealStores.Folder == null) Skip = RealStores.MissingReason; }
    }

    /// <summary>A theory that needs the real MLflow stores: skipped, with the reason, where they are missing.</summary>
    public sealed class RealStoreTheoryAttribute : TheoryAttribute
    {
        public RealStoreTheoryAttribute() { if (RealStores.Folder == null) Skip = RealStores.MissingReason; }
    }

    /// <summary>
    /// A fact that needs the real protoc on PATH. Outside CI a machine without it skips the test with the reason;
    /// in CI (CI=true), where .ci/run installs it, the test runs and a missing protoc fails it.
    /// </summary>
    public sealed class ProtocFactAttribute : FactAttribute
    {
        public static string? Protoc()
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, "protoc"))) return Path.Combine(dir, "protoc");
            return null;
        }

        public ProtocFactAttribute()
        {
            if (Protoc() == null && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                Skip = "protoc is not on PATH (install Debian's protobuf-compiler; .ci/run installs it, and in CI a missing protoc fails this test).";
        }
    }
}
