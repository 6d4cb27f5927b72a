using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MlTraces.Core.Query;
using MlTraces.Core.Store;

namespace MlTraces.Core.Archive
{
    /// <summary>An archived trace that the plan found restorable: its payload read and matched to its span rows.</summary>
    public sealed class PlannedRestore : IPlannedTrace
    {
        public string TraceId => Trace.TraceId;
        public Trace Trace { get; set; } = new Trace();
        public string ArchiveLocation { get; set; } = "";
        public int Spans { get; set; }
        /// <summary>UTF-8 bytes of span content that come back into the store: what the archival pass counted when it
        /// archived the trace (<see cref="TracePayload.ContentBytes"/>).</summary>
        public long PayloadBytes { get; set; }
        /// <summary>The size of traces.pb, the file the restore reads and then removes.</summary>
        public long ArchiveFileBytes { get; set; }

        /// <summary>What a person needs to judge the trace at a prompt or in a -WhatIf line.</summary>
        public string Describe() =>
            $"{Trace.TraceId} (experiment {Trace.ExperimentId}, " +
            $"{Trace.RequestTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)}, " +
            $"{Spans} span{(Spans == 1 ? "" : "s")}, {PayloadBytes:N0} bytes of span content from {ArchiveLocation} ({ArchiveFileBytes:N0} bytes in traces.pb))";
    }

    /// <summary>What a restore would do: the traces it restores, and why each other requested trace is not.</summary>
    public sealed class RestorePlan
    {
        public string TrackingUri { get; set; } = "";
        public List<PlannedRestore> Traces { get; } = new List<PlannedRestore>();
        /// <summary>Requested traces that are not restored, each with its receipt and the error that says why.</summary>
        public List<(RestoreReceipt Receipt, MlTracesException Error)> Refused { get; } = new List<(RestoreReceipt, MlTracesException)>();

        public string Summary() =>
            $"Restore {Traces.Count:N0} archived trace{(Traces.Count == 1 ? "" : "s")} ({Traces.Sum(t => (long)t.Spans):N0} spans, " +
            $"{Traces.Sum(t => t.PayloadBytes):N0} bytes of span content) into the store '{TrackingUri}'";
    }

    /// <summary>Plans a restore: which archived traces come back, read and checked exactly as the real run will.</summary>
    public sealed class RestorePlanner
    {
        private readonly TraceStore _store;
        private readonly Locations.ObjectStoreSettings _settings;
        /// <summary>A server that stops answering costs the plan one read's retries, not one per trace.</summary>
        private readonly Locations.ObjectSession _objects = new Locations.ObjectSession();

        /// <param name="settings">How object stores are reached and mlflow-artifacts:/ resolved: the command's.</param>
        public RestorePlanner(TraceStore store, Locations.ObjectStoreSettings settings) { _store = store; _settings = settings; }

        /// <summary>The ids of the archived traces of these experiments, oldest first.</summary>
        public List<string> ArchivedTraceIds(IReadOnlyList<string> experimentIds)
        {
            var ids = new List<string>();
            if (experimentIds.Count == 0) return ids;
            var p = new SqlParameters();
            using var cmd = _store.Command(
                "SELECT ti.request_id FROM trace_info ti JOIN trace_tags tt ON tt.request_id = ti.request_id " +
                $"AND tt.key = {p.Add(TraceTagKeys.SpansLocation)} AND tt.value = {p.Add(SpansLocations.ArchiveRepo)} " +
                $"WHERE {SearchCompiler.TracesOf(experimentIds.Select(e => long.Parse(e, CultureInfo.InvariantCulture)), p)} " +
                "ORDER BY ti.timestamp_ms, ti.request_id", p);
            using var r = _store.Translate(() => cmd.ExecuteReader());
            while (r.Read()) ids.Add(r.GetString(0));
            return ids;
        }

        /// <summary>Checks each requested trace as the real run will: found, archived, payload readable and matching.
        /// Reads only, so -WhatIf shows exactly what a real run restores.</summary>
        public RestorePlan Plan(IReadOnlyList<string> traceIds)
        {
            var plan = new RestorePlan { TrackingUri = _store.Uri.Original };
            var reader = new TraceReader(_store);
            var ids = traceIds.Distinct(StringComparer.Ordinal).ToList();
            var found = reader.GetInfos(ids).ToDictionary(t => t.TraceId, StringComparer.Ordinal);
            reader.RefreshTags(found.Values.ToList());
            foreach (var id in ids)
            {
                var receipt = new RestoreReceipt { TraceId = id, TrackingUri = plan.TrackingUri };
                if (!found.TryGetValue(id, out var trace))
                {
                    receipt.Status = RestoreStatus.NotFound;
                    plan.Refused.Add((receipt, new MlTracesException(ErrorKind.NotFound, "TraceNotFound",
                        $"Trace '{id}' was not found in the store '{plan.TrackingUri}'.")));
                    continue;
                }
                receipt.ExperimentId = trace.ExperimentId;
                receipt.ArchiveLocation = trace.ArchiveLocation;
                try
                {
                    var spans = RestoreExecutor.ReadPayload(id, trace.ExperimentId, trace.SpansLocation, trace.ArchiveLocation, _settings, out long bytes, _objects);
                    RestoreExecutor.Match(id, trace.ArchiveLocation!, spans, RestoreExecutor.ReadRows(_store, id));
                    plan.Traces.Add(new PlannedRestore
                    {
                        Trace = trace, ArchiveLocation = trace.ArchiveLocation!, Spans = spans.Count,
                        PayloadBytes = TracePayload.ContentBytes(spans.Select(s => s.Content)), ArchiveFileBytes = bytes,
                    });
                }
                catch (MlTracesException ex)
                {
                    receipt.Status = ex.ErrorId == RestoreExecutor.NotArchivedId ? RestoreStatus.NotArchived : RestoreStatus.Failed;
                    receipt.ErrorId = ex.ErrorId;
                    plan.Refused.Add((receipt, ex));
                }
            }
            return plan;
        }
    }
}
