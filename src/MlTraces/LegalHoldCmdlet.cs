using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>
    /// Set-TraceLegalHold and Clear-TraceLegalHold: one shape, the direction apart. Ids (typed or piped, with the
    /// store each piped trace came from) are collected and changed when the pipeline ends, as Remove-Trace does:
    /// an upstream Search-Trace still reading the same SQLite file would block every commit. The plan is read from
    /// a read-only store; the store is opened for writing only when ShouldProcess agreed to a change, so a dry run
    /// (-WhatIf, $WhatIfPreference, a "No" at -Confirm) cannot write.
    /// </summary>
    public abstract class LegalHoldCmdlet : PipelineStoreCmdlet, IAuditedCommand
    {
        /// <summary>Trace ids (as Get-Trace takes them); traces piped from Search-Trace or Get-Trace bind by property name.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("RequestId")]
        [AllowEmptyString]
        public string[] TraceId { get; set; } = new string[0];

        /// <summary>Writes each trace whose hold this command changed, read back from the store (without spans).</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>The audit log (JSON lines) that gets a line about this run: when, who, the parameters, the store, the plan's totals, the outcome and the ids of the traces changed. Default: $env:MLTRACES_AUDIT_LOG; no log when neither is set. A log that cannot be written stops the command before it changes anything.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AuditLogPath { get; set; }

        /// <summary>True to hold, false to release.</summary>
        protected abstract bool Hold { get; }

        private readonly PendingInputs<string, string> _pending = new PendingInputs<string, string>();

        protected override void ProcessInput()
        {
            string key = TrackingUri ?? "";
            foreach (var id in TraceId)
            {
                if (!AcceptTraceId(id)) continue;
                _pending.Add(key, id);
            }
        }

        protected override void EndProcessing() => EndWithPending(_pending, store => store, (_, ids) => Change(ids));

        private void Change(List<string> ids)
        {
            List<LegalHoldItem> plan = new List<LegalHoldItem>();
            string store = "";
            Terminating(() =>
            {
                var readOnly = OpenStore(StoreAccess.ReadOnly);
                store = readOnly.Uri.Original;
                plan = LegalHold.Plan(readOnly, ids, Hold);
            });
            var accepted = new List<LegalHoldItem>();
            foreach (var item in plan)
            {
                switch (item.Action)
                {
                    case LegalHoldAction.NotFound:
                        WriteError(ErrorRecords.NotFound($"Trace '{item.TraceId}' was not found in the store '{store}'. Check the id with Get-Trace or Search-Trace.", "TraceNotFound", item.TraceId));
                        break;
                    case LegalHoldAction.AlreadyHeld:
                        WriteVerbose($"Trace '{item.TraceId}' is already under legal hold ({TraceTagKeys.LegalHold} = '{Core.UserText.Printable(item.TagValue ?? "")}'); it is left as it is.");
                        break;
                    case LegalHoldAction.NotHeld:
                        WriteVerbose($"Trace '{item.TraceId}' has no {TraceTagKeys.LegalHold} tag; there is no hold to clear.");
                        break;
                    default:
                        if (ShouldChange(item.Describe(), item.Operation())) accepted.Add(item);
                        break;
                }
            }
            int changes = plan.Count(i => i.Action == LegalHoldAction.Hold || i.Action == LegalHoldAction.Release);
            ReportPlan($"{(Hold ? "Put" : "Lift")} the legal hold {(Hold ? "on" : "of")} {changes:N0} trace(s) in the store '{store}'.");
            // ShouldProcess said no to every change (a dry run, or "No" at -Confirm): the store was only read.
            if (accepted.Count == 0 || DryRun) return;
            List<LegalHoldItem> done = new List<LegalHoldItem>();
            Terminating(() => done = LegalHold.Apply(OpenStore(StoreAccess.ReadWrite), accepted, Hold));
            var changed = done.Where(i => i.Action == LegalHoldAction.Hold || i.Action == LegalHoldAction.Release).Select(i => i.TraceId).ToList();
            // Committed: listed for the audit line before any error (-ErrorAction Stop) can end the run.
            if (Audit != null) foreach (var id in changed) Audit.TraceChanged(id);
            foreach (var item in done)
            {
                if (item.Action == LegalHoldAction.NotFound)
                    WriteError(ErrorRecords.NotFound($"Trace '{item.TraceId}' was removed from the store '{store}' before its legal hold could be changed.", "TraceNotFound", item.TraceId));
                else if (item.Action == LegalHoldAction.NotHeld)
                    WriteVerbose($"Trace '{item.TraceId}' lost its {TraceTagKeys.LegalHold} tag meanwhile; there was no hold left to clear.");
                else
                    WriteVerbose(Hold ? $"Trace '{item.TraceId}' is under legal hold." : $"Trace '{item.TraceId}' is no longer under legal hold.");
            }
            if (PassThru && changed.Count > 0) WriteTraces(changed);
        }

        /// <summary>The traces as they stand now, read back from the store.</summary>
        private void WriteTraces(List<string> ids) =>
            Terminating(() =>
            {
                var store = OpenStore(StoreAccess.ReadOnly);
                var reader = new TraceReader(store);
                var traces = reader.GetInfos(ids);
                reader.Hydrate(traces);
                WriteObject(traces, enumerateCollection: true);
            });
    }
}
