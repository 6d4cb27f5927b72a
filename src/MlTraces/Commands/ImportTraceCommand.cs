using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using MlTraces.Core;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Core.Spans;

namespace MlTraces.Commands
{
    /// <summary>Imports traces (MLflow trace JSON lines, or trace objects from another store) into a store.</summary>
    [Cmdlet(VerbsData.Import, "Trace", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Path")]
    [OutputType(typeof(Trace))]
    public sealed class ImportTraceCommand : StoreCmdlet, IAuditedCommand
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] Path { get; set; } = new string[0];

        [Parameter(Mandatory = true, ParameterSetName = "LiteralPath", ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP")]
        [ValidateNotNullOrEmpty]
        public string[] LiteralPath { get; set; } = new string[0];

        /// <summary>Traces from Get-Trace or Search-Trace on another store.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "InputObject", ValueFromPipeline = true)]
        public Trace[] InputObject { get; set; } = new Trace[0];

        /// <summary>The store to import into (never taken from the pipeline, which carries the traces' own store).</summary>
        [Parameter]
        [Alias("Store", "Uri")]
        [ValidateNotNullOrEmpty]
        public string? TrackingUri { get; set; }
        protected override string? StoreUri { get => TrackingUri; set => TrackingUri = value; }

        /// <summary>Puts every trace in this experiment, which must exist.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentIdCompleter))]
        public string? ExperimentId { get; set; }

        /// <summary>Puts every trace in the experiment with this name, created if it is missing.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ExperimentNameCompleter))]
        public string? ExperimentName { get; set; }

        /// <summary>Writes each imported trace to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>The MLflow server's --artifacts-destination, for piped traces whose spans are read from mlflow-artifacts:/ locations. Default: $env:MLTRACES_ARTIFACTS_DESTINATION.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ArtifactsDestination { get; set; }

        protected override string? ArtifactsDestinationValue => ArtifactsDestination;

        /// <summary>The audit log (JSON lines) that gets a line about this run: when, who, the parameters, the store, the plan's totals, the outcome and the ids of the traces changed. Default: $env:MLTRACES_AUDIT_LOG; no log when neither is set. A log that cannot be written stops the command before it changes anything.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AuditLogPath { get; set; }

        private TraceImporter? _importer;
        private SourceExperimentNames? _sourceNames;
        private ProgressReporter? _progress;
        private string? _targetExperimentId;
        private readonly List<Trace> _pending = new List<Trace>();
        // Each batch is one write transaction, sized by how long the last one held the store's write lock.
        private readonly TransactionSizer _sizer = new TransactionSizer(100, TraceImporter.TransactionSize);
        /// <summary>Where each trace read from a file came from ("file, line n"), for its errors.</summary>
        private readonly Dictionary<Trace, string> _origins = new Dictionary<Trace, string>();
        private long _imported;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            if (ExperimentId != null && ExperimentName != null)
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("Give -ExperimentId or -ExperimentName, not both."),
                    "ExperimentIdAndName", ErrorCategory.InvalidArgument, null));
            Terminating(() =>
            {
                var store = OpenStoreToWrite();
                _importer = new TraceImporter(store);
                _sourceNames = new SourceExperimentNames(ParseStoreUri);
                if (ExperimentId != null)
                {
                    _targetExperimentId = Experiments.NormalizeId(ExperimentId);
                    if (_importer.FindExperiment(_targetExperimentId) == null)
                        throw new MlTracesException(ErrorKind.NotFound, "ExperimentNotFound",
                            $"Could not find experiment with ID {ExperimentId} in the store '{store.Name}'.");
                }
            });
        }

        protected override void ProcessInput()
        {
            if (_importer == null) return;
            if (ParameterSetName == "InputObject")
            {
                foreach (var t in InputObject) if (t != null && AcceptTraceId(t.TraceId, t)) Add(t);
                return;
            }
            var paths = UserPaths.FilesToRead(SessionState, ParameterSetName == "LiteralPath" ? LiteralPath : Path, literal: ParameterSetName == "LiteralPath", WriteError);
            foreach (var file in paths) ReadFile(file);
        }

