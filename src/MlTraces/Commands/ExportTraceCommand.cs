using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using MlTraces.Core.Export;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>Writes traces as MLflow trace JSON (Trace.to_dict()), one trace a line.</summary>
    [Cmdlet(VerbsData.Export, "Trace", SupportsShouldProcess = true, DefaultParameterSetName = "Path")]
    [OutputType(typeof(FileInfo))]
    public sealed class ExportTraceCommand : PSCmdlet
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
        public SwitchParameter NoClobber { get; set; }

        /// <summary>Writes the file's FileInfo to the pipeline when done.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        private StreamWriter? _writer;
        private string _fullPath = "";
        private readonly List<Trace> _pending = new List<Trace>();
        private long _count;
        private ProgressReporter? _progress;

        protected override void BeginProcessing()
        {
            _fullPath = ParameterSetName == "LiteralPath"
                ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(LiteralPath)
                : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            if (NoClobber && !Append && File.Exists(_fullPath))
                ThrowTerminatingError(new ErrorRecord(new IOException($"The file '{_fullPath}' already exists and -NoClobber was given."),
                    "FileExists", ErrorCategory.ResourceExists, _fullPath));
            if (!ShouldProcess(_fullPath, Append ? "Append traces" : "Export traces")) return;
            try
            {
                _writer = new StreamWriter(new FileStream(_fullPath, Append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read),
                    new UTF8Encoding(false)) { NewLine = "\n" };
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ThrowTerminatingError(new ErrorRecord(ex, "CannotWriteFile", ErrorCategory.WriteError, _fullPath));
            }
        }

        protected override void ProcessRecord()
        {
            if (_writer == null) return;
            foreach (var t in InputObject)
            {
                if (t == null) continue;
                _pending.Add(t);
                if (_pending.Count >= TraceReader.BatchSize) Flush();
            }
        }

        protected override void EndProcessing()
        {
            if (_writer == null) return;
            Flush();
            _progress?.Complete();
            _writer.Dispose();
            _writer = null;
            WriteVerbose($"Exported {_count} trace(s) to '{_fullPath}'.");
            if (PassThru) WriteObject(new FileInfo(_fullPath));
        }

        protected override void StopProcessing() => _writer?.Dispose();

        /// <summary>Traces from Search-Trace come without spans; a backup needs them, so they are read here.</summary>
        private void Flush()
        {
            foreach (var group in _pending.Where(t => t.Spans == null).GroupBy(t => t.TrackingUri ?? ""))
            {
                if (group.Key == "") continue;
                try
                {
                    using var store = TraceStore.Open(TrackingUri.Parse(group.Key, SessionState.Path.CurrentFileSystemLocation.ProviderPath));
                    var loader = new SpanLoader(store);
                    loader.Load(group.ToList());
                    foreach (var w in loader.Warnings) WriteWarning(w + " It is exported without spans.");
                }
                catch (Core.MlTracesException ex)
                {
                    WriteError(ErrorRecords.From(ex, group.Key));
                }
            }
            _progress ??= new ProgressReporter(this, "Exporting traces to " + _fullPath);
            foreach (var t in _pending)
            {
                _writer!.WriteLine(TraceJson.ToJsonLine(t));
                _count++;
            }
            _progress.Report(_count, 0, "traces");
            _pending.Clear();
        }
    }
}
