using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Core.Spans;

namespace MlTraces.Commands
{
    /// <summary>Writes traces as MLflow trace JSON (Trace.to_dict()), one trace a line.</summary>
    [Cmdlet(VerbsData.Export, "Trace", SupportsShouldProcess = true, DefaultParameterSetName = "Path")]
    [OutputType(typeof(FileInfo))]
    public sealed class ExportTraceCommand : PSCmdlet, IDisposable
    {
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        public Trace[] InputObject { get; set; } = new Trace[0];

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "";

        [Parameter(Mandatory = true, ParameterSetName = "LiteralPath")]
        [Alias("PSPath", "LP")]
        [ValidateNotNullOrEmpty]
        public string LiteralPath { get; set; } = "";

        /// <summary>Adds to the end of an existing file instead of replacing it.</summary>
        [Parameter]
        public SwitchParameter Append { get; set; }

        /// <summary>Refuses to replace an existing file.</summary>
        [Parameter]
        [Alias("NoOverwrite")]
        public SwitchParameter NoClobber { get; set; }

        /// <summary>Writes the file even when it is read-only (it stays read-only).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Writes the file's FileInfo to the pipeline when done.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>The MLflow server's --artifacts-destination, for traces whose spans are read from mlflow-artifacts:/ locations. Default: $env:MLTRACES_ARTIFACTS_DESTINATION.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ArtifactsDestination { get; set; }

        private Core.Locations.ObjectStoreSettings? _objectSettings;

        private ExportFile? _file;
        private string _fullPath = "";
        private readonly List<Trace> _pending = new List<Trace>();
        private long _count;
        private ProgressReporter? _progress;

        protected override void BeginProcessing()
        {
            try { _objectSettings = ObjectStoreOptions.Settings(SessionState, ArtifactsDestination); }
            catch (Core.MlTracesException ex) { ThrowTerminatingError(ErrorRecords.From(ex, ObjectStoreOptions.Target(ArtifactsDestination))); }
            catch (ArgumentException ex) { ThrowTerminatingError(new ErrorRecord(ex, "InvalidArgument", ErrorCategory.InvalidArgument, ObjectStoreOptions.Target(ArtifactsDestination))); }
            try { _fullPath = UserPaths.FileSystemPath(SessionState, ParameterSetName == "LiteralPath" ? LiteralPath : Path); }
            catch (ArgumentException ex) { ThrowTerminatingError(new ErrorRecord(ex, "InvalidPath", ErrorCategory.InvalidArgument, ParameterSetName == "LiteralPath" ? LiteralPath : Path)); }
            // Checked before -WhatIf answers, so that a dry run says what the real run would refuse.
            var problem = ExportFile.Problem(_fullPath, Append, NoClobber, Force);
            if (problem != null) Fail(problem);
            if (!ShouldProcess(_fullPath, Append ? "Append traces" : "Export traces")) return;
            try { _file = ExportFile.Open(_fullPath, Append, NoClobber, Force); }
            catch (Core.MlTracesException ex) { Fail(ex); }
        }

        protected override void ProcessRecord()
        {
            if (_file == null) return;
            foreach (var t in InputObject)
            {
                if (t == null) continue;
                _pending.Add(t);
                if (_pending.Count >= TraceReader.BatchSize) Flush();
            }
        }

        protected override void EndProcessing()
        {
            if (_file == null) return;
            Flush();
            try
            {
                lock (_fileLock)
                {
                    if (_file == null) return; // stopped meanwhile
                    _file.Commit();
                }
            }
            catch (Core.MlTracesException ex) { Fail(ex); }
            _file = null;
            _progress?.Complete();
            WriteVerbose($"Exported {_count} trace(s) to '{_fullPath}'.");
            if (PassThru) WriteObject(new FileInfo(_fullPath));
        }

        /// <summary>Ctrl+C, a failing command before this one, Select-Object -First after it: the old file stays, and
        /// the temporary file goes.</summary>
        protected override void StopProcessing() => Discard();

        public void Dispose() => Discard();

        // StopProcessing comes on another thread, maybe while a batch is being written or the file committed: the
        // file is only touched under this lock (a writer disposed mid-write once left the temporary file behind).
        private readonly object _fileLock = new object();

        private void Discard()
        {
            lock (_fileLock)
            {
                _file?.Dispose();
                _file = null;
            }
        }

        private void Fail(Core.MlTracesException ex)
        {
            Discard();
            var category = ex.ErrorId == "CannotWriteFile" ? ErrorCategory.WriteError : ErrorRecords.Category(ex.Kind);
            ThrowTerminatingError(new ErrorRecord(ex, ex.ErrorId, category, _fullPath));
        }

        /// <summary>Traces from Search-Trace come without spans; a backup needs them, so they are read here.</summary>
        private void Flush()
        {
            var target = _file;
            if (target == null) return;
            foreach (string key in _pending.Select(t => t.TrackingUri ?? "").Distinct())
            {
                if (key == "") continue;
                try { target.RefuseStore(UserPaths.ParseUri(SessionState, key).FilePath); }
                catch (Core.MlTracesException ex) { Fail(ex); }
                catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException) { }
            }
            SpanLoader.LoadMissing(_pending, key => UserPaths.ParseUri(SessionState, key), _objectSettings!,
                w => WriteWarning(w + " It is exported without spans."), (store, ex) => WriteError(ErrorRecords.From(ex, store)));
            _progress ??= new ProgressReporter(this, "Exporting traces to " + _fullPath);
            lock (_fileLock)
            {
                if (_file == null) return; // stopped meanwhile
                foreach (var t in _pending)
                {
                    try { _file.Writer.WriteLine(TraceJson.ToJsonLine(t)); }
                    catch (IOException ex) { Fail(ExportFile.CannotWrite(_fullPath, ex)); }
                    _count++;
                }
            }
            _progress.Report(_count, 0, "traces");
            _pending.Clear();
        }
    }
}
