using System;
using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;

namespace MlTraces.Core.Retention
{
    /// <summary>
    /// MLflow's duration grammar for trace retention (_validate_trace_archival_retention_string): stripped, at
    /// most 32 characters, ^[1-9][0-9]*[mhd]$, with MLflow's messages. Python's ints do not overflow, so a huge
    /// amount saturates to the longest TimeSpan ("never") instead of wrapping.
    /// </summary>
    public static class Durations
    {
        public const int MaxLength = 32;
        private static readonly Regex Grammar = new Regex("^[1-9][0-9]*[mhd]$", RegexOptions.CultureInvariant);

        /// <param name="parameterName">The name MLflow's message quotes, e.g. "OlderThan"; null for the bare form.</param>
        public static TimeSpan Parse(string? text, string? parameterName = null)
        {
            string value = (text ?? "").Trim();
            if (value.Length > MaxLength)
                throw new InvalidParameterException(parameterName == null
                    ? $"Trace archival duration must be at most {MaxLength} characters."
                    : $"Invalid value for '{parameterName}'. Maximum length is {MaxLength} characters.", "InvalidDuration");
            if (!Grammar.IsMatch(value))
                throw new InvalidParameterException(parameterName == null
                    ? "Trace archival retention must be in the form `<int><unit>`, where unit is one of 'm', 'h', or 'd'."
                    : $"Invalid value for '{parameterName}'. Expected a duration in the form `<int><unit>`, where unit is one of 'm', 'h', or 'd' (for example '30d' or '12h').",
                    "InvalidDuration");
            var amount = BigInteger.Parse(value.Substring(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture);
            long unitMs = value[value.Length - 1] switch { 'm' => 60_000L, 'h' => 3_600_000L, _ => 86_400_000L };
            var ms = amount * unitMs;
            var maxMs = new BigInteger(TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond);
            return ms >= maxMs ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)ms * TimeSpan.TicksPerMillisecond);
        }

        /// <summary>The instant a duration before <paramref name="now"/>, in Unix milliseconds (TimeSpan's range
        /// keeps it far inside a long).</summary>
        public static long CutoffMs(DateTimeOffset now, TimeSpan age)
        {
            if (age < TimeSpan.Zero) throw new InvalidParameterException($"A duration cannot be negative: {age}.", "InvalidDuration");
            long nowMs = now.ToUnixTimeMilliseconds();
            long ageMs = age.Ticks / TimeSpan.TicksPerMillisecond;
            return nowMs - ageMs;
        }
    }
}
