using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MlTraces.Core.Store;

namespace MlTraces.Core.Archive
{
    /// <summary>An archived trace that the plan found restorable: its payload read and matched to its span rows.</summary>
    public sealed class PlannedRestore
    {
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
        public List<(TraceRestore Receipt, MlTracesException Error)> Refused { get; } = new List<(TraceRestore, MlTracesException)>();

        public string Summary() =>
            $"Restore {Traces.Count:N0} archived trace{(Traces.Count == 1 ? "" : "s")} ({Traces.Sum(t => (long)t.Spans):N0} spans, " +
            $"{Traces.Sum(t => t.PayloadBytes):N0} bytes of span content) into the store '{TrackingUri}'";
    }

    /// <summary>How a restore reports while it runs; the cmdlet turns these into output, progress and errors.</summary>
    public interface IRestoreListener
    {
        /// <summary>A trace's outcome (with its error when it was not restored) and the running count.</summary>
        void Outcome(TraceRestore receipt, MlTracesException? error, int done, int total);
        /// <summary>A restored trace's archived payload could not be removed; no trace points at it any more.</summary>
        void ArchiveFileNotRemoved(string traceId, string location, MlTracesException error);
    }

    /// <summary>
    /// Brings archived payloads back into the store (MLflow has no restore). Per trace, in one transaction: the
    /// span rows get their content back exactly as the payload holds it, spansLocation goes back to
    /// TRACKING_STORE, archiveLocation and archivalFailure go, db_payload_generation is bumped. Only after the
    /// commit is traces.pb removed, so a crash in between leaves an orphan file no trace points to (the archival
    /// pass cleans those up), never a trace without its spans.
    /// </summary>
    public sealed class TraceRestorer
    {
        private readonly TraceStore _store;

        public TraceRestorer(TraceStore store) { _store = store; }

        /// <summary>The ids of the archived traces of these experiments, oldest first.</summary>
        public List<string> ArchivedTraceIds(IReadOnlyList<string> experimentIds)
        {
            var ids = new List<string>();
            if (experimentIds.Count == 0) return ids;
            var p = new SqlParameters();
            using var cmd = _store.Command(
                "SELECT ti.request_id FROM trace_info ti JOIN trace_tags tt ON tt.request_id = ti.request_id " +
                $"AND tt.key = {p.Add(TraceTagKeys.SpansLocation)} AND tt.value = {p.Add(SpansLocations.ArchiveRepo)} " +
                $"WHERE ti.experiment_id IN ({p.AddList(experimentIds.Select(e => (object?)long.Parse(e, CultureInfo.InvariantCulture)))}) " +
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
                var receipt = new TraceRestore { TraceId = id, TrackingUri = plan.TrackingUri };
                if (!found.TryGetValue(id, out var trace))
                {
                    receipt.Status = TraceRestoreStatus.NotFound;
                    plan.Refused.Add((receipt, new MlTracesException(ErrorKind.NotFound, "TraceNotFound",
                        $"Trace '{id}' was not found in the store '{plan.TrackingUri}'.")));
                    continue;
                }
                receipt.ExperimentId = trace.ExperimentId;
                receipt.ArchiveLocation = trace.ArchiveLocation;
                try
                {
                    var spans = ReadPayload(id, trace.ExperimentId, trace.SpansLocation, trace.ArchiveLocation, out long bytes);
                    Match(id, trace.ArchiveLocation!, spans, ReadRows(id));
                    plan.Traces.Add(new PlannedRestore
                    {
                        Trace = trace, ArchiveLocation = trace.ArchiveLocation!, Spans = spans.Count,
                        PayloadBytes = TracePayload.ContentBytes(spans.Select(s => s.Content)), ArchiveFileBytes = bytes,
                    });
                }
                catch (MlTracesException ex)
                {
                    receipt.Status = ex.ErrorId == NotArchivedId ? TraceRestoreStatus.NotArchived : TraceRestoreStatus.Failed;
                    receipt.ErrorId = ex.ErrorId;
                    plan.Refused.Add((receipt, ex));
                }
            }
            return plan;
        }

        public const string NotArchivedId = "TraceNotArchived";