        private void ReadFile(string file)
        {
            if (!File.Exists(file))
            {
                WriteError(new ErrorRecord(new FileNotFoundException($"The file '{file}' does not exist.", file), "FileNotFound", ErrorCategory.ObjectNotFound, file));
                return;
            }
            using var reader = new StreamReader(file);
            _progress ??= new ProgressReporter(this, "Importing traces into " + ResolveUri().Original);
            long size = new FileInfo(file).Length;
            foreach (var line in TraceJson.ReadJsonLines(reader, file))
            {
                // Progress by bytes read: a file's trace count is not known before it is read.
                _progress.Report(reader.BaseStream.Position, size, $"bytes of {System.IO.Path.GetFileName(file)} ({_imported + _pending.Count:N0} traces)");
                if (line.Error != null)
                    WriteError(new ErrorRecord(line.Error, line.Error.ErrorId, ErrorCategory.InvalidData, $"{file}:{line.Number}"));
                else if (AcceptTraceId(line.Trace!.TraceId, $"{file}:{line.Number}", $"{file}, line {line.Number}"))
                {
                    _origins[line.Trace!] = $"{file}, line {line.Number}";
                    Add(line.Trace!);
                }
            }
        }

        private void Add(Trace t)
        {
            // What is refused by where it would go is said before -WhatIf answers, so a dry run names the same errors.
            var refused = ExperimentName == null ? _importer!.Refusal(t, _targetExperimentId, _sourceNames!.Of) : _importer!.Unwritable(t);
            if (refused != null)
            {
                WriteWarnings(_sourceNames!.Warnings);
                Report(refused, _origins.TryGetValue(t, out var origin) && _origins.Remove(t) ? origin : null);
                return;
            }
            string experiment = ExperimentName != null && _targetExperimentId == null ? $"'{ExperimentName}'"
                : (_targetExperimentId ?? t.ExperimentId) + $" ('{UserText.Printable(UserText.Shorten(_importer!.FindExperiment(_targetExperimentId ?? t.ExperimentId)?.Name))}')";
            if (!ShouldChange($"trace {t.TraceId} into experiment {experiment} of '{ResolveUri().Original}'", "Import trace")) { _origins.Remove(t); return; }
            _pending.Add(t);
            if (_pending.Count >= _sizer.Next) Flush();
        }

        protected override void EndProcessing()
        {
            Flush();
            _progress?.Complete();
            WriteVerbose($"Imported {_imported} trace(s) into '{ResolveUri().Original}'.");
            base.EndProcessing();
        }

        private void Flush()
        {
            if (_pending.Count == 0 || _importer == null) return;
            var batch = _pending.ToList();
            _pending.Clear();
            // A trace whose spans cannot be read from its own store is not imported without them.
            foreach (var t in SpanLoader.LoadMissing(batch, ParseStoreUri, ObjectSettings, WriteWarning, (store, ex) => WriteError(ErrorRecords.From(ex, store))))
                batch.Remove(t);
            var origins = batch.Select(t => _origins.TryGetValue(t, out var o) && _origins.Remove(t) ? o : null).ToList();
            List<ImportResult> results = new List<ImportResult>();
            Terminating(() =>
            {
                if (ExperimentName != null && _targetExperimentId == null)
                    _targetExperimentId = _importer.EnsureExperiment(ExperimentName).ExperimentId;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                results = _importer.Import(batch, _targetExperimentId, _sourceNames!.Of);
                _sizer.Done(batch.Count, clock.Elapsed);
            });
            // Committed: listed for the audit line before any error (-ErrorAction Stop) can end the run.
            if (Audit != null) foreach (var r in results) if (r.Error() == null) Audit.TraceChanged(r.Trace.TraceId);
            WriteWarnings(_sourceNames!.Warnings);
            WriteWarnings(_importer.Warnings);
            for (int i = 0; i < results.Count; i++) Report(results[i], origins[i]);
        }

        /// <summary>One result per trace: a failure names the file and line it came from.</summary>
        private void Report(ImportResult r, string? origin)
        {
            if (origin != null && r.Message != null) r.Message = origin + ": " + r.Message;
            var error = r.Error();
            if (error != null)
            {
                WriteError(ErrorRecords.From(error, r.Trace));
                return;
            }
            _imported++;
            if (PassThru) WriteObject(r.Trace);
        }
    }
}
