using System;
using System.Linq;
using System.Management.Automation;
using MlTraces.Core;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>
    /// What every command that works on a store shares: the -TrackingUri parameter (bound from the pipeline by
    /// property name, so Get-ChildItem *.db and trace objects both feed it), resolving it against the current
    /// PowerShell location, and turning core errors into PowerShell errors with stable ids.
    /// </summary>
    public abstract class StoreCmdlet : PSCmdlet, IDisposable
    {
        /// <summary>The store's tracking URI or path as the command's parameter holds it. Commands that read a
        /// store bind it from the pipeline by property name; commands that write into a store named apart from
        /// their input (Import-Trace) do not.</summary>
        protected abstract string? StoreUri { get; set; }

        private TraceStore? _store;
        private string? _storeKey;

        protected string CurrentDirectory => SessionState.Path.CurrentFileSystemLocation.ProviderPath;

        /// <summary>The login for a PostgreSQL store; it takes the place of the user and password in the URI.</summary>
        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        /// <summary>A store named by text (a parameter, a piped object's TrackingUri), resolved as PowerShell resolves paths.</summary>
        protected TrackingUri ParseStoreUri(string? text) => UserPaths.ParseUri(SessionState, text);

        /// <summary>A file or folder the user named, as PowerShell's own cmdlets find it.</summary>
        protected string FileSystemPath(string path) => UserPaths.FileSystemPath(SessionState, path);

        protected TrackingUri ResolveUri()
        {
            var uri = ParseStoreUri(StoreUri);
            if (Credential != null && Credential != PSCredential.Empty)
            {
                if (uri.Kind != StoreKind.Postgres)
                    throw new ArgumentException($"-Credential is for PostgreSQL stores; the store '{uri.Original}' is a SQLite file.");
                uri = uri.WithCredential(Credential.UserName, Credential.GetNetworkCredential().Password);
            }
            return uri;
        }

        /// <summary>The store named by the current -TrackingUri, opened once and reused while it stays the same. A
        /// store that a piped object named and that cannot be opened is that input's error (<see cref="InputSkipped"/>).</summary>
        protected TraceStore OpenStore(StoreAccess access = StoreAccess.ReadOnly)
        {
            var uri = ResolveUri();
            string key = uri.Original + "|" + uri.FilePath + "|" + access;
            if (_store != null && _storeKey == key) return _store;
            CloseStore();
            AuditStore(uri);
            WriteVerbose($"Opening store '{uri.Original}' ({access}).");
            try
            {
                _store = TraceStore.Open(uri, access);
            }
            catch (MlTracesException ex) when (StoreFromPipeline)
            {
                WriteError(ErrorRecords.From(ex, StoreUri));
                throw new InputSkipped();
            }
            _storeKey = key;
            WriteVerbose($"Store layout: alembic revision {_store.Layout.AlembicRevision ?? "(none)"}, spans table: {_store.Layout.HasSpans}, assessments table: {_store.Layout.HasAssessments}.");
            return _store;
        }

        /// <summary>A writer's store: read-only in a dry run, so that it cannot change the file, not even by accident.</summary>
        protected TraceStore OpenStoreToWrite() => OpenStore(DryRun ? StoreAccess.ReadOnly : StoreAccess.ReadWrite);

        /// <summary>
        /// The one dry-run decision of every writer, as PowerShell's own ShouldProcess makes it: -WhatIf as bound
        /// (-WhatIf:$false runs for real whatever $WhatIfPreference says), else $WhatIfPreference. It decides how the
        /// store is opened and whether anything is written; ShouldProcess, asked per item, then agrees with it.
        /// </summary>
        protected bool DryRun =>
            MyInvocation.BoundParameters.TryGetValue("WhatIf", out var bound)
                ? LanguagePrimitives.IsTrue(bound is SwitchParameter s ? s.IsPresent : bound)
                : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));

        /// <summary>A writer's whole plan in one line: "What if: ..." in a dry run, after its line per item; verbose
        /// otherwise.</summary>
        internal void ReportPlan(string summary)
        {
            if (_audit != null) _audit.Plan = summary;
            if (DryRun) ShouldProcess(summary, null, null);
            else WriteVerbose(summary);
        }

        // Whether -TrackingUri was on the command line: a store named there is the command's, one named by a piped
        // object is that object's, and that input's error if it cannot be opened.
        private bool _storeOnCommandLine;

        /// <summary>The current store was named by a piped object (-TrackingUri bound from the pipeline).</summary>
        protected bool StoreFromPipeline => !_storeOnCommandLine && StoreUri != null && MyInvocation.ExpectingInput;

        /// <summary>ShouldProcess for one change a writer plans, counted in its audit line.</summary>
        internal bool ShouldChange(string target, string action)
        {
            bool approved = ShouldProcess(target, action);
            _audit?.Asked(approved);
            return approved;
        }

        protected override void BeginProcessing()
        {
            StartAudit();
            _storeOnCommandLine = MyInvocation.BoundParameters.ContainsKey("TrackingUri");
            // A wrong -ArtifactsDestination stops the command before it reads or deletes anything.
            Terminating(() => _objectSettings = ObjectStoreOptions.Settings(SessionState, ArtifactsDestinationValue), ObjectStoreOptions.Target(ArtifactsDestinationValue));
        }

        /// <summary>The -ArtifactsDestination of a command that reaches artifact or archive locations
        /// (<see cref="PayloadStoreCmdlet"/>, Import-Trace); null for the others.</summary>
        protected virtual string? ArtifactsDestinationValue => null;

        private Core.Locations.ObjectStoreSettings? _objectSettings;

        /// <summary>How this command reaches object stores and resolves mlflow-artifacts:/ locations, made once and
        /// handed to every core path it calls: no part of a command reads the environment on its own.</summary>
        protected Core.Locations.ObjectStoreSettings ObjectSettings => _objectSettings ??= ObjectStoreOptions.Settings(SessionState, ArtifactsDestinationValue);

        protected sealed override void ProcessRecord() => PerInput(ProcessInput);

        /// <summary>Work for one input (a record, or a store's collected ids at the end): an input whose error was
        /// written ends here, and the command goes on.</summary>
        protected static void PerInput(Action work)
        {
            try { work(); }
            catch (InputSkipped) { }
        }

        /// <summary>One pipeline input (or the one run without pipeline input).</summary>
        protected virtual void ProcessInput() { }

        /// <summary>Thrown after the error of one input has been written: the command goes on with the next.</summary>
        protected sealed class InputSkipped : Exception { }

        private Core.Archive.ArchivePassLock? _archiveLock;

        /// <summary>Before moving payloads (an archival pass, a restore): takes the store-wide archive lock, held
        /// until the store is closed, and checks that the store can be written now, before any file is.</summary>
        protected void LockForArchiveWork(TraceStore store)
        {
            if (_archiveLock != null) return;
            _archiveLock = Core.Archive.ArchivePassLock.Acquire(store, Core.Archive.ArchivePassLock.Wait());
            store.EnsureWritable();
        }

        protected void CloseStore()
        {
            _archiveLock?.Dispose();
            _archiveLock = null;
            _store?.Dispose();
            _store = null;
            _storeKey = null;
        }

        /// <summary>The run went to its end: its audit line is written (durable) before the command returns.</summary>
        protected override void EndProcessing()
        {
            CloseStore();
            if (_audit == null) return;
            _audit.Finish();
            try { WriteAudit(); }
            catch (MlTracesException ex)
            {
                ThrowTerminatingError(ErrorRecords.From(new MlTracesException(ex.Kind, ex.ErrorId,
                    ex.Message + " " + Changes("The command has finished", _lastAudit!), ex), AuditLogPathShown));
            }
        }

        protected override void StopProcessing() => CloseStore();

        /// <summary>PowerShell disposes a command when its pipeline ends, also when Select-Object -First stops it
        /// early and EndProcessing never runs: the store file must not stay open in a long-lived console. A run that
        /// did not reach its end (stopped, or ended by an error that did not say so) is logged here as such.</summary>
        public void Dispose()
        {
            CloseStore();
            if (_audit == null) return;
            if (Stopping) _audit.Stop();
            else _audit.Fail("The command ended before it finished: an error it reported stopped it (-ErrorAction Stop; see the error stream), a downstream command stopped the pipeline, or an unexpected error did.");
            // Nothing can report a failure any more: the log's own error is lost with the run.
            try { WriteAudit(); } catch (MlTracesException) { }
        }

        /// <summary>Work on one store with a progress bar that always completes, its MlTraces errors terminating, and a
        /// cancellation (Ctrl+C, seen by the work's token) ending the pipeline as stopped.</summary>
        private protected void WithProgress(string activity, long showAfterMs, Action<ProgressReporter> work)
        {
            var progress = new ProgressReporter(this, activity, showAfterMs);
            try { Terminating(() => work(progress), StoreUri); }
            catch (OperationCanceledException) { throw new PipelineStoppedException(); }
            finally { progress.Complete(); }
        }

        /// <summary>Runs the work and reports MlTraces errors terminating (the command cannot go on).</summary>
        protected void Terminating(Action work, object? target = null)
        {
            try { work(); }
            catch (MlTracesException ex) { Fail(ErrorRecords.From(ex, target)); }
            catch (ArgumentException ex) { Fail(new ErrorRecord(ex, "InvalidArgument", ErrorCategory.InvalidArgument, target)); }
            catch (NotSupportedException ex) { Fail(new ErrorRecord(ex, "UnsupportedTrackingUri", ErrorCategory.NotImplemented, target)); }
        }

        /// <summary>A terminating error: the store is closed and the audit line (Failed, with what did change) is
        /// written before the error is reported.</summary>
        private void Fail(ErrorRecord error)
        {
            CloseStore();
            if (_audit != null)
            {
                _audit.Fail(error.Exception.Message);
                try { WriteAudit(); }
                catch (MlTracesException ex) { error.ErrorDetails = new ErrorDetails(error.Exception.Message + " " + ex.Message); }
            }
            ThrowTerminatingError(error);
        }

        // The audit log of this run (null when none is configured), the run on the current store, and the last run
        // written (what an error about the log names).
        private Core.Audit.AuditLog? _auditLog;
        private Core.Audit.AuditRun? _audit, _lastAudit;

        /// <summary>What this run changed, for its audit line; null when no audit log is configured. A writer
        /// reports each trace or experiment it changed here, once the change is committed.</summary>
        internal Core.Audit.AuditRun? Audit => _audit;

        private string? AuditLogPathShown => _auditLog?.Path;

        /// <summary>Opens the audit log of a command that has one (<see cref="IAuditedCommand"/>) and proves it can be
        /// written before anything else happens: a command that cannot log stops here and changes nothing.</summary>
        private void StartAudit()
        {
            if (!(this is IAuditedCommand audited) || Core.Audit.AuditLog.Configured(audited.AuditLogPath) is not string path) return;
            Terminating(() => _auditLog = Core.Audit.AuditLog.Open(FileSystemPath(path)), path);
            _audit = new Core.Audit.AuditRun(MyInvocation.MyCommand.Name, AuditParameters.From(MyInvocation.BoundParameters!), DryRun)
            {
                PipelineInput = MyInvocation.ExpectingInput,
            };
        }

        /// <summary>The store a run works on; a command that goes on to another store ends the line of the first.</summary>
        private void AuditStore(TrackingUri uri)
        {
            if (_audit == null) return;
            if (_audit.Store == null) { _audit.SetStore(uri); return; }
            if (_audit.Store == uri.Original) return;
            _audit.Finish();
            var next = _audit.Next(uri);
            Terminating(WriteAudit);
            _audit = next;
        }

        /// <summary>Writes the current run's line once; the run is then done.</summary>
        private void WriteAudit()
        {
            var run = _audit;
            if (run == null || _auditLog == null) return;
            _audit = null;
            _lastAudit = run;
            // The settings as made, or as the environment has them when the command stopped before making them.
            _auditLog.Append(run, (_objectSettings ?? Core.Locations.ObjectStoreSettings.FromEnvironment()).Scrub);
        }

        /// <summary>"... changed n trace(s): ids", for an error that must say what happened without a log line.</summary>
        private static string Changes(string what, Core.Audit.AuditRun run) =>
            $"{what} and changed {run.TraceIds.Count:N0} trace(s) and {run.ExperimentIds.Count:N0} experiment(s) in the store '{run.Store}'" +
            (run.TraceIds.Count + run.ExperimentIds.Count == 0 ? "." : ": " + UserText.Shorten(string.Join(", ", run.TraceIds.Concat(run.ExperimentIds)), 2000) + ".");

        /// <summary>The experiments named by -ExperimentId/-ExperimentName (default: the active ones, or all with
        /// <paramref name="allByDefault"/>) within -Workspace; each one not there is a non-terminating error.</summary>
        protected ExperimentScope ResolveExperiments(TraceStore store, string[]? ids, string[]? names, string? workspace, bool allByDefault = false)
        {
            var scope = Experiments.Resolve(store, ids, names, workspace, allByDefault);
            foreach (var missing in scope.NotFound)
                WriteError(ErrorRecords.NotFound(missing.Value, "ExperimentNotFound", missing.Key));
            return scope;
        }

        /// <summary>The one id rule at every door (-TraceId, piped objects, imported traces): an id MLflow could not
        /// have written is a non-terminating InvalidTraceId error and goes no further.</summary>
        /// <param name="origin">Where the id came from ("file, line n"), said first in the message.</param>
        protected bool AcceptTraceId(string? id, object? target = null, string? origin = null)
        {
            string? problem = TraceIds.Problem(id);
            if (problem == null) return true;
            if (origin != null) problem = origin + ": " + problem;
            WriteError(new ErrorRecord(new ArgumentException(problem), "InvalidTraceId", ErrorCategory.InvalidArgument, target ?? id));
            return false;
        }

        protected void WriteWarnings(System.Collections.Generic.IList<string> warnings)
        {
            foreach (var w in warnings) WriteWarning(w);
            warnings.Clear();
        }
    }

    /// <summary>
    /// The one reading of a path a user gave (a parameter, a tracking URI's path, a piped object's store): the
    /// engine's, as Resolve-Path and Out-File read it on every OS: relative to the current PowerShell location (not
    /// the process's directory), '.\' and './', '~', PowerShell drives (New-PSDrive) and provider-qualified paths
    /// (FileSystem::/tmp/x). So '\' separates folders on Linux too, as it does for PowerShell's own cmdlets; a path
    /// that names another provider's item (Env:, Function:) is refused rather than taken as a file name.
    /// </summary>
    internal static class UserPaths
    {
        public static string FileSystemPath(SessionState session, string path)
        {
            string resolved;
            ProviderInfo provider;
            try { resolved = session.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _); }
            catch (Exception ex) when (ex is RuntimeException || ex is ArgumentException || ex is NotSupportedException || ex is System.IO.IOException)
            {
                throw new ArgumentException($"The path '{UserText.Shorten(path)}' cannot be resolved: {ex.Message}", ex);
            }
            if (provider.Name != "FileSystem") throw NotAFile(path, provider);
            return resolved;
        }

        /// <summary>The files a -Path (wildcards, as Get-Content takes them) or -LiteralPath names; one that cannot be
        /// found or resolved is that path's error, and the others are still read.</summary>
        public static System.Collections.Generic.List<string> FilesToRead(SessionState session, string[] paths, bool literal, Action<ErrorRecord> writeError)
        {
            var result = new System.Collections.Generic.List<string>();
            foreach (var path in paths)
            {
                try
                {
                    if (literal) { result.Add(FileSystemPath(session, path)); continue; }
                    var found = session.Path.GetResolvedProviderPathFromPSPath(path, out var provider);
                    if (provider.Name != "FileSystem") throw NotAFile(path, provider);
                    result.AddRange(found);
                }
                catch (ItemNotFoundException ex)
                {
                    writeError(new ErrorRecord(ex, "FileNotFound", ErrorCategory.ObjectNotFound, path));
                }
                catch (Exception ex) when (ex is RuntimeException || ex is ArgumentException)
                {
                    writeError(new ErrorRecord(ex, "InvalidPath", ErrorCategory.InvalidArgument, path));
                }
            }
            return result;
        }

        public static ArgumentException NotAFile(string path, ProviderInfo provider) => new ArgumentException(
            $"The path '{UserText.Shorten(path)}' names an item of the {provider.Name} provider, not a file. Give a file system path, or Set-Location to a folder first.");

        /// <summary>A location that is a URI (s3://b/p, file:///srv/x, mlflow-artifacts:) as given; a path (one
        /// with a drive of this session, provider-qualified, or without a scheme) as the file URI of the folder it
        /// names, made absolute as MLflow's resolve_uri_if_local makes a local artifact root.</summary>
        public static string UriOrPath(SessionState session, string text)
        {
            var scheme = System.Text.RegularExpressions.Regex.Match(text, "^([A-Za-z][A-Za-z0-9+.-]+):(?!:)");
            if (scheme.Success && !session.Drive.GetAll().Any(d => string.Equals(d.Name, scheme.Groups[1].Value, StringComparison.OrdinalIgnoreCase)))
                return text;
            return new Uri(FileSystemPath(session, text)).AbsoluteUri;
        }

        public static TrackingUri ParseUri(SessionState session, string? text) =>
            Core.Store.TrackingUri.Parse(text, path => FileSystemPath(session, path));
    }

    /// <summary>The one place a command's object store settings are made: the environment, as MLflow and each cloud's
    /// SDK read it, with -ArtifactsDestination (a URI as given, a path resolved as PowerShell resolves paths) over
    /// $env:MLTRACES_ARTIFACTS_DESTINATION.</summary>
    internal static class ObjectStoreOptions
    {
        public static Core.Locations.ObjectStoreSettings Settings(SessionState session, string? artifactsDestination)
        {
            var settings = Core.Locations.ObjectStoreSettings.FromEnvironment();
            return artifactsDestination == null ? settings
                : settings.WithArtifactsDestination(UserPaths.UriOrPath(session, artifactsDestination), "-ArtifactsDestination");
        }

        /// <summary>The value as an error's target: shown as every location is, without credentials.</summary>
        public static string? Target(string? artifactsDestination) =>
            artifactsDestination == null ? null : Core.Locations.LocationUri.Shown(artifactsDestination);
    }

    internal static class ErrorRecords
    {
        public static ErrorRecord From(MlTracesException ex, object? target) =>
            new ErrorRecord(ex, ex.ErrorId, Category(ex.Kind), target);

        public static ErrorCategory Category(ErrorKind kind) => kind switch
        {
            ErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            ErrorKind.NotFound => ErrorCategory.ObjectNotFound,
            ErrorKind.AlreadyExists => ErrorCategory.ResourceExists,
            ErrorKind.StoreNotFound => ErrorCategory.ObjectNotFound,
            ErrorKind.NotSqlite => ErrorCategory.InvalidData,
            ErrorKind.NotMlflowStore => ErrorCategory.InvalidData,
            ErrorKind.StoreLocked => ErrorCategory.ResourceBusy,
            ErrorKind.AuthenticationFailed => ErrorCategory.AuthenticationError,
            ErrorKind.StoreUnavailable => ErrorCategory.ConnectionError,
            ErrorKind.StoreReadOnly => ErrorCategory.PermissionDenied,
            ErrorKind.UnsupportedStore => ErrorCategory.NotImplemented,
            ErrorKind.InvalidData => ErrorCategory.InvalidData,
            ErrorKind.WriteFailed => ErrorCategory.WriteError,
            ErrorKind.InsufficientDiskSpace => ErrorCategory.ResourceUnavailable,
            _ => ErrorCategory.ReadError,
        };

        public static ErrorRecord NotFound(string message, string errorId, object target) =>
            new ErrorRecord(new ItemNotFoundException(message), errorId, ErrorCategory.ObjectNotFound, target);
    }
}

