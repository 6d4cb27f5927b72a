using System;
using System.Diagnostics;
using System.IO;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// The object-store servers the tests use: $env:MLTRACES_TEST_S3 (an s3rver endpoint URL) and
    /// $env:MLTRACES_TEST_AZURE (an Azurite connection string), as .ci/run sets them; else private servers this
    /// process starts with tests/objectstores/servers.sh and stops when it exits. Without Node.js outside CI the
    /// tests are reported skipped with the reason (<see cref="ObjectStoreFactAttribute"/>); in CI (CI=true) they run,
    /// and a server that cannot be had fails them.
    /// </summary>
    public static class ObjectStoreServers
    {
        public const string S3Variable = "MLTRACES_TEST_S3";
        public const string AzureVariable = "MLTRACES_TEST_AZURE";
        /// <summary>s3rver's only key pair: it checks signatures against it, so any other pair gets a 403.</summary>
        public const string S3AccessKey = "S3RVER", S3SecretKey = "S3RVER";

        private static readonly string Dir = Path.Combine(Path.GetTempPath(), "mltraces-objectstores-" + Guid.NewGuid().ToString("N"));
        private static readonly Lazy<string> S3 = new Lazy<string>(() => Start(S3Variable, "s3"));
        private static readonly Lazy<string> Azure = new Lazy<string>(() => Start(AzureVariable, "azure"));
        private static bool _stopRegistered;

        /// <summary>http://127.0.0.1:port of an s3rver.</summary>
        public static string S3Endpoint => S3.Value;

        /// <summary>A connection string (with its account key) for an Azurite blob service.</summary>
        public static string AzureConnectionString => Azure.Value;

        /// <summary>Why these tests cannot run here, or null when they can.</summary>
        public static string? SkipReason()
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)) return null;
            if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(S3Variable))
                && !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(AzureVariable))) return null;
            return NodeMissing() ? "Node.js is not on PATH: the object-store tests need s3rver and Azurite (tests/objectstores/servers.sh installs them with npm), or $env:MLTRACES_TEST_S3 and $env:MLTRACES_TEST_AZURE naming running servers. In CI (CI=true) they run and fail instead." : null;
        }

        /// <summary>Why a test that starts a server of its own (servers.sh) cannot run here, or null when it can.</summary>
        public static string? PrivateSkipReason() =>
            !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) && NodeMissing()
                ? "Node.js is not on PATH: this test starts an s3rver or Azurite of its own (tests/objectstores/servers.sh installs them with npm). In CI (CI=true) it runs and fails instead."
                : null;

        private static bool NodeMissing()
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, "node"))) return false;
            return true;
        }

        private static string Start(string variable, string kind)
        {
            string? given = Environment.GetEnvironmentVariable(variable);
            if (!string.IsNullOrWhiteSpace(given)) return given!.Trim();
            string script = Script();
            lock (Dir)
            {
                if (!_stopRegistered)
                {
                    _stopRegistered = true;
                    AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Run(script, $"stop \"{Dir}\""); } catch (Exception) { } };
                }
            }
            var lines = Run(script, $"start {kind} \"{Dir}\" {Environment.ProcessId}").Trim().Split('\n');
            return lines[lines.Length - 1].Trim();
        }

        /// <summary>A server of its own for one test (servers.sh start KIND DIR): its endpoint or connection string,
        /// and an IDisposable that stops it (again, if the test stopped it already with <see cref="Stop"/>).</summary>
        public static (string Endpoint, IDisposable Server) StartPrivate(string kind)
        {
            string dir = Path.Combine(Path.GetTempPath(), "mltraces-private-" + Guid.NewGuid().ToString("N"));
            var lines = Run(Script(), $"start {kind} \"{dir}\" {Environment.ProcessId}").Trim().Split('\n');
            return (lines[lines.Length - 1].Trim(), new Stopper(dir));
        }

        public static void Stop(IDisposable server) => server.Dispose();

        private sealed class Stopper : IDisposable
        {
            private readonly string _dir;
            public Stopper(string dir) { _dir = dir; }
            public void Dispose() => Run(Script(), $"stop \"{_dir}\"");
        }

        private static string Script() => Path.Combine(PgServer.RepoRoot(), "tests", "objectstores", "servers.sh");

        private static string Run(string script, string args)
        {
            var psi = new ProcessStartInfo("bash", $"\"{script}\" {args}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"The test object-store server could not be started ({script} {args}, exit {p.ExitCode}): {stderr.Result}{stdout}");
            return stdout;
        }
    }

    /// <summary>A fact that needs the object-store servers: skipped, with the reason, only outside CI without Node.js.</summary>
    public sealed class ObjectStoreFactAttribute : FactAttribute
    {
        public ObjectStoreFactAttribute() { Skip = ObjectStoreServers.SkipReason(); }
    }

    /// <summary>A theory that needs the object-store servers: skipped, with the reason, only outside CI without Node.js.</summary>
    public sealed class ObjectStoreTheoryAttribute : TheoryAttribute
    {
        public ObjectStoreTheoryAttribute() { Skip = ObjectStoreServers.SkipReason(); }

        /// <summary>Also needs the real MLflow stores (skipped with their reason where they are missing).</summary>
        public bool RealStores { get => false; set { if (value && Support.RealStores.Folder == null) Skip ??= Support.RealStores.MissingReason; } }

        /// <summary>Also starts a server of its own, which no $env:MLTRACES_TEST_S3 / MLTRACES_TEST_AZURE replaces.</summary>
        public bool PrivateServer { get => false; set { if (value) Skip ??= ObjectStoreServers.PrivateSkipReason(); } }

        /// <summary>Also needs protoc (skipped with its reason where it is missing outside CI, as <see cref="ProtocFactAttribute"/>).</summary>
        public bool Protoc { get => false; set { if (value) Skip ??= new ProtocFactAttribute().Skip; } }
    }
}