        /// <summary>
        /// Restores the accepted traces of a plan one by one, each in its own transaction. A trace that cannot be
        /// restored is that trace's outcome and the run goes on; a store that cannot be written at all (locked,
        /// read-only) stops it with the exception.
        /// </summary>
        public void Run(RestorePlan plan, IReadOnlyList<PlannedRestore> accepted, IRestoreListener listener)
        {
            int done = 0;
            foreach (var t in accepted)
            {
                TraceRestore receipt;
                MlTracesException? failure = null;
                try
                {
                    receipt = Restore(t, (id, ex) => listener.ArchiveFileNotRemoved(id, t.ArchiveLocation, ex));
                }
                catch (MlTracesException ex) when (ex.Kind != ErrorKind.StoreLocked && ex.Kind != ErrorKind.StoreReadOnly)
                {
                    failure = ex;
                    receipt = new TraceRestore
                    {
                        TraceId = t.Trace.TraceId, ExperimentId = t.Trace.ExperimentId, ArchiveLocation = t.ArchiveLocation, ErrorId = ex.ErrorId,
                        Status = ex.ErrorId == NotArchivedId ? TraceRestoreStatus.NotArchived
                            : ex.ErrorId == "TraceNotFound" ? TraceRestoreStatus.NotFound : TraceRestoreStatus.Failed,
                        TrackingUri = plan.TrackingUri,
                    };
                }
                listener.Outcome(receipt, failure, ++done, accepted.Count);
            }
        }

        /// <summary>Restores one planned trace; throws an MlTracesException when it cannot (nothing changed then).
        /// <paramref name="fileRemovalFailed"/> hears about a payload that stays behind after the commit.</summary>
        public TraceRestore Restore(PlannedRestore planned, Action<string, MlTracesException>? fileRemovalFailed = null)
        {
            string id = planned.Trace.TraceId, location = planned.ArchiveLocation;
            // The payload is read before the write lock is taken, and checked again under it.
            var spans = ReadPayload(id, planned.Trace.ExperimentId, SpansLocations.ArchiveRepo, location, out long bytes);
            using (var tx = _store.BeginTransaction())
            {
                var tags = ReadTags(id);
                if (tags == null)
                    throw new MlTracesException(ErrorKind.NotFound, "TraceNotFound", $"Trace '{id}' was not found in the store '{_store.Uri.Original}'.");
                tags.TryGetValue(TraceTagKeys.SpansLocation, out var spansLocation);
                tags.TryGetValue(TraceTagKeys.ArchiveLocation, out var current);
                ReadPayloadCheck(id, spansLocation, current);
                if (current != location)
                    throw new MlTracesException(ErrorKind.InvalidData, "ArchiveLocationChanged",
                        $"Trace {id} was archived again at '{current}' while it was being restored from '{location}'; nothing was restored. Run Restore-Trace again.");
                var rows = ReadRows(id);
                Match(id, location, spans, rows);
                foreach (var span in spans)
                {
                    if (rows[span.SpanId] == span.Content) continue;
                    var p = new SqlParameters();
                    Execute($"UPDATE spans SET content = {p.Add(span.Content)} WHERE trace_id = {p.Add(id)} AND span_id = {p.Add(span.SpanId)}", p);
                }
                var q = new SqlParameters();
                Execute($"UPDATE trace_tags SET value = {q.Add(SpansLocations.TrackingStore)} WHERE request_id = {q.Add(id)} AND key = {q.Add(TraceTagKeys.SpansLocation)}", q);
                q = new SqlParameters();
                Execute($"DELETE FROM trace_tags WHERE request_id = {q.Add(id)} AND key IN ({q.AddList(new object?[] { TraceTagKeys.ArchiveLocation, TraceTagKeys.ArchivalFailure })})", q);
                BumpGeneration(id);
                _store.Translate(() => { tx.Commit(); return 0; });
            }
            var receipt = new TraceRestore
            {
                TraceId = id, Status = TraceRestoreStatus.Restored, ExperimentId = planned.Trace.ExperimentId, ArchiveLocation = location,
                Spans = spans.Count, PayloadBytes = TracePayload.ContentBytes(spans.Select(s => s.Content)), ArchiveFileBytes = bytes,
                TrackingUri = _store.Uri.Original,
            };
            try { receipt.ArchiveFileRemoved = RemovePayload(id, planned.Trace.ExperimentId, location); }
            catch (MlTracesException ex) { fileRemovalFailed?.Invoke(id, ex); }
            return receipt;
        }

        /// <summary>
        /// Removes traces.pb under the write lock, with the generation bumped once more: an archival pass that read
        /// the restored trace before this point and is writing a new payload to the same folder then fails its
        /// finalize check instead of pointing the trace at a file removed here. A trace pointing at the folder
        /// again keeps the file.
        /// </summary>
        private bool RemovePayload(string id, string experimentId, string location)
        {
            bool removed;
            using (var tx = _store.BeginTransaction())
            {
                var tags = ReadTags(id);
                if (tags != null && tags.TryGetValue(TraceTagKeys.ArchiveLocation, out var current) && current == location) return false;
                BumpGeneration(id);
                removed = ArchiveRepositories.For(location).Delete(location);
                _store.Translate(() => { tx.Commit(); return 0; });
            }
            // The payload's own folders go too when empty; only those proven the trace's own (the read proved it).
            string? own = TraceFolders.Archive(id, experimentId, location, out _);
            if (removed && own != null) TraceFolders.RemoveEmptyFolders(own);
            return removed;
        }

