using System.Management.Automation;

namespace MlTraces.Commands
{
    /// <summary>Puts traces under legal hold (trace tag mltraces.legalHold = true): Remove-Trace leaves them.</summary>
    [Cmdlet(VerbsCommon.Set, "TraceLegalHold", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(Trace))]
    public sealed class SetTraceLegalHoldCommand : LegalHoldCmdlet
    {
        protected override bool Hold => true;
    }
}
