using System;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MlTraces.Core.Retention
{
    /// <summary>
    /// MLflow's trace archival duration: a positive whole number and a unit, m, h or d ("30d", "12h", "90m"), at most
    /// 32 characters. Python's integers are unbounded, so a huge amount is valid there; here it saturates to the
    /// largest time span instead of overflowing.
    /// </summary>
    public sealed class RetentionDuration : IComparable<RetentionDuration>
    {
        public const int MaxLength = 32;
        private static readonly Regex Form = new Regex("^[1-9][0-9]*[mhd]$", RegexOptions.CultureInvariant);

        public string Text { get; }
        /// <summary>Milliseconds, saturated at long.MaxValue.</summary>
        public long Milliseconds { get; }

        private RetentionDuration(string text, long milliseconds) { Text = text; Milliseconds = milliseconds; }

        public TimeSpan TimeSpan => Milliseconds >= TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond
            ? TimeSpan.MaxValue : TimeSpan.FromTicks(Milliseconds * TimeSpan.TicksPerMillisecond);

        /// <summary>Validates as MLflow's _validate_trace_archival_retention_string, with its messages.</summary>
        public static RetentionDuration Parse(object? value, string? parameterName = null)
        {
            if (!(value is string s)) throw Invalid(parameterName);
            string text = s.Trim();
            if (text.Length > MaxLength)
                throw new InvalidParameterException(parameterName == null
                    ? "Trace archival duration must be at most 32 characters."
                    : $"Invalid value for '{parameterName}'. Maximum length is 32 characters.", "InvalidRetention");
            if (!Form.IsMatch(text)) throw Invalid(parameterName);
            long unit = text[text.Length - 1] switch { 'm' => 60_000L, 'h' => 3_600_000L, _ => 86_400_000L };
            string digits = text.Substring(0, text.Length - 1);
            long ms = long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long amount) && amount <= long.MaxValue / unit
                ? amount * unit : long.MaxValue;
            return new RetentionDuration(text, ms);
        }

        public static bool TryParse(object? value, out RetentionDuration? duration)
        {
            try { duration = Parse(value); return true; }
            catch (InvalidParameterException) { duration = null; return false; }
        }

        private static InvalidParameterException Invalid(string? parameterName) => new InvalidParameterException(parameterName == null
            ? "Trace archival retention must be in the form `<int><unit>`, where unit is one of 'm', 'h', or 'd'."
            : $"Invalid value for '{parameterName}'. Expected a duration in the form `<int><unit>`, where unit is one of 'm', 'h', or 'd' (for example '30d' or '12h').",
            "InvalidRetention");

        /// <summary>From a PowerShell TimeSpan: whole minutes, written in the largest unit that divides it evenly.</summary>
        public static RetentionDuration FromTimeSpan(TimeSpan span, string? parameterName = null)
        {
            if (span.Ticks <= 0 || span.Ticks % TimeSpan.TicksPerMinute != 0)
                throw new InvalidParameterException($"Invalid value for '{parameterName ?? "duration"}'. A trace archival duration is a positive whole number of minutes, hours or days.", "InvalidRetention");
            long ms = span.Ticks / TimeSpan.TicksPerMillisecond;
            return Parse(Format(ms), parameterName);
        }

        /// <summary>MLflow's formatting: the first of d, h, m that divides the milliseconds evenly.</summary>
        public static string Format(long milliseconds)
        {
            if (milliseconds % 86_400_000L == 0) return (milliseconds / 86_400_000L).ToString(CultureInfo.InvariantCulture) + "d";
            if (milliseconds % 3_600_000L == 0) return (milliseconds / 3_600_000L).ToString(CultureInfo.InvariantCulture) + "h";
            return (milliseconds / 60_000L).ToString(CultureInfo.InvariantCulture) + "m";
        }

        /// <summary>As MLflow's UI shows it: "30 days", "1 hour", "90 minutes".</summary>
        public string Display
        {
            get
            {
                string amount = Text.Substring(0, Text.Length - 1);
                string unit = Text[Text.Length - 1] switch { 'm' => "minute", 'h' => "hour", _ => "day" };
                return amount == "1" ? $"1 {unit}" : $"{amount} {unit}s";
            }
        }

        /// <summary>The instant <paramref name="age"/> before <paramref name="now"/>, in Unix milliseconds
        /// (TimeSpan's range keeps it far inside a long, so a saturated duration cannot overflow here).</summary>
        public static long CutoffMs(DateTimeOffset now, TimeSpan age)
        {
            if (age < TimeSpan.Zero) throw new InvalidParameterException($"A duration cannot be negative: {age}.", "InvalidRetention");
            return now.ToUnixTimeMilliseconds() - age.Ticks / TimeSpan.TicksPerMillisecond;
        }

        public int CompareTo(RetentionDuration? other) => other == null ? 1 : Milliseconds.CompareTo(other.Milliseconds);

        public override string ToString() => Text;
    }
}
