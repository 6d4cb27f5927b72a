using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;

namespace MlTraces.Core.Archive
{
    /// <summary>
    /// Brings archived payloads back into the store (MLflow has no restore). Per trace, in one transaction: the
    /// span rows get their content back exactly as the payload holds it, spansLocation goes back to
    /// TRACKING_STORE, archiveLocation and archivalFailure go, db_payload_generation is bumped. Only after the
    /// commit is traces.pb removed, so a crash in between leaves an orphan file no trace points to (the archival
    /// pass cleans those up), never a trace without its spans.
    /// </summary>
    public sealed class RestoreExecutor
    {
        private readonly TraceStore _store;
        private readonly Locations.ObjectStoreSettings _settings;

        /// <summary>The run's object locations: a server that stops answering costs one request's retries, and every
        /// later trace there fails at once (it stays archived; the next restore tries again).</summary>
        private readonly Locations.ObjectSession _objects = new Locations.ObjectSession();

        /// <param name="settings">How object stores are reached and mlflow-artifacts:/ resolved: the command's.</param>
        public RestoreExecutor(TraceStore store, Locations.ObjectStoreSettings settings) { _store = store; _settings = settings; }

        public const string NotArchivedId = "TraceNotArchived";

        /// <summary>
        /// The restore as every writer runs its plan: the refused traces' receipts first, each planned trace
        /// approved or not, the plan in one line, and a dry run ends there. The real run restores the approved
        /// traces one by one, each in its own transaction: a trace that cannot be restored is that trace's outcome
        /// and the run goes on; a store that cannot be written at all (locked, read-only) stops it with the exception.
        /// </summary>
        public void Run(RestorePlan plan, bool dryRun, IWriterListener<PlannedRestore, RestoreReceipt> listener)
        {
            foreach (var (refused, error) in plan.Refused) listener.Outcome(refused, error);
            var accepted = plan.Traces.Where(listener.Approve).ToList();
            listener.PlanSummary(plan.Summary());
            if (dryRun) return;
            int done = 0;
            foreach (var t in accepted)
            {
                RestoreReceipt receipt;
                MlTracesException? failure = null;
                try
                {
                    receipt = Restore(t, (id, ex) =>
                    {
                        // Restored (committed) already, whatever this error does to the run.
                        listener.Committed(new[] { id });
                        listener.Problem(id, new MlTracesException(ErrorKind.WriteFailed, "ArchiveFileNotRemoved",
                            $"Trace '{id}' was restored, but its archived payload at '{t.ArchiveLocation}' could not be removed: {ex.Message} " +
                            "No trace points at it any more; the archival pass removes such files.", ex));
                    });
                    listener.Committed(new[] { receipt.TraceId });
                    listener.Note($"Restored trace {receipt.TraceId} ({receipt.Spans} spans).");
                }
                catch (MlTracesException ex) when (ex.Kind != ErrorKind.StoreLocked && ex.Kind != ErrorKind.StoreReadOnly)
                {
                    failure = ex;
                    receipt = new RestoreReceipt
                    {
                        TraceId = t.Trace.TraceId, ExperimentId = t.Trace.ExperimentId, ArchiveLocation = t.ArchiveLocation, ErrorId = ex.ErrorId,
                        Status = ex.ErrorId == NotArchivedId ? RestoreStatus.NotArchived
                            : ex.ErrorId == "TraceNotFound" ? RestoreStatus.NotFound : RestoreStatus.Failed,
                        TrackingUri = plan.TrackingUri,
                    };
                }
                listener.Outcome(receipt, failure);
                listener.Progress(++done, accepted.Count);
            }
        }

