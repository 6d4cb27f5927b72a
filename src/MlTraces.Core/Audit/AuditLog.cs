using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using MlTraces.Core.Json;
using MlTraces.Core.Store;

namespace MlTraces.Core.Audit
{
    /// <summary>How a run ended, as its audit line says it.</summary>
    public enum AuditOutcome
    {
        /// <summary>The run went to its end (per-trace failures are counted in totals.failed).</summary>
        Completed,
        /// <summary>-WhatIf: nothing was changed.</summary>
        DryRun,
        /// <summary>A terminating error ended the run; traceIds lists what had changed before it.</summary>
        Failed,
        /// <summary>Ctrl+C or a stopped pipeline ended the run; traceIds lists what had changed before it.</summary>
        Stopped,
    }

    /// <summary>
    /// One command's work on one store, as its audit line records it: who ran what with which parameters, on which
    /// store, the plan's totals, how it ended and what it changed. Filled while the command runs; written once by
    /// <see cref="AuditLog.Append"/>. Holds ids, counts and texts that are shown to the user anyway; never span
    /// content, and every text is scrubbed of secrets when it is written.
    /// </summary>
    public sealed class AuditRun
    {
        public AuditRun(string command, IEnumerable<KeyValuePair<string, JsonNode>> parameters, bool dryRun)
        {
            Command = command;
            Parameters = parameters.ToList();
            DryRun = dryRun;
        }

        /// <summary>Lines of one command that changed several stores share it.</summary>
        public string RunId { get; private set; } = Guid.NewGuid().ToString("N");
        public DateTimeOffset Started { get; private set; } = DateTimeOffset.UtcNow;
        public string Command { get; }
        /// <summary>The parameters on the command line (pipeline input is in <see cref="TraceIds"/>, not here).</summary>
        public List<KeyValuePair<string, JsonNode>> Parameters { get; }
        public bool PipelineInput { get; set; }
        public bool DryRun { get; }
        /// <summary>The store without its password.</summary>
        public string? Store { get; private set; }
        /// <summary>The plan in the one sentence -WhatIf shows.</summary>
        public string? Plan { get; set; }
        public long Planned { get; private set; }
        public long Approved { get; private set; }
        public long Failed { get; private set; }
        public List<string> TraceIds { get; } = new List<string>();
        public List<string> ExperimentIds { get; } = new List<string>();
        public AuditOutcome? Outcome { get; private set; }
        public string? Error { get; private set; }

        private readonly List<string> _secrets = new List<string>();
        private readonly HashSet<string> _traceSet = new HashSet<string>(StringComparer.Ordinal);

        /// <summary>The store this run works on. Its password (and PGPASSWORD, which may stand in for one) is kept
        /// only to be scrubbed from every text of the line.</summary>
        public void SetStore(TrackingUri uri)
        {
            Store = uri.Original;
            if (uri.Postgres?.Password is string password) _secrets.Add(password);
            if (Environment.GetEnvironmentVariable("PGPASSWORD") is string env && env.Length > 0) _secrets.Add(env);
        }

        /// <summary>The same command's next store: a new run, with the same id, parameters and start.</summary>
        public AuditRun Next(TrackingUri uri)
        {
            var next = new AuditRun(Command, Parameters, DryRun) { RunId = RunId, Started = Started, PipelineInput = PipelineInput };
            next.SetStore(uri);
            return next;
        }

        /// <summary>A change ShouldProcess was asked about, and its answer.</summary>
        public void Asked(bool approved)
        {
            Planned++;
            if (approved) Approved++;
        }

        public void TraceChanged(string traceId)
        {
            if (_traceSet.Add(traceId)) TraceIds.Add(traceId);
        }

        public void ExperimentChanged(string experimentId)
        {
            if (!ExperimentIds.Contains(experimentId)) ExperimentIds.Add(experimentId);
        }

        public void TraceFailed() => Failed++;

        private readonly List<KeyValuePair<string, long>> _totals = new List<KeyValuePair<string, long>>();

        /// <summary>A total of the command's own (archivedBytes, bytesFreed ...), written in the line's totals after
        /// the common ones; set again, it replaces the value.</summary>
        public void Total(string name, long value)
        {
            _totals.RemoveAll(t => t.Key == name);
            _totals.Add(new KeyValuePair<string, long>(name, value));
        }

        /// <summary>The terminating error that ends the run (the first one, which is the cause).</summary>
        public void Fail(string message)
        {
            if (Outcome == null) { Outcome = AuditOutcome.Failed; Error = message; }
        }

        public void Stop() { if (Outcome == null) Outcome = AuditOutcome.Stopped; }

