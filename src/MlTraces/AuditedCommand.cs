using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using MlTraces.Core.Json;

namespace MlTraces.Commands
{
    /// <summary>
    /// A command that changes a store or an archive. Declaring -AuditLogPath (this interface) is all it takes:
    /// <see cref="StoreCmdlet"/> then opens the audit log before the command changes anything, and writes one line
    /// per store when the run ends; the approvals asked through <see cref="StoreCmdlet.ShouldChange"/>, the plan
    /// given to <see cref="StoreCmdlet.ReportPlan"/> and the changes reported to <see cref="StoreCmdlet.Audit"/>
    /// (or through <see cref="WriterReport{TPlanned, TReceipt}"/>) fill it.
    /// </summary>
    public interface IAuditedCommand
    {
        /// <summary>The [Parameter] AuditLogPath of the command.</summary>
        string? AuditLogPath { get; }
    }

    /// <summary>A command line's parameters as an audit line holds them: values a person reads, never an object's
    /// content (a trace stands for its id), never a password (a credential stands for its user name; texts are
    /// scrubbed again by the core when the line is written).</summary>
    internal static class AuditParameters
    {
        public static IEnumerable<KeyValuePair<string, JsonNode>> From(IDictionary<string, object?> bound) =>
            bound.Select(kv => new KeyValuePair<string, JsonNode>(kv.Key, Value(kv.Value, 0)));

        private static JsonNode Value(object? value, int depth)
        {
            if (value is PSObject ps) value = ps.BaseObject;
            switch (value)
            {
                case null: return JsonNull.Instance;
                case string s: return new JsonString(s);
                case SwitchParameter sw: return JsonBool.From(sw.IsPresent);
                case bool b: return JsonBool.From(b);
                case int _: case long _: case short _: case byte _: case uint _:
                    return JsonNumber.From(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                case DateTime d: return new JsonString(d.ToString("o", CultureInfo.InvariantCulture));
                case DateTimeOffset d: return new JsonString(d.ToString("o", CultureInfo.InvariantCulture));
                case TimeSpan t: return new JsonString(t.ToString("c", CultureInfo.InvariantCulture));
                case Enum e: return new JsonString(e.ToString());
                case PSCredential c: return new JsonString("PSCredential(" + c.UserName + ")");
                case Trace t: return new JsonString(t.TraceId);
                case IEnumerable items when depth == 0:
                    return new JsonArray(items.Cast<object?>().Select(i => Value(i, depth + 1)));
                // Anything else is named by its type: its text could be anything, content included.
                default: return new JsonString("(" + value.GetType().Name + ")");
            }
        }
    }
}
