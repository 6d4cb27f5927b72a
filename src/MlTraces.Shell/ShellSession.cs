using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace MlTraces.Shell
{
    /// <summary>What one script run gave back: objects, errors, warnings, and the text the host printed.</summary>
    public sealed class RunResult
    {
        public List<PSObject> Output { get; } = new List<PSObject>();
        public List<ErrorRecord> Errors { get; } = new List<ErrorRecord>();
        public List<WarningRecord> Warnings { get; } = new List<WarningRecord>();
        public List<VerboseRecord> Verbose { get; } = new List<VerboseRecord>();
        public List<ProgressRecord> Progress { get; } = new List<ProgressRecord>();
        /// <summary>A terminating error (or a script-level exception) that stopped the run.</summary>
        public Exception? Terminating { get; set; }
        public string HostText { get; set; } = "";
        /// <summary>The run was stopped (Ctrl+C, <see cref="ShellSession.Stop"/>) before it ended.</summary>
        public bool Stopped { get; set; }
        public bool Failed => Terminating != null || Errors.Count > 0;
    }

    /// <summary>
    /// A runspace on the real PowerShell engine with the laid-out MlTraces module imported, and this project's
    /// text host. The console program and the tests both use it, so tests exercise what users run.
    /// </summary>
    public sealed class ShellSession : IDisposable
    {
        private readonly Runspace _runspace;
        private readonly StringWriter? _capture;
        private volatile PowerShell? _running;
        public ShellHost Host { get; }
        public string ModulePath { get; }

        public ShellSession(TextWriter? output = null, TextReader? input = null, int width = 120, string? modulePath = null,
            string? workingDirectory = null, bool plainText = true)
        {
            if (output == null) { _capture = new StringWriter(); output = _capture; }
            Host = new ShellHost(output, input ?? new StringReader(""), width, plainText);
            ModulePath = modulePath ?? FindModule();
            var iss = InitialSessionState.CreateDefault2();
            if (OperatingSystem.IsWindows()) iss.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass;
            iss.ImportPSModule(new[] { ModulePath });
            // Commands run on the caller's thread, as hosts that embed the engine run them (Azure Functions'
            // PowerShell worker, for one). The engine's default, a new thread per command, cost a quarter of a
            // 12 ms Search-Trace; a pipeline thread kept for the session still cost 0.35 ms of handing over per
            // command ($null = 1: 0.55 ms, 0.20 ms here). Ctrl+C still stops a command: PowerShell.Stop is
            // called from the signal's thread.
            iss.ThreadOptions = PSThreadOptions.UseCurrentThread;
            _runspace = RunspaceFactory.CreateRunspace(Host, iss);
            _runspace.Open();
            if (workingDirectory != null) SetLocation(workingDirectory);
            if (plainText)
            {
                // Escape sequences are for terminals; text captured by tests or redirected to a log stays plain.
                using var style = PowerShell.Create();
                style.Runspace = _runspace;
                style.AddScript("$PSStyle.OutputRendering = 'PlainText'");
                style.Invoke();
            }
            // Import errors surface at open; make them loud rather than a session without the module.
            using var ps = PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript("Get-Module MlTraces");
            if (ps.Invoke().Count == 0)
                throw new InvalidOperationException($"The module at '{ModulePath}' did not import.");
        }

        /// <summary>The laid-out module: $env:MLTRACES_MODULE, or out/MlTraces above this program's folder.</summary>
        public static string FindModule()
        {
            string? env = Environment.GetEnvironmentVariable("MLTRACES_MODULE");
            if (!string.IsNullOrEmpty(env)) return Path.GetFullPath(env);
            string? dir = AppContext.BaseDirectory;
            while (dir != null)
            {
                string candidate = Path.Combine(dir, "out", "MlTraces", "MlTraces.psd1");
                if (File.Exists(candidate)) return candidate;
                dir = Path.GetDirectoryName(dir.TrimEnd(Path.DirectorySeparatorChar));
            }
            throw new FileNotFoundException("The MlTraces module was not found: build it with 'dotnet build' (it is laid out at out/MlTraces) or set MLTRACES_MODULE to its .psd1.");
        }

        public void SetLocation(string path)
        {
            // Set-Location lives in Microsoft.PowerShell.Management, which the engine package lacks.
            _runspace.SessionStateProxy.Path.SetLocation(WildcardPattern.Escape(path));
        }

        /// <summary>Runs a script and returns its objects and streams (for tests and callers that use objects).</summary>
        public RunResult Invoke(string script, IDictionary<string, object?>? variables = null)
        {
            var result = new RunResult();
            int hostStart = HostTextLength();
            var ui = (ShellUI)Host.UI;
            int progressStart = ui.Progress.Count;
            using var ps = PowerShell.Create();
            ps.Runspace = _runspace;
            if (variables != null)
                foreach (var kv in variables) _runspace.SessionStateProxy.SetVariable(kv.Key, kv.Value);
            ps.AddScript(script);
            _running = ps;
            try
            {
                foreach (var o in ps.Invoke()) result.Output.Add(o);
            }
            catch (RuntimeException ex)
            {
                result.Terminating = ex;
            }
            finally
            {
                _running = null;
            }
            result.Stopped = ps.InvocationStateInfo.State == PSInvocationState.Stopped;
            result.Errors.AddRange(ps.Streams.Error);
            result.Warnings.AddRange(ps.Streams.Warning);
            result.Verbose.AddRange(ps.Streams.Verbose);
            result.Progress.AddRange(ui.Progress.Skip(progressStart));
            result.Progress.AddRange(ps.Streams.Progress);
            result.HostText = HostTextSince(hostStart);
            return result;
        }

        /// <summary>Runs a script as a console does: output formatted by the module's views, errors and
        /// warnings printed through the host as they happen. Returns the exit code: 1 when an error was written
        /// (errors the script silenced with -ErrorAction SilentlyContinue or Ignore do not count).</summary>
        public int RunInteractive(string script)
        {
            using var ps = PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript(script);
            ps.AddCommand("Out-Default");
            int written = 0;
            ps.Streams.Error.DataAdded += (sender, e) =>
            {
                var record = ((PSDataCollection<ErrorRecord>)sender!)[e.Index];
                written++;
                Host.UI.WriteErrorLine(Describe(record));
            };
            bool terminated = false;
            _running = ps;
            try
            {
                ps.Invoke();
            }
            catch (RuntimeException ex)
            {
                terminated = true;
                Host.UI.WriteErrorLine(ex.ErrorRecord != null ? Describe(ex.ErrorRecord) : ex.Message);
            }
            finally
            {
                _running = null;
            }
            if (Host.ExitCode.HasValue) return Host.ExitCode.Value;
            return terminated || written > 0 ? 1 : 0;
        }

        /// <summary>pwsh's concise error view: "Command: message".</summary>
        private static string Describe(ErrorRecord record)
        {
            string? command = record.InvocationInfo?.MyCommand?.Name;
            string message = record.ErrorDetails?.Message ?? record.Exception?.Message ?? record.ToString();
            return string.IsNullOrEmpty(command) ? message : $"{command}: {message}";
        }

        /// <summary>Runs a script file with arguments, as pwsh -File does.</summary>
        public int RunFile(string path, IReadOnlyList<string> args)
        {
            string full = Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                Host.UI.WriteErrorLine($"The script file '{path}' does not exist.");
                return 1;
            }
            _runspace.SessionStateProxy.SetVariable("global:LASTEXITCODE", 0);
            // As pwsh -File does: an argument like -Name names a parameter, anything else is a value (quoted here,
            // so it is never run as code).
            var line = new System.Text.StringBuilder("& '").Append(full.Replace("'", "''")).Append('\'');
            foreach (var a in args)
            {
                bool name = a.Length > 1 && a[0] == '-' && a.Skip(1).All(c => char.IsLetterOrDigit(c) || c == '_' || c == ':' || c == '$');
                line.Append(' ').Append(name ? a : "'" + a.Replace("'", "''") + "'");
            }
            int code = RunInteractive(line.ToString());
            if (Host.ExitCode.HasValue) return Host.ExitCode.Value;
            object? last = _runspace.SessionStateProxy.GetVariable("LASTEXITCODE");
            int lastExit = last is int i ? i : 0;
            return lastExit != 0 ? lastExit : code;
        }

        /// <summary>Stops the running script as Ctrl+C does in pwsh (the commands' StopProcessing runs); false when
        /// nothing is running. Returns at once; the running call then ends with a PipelineStoppedException.</summary>
        public bool Stop()
        {
            var ps = _running;
            if (ps == null) return false;
            ps.BeginStop(null, null);
            return true;
        }

        private int HostTextLength() => _capture?.GetStringBuilder().Length ?? 0;

        private string HostTextSince(int start) => _capture == null ? "" : _capture.GetStringBuilder().ToString(start, _capture.GetStringBuilder().Length - start);

        /// <summary>Everything the host printed so far (when the session captures its output).</summary>
        public string HostText => _capture?.ToString() ?? "";

        public void Dispose()
        {
            _runspace.Dispose();
        }
    }
}
