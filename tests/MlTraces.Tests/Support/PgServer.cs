using System;
using System.Diagnostics;
using System.IO;
using MlTraces.Core.Store;
using Npgsql;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// The PostgreSQL server the tests use: $env:MLTRACES_TEST_PG (an admin URI, as .ci/run sets it), else a private
    /// server this process starts with tests/pg/pg-server.sh and stops when it exits. No test is skipped for want
    /// of a server: without one, the PostgreSQL tests fail and say why.
    /// </summary>
    public static class PgServer
    {
        public const string EnvironmentVariable = "MLTRACES_TEST_PG";
        public const string TemplateDatabase = "mltraces_template";

        private static readonly Lazy<string> Admin = new Lazy<string>(Start);
        private static readonly Lazy<bool> Template = new Lazy<bool>(CreateTemplate);

        /// <summary>postgresql://user:password@host:port/postgres</summary>
        public static string AdminUri => Admin.Value;

        public static string UriFor(string database)
        {
            string admin = AdminUri;
            int slash = admin.IndexOf('/', admin.IndexOf("://", StringComparison.Ordinal) + 3);
            int query = admin.IndexOf('?');
            return admin.Substring(0, slash + 1) + database + (query >= 0 ? admin.Substring(query) : "");
        }

        private static string Start()
        {
            string? given = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(given)) return given!.Trim();
            string script = Path.Combine(RepoRoot(), "tests", "pg", "pg-server.sh");
            string dir = Path.Combine(Path.GetTempPath(), "mltraces-pg-" + Guid.NewGuid().ToString("N"));
            string output = Run(script, "start " + dir);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Run(script, "stop " + dir); } catch (Exception) { } };
            var lines = output.Trim().Split('\n');
            return lines[lines.Length - 1].Trim();
        }

        private static string Run(string script, string args)
        {
            var psi = new ProcessStartInfo("bash", $"\"{script}\" {args}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            string stdout = p.StandardOutput.ReadToEnd();
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"The test PostgreSQL server could not be started ({script} {args}, exit {p.ExitCode}): {stderr}{stdout}");
            return stdout;
        }

        public static string RepoRoot()
        {
            string? dir = AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "MlTraces.psd1"))) dir = Path.GetDirectoryName(dir);
            return dir ?? throw new DirectoryNotFoundException("The repository root (MlTraces.psd1) was not found above the test binaries.");
        }

        /// <summary>Runs SQL on the server's admin database (CREATE/DROP DATABASE).</summary>
        public static void RunAdmin(string sql)
        {
            using var c = new NpgsqlConnection(AdminConnectionString());
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }

        private static string AdminConnectionString()
        {
            var uri = TrackingUri.Parse(AdminUri, "/");
            return PostgresConnector.ConnectionString(uri.Postgres!, StoreAccess.ReadWrite);
        }

        /// <summary>A new empty database (no tables), for New-TraceStore and fixture copies.</summary>
        public static string NewEmptyDatabase()
        {
            string name = "t_" + Guid.NewGuid().ToString("N");
            RunAdmin($"CREATE DATABASE {name} TEMPLATE template0");
            return name;
        }

        /// <summary>A new database with MLflow's current schema, cloned from a template made once by
        /// New-TraceStore's own code (cloning takes milliseconds, creating the schema much longer).</summary>
        public static string NewStoreDatabase()
        {
            _ = Template.Value;
            string name = "t_" + Guid.NewGuid().ToString("N");
            lock (Template) RunAdmin($"CREATE DATABASE {name} TEMPLATE {TemplateDatabase}");
            return name;
        }

        private static bool CreateTemplate()
        {
            RunAdmin($"DROP DATABASE IF EXISTS {TemplateDatabase}");
            RunAdmin($"CREATE DATABASE {TemplateDatabase} TEMPLATE template0");
            var uri = TrackingUri.Parse(UriFor(TemplateDatabase), "/");
            using (TraceStore.Create(uri, "file:///tmp/mlruns/0")) { }
            TraceStore.ReleasePooledConnections(uri);
            return true;
        }

        public static void DropDatabase(string name)
        {
            TraceStore.ReleasePooledConnections(TrackingUri.Parse(UriFor(name), "/"));
            RunAdmin($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        }
    }
}
