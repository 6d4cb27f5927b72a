using System.Management.Automation;

namespace MlTraces.Commands
{
    /// <summary>Lifts the legal hold from traces (removes the trace tag mltraces.legalHold), so a deletion may take
    /// them again. High impact: it is the one step that exposes held data to deletion, so it asks by default.</summary>
    [Cmdlet(VerbsCommon.Clear, "TraceLegalHold", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(Trace))]
    public sealed class ClearTraceLegalHoldCommand : LegalHoldCmdlet
    {
        protected override bool Hold => false;
    }
}