        /// <summary>The outcome of a run that reached its end without a failure.</summary>
        public void Finish() { if (Outcome == null) Outcome = DryRun ? AuditOutcome.DryRun : AuditOutcome.Completed; }

        /// <summary>The line, with <paramref name="traceIdsFile"/> standing for the ids when they are in a side file.</summary>
        internal string ToJson(string? traceIdsFile, Func<string, string> scrub)
        {
            var parameters = new JsonObject();
            foreach (var kv in Parameters) parameters.Set(kv.Key, kv.Value);
            var totals = new JsonObject().Set("planned", Planned).Set("approved", Approved).Set("changed", (long)TraceIds.Count).Set("failed", Failed);
            foreach (var kv in _totals) totals.Set(kv.Key, kv.Value);
            var o = new JsonObject()
                .Set("time", Timestamp(DateTimeOffset.UtcNow))
                .Set("started", Timestamp(Started))
                .Set("runId", RunId)
                .Set("user", User())
                .Set("machine", Environment.MachineName)
                .Set("processId", (long)Process.GetCurrentProcess().Id)
                .Set("command", Command)
                .Set("parameters", parameters)
                .Set("pipelineInput", PipelineInput)
                .Set("store", Store)
                .Set("dryRun", DryRun)
                .Set("outcome", (Outcome ?? AuditOutcome.Failed).ToString())
                .Set("error", Error)
                .Set("plan", Plan)
                .Set("totals", totals)
                .Set("traceIds", traceIdsFile == null ? new JsonArray(TraceIds.Select(i => (JsonNode)new JsonString(i))) : new JsonArray())
                .Set("traceIdsFile", traceIdsFile)
                .Set("experimentIds", new JsonArray(ExperimentIds.Select(i => (JsonNode)new JsonString(i))));
            return Scrubbed(o, s => Scrub(s, scrub)).ToCompactJson();
        }

        /// <summary>A text as the log may hold it: a URI without password, user info or query (where SAS tokens
        /// are), and no known secret value anywhere.</summary>
        private string Scrub(string text, Func<string, string> scrub)
        {
            if (text.IndexOf("://", StringComparison.Ordinal) >= 0)
                text = Locations.LocationUri.Shown(TrackingUri.Redact(text));
            foreach (var secret in _secrets)
                if (secret.Length > 0) text = text.Replace(secret, "***");
            return scrub(text);
        }

        private static JsonNode Scrubbed(JsonNode node, Func<string, string> scrub)
        {
            switch (node)
            {
                case JsonString s: return new JsonString(scrub(s.Value));
                case JsonArray a: return new JsonArray(a.Items.Select(i => Scrubbed(i, scrub)));
                case JsonObject o:
                    var copy = new JsonObject();
                    foreach (var kv in o.Items) copy.Set(kv.Key, Scrubbed(kv.Value, scrub));
                    return copy;
                default: return node;
            }
        }

        private static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

        private static string User()
        {
            string user = Environment.UserName;
            string? domain = Environment.GetEnvironmentVariable("USERDOMAIN");
            return Path.DirectorySeparatorChar == '\\' && !string.IsNullOrEmpty(domain) ? domain + "\\" + user : user;
        }
    }

    /// <summary>
    /// The audit log: a file of JSON lines, one per command run on a store, appended by any number of processes.
    /// Each line is written whole under an exclusive lock (an OS lock on a file beside the log, which the OS
    /// releases however the process ends) and fsynced before <see cref="Append"/> returns. A line a crash cut short
    /// is ended before the next one starts, so each line stays parseable. Runs that changed more than
    /// <see cref="IdsInLine"/> traces list them in a side file beside the log, which the line names.
    /// </summary>
    public sealed class AuditLog
    {
        public const string EnvironmentVariable = "MLTRACES_AUDIT_LOG";
        public const string LockFileSuffix = ".lock";
        public const int IdsInLine = 1000;
        public const string UnavailableId = "AuditLogUnavailable";
        public const string WriteFailedId = "AuditLogWriteFailed";

        /// <summary>How long an append waits for other writers before it fails: each holds the lock for one line.</summary>
        public static readonly TimeSpan LockWait = TimeSpan.FromSeconds(30);

        private static readonly object Gate = new object();

        public string Path { get; }

        private AuditLog(string path) { Path = path; }

        /// <summary>The log a command writes to: the parameter, else $env:MLTRACES_AUDIT_LOG; null for none.</summary>
        public static string? Configured(string? parameter)
        {
            if (!string.IsNullOrWhiteSpace(parameter)) return parameter;
            string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return string.IsNullOrWhiteSpace(env) ? null : env!.Trim();
        }

