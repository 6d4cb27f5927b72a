using System;
using System.Collections.Generic;
using System.Management.Automation;
using MlTraces.Core;

namespace MlTraces.Commands
{
    /// <summary>
    /// The cmdlet side of every writer (<see cref="IWriterListener{TPlanned, TReceipt}"/>): approval through
    /// ShouldProcess (so -WhatIf, -Confirm and $WhatIfPreference decide as PowerShell decides), the plan's line,
    /// a progress bar that always completes, receipts as output with -PassThru, and each trace's error as a
    /// non-terminating error record from the one error table.
    /// </summary>
    internal sealed class WriterReport<TPlanned, TReceipt> : IWriterListener<TPlanned, TReceipt>, IDisposable
        where TPlanned : IPlannedTrace where TReceipt : ITraceReceipt
    {
        private readonly StoreCmdlet _cmdlet;
        private readonly string _action;
        private readonly bool _passThru;

        /// <param name="action">The verb phrase ShouldProcess shows ("Remove trace").</param>
        /// <param name="activity">The progress bar's title.</param>
        public WriterReport(StoreCmdlet cmdlet, string action, string activity, bool passThru)
        {
            _cmdlet = cmdlet;
            _action = action;
            _passThru = passThru;
            Progress = new ProgressReporter(cmdlet, activity);
        }

        public ProgressReporter Progress { get; }

        public bool Approve(TPlanned planned) => _cmdlet.ShouldChange(planned.Describe(), _action);

        public void PlanSummary(string summary) => _cmdlet.ReportPlan(summary);

        void IWriterListener<TPlanned, TReceipt>.Progress(long done, long total) => Progress.Report(done, total, "traces");

        public void Outcome(TReceipt receipt, MlTracesException? error)
        {
            if (error != null)
            {
                _cmdlet.Audit?.TraceFailed();
                _cmdlet.WriteError(ErrorRecords.From(error, receipt.TraceId));
            }
            if (_passThru) _cmdlet.WriteObject(receipt);
        }

        public void Committed(IEnumerable<string> traceIds)
        {
            if (_cmdlet.Audit is Core.Audit.AuditRun audit) foreach (var id in traceIds) audit.TraceChanged(id);
        }

        public void Problem(string traceId, MlTracesException error) => _cmdlet.WriteError(ErrorRecords.From(error, traceId));

        public void Warning(string message) => _cmdlet.WriteWarning(message);

        public void Note(string message) => _cmdlet.WriteVerbose(message);

        /// <summary>Closes the progress bar, also when the run stops half-way.</summary>
        public void Dispose() => Progress.Complete();
    }
}
