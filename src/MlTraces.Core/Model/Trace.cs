using System;
using System.Collections.Generic;

namespace MlTraces
{
    /// <summary>One MLflow trace as the store holds it: trace_info plus its tags, metadata, assessments and,
    /// when asked for, its spans. Property names follow MLflow's v3 TraceInfo.</summary>
    public sealed class Trace
    {
        public string TraceId { get; set; } = "";
        public string ExperimentId { get; set; } = "";
        /// <summary>The raw state string (OK, ERROR, IN_PROGRESS, STATE_UNSPECIFIED); the store does not enforce it.</summary>
        public string State { get; set; } = "";
        public long TimestampMs { get; set; }
        public long? ExecutionTimeMs { get; set; }
        public string? ClientRequestId { get; set; }
        public string? RequestPreview { get; set; }
        public string? ResponsePreview { get; set; }
        public SortedDictionary<string, string?> Tags { get; set; } = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        public SortedDictionary<string, string?> Metadata { get; set; } = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        public List<Assessment> Assessments { get; set; } = new List<Assessment>();
        /// <summary>Null when spans were not requested or could not be loaded.</summary>
        public List<Span>? Spans { get; set; }
        /// <summary>The store the trace was read from, so the trace can be piped to the next command.</summary>
        public string? TrackingUri { get; set; }

        public DateTimeOffset RequestTime => DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs);
        public TimeSpan? ExecutionDuration => ExecutionTimeMs.HasValue ? TimeSpan.FromMilliseconds(ExecutionTimeMs.Value) : (TimeSpan?)null;
        public DateTimeOffset? EndTime => ExecutionTimeMs.HasValue ? RequestTime.AddMilliseconds(ExecutionTimeMs.Value) : (DateTimeOffset?)null;
        public string? Name => Tag(TraceTagKeys.TraceName);
        public string? SpansLocation => Tag(TraceTagKeys.SpansLocation);
        public string? ArchiveLocation => Tag(TraceTagKeys.ArchiveLocation);
        public string? ArtifactLocation => Tag(TraceTagKeys.ArtifactLocation);
        public string? RunId => Meta(TraceMetadataKeys.SourceRun);
        public string? Session => Meta(TraceMetadataKeys.Session);
        public string? User => Meta(TraceMetadataKeys.User);
        /// <summary>The number of spans, or null when they were not read (Search-Trace without -IncludeSpans,
        /// Get-Trace -ExcludeSpans, spans that could not be loaded): not 0, which would say the trace has none.</summary>
        public int? SpanCount => Spans?.Count;
        /// <summary>Whether the spans were read: false means Spans and SpanCount say nothing about the trace.</summary>
        public bool SpansLoaded => Spans != null;

        private string? Tag(string key) => Tags.TryGetValue(key, out var v) ? v : null;
        private string? Meta(string key) => Metadata.TryGetValue(key, out var v) ? v : null;

        public override string ToString() => TraceId;
    }

    public static class TraceTagKeys
    {
        public const string TraceName = "mlflow.traceName";
        public const string ArtifactLocation = "mlflow.artifactLocation";
        public const string SpansLocation = "mlflow.trace.spansLocation";
        public const string ArchiveLocation = "mlflow.trace.archiveLocation";
        public const string LinkedPrompts = "mlflow.linkedPrompts";
        /// <summary>MlTraces' own tag: a trace under legal hold is never deleted (or archived).</summary>
        public const string LegalHold = "mltraces.legalHold";
        /// <summary>Set by the archival pass on a trace it can never archive (MALFORMED_TRACE, UNSUPPORTED_ARCHIVE_REPOSITORY).</summary>
        public const string ArchivalFailure = "mlflow.trace.archivalFailure";
    }

    public static class TraceMetadataKeys
    {
        public const string SourceRun = "mlflow.sourceRun";
        public const string ModelId = "mlflow.modelId";
        public const string Session = "mlflow.trace.session";
        public const string TokenUsage = "mlflow.trace.tokenUsage";
        public const string Cost = "mlflow.trace.cost";
        public const string User = "mlflow.trace.user";
        /// <summary>The size of the trace MLflow recorded when it was logged.</summary>
        public const string SizeBytes = "mlflow.trace.sizeBytes";
    }

    public static class SpansLocations
    {
        public const string TrackingStore = "TRACKING_STORE";
        public const string ArtifactRepo = "ARTIFACT_REPO";
        public const string ArchiveRepo = "ARCHIVE_REPO";
    }
}