namespace MlTraces.Commands
{
    /// <summary>A store command that reaches where MLflow keeps trace payloads (artifact and archive locations):
    /// it takes -ArtifactsDestination, for the locations that are relative to the server's.</summary>
    public abstract class PayloadStoreCmdlet : PipelineStoreCmdlet
    {
        /// <summary>The MLflow server's --artifacts-destination (s3://bucket/path, wasbs://..., abfss://..., a file:// URI or a path), which mlflow-artifacts:/ locations are relative to. Default: $env:MLTRACES_ARTIFACTS_DESTINATION.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ArtifactsDestination { get; set; }

        protected override string? ArtifactsDestinationValue => ArtifactsDestination;
    }

    /// <summary>A command that works on the store named by -TrackingUri, which binds from the pipeline by property
    /// name (FullName, Path), so file objects and traces name the store they came from.</summary>
    public abstract class PipelineStoreCmdlet : StoreCmdlet
    {
        /// <summary>The MLflow tracking URI (sqlite:///mlflow.db, postgresql://user@host:5432/db) or path of the store. Default: $env:MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "Path", "Store", "Uri")]
        [ValidateNotNullOrEmpty]
        public string? TrackingUri { get; set; }

        protected override string? StoreUri { get => TrackingUri; set => TrackingUri = value; }

        /// <summary>
        /// A writer's EndProcessing: acts on the input it held (<see cref="PendingInputs{TScope, TItem}"/>) group by
        /// group, each in the store it came with ("" for the command's own); a group whose store cannot be opened
        /// is that group's error, and the others go on. The store is closed however it ends; the run is finished
        /// (and its audit line written as such) only when every group was done.
        /// </summary>
        private protected void EndWithPending<TScope, TItem>(PendingInputs<TScope, TItem> pending, Func<TScope, string> storeOf, Action<TScope, System.Collections.Generic.List<TItem>> act)
            where TScope : notnull
        {
            try
            {
                foreach (var group in pending.Groups())
                {
                    string store = storeOf(group.Key);
                    TrackingUri = store.Length == 0 ? null : store;
                    PerInput(() => act(group.Key, group.Value));
                }
            }
            catch
            {
                CloseStore();
                throw;
            }
            base.EndProcessing();
        }
    }
}
