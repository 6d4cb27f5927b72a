using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// An s3rver or Azurite of one test's own (tests/objectstores/servers.sh), which the test may kill in the middle
    /// of a command (SIGKILL, its data kept) and start again on the same data to see what is left. Stopped, and its
    /// folder removed, when disposed.
    /// </summary>
    public sealed class PrivateObjectStoreServer : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "mltraces-private-" + Guid.NewGuid().ToString("N"));
        private readonly string _script = Path.Combine(PgServer.RepoRoot(), "tests", "objectstores", "servers.sh");

        public string Kind { get; }
        /// <summary>The S3 endpoint URL, or the Azure connection string (with its key).</summary>
        public string Endpoint { get; private set; }

        public PrivateObjectStoreServer(string kind)
        {
            Kind = kind;
            Endpoint = Run($"start {Kind} \"{_dir}\" {System.Environment.ProcessId}");
        }

        /// <summary>The environment a user's session would have to reach this server.</summary>
        public Dictionary<string, string> Environment => Kind == TestLocation.S3
            ? new Dictionary<string, string> { ["MLFLOW_S3_ENDPOINT_URL"] = Endpoint, ["AWS_ACCESS_KEY_ID"] = ObjectStoreServers.S3AccessKey, ["AWS_SECRET_ACCESS_KEY"] = ObjectStoreServers.S3SecretKey }
            : new Dictionary<string, string> { ["AZURE_STORAGE_CONNECTION_STRING"] = Endpoint };

        public string Part(string name) => Endpoint.Split(';').First(p => p.StartsWith(name + "=", StringComparison.Ordinal)).Substring(name.Length + 1);

        /// <summary>Kills the server's process group while requests are on their way; its data stays. s3rver gets
        /// SIGKILL (it writes each object to disk before it answers); Azurite SIGTERM, since it keeps its blob index in
        /// memory and saves it now and then, so a SIGKILL would undo deletes it had already answered, which no real
        /// Azure account does.</summary>
        public void Kill()
        {
            int pid = int.Parse(File.ReadAllText(Path.Combine(_dir, Kind + ".pid")).Trim());
            string signal = Kind == TestLocation.S3 ? "KILL" : "TERM";
            using (var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} -- -{pid}") { UseShellExecute = false })!) kill.WaitForExit();
            for (int i = 0; i < 100 && Alive(pid); i++) System.Threading.Thread.Sleep(50);
        }

        /// <summary>Starts the server again on the same data (a new port: <see cref="Endpoint"/> changes).</summary>
        public void Restart() =>
            Endpoint = Run($"start {Kind} \"{_dir}\" {System.Environment.ProcessId}" + (Kind == TestLocation.Azure ? $" \"{Part("AccountName")}:{Part("AccountKey")}\"" : ""));

        private static bool Alive(int pid)
        {
            try { return !Process.GetProcessById(pid).HasExited; }
            catch (ArgumentException) { return false; }
        }

        private string Run(string args)
        {
            var psi = new ProcessStartInfo("bash", $"\"{_script}\" {args}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"{_script} {args} failed ({p.ExitCode}): {err.Result}");
            return output.Trim().Split('\n').Last().Trim();
        }

        public void Dispose()
        {
            try { Run($"stop \"{_dir}\""); } catch (InvalidOperationException) { }
        }
    }
}