        private void BumpGeneration(string id)
        {
            if (!_store.Layout.HasDbPayloadGeneration) return;
            var p = new SqlParameters();
            Execute($"UPDATE trace_info SET db_payload_generation = db_payload_generation + 1 WHERE request_id = {p.Add(id)}", p);
        }

        private static void ReadPayloadCheck(string id, string? spansLocation, string? archiveLocation)
        {
            if (spansLocation != SpansLocations.ArchiveRepo)
                throw new MlTracesException(ErrorKind.InvalidArgument, NotArchivedId,
                    $"Trace {id} is not archived: its spans are in {(spansLocation == SpansLocations.ArtifactRepo ? "the artifact store" : "the tracking store")} " +
                    $"({TraceTagKeys.SpansLocation} = {spansLocation ?? "(not set)"}); there is nothing to restore.");
            if (string.IsNullOrEmpty(archiveLocation))
                throw new MlTracesException(ErrorKind.InvalidData, "ArchiveLocationMissing",
                    $"Trace {id} is archived but has no {TraceTagKeys.ArchiveLocation} tag; the archived trace location cannot be determined.");
        }

        private static List<Span> ReadPayload(string id, string experimentId, string? spansLocation, string? archiveLocation, out long bytes)
        {
            ReadPayloadCheck(id, spansLocation, archiveLocation);
            return TracePayload.ReadArchived(id, experimentId, archiveLocation!, out bytes);
        }

        /// <summary>The payload must hold exactly the trace's span rows; a row that still has content must agree.</summary>
        private static void Match(string id, string location, List<Span> spans, Dictionary<string, string> rows)
        {
            var problems = new List<string>();
            var payloadIds = spans.Select(s => s.SpanId).ToList();
            var duplicates = payloadIds.GroupBy(s => s, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (duplicates.Count > 0) problems.Add("spans appear twice in the payload: " + string.Join(", ", duplicates));
            var extra = payloadIds.Where(s => !rows.ContainsKey(s)).Distinct().ToList();
            if (extra.Count > 0) problems.Add("payload spans with no row in the store: " + string.Join(", ", extra));
            var missing = rows.Keys.Where(s => !payloadIds.Contains(s)).ToList();
            if (missing.Count > 0) problems.Add("span rows not in the payload: " + string.Join(", ", missing));
            var differing = spans.Where(s => rows.TryGetValue(s.SpanId, out var c) && c.Length > 0 && c != s.Content).Select(s => s.SpanId).ToList();
            if (differing.Count > 0) problems.Add("span rows whose content differs from the payload: " + string.Join(", ", differing));
            if (problems.Count > 0)
                throw new MlTracesException(ErrorKind.InvalidData, "ArchivedSpansMismatch",
                    $"The archived payload of trace {id} at '{location}' does not match the trace's span rows ({string.Join("; ", problems)}); nothing was restored.");
        }

        /// <summary>span_id → content of the trace's rows.</summary>
        private Dictionary<string, string> ReadRows(string id)
        {
            var rows = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!_store.Layout.HasSpans) return rows;
            var p = new SqlParameters();
            using var cmd = _store.Command($"SELECT span_id, content FROM spans WHERE trace_id = {p.Add(id)}", p);
            using var r = _store.Translate(() => cmd.ExecuteReader());
            while (r.Read()) rows[r.GetString(0)] = r.IsDBNull(1) ? "" : r.GetString(1);
            return rows;
        }

        /// <summary>The trace's archival tags, or null when the trace is gone.</summary>
        private Dictionary<string, string?>? ReadTags(string id)
        {
            var p = new SqlParameters();
            using var cmd = _store.Command(
                $"SELECT tt.key, tt.value FROM trace_info ti LEFT JOIN trace_tags tt ON tt.request_id = ti.request_id " +
                $"AND tt.key IN ({p.AddList(new object?[] { TraceTagKeys.SpansLocation, TraceTagKeys.ArchiveLocation })}) WHERE ti.request_id = {p.Add(id)}", p);
            using var r = _store.Translate(() => cmd.ExecuteReader());
            Dictionary<string, string?>? tags = null;
            while (r.Read())
            {
                tags ??= new Dictionary<string, string?>(StringComparer.Ordinal);
                if (!r.IsDBNull(0)) tags[r.GetString(0)] = r.IsDBNull(1) ? null : r.GetString(1);
            }
            return tags;
        }

        private void Execute(string sql, SqlParameters p)
        {
            using var cmd = _store.Command(sql, p);
            _store.Translate(() => cmd.ExecuteNonQuery());
        }
    }
}