        /// <summary>Opens the log at a full path and proves it can be written now (the lock taken, the file opened
        /// for appending), before the command changes anything: AuditLogUnavailable otherwise, saying why.</summary>
        public static AuditLog Open(string fullPath)
        {
            var log = new AuditLog(fullPath);
            log.Locked(file => { });
            return log;
        }

        /// <summary>Appends the run's line (its ids first, to a side file, when there are many), durable on disk
        /// when this returns; AuditLogWriteFailed when it cannot be.</summary>
        public void Append(AuditRun run, Func<string, string>? scrub = null)
        {
            scrub ??= s => s;
            string? idsFile = null;
            try
            {
                if (run.TraceIds.Count > IdsInLine) idsFile = WriteIds(run);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw Failure($"its side file of {run.TraceIds.Count:N0} trace ids could not be written ({ex.Message})", ex);
            }
            byte[] line = Encoding.UTF8.GetBytes(run.ToJson(idsFile, scrub) + "\n");
            Locked(file =>
            {
                long length = file.Seek(0, SeekOrigin.End);
                if (length > 0)
                {
                    // A line a killed writer left unfinished: end it, so this one starts on a line of its own.
                    file.Seek(-1, SeekOrigin.End);
                    if (file.ReadByte() != '\n') file.WriteByte((byte)'\n');
                    file.Seek(0, SeekOrigin.End);
                }
                file.Write(line, 0, line.Length);
                file.Flush(flushToDisk: true);
            }, writing: true);
        }

        /// <summary>The side file of a run's trace ids, one a line, named by the run id (never an existing file).</summary>
        private string WriteIds(AuditRun run)
        {
            string path = Path + "." + run.RunId + ".ids";
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            byte[] bytes = Encoding.UTF8.GetBytes(string.Join("\n", run.TraceIds) + "\n");
            file.Write(bytes, 0, bytes.Length);
            file.Flush(flushToDisk: true);
            return path;
        }

        /// <summary>The work, with the log open for appending under the exclusive lock. One writer of this process
        /// at a time waits on <see cref="Gate"/>; other processes are kept out by the lock file.</summary>
        private void Locked(Action<FileStream> work, bool writing = false)
        {
            lock (Gate)
            {
                FileStream? held = null;
                var clock = Stopwatch.StartNew();
                try
                {
                    while (true)
                    {
                        try
                        {
                            // FileShare.None: flock(LOCK_EX | LOCK_NB) on Unix, a share-none open on Windows (as the
                            // archive pass lock). Never deleted: removing it while another process opens it would
                            // hand out two locks.
                            held = new FileStream(Path + LockFileSuffix, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                            break;
                        }
                        catch (IOException ex) when (Archive.ArchivePassLock.IsSharingViolation(ex) && clock.Elapsed < LockWait)
                        {
                            Thread.Sleep(5);
                        }
                    }
                    CheckIsLog();
                    using var file = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, 1);
                    work(file);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is NotSupportedException || ex is ArgumentException)
                {
                    string why = Archive.ArchivePassLock.IsSharingViolation(ex as IOException)
                        ? $"another process held its lock file '{Path + LockFileSuffix}' for more than {LockWait.TotalSeconds:0} s"
                        : ex.Message;
                    throw writing ? Failure(why, ex)
                        : new MlTracesException(ErrorKind.WriteFailed, UnavailableId,
                            $"The audit log '{Path}' cannot be written: {why} Nothing was changed. Give an -AuditLogPath (or ${EnvironmentVariable}) " +
                            "in a folder this account can write, or fix the file's permissions.", ex);
                }
                finally
                {
                    held?.Dispose();
                }
            }
        }

        /// <summary>An existing log must be a regular file that starts with a JSON line: a FIFO would block the
        /// open, and a store or any other file named by mistake must not get lines appended to it.</summary>
        private void CheckIsLog()
        {
            FileStream? existing;
            try { existing = ConfinedPath.OpenRegularFile(Path); }
            catch (FileNotFoundException) { return; }
            if (existing == null) throw new IOException("it is not a regular file (a FIFO, device or socket).");
            using (existing)
                if (existing.Length > 0 && existing.ReadByte() != '{')
                    throw new IOException("it is not an audit log (it does not start with a JSON line); name a new file, or a log MlTraces wrote.");
        }

        private MlTracesException Failure(string why, Exception ex) =>
            new MlTracesException(ErrorKind.WriteFailed, WriteFailedId, $"The audit log '{Path}' could not be written: {why}", ex);
    }
}
