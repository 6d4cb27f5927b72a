using System;
using System.Collections.Generic;

namespace MlTraces.Shell
{
    /// <summary>MlTraces.Shell [-Command '...'] [-File script.ps1 args...]; with neither, a simple prompt.</summary>
    public static class Program
    {
        public static int Main(string[] args)
        {
            string? command = null, file = null;
            var fileArgs = new List<string>();
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                if (file != null) { fileArgs.Add(a); continue; }
                if (Is(a, "-Command", "-c") && i + 1 < args.Length) { command = string.Join(" ", args, i + 1, args.Length - i - 1); break; }
                if (Is(a, "-File", "-f") && i + 1 < args.Length) { file = args[++i]; continue; }
                if (Is(a, "-Help", "-h", "-?", "--help")) { Usage(); return 0; }
                Console.Error.WriteLine($"Unknown argument '{a}'.");
                Usage();
                return 2;
            }
            int width = Console.IsOutputRedirected ? 120 : Math.Max(80, SafeWindowWidth());
            ShellSession session;
            try
            {
                session = new ShellSession(Console.Out, Console.In, width, workingDirectory: Environment.CurrentDirectory,
                    plainText: Console.IsOutputRedirected);
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine(ex.Message);
                return 1;
            }
            // Ctrl+C stops the running command the way pwsh does (StopProcessing), rather than killing the process
            // in the middle of whatever it writes; with nothing running it ends the shell as usual.
            Console.CancelKeyPress += (sender, e) => e.Cancel = session.Stop();
            using (session)
            {
                if (command != null) return session.RunInteractive(command);
                if (file != null) return session.RunFile(file, fileArgs);
                return Repl(session);
            }
        }

        private static int Repl(ShellSession session)
        {
            int last = 0;
            while (true)
            {
                Console.Write("MlTraces> ");
                string? line = Console.ReadLine();
                if (line == null || line.Trim() == "exit") return last;
                if (line.Trim().Length == 0) continue;
                last = session.RunInteractive(line);
            }
        }

        private static bool Is(string arg, params string[] names)
        {
            foreach (var n in names) if (string.Equals(arg, n, StringComparison.OrdinalIgnoreCase)) return true;
            return false;
        }

        private static int SafeWindowWidth()
        {
            try { return Console.WindowWidth; } catch (System.IO.IOException) { return 120; }
        }

        private static void Usage()
        {
            Console.WriteLine("MlTraces.Shell: PowerShell with the MlTraces module imported.");
            Console.WriteLine("  MlTraces.Shell -Command '<script>'     run a script and exit (1 if it wrote an error)");
            Console.WriteLine("  MlTraces.Shell -File <script.ps1> [args]");
            Console.WriteLine("  MlTraces.Shell                          an interactive prompt");
        }
    }
}
