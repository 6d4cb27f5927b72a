using System;

namespace MlTraces
{
    /// <summary>One span. <see cref="Content"/> is the span's JSON exactly as MLflow stored it (Span.to_dict()),
    /// kept verbatim so exports are byte-faithful; the other properties are read out of it or the spans row.</summary>
    public sealed class Span
    {
        public string TraceId { get; set; } = "";
        /// <summary>16 lowercase hex characters, as in the spans table.</summary>
        public string SpanId { get; set; } = "";
        public string? ParentSpanId { get; set; }
        public string? Name { get; set; }
        public string? SpanType { get; set; }
        /// <summary>OK, ERROR or UNSET.</summary>
        public string Status { get; set; } = "UNSET";
        public string? StatusMessage { get; set; }
        public long StartTimeUnixNano { get; set; }
        public long? EndTimeUnixNano { get; set; }
        /// <summary>The span attributes; each value is the JSON text MLflow stores (e.g. "\"LLM\"").</summary>
        public System.Collections.Generic.SortedDictionary<string, string> Attributes { get; set; } =
            new System.Collections.Generic.SortedDictionary<string, string>(StringComparer.Ordinal);
        public string Content { get; set; } = "{}";

        public DateTimeOffset StartTime => FromNanos(StartTimeUnixNano);
        public DateTimeOffset? EndTime => EndTimeUnixNano.HasValue ? FromNanos(EndTimeUnixNano.Value) : (DateTimeOffset?)null;
        public TimeSpan? Duration => EndTimeUnixNano.HasValue ? TimeSpan.FromTicks((EndTimeUnixNano.Value - StartTimeUnixNano) / 100) : (TimeSpan?)null;
        public string? Inputs => Attributes.TryGetValue("mlflow.spanInputs", out var v) ? v : null;
        public string? Outputs => Attributes.TryGetValue("mlflow.spanOutputs", out var v) ? v : null;
        public bool IsRoot => string.IsNullOrEmpty(ParentSpanId);

        private static DateTimeOffset FromNanos(long nanos) =>
            DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks(nanos / 100);

        public override string ToString() => $"{Name} ({SpanId})";
    }
}