        /// <summary>Restores one planned trace; throws an MlTracesException when it cannot (nothing changed then).
        /// <paramref name="fileRemovalFailed"/> hears about a payload that stays behind after the commit.</summary>
        public RestoreReceipt Restore(PlannedRestore planned, Action<string, MlTracesException>? fileRemovalFailed = null)
        {
            string id = planned.Trace.TraceId, location = planned.ArchiveLocation;
            // The payload is read before the write lock is taken, and checked again under it.
            var spans = ReadPayload(id, planned.Trace.ExperimentId, SpansLocations.ArchiveRepo, location, _settings, out long bytes, _objects);
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
                var rows = ReadRows(_store, id);
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
            var receipt = new RestoreReceipt
            {
                TraceId = id, Status = RestoreStatus.Restored, ExperimentId = planned.Trace.ExperimentId, ArchiveLocation = location,
                Spans = spans.Count, PayloadBytes = TracePayload.ContentBytes(spans.Select(s => s.Content)), ArchiveFileBytes = bytes,
                TrackingUri = _store.Uri.Original,
            };
            try { receipt.ArchiveFileRemoved = RemovePayload(id, planned.Trace.ExperimentId, location); }
            catch (MlTracesException ex) { fileRemovalFailed?.Invoke(id, ex); }
            return receipt;
        }

        /// <summary>How long the store stays locked for traces.pb's removal, all its tries together. A writer waiting
        /// on SQLite's lock gives up after its busy timeout (5 s by default in Python's sqlite3, which MLflow's server
        /// uses), so a slow or hung object store must not hold the lock longer; a payload not removed in time stays,
        /// pointed at by no trace, for the archival pass's orphan sweep.</summary>
        public static readonly TimeSpan LockedDeleteBudget = TimeSpan.FromSeconds(3);

        private static readonly TimeSpan SlowLockedDelete = TimeSpan.FromMilliseconds(100);

        /// <summary>
        /// Removes traces.pb under the write lock, with the generation bumped once more: an archival pass that read
        /// the restored trace before this point and is writing a new payload to the same folder then fails its
        /// finalize check instead of pointing the trace at a file removed here, and no pass can finalize to the
        /// folder while the removal is out. A trace pointing at the folder again keeps the file. The removal gets
        /// <see cref="LockedDeleteBudget"/>.
        /// </summary>
        private bool RemovePayload(string id, string experimentId, string location)
        {
            bool removed = false, timedOut = false;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using (var tx = _store.BeginTransaction())
            {
                var tags = ReadTags(id);
                if (tags != null && tags.TryGetValue(TraceTagKeys.ArchiveLocation, out var current) && current == location) return false;
                BumpGeneration(id);
                using (var budget = new System.Threading.CancellationTokenSource(LockedDeleteBudget))
                {
                    try { removed = ArchiveRepositories.For(location, _settings, _objects).Delete(location, budget.Token); }
                    catch (OperationCanceledException) when (budget.IsCancellationRequested) { timedOut = true; }
                }
                _store.Translate(() => { tx.Commit(); return 0; });
            }
            // A slow removal held the lock long enough for a writer to be waiting at its busy handler's wider
            // intervals: leave it a turn before the next trace's transaction (a quick removal needs none, and
            // restores stay fast).
            if (_store.Kind == StoreKind.Sqlite && clock.Elapsed > SlowLockedDelete)
                System.Threading.Thread.Sleep(TransactionSizer.WaiterTurn(clock.Elapsed));
            if (timedOut)
                throw new MlTracesException(ErrorKind.WriteFailed, "ArchiveDeleteTimedOut",
                    $"the object store did not finish removing it within {LockedDeleteBudget.TotalSeconds:0} s, the most the store is kept locked for it.");
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

        internal static List<Span> ReadPayload(string id, string experimentId, string? spansLocation, string? archiveLocation, Locations.ObjectStoreSettings settings, out long bytes, Locations.ObjectSession? objects = null)
        {
            ReadPayloadCheck(id, spansLocation, archiveLocation);
            return TracePayload.ReadArchived(id, experimentId, archiveLocation!, settings, out bytes, objects);
        }

        /// <summary>The payload must hold exactly the trace's span rows; a row that still has content must agree.</summary>
        internal static void Match(string id, string location, List<Span> spans, Dictionary<string, string> rows)
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
        internal static Dictionary<string, string> ReadRows(TraceStore store, string id)
        {
            var rows = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!store.Layout.HasSpans) return rows;
            var p = new SqlParameters();
            using var cmd = store.Command($"SELECT span_id, content FROM spans WHERE trace_id = {p.Add(id)}", p);
            using var r = store.Translate(() => cmd.ExecuteReader());
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
