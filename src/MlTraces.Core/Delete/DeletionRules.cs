using System;

namespace MlTraces.Core.Delete
{
    /// <summary>
    /// What a deletion request may say: MLflow's delete_traces rules, in MLflow's order and with its messages, then
    /// the two ways MlTraces adds to say "how old" (a time or a duration, not both). Checked before any store is
    /// opened: a request that breaks them is the user's to fix, whatever the store.
    /// </summary>
    public static class DeletionRules
    {
        /// <param name="byIds">The request names traces (by id or as trace objects).</param>
        /// <param name="byAge">The request selects by age only (no ids, no filter), so it needs a bound.</param>
        public static void Check(bool byIds, bool byAge, bool hasBefore, TimeSpan? olderThan, int? maxTraces)
        {
            bool bound = hasBefore || olderThan.HasValue;
            if (byAge && !bound)
                throw new InvalidParameterException(
                    "Either `max_timestamp_millis` or `trace_ids` must be specified. Give -Before or -OlderThan, -Filter, or trace ids.", "MissingSelection");
            if (byIds && bound)
                throw new InvalidParameterException(
                    "Only one of `max_timestamp_millis` and `trace_ids` can be specified. Remove -Before/-OlderThan, or select by age instead of by id.", "BoundWithTraceIds");
            if (byIds && maxTraces.HasValue)
                throw new InvalidParameterException(
                    "`max_traces` can't be specified if `trace_ids` is specified. -MaxTraces limits a selection by age or filter.", "MaxTracesWithTraceIds");
            if (maxTraces.HasValue && maxTraces.Value <= 0)
                throw new InvalidParameterException($"`max_traces` must be a positive integer, received {maxTraces.Value}.", "InvalidMaxTraces");
            if (hasBefore && olderThan.HasValue)
                throw new InvalidParameterException("Give -Before or -OlderThan, not both: they are two ways to say the same bound.", "BothBounds");
            if (olderThan.HasValue && olderThan.Value < TimeSpan.Zero)
                throw new InvalidParameterException($"Invalid value for 'OlderThan'. A duration cannot be negative: {olderThan.Value}.", "InvalidRetention");
        }
    
        /// <summary>The newest start time (Unix ms, inclusive, as MLflow's max_timestamp_millis) that -Before or
        /// -OlderThan allows, or null for no bound. A DateTime as PowerShell users write it: UTC when it says so,
        /// local time otherwise.</summary>
        public static long? CutoffMs(DateTime? before, TimeSpan? olderThan, DateTimeOffset now)
        {
            if (before.HasValue)
            {
                var time = before.Value;
                var utc = time.Kind == DateTimeKind.Utc ? time : DateTime.SpecifyKind(time.ToUniversalTime(), DateTimeKind.Utc);
                return new DateTimeOffset(utc).ToUnixTimeMilliseconds();
            }
            return olderThan.HasValue ? Retention.RetentionDuration.CutoffMs(now, olderThan.Value) : (long?)null;
        }
    }
}
