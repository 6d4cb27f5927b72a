namespace MlTraces.Core.Store
{
    /// <summary>
    /// The legal hold: a trace tagged mltraces.legalHold is never deleted. Any value holds except an explicit
    /// "no" (false, 0, no, off, or empty, in any case and spacing): a hold errs on the side of keeping data, so
    /// "True", "yes" or "1" hold as "true" does. One SQL condition, used by the plan and again inside every delete
    /// transaction, so a hold set after the plan still wins.
    /// </summary>
    public static class LegalHold
    {
        /// <summary>True when the trace row under <paramref name="traceAlias"/> (a trace_info alias) is held.</summary>
        public static string Condition(string traceAlias) =>
            $"EXISTS (SELECT 1 FROM trace_tags lh WHERE lh.request_id = {traceAlias}.request_id AND lh.\"key\" = '{TraceTagKeys.LegalHold}' " +
            "AND lower(trim(coalesce(lh.value, ''))) NOT IN ('', 'false', '0', 'no', 'off'))";
    }
}
