using System;

namespace MlTraces
{
    /// <summary>A row of MLflow's assessments table: feedback, expectation or issue attached to a trace.</summary>
    public sealed class Assessment
    {
        public string AssessmentId { get; set; } = "";
        public string TraceId { get; set; } = "";
        public string Name { get; set; } = "";
        /// <summary>feedback, expectation or issue.</summary>
        public string AssessmentType { get; set; } = "";
        /// <summary>The stored JSON text of the value (json.dumps of the Python value).</summary>
        public string Value { get; set; } = "null";
        public string? Error { get; set; }
        public long CreatedTimestampMs { get; set; }
        public long LastUpdatedTimestampMs { get; set; }
        public string SourceType { get; set; } = "";
        public string? SourceId { get; set; }
        public string? RunId { get; set; }
        public string? SpanId { get; set; }
        public string? Rationale { get; set; }
        public string? Overrides { get; set; }
        public bool Valid { get; set; } = true;
        /// <summary>The stored JSON text of the assessment metadata.</summary>
        public string? Metadata { get; set; }

        public DateTimeOffset CreatedTime => DateTimeOffset.FromUnixTimeMilliseconds(CreatedTimestampMs);

        public override string ToString() => $"{Name}={Value}";
    }
}
