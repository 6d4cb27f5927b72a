using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using MlTraces.Core.Locations;
using MlTraces.Core.Store;

namespace MlTraces.Core.Delete
{
    /// <summary>
    /// Executes a plan: the accepted traces in transactions sized by time (<see cref="TransactionSizer"/>), so a
    /// server logging traces meanwhile waits for one short batch, never for the whole deletion. Each transaction takes
    /// the write lock up front, deletes the trace_info rows (foreign keys cascade to the child tables; tables
    /// whose keys do not cascade are deleted first, explicitly) and the trace's entity_associations rows, and
    /// commits; a trace is either wholly deleted or wholly there, whatever stops the run. Where a trace's files
    /// are is read again inside that transaction, so a payload an archival pass wrote and pointed to after the
    /// plan was made goes too, and the receipt names it. Local files go after the commit, so a crash can leave a
    /// stray folder but never a trace without its payload. Objects in object stores go BEFORE the transaction, as
    /// MLflow's _delete_traces does: the artifact folder's objects first, the archived payload the row points to
    /// last, and only the rows of traces whose objects all went are deleted (a missing object counts as gone); a
    /// trace whose objects failed, or that an archival pass pointed at a new payload meanwhile (read again under
    /// the lock), keeps its rows, with an error, for the next run. Batches are cut
    /// from the traces sorted by id: MLflow's ids are random, and a batch that is a slice of the id order touches
    /// a slice of every id-keyed index instead of pages all over each of them at every commit (100,000 of the 1M
    /// benchmark store's traces: 64 s in id order, 83 s in time order, 66 s as one DELETE). Between batches
    /// the lock is left free for a moment: SQLite's busy handler retries a waiting writer at growing intervals
    /// of up to 100 ms, and back-to-back transactions would let an MLflow server's write in only at the end
    /// (<see cref="TransactionSizer.WaiterTurn"/>). The next batch's object requests run while this batch's
    /// transaction and pause do (requests only: the store's connection stays on this thread), and a stop always
    /// lets the batch whose objects went delete its rows first, so a stop never leaves a row whose objects are gone.
    /// </summary>
    public sealed class DeletionExecutor
    {
        /// <summary>The first batch (a cold store is slow) and the most a batch takes however fast the store is.</summary>
        public const int FirstBatchSize = 100, MaxBatchSize = 10000;
        /// <summary>Page cache of the deleting connection: the indexes of a big store are rewritten in place, and
        /// pages kept between batches are not read again.</summary>
        public const int CacheMegabytes = 256;

        private readonly TraceStore _store;

        public DeletionExecutor(TraceStore store)
        {
            _store = store;
            Sizer = new TransactionSizer(FirstBatchSize, MaxBatchSize, "MLTRACES_DELETE_BATCH_SIZE");
        }

        /// <summary>Traces per transaction; MLTRACES_DELETE_BATCH_SIZE fixes the size instead (tests use it).</summary>
        public TransactionSizer Sizer { get; set; }

        /// <summary>
        /// The deletion as every writer runs its plan: what is not removed (not found, held) is said first, each
        /// planned trace is approved or not, the plan is summed up in one line, and a dry run ends there; the real
        /// run deletes the approved traces in batches. A cancelled token stops it between batches.
        /// </summary>
        public void Run(DeletionPlan plan, bool dryRun, IWriterListener<PlannedDeletion, DeletionReceipt> listener, CancellationToken cancel)
        {
            foreach (var warning in plan.Warnings) listener.Warning(warning);
            foreach (var id in plan.NotFound)
            {
                listener.Warning($"Trace '{id}' was not found in the store '{plan.TrackingUri}'; there is nothing to remove.");
                // A dry run writes no receipts: nothing happened to any trace.
                if (!dryRun) listener.Outcome(new DeletionReceipt { TraceId = id, Status = DeletionStatus.NotFound, TrackingUri = plan.TrackingUri }, null);
            }
            if (plan.Held.Count > 0)
            {
                listener.Warning(HeldMessage(plan.Held.Select(t => t.TraceId).ToList()));
                if (!dryRun) foreach (var t in plan.Held) listener.Outcome(t.Receipt(DeletionStatus.Held, plan.TrackingUri), null);
            }
            if (plan.Kept.Count > 0)
            {
                // Each kept trace is an error of the real run (its rows stay; the next run with the destination retries
                // it); the dry run says the same once, with the first reason.
                if (dryRun) listener.Warning($"{plan.Kept.Count:N0} trace(s) would be kept, not removed: {plan.Kept[0].Files.Unreachable!.Message}");
                else foreach (var t in plan.Kept) listener.Outcome(t.Receipt(DeletionStatus.ObjectsNotRemoved, plan.TrackingUri), t.Files.Unreachable);
            }
            var accepted = plan.Traces.Where(listener.Approve).ToList();
            listener.PlanSummary(plan.Summary());
            if (dryRun)
            {
                // The dry run says what the real run would leave behind, as the real run does.
                var leaving = plan.Traces.Where(t => t.Files.LeftBehind.Count > 0).ToList();
                if (leaving.Count > 0) listener.Warning(LeftBehindMessage(leaving.Count, leaving[0].Files.LeftBehind[0], dryRun: true));
                return;
            }
            Execute(plan, accepted, listener, cancel);
        }

        /// <summary>How long object requests already started may go on after a stop, before they are cut: a
        /// batch whose objects all went can then delete its rows, and a hung server does not hold the stop.</summary>
        public static readonly TimeSpan ObjectStopGrace = TimeSpan.FromSeconds(10);

        /// <summary>Deletes the accepted traces of the plan; a cancelled token stops it between batches.</summary>
        private void Execute(DeletionPlan plan, IReadOnlyList<PlannedDeletion> accepted, IWriterListener<PlannedDeletion, DeletionReceipt> listener, CancellationToken cancel)
        {
            if (accepted.Count == 0) return;
            cancel.ThrowIfCancellationRequested();
            var family = TraceFamily.Read(_store);
            Prepare();
            var ordered = accepted.OrderBy(t => t.TraceId, StringComparer.Ordinal).ToList();
            var session = new ObjectSession();
            using var objectStop = new CancellationTokenSource();
            using var stopping = cancel.Register(() => objectStop.CancelAfter(ObjectStopGrace));
            int done = 0, leftBehind = 0;
            string? leftBehindExample = null;
            List<PlannedDeletion> NextBatch(int from) => ordered.GetRange(from, Math.Min(Sizer.Next, ordered.Count - from));
            // What one committed batch did: receipts, errors, the files that go after the commit, one verbose line.
            void Report(List<PlannedDeletion> reported, List<DeletionReceipt> receipts, Dictionary<string, ObjectRemoval> objects, TimeSpan objectTime, TimeSpan locked)
            {
                var errors = new Dictionary<string, MlTracesException>(StringComparer.Ordinal);
                foreach (var (trace, receipt) in reported.Zip(receipts, (t, r) => (t, r)))
                {
                    objects.TryGetValue(trace.TraceId, out var removal);
                    if (receipt.Status == DeletionStatus.ObjectsNotRemoved)
                        errors[receipt.TraceId] = trace.Files.Unreachable ?? removal?.Error ?? new MlTracesException(ErrorKind.WriteFailed, "TraceObjectsNotRemoved",
                            $"Trace '{receipt.TraceId}' was not removed: while its objects were deleted, it was pointed at another one ({string.Join(", ", trace.Files.Objects.Select(o => o.Uri).Where(u => removal == null || !removal.Tried.Contains(u)))}; an archival pass finished meanwhile), so the trace row is left intact. Run Remove-Trace again to remove it.");
                    if ((receipt.Deleted || receipt.Status == DeletionStatus.ObjectsNotRemoved) && removal != null)
                    {
                        receipt.RemovedFiles.AddRange(removal.Removed);
                        receipt.UnconfirmedFiles.AddRange(removal.Unconfirmed);
                    }
                    // A hold set after the trace's objects went and before its transaction: the hold keeps the rows,
                    // but what was deleted is gone, and the person who set the hold must hear of it.
                    if (receipt.Status == DeletionStatus.Held && removal != null && removal.Removed.Count > 0)
                    {
                        receipt.RemovedFiles.AddRange(removal.Removed);
                        errors[receipt.TraceId] = new MlTracesException(ErrorKind.WriteFailed, "HeldTraceObjectsRemoved",
                            $"Trace '{receipt.TraceId}' was put under legal hold while Remove-Trace was deleting its objects: its rows are kept, as the hold asks, " +
                            $"but these had already been deleted: {string.Join(", ", removal.Removed)}. Restore them from a backup or version history of the bucket or container if the hold needs them.");
                    }
                    if (receipt.Deleted)
                        receipt.RemovedFiles.AddRange(trace.Files.Remove((path, ex) =>
                        {
                            receipt.LeftBehind.Add(path);
                            listener.Problem(receipt.TraceId, new MlTracesException(ErrorKind.WriteFailed, "TraceFilesNotRemoved",
                                $"Trace '{receipt.TraceId}' was removed from the store, but '{path}' could not be removed: {ex.Message} Remove the file or folder by hand.", ex));
                        }));
                }
                done += reported.Count;
                foreach (var r in receipts)
                {
                    // Held since the plan was made: the hold wins, and says so.
                    if (r.Status == DeletionStatus.Held) listener.Warning(HeldMessage(new List<string> { r.TraceId }));
                    if (r.Deleted && r.LeftBehind.Count > 0 && leftBehind++ == 0) leftBehindExample = r.LeftBehind[0];
                    listener.Outcome(r, errors.TryGetValue(r.TraceId, out var error) ? error : null);
                }
                // The object requests' own time is said apart: they run before the transaction, holding no lock.
                string objectPart = objects.Count == 0 ? "" : $", after {objectTime.TotalMilliseconds:N0} ms of object requests for {objects.Count:N0}";
                listener.Note($"Removed {receipts.Count(r => r.Deleted):N0} trace(s) in a transaction of {locked.TotalMilliseconds:N0} ms{objectPart} ({done:N0} of {ordered.Count:N0} done).");
                listener.Progress(done, ordered.Count);
            }
            var batch = NextBatch(0);
            var removing = StartRemovingObjects(plan, batch, session, objectStop.Token);
            while (true)
            {
                var (objects, objectTime) = Transient.Wait(removing);
                // Stopped since this batch was started: only the traces whose objects were asked for go on, to delete
                // the rows of those whose objects went.
                if (cancel.IsCancellationRequested) batch = batch.Where(t => objects.ContainsKey(t.TraceId)).ToList();
                if (batch.Count == 0) break;
                // The next batch's objects go while this batch's transaction and pause run; after a stop, no new batch starts.
                List<PlannedDeletion>? next = null;
                if (!cancel.IsCancellationRequested && done + batch.Count < ordered.Count)
                {
                    next = NextBatch(done + batch.Count);
                    removing = StartRemovingObjects(plan, next, session, objectStop.Token);
                }
                var clock = Stopwatch.StartNew();
                List<DeletionReceipt>? receipts = null;
                TimeSpan locked;
                try
                {
                    receipts = DeleteBatch(plan, batch, family, objects);
                    locked = clock.Elapsed;
                    listener.Committed(receipts.Where(r => r.Deleted).Select(r => r.TraceId));
                    Sizer.Done(batch.Count, locked);
                    Report(batch, receipts, objects, objectTime, locked);
                }
                catch when (next != null)
                {
                    if (receipts == null)
                    {
                        // The transaction failed and the run ends: the next batch's requests are cut at once and
                        // their end awaited, so nothing is still deleting objects after the command has failed.
                        objectStop.Cancel();
                        try { removing.Wait(); } catch (AggregateException) { }
                    }
                    // Reporting failed (a stopped pipeline does not take output): the next batch's objects are on
                    // their way, and the traces whose objects went still lose their rows before the run ends.
                    else FinishStarted(plan, next, family, removing, listener);
                    throw;
                }
                if (next == null) break;
                // Long enough for a writer that waited through this batch, counting what was done since the commit.
                // PostgreSQL locks only the rows a batch deletes: no other writer waits for the next batch.
                if (_store.Kind == StoreKind.Sqlite)
                {
                    var pause = TransactionSizer.WaiterTurn(locked) - (clock.Elapsed - locked);
                    if (pause > TimeSpan.Zero) cancel.WaitHandle.WaitOne(pause);
                }
                batch = next;
            }
            cancel.ThrowIfCancellationRequested();
            // One warning at the end rather than one per trace.
            if (leftBehind > 0) listener.Warning(LeftBehindMessage(leftBehind, leftBehindExample!, dryRun: false));
        }

        /// <summary>After a failure outside the store (the listener's): waits for the batch whose object requests are
        /// out and deletes the rows of its traces whose objects went, saying nothing more; the failure is the run's.</summary>
        private void FinishStarted(DeletionPlan plan, List<PlannedDeletion> started, TraceFamily family,
            System.Threading.Tasks.Task<(Dictionary<string, ObjectRemoval> Objects, TimeSpan Took)> removing, IWriterListener<PlannedDeletion, DeletionReceipt> listener)
        {
            try
            {
                var objects = Transient.Wait(removing).Objects;
                var gone = started.Where(t => objects.ContainsKey(t.TraceId)).ToList();
                if (gone.Count == 0) return;
                var receipts = DeleteBatch(plan, gone, family, objects);
                listener.Committed(receipts.Where(r => r.Deleted).Select(r => r.TraceId));
            }
            catch (Exception) { }
        }

        private static string LeftBehindMessage(int count, string example, bool dryRun) =>
            $"{count:N0} {(dryRun ? "trace(s) to remove" : "removed trace(s)")} have artifact folders or archived payloads that MlTraces cannot check or remove from here, such as {example}. " +
            "If they hold anything, remove it with the artifact store's own tools; the -PassThru receipts list each trace's under LeftBehind.";

        private static string HeldMessage(List<string> ids)
        {
            string shown = string.Join(", ", ids.Take(10)) + (ids.Count > 10 ? $" and {ids.Count - 10:N0} more" : "");
            return $"{ids.Count:N0} trace(s) are under legal hold (tag {TraceTagKeys.LegalHold}) and are not removed: {shown}.";
        }

        private void Prepare()
        {
            _store.Translate(() =>
            {
                // SQLite enforces foreign keys per connection: without them the cascades silently do nothing. Every
                // connection sets it, so this is a guard. PostgreSQL always enforces them.
                if (_store.Kind == StoreKind.Sqlite)
                using (var fk = _store.Command("PRAGMA foreign_keys"))
                if (Convert.ToInt64(fk.ExecuteScalar(), CultureInfo.InvariantCulture) != 1)
                    throw new MlTracesException(ErrorKind.InvalidData, "ForeignKeysOff",
                        $"Foreign keys are off on the connection to '{_store.Uri.Original}', so deleting traces would leave their rows behind.");
                string? cache = _store.Dialect.ConnectionCacheSize(CacheMegabytes);
                if (cache != null) using (var c = _store.Command(cache)) c.ExecuteNonQuery();
                return 0;
            });
        }

        /// <summary>What became of one trace's objects before its transaction: the URIs it meant to delete, those
        /// deleted, and the first error when not all of them went.</summary>
        private sealed class ObjectRemoval
        {
            public HashSet<string> Tried { get; } = new HashSet<string>(StringComparer.Ordinal);
            public List<string> Removed { get; } = new List<string>();
            /// <summary>Objects whose delete went out and got no answer: gone or not, nobody can tell yet.</summary>
            public List<string> Unconfirmed { get; } = new List<string>();
            /// <summary>Why the first object failed; the trace's error is made from it once all its requests ended.</summary>
            public MlTracesException? Cause { get; set; }
            public MlTracesException? Error { get; set; }
        }

        /// <summary>
        /// Deletes the objects of a batch's traces (those still there and not held), before its transaction: every object under each trace's own artifact folder
        /// (listed now, in bounded parallel), its traces.json after the others, and each archived payload last, each
        /// step only for the traces whose earlier objects all went, so a trace that keeps its rows keeps the objects
        /// its spans are read from. Deletes are batched per bucket or container (<see cref="IObjectLocation.DeleteMany"/>).
        /// A location found unreachable (after its retries) is not asked again in this run: its remaining traces
        /// keep their rows at once, with the same error.
        /// </summary>
        private System.Threading.Tasks.Task<(Dictionary<string, ObjectRemoval> Objects, TimeSpan Took)> StartRemovingObjects(DeletionPlan plan, List<PlannedDeletion> batch, ObjectSession session, CancellationToken cancel)
        {
            var owners = batch.Where(t => t.Files.Objects.Count > 0).ToList();
            if (owners.Count == 0) return System.Threading.Tasks.Task.FromResult((new Dictionary<string, ObjectRemoval>(StringComparer.Ordinal), TimeSpan.Zero));
            // A trace held or deleted since the plan keeps its objects: the transaction will leave its row (checked
            // again there). Asked here, on the store's thread; only the object requests run apart.
            var present = _store.Translate(() => Presence(null, owners.Select(t => t.TraceId).ToList()));
            owners = owners.Where(t => present.TryGetValue(t.TraceId, out bool held) && !held).ToList();
            return System.Threading.Tasks.Task.Run(() =>
            {
                var clock = Stopwatch.StartNew();
                var objects = RemoveObjects(plan, owners, session, cancel);
                return (objects, clock.Elapsed);
            });
        }

        private static Dictionary<string, ObjectRemoval> RemoveObjects(DeletionPlan plan, List<PlannedDeletion> owners, ObjectSession session, CancellationToken cancel)
        {
            var result = new Dictionary<string, ObjectRemoval>(StringComparer.Ordinal);
            if (owners.Count == 0) return result;
            foreach (var t in owners)
            {
                var removal = result[t.TraceId] = new ObjectRemoval();
                foreach (var o in t.Files.Objects) removal.Tried.Add(o.Uri);
            }
            void Fail(string traceId, MlTracesException ex, string? unconfirmed = null)
            {
                var removal = result[traceId];
                lock (removal)
                {
                    removal.Cause ??= ex;
                    if (unconfirmed != null) removal.Unconfirmed.Add(unconfirmed);
                }
            }
            bool Failed(string traceId) => result[traceId].Cause != null;
            void DeleteAll(IEnumerable<(string TraceId, TraceObject Object)> all)
            {
                foreach (var group in all.Where(x => !Failed(x.TraceId)).GroupBy(x => x.Object.Root.ToString(), StringComparer.Ordinal))
                {
                    var failures = new HashSet<string>(StringComparer.Ordinal);
                    IObjectLocation location;
                    try { location = session.Open(group.First().Object.Root, plan.Settings); }
                    catch (MlTracesException ex)
                    {
                        // Not asked (its server did not answer earlier in this run) or not usable at all: nothing was sent.
                        foreach (var x in group) Fail(x.TraceId, ex);
                        continue;
                    }
                    try
                    {
                        foreach (var f in location.DeleteMany(group.Select(x => x.Object.Key).ToList(), cancel))
                        {
                            session.Saw(group.First().Object.Root, f.Error);
                            failures.Add(f.Key);
                            foreach (var x in group.Where(x => x.Object.Key == f.Key)) Fail(x.TraceId, f.Error, f.OutcomeUnknown ? x.Object.Uri : null);
                        }
                    }
                    catch (MlTracesException ex)
                    {
                        // The location cannot be used at all (its credentials, a server gone): every trace there keeps its rows.
                        session.Saw(group.First().Object.Root, ex);
                        foreach (var x in group) { failures.Add(x.Object.Key); Fail(x.TraceId, ex, DeleteFailure.IsUnanswered(ex) ? x.Object.Uri : null); }
                    }
                    foreach (var x in group.Where(x => !failures.Contains(x.Object.Key))) result[x.TraceId].Removed.Add(x.Object.Uri);
                }
            }
            // The artifact folders, listed in bounded parallel (each listing with its own retries).
            var folders = owners.SelectMany(t => t.Files.Objects.Where(o => o.Folder).Select(o => (t, o))).ToList();
            var listed = Transient.Wait(Transient.ForEachAsync(folders, Transient.Concurrency, x => System.Threading.Tasks.Task.Run(() =>
            {
                var payloads = new HashSet<string>(x.t.Files.Objects.Where(o => !o.Folder).Select(o => o.Uri), StringComparer.Ordinal);
                try
                {
                    return session.Open(x.o.Root, plan.Settings).List(x.o.Key, cancel).Select(e => new TraceObject(x.o.Root, e.Key, folder: false))
                        .Where(o => !payloads.Contains(o.Uri)).Select(o => (TraceId: x.t.TraceId, Object: o)).ToList();
                }
                catch (MlTracesException ex)
                {
                    session.Saw(x.o.Root, ex);
                    Fail(x.t.TraceId, ex);
                    return new List<(string TraceId, TraceObject Object)>();
                }
            }), cancel)).SelectMany(l => l).ToList();
            bool SpansFile(TraceObject o) => o.Key.EndsWith("/" + Export.SpanJson.TraceDataFileName, StringComparison.Ordinal);
            DeleteAll(listed.Where(x => !SpansFile(x.Object)));
            DeleteAll(listed.Where(x => SpansFile(x.Object)));
            foreach (var (t, o) in folders) if (!Failed(t.TraceId)) result[t.TraceId].Removed.Add(o.Uri);
            DeleteAll(owners.SelectMany(t => t.Files.Objects.Where(o => !o.Folder).Select(o => (t.TraceId, o))));
            foreach (var entry in result)
                if (entry.Value.Cause is MlTracesException cause) entry.Value.Error = NotRemoved(entry.Key, cause, entry.Value.Unconfirmed);
            return result;
        }

        /// <summary>The error of a trace whose objects did not all go. Its row stays; when a delete went unanswered, the
        /// row may point to an object the server removed before it died, and the message says so: no client can tell
        /// until the server answers, and the next run finishes the removal (an object already gone counts as removed).</summary>
        private static MlTracesException NotRemoved(string traceId, MlTracesException cause, List<string> unconfirmed)
        {
            string why = $"Trace '{traceId}' was not removed: {cause.Message.TrimEnd('.')}; leaving the trace row intact";
            return new MlTracesException(ErrorKind.WriteFailed, "TraceObjectsNotRemoved", unconfirmed.Count == 0
                ? $"{why}, so nothing points to a missing object. Fix the cause and run Remove-Trace again."
                : $"{why}. The server did not answer the delete of {string.Join(", ", unconfirmed.Select(u => $"'{u}'"))}, so {(unconfirmed.Count == 1 ? "it" : "they")} may be gone already and the row may point to nothing until the removal is finished: run Remove-Trace again once the server answers.", cause);
        }

        private List<DeletionReceipt> DeleteBatch(DeletionPlan plan, List<PlannedDeletion> batch, TraceFamily family, Dictionary<string, ObjectRemoval> objects)
        {
            return _store.Translate(() =>
            {
                var present = new Dictionary<string, bool>(StringComparer.Ordinal);
                var kept = new HashSet<string>(StringComparer.Ordinal);
                // SQLite: BEGIN IMMEDIATE, the write lock first, then the checks, so nothing changes between them.
                // PostgreSQL: the checked rows are locked (FOR UPDATE), so a legal hold or a span written meanwhile
                // waits for this batch, and other traces are never blocked.
                using (var tx = _store.BeginTransaction(deferred: false))
                {
                    var ids = batch.Select(t => t.TraceId).ToList();
                    present = Presence(tx, ids);
                    // A hold set since the plan wins; a trace someone else deleted meanwhile is simply not there; a trace
                    // whose objects did not all go keeps its rows.
                    var deletable = ids.Where(id => present.TryGetValue(id, out bool held) && !held
                        && !(objects.TryGetValue(id, out var removal) && removal.Error != null)).ToList();
                    if (deletable.Count > 0)
                    {
                        // Where the files are now, under the lock: an archival pass may have pointed a trace at a
                        // payload since the plan was read, and no pass can do so between this read and the commit.
                        var files = Files(tx, plan, batch.Where(t => present.TryGetValue(t.TraceId, out bool held) && !held).ToList());
                        foreach (var t in batch)
                            if (files.TryGetValue(t.TraceId, out var now))
                            {
                                // An object not deleted above (a payload finalized since), or one that cannot be
                                // reached from here, would be left with no row: keep the row.
                                if (now.Unreachable != null || now.Objects.Any(o => !(objects.TryGetValue(t.TraceId, out var removal) && removal.Tried.Contains(o.Uri)))) kept.Add(t.TraceId);
                                t.Files = now;
                            }
                        deletable.RemoveAll(kept.Contains);
                    }
                    if (deletable.Count > 0)
                    {
                        RollupQueue.Invalidate(_store, tx, deletable, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                        if (_store.Layout.ReviewQueueItems is var (queueTable, queueColumn))
                            Delete(tx, queueTable, queueColumn, deletable);
                        foreach (var member in family.Explicit)
                            Delete(tx, member.Table, member.TraceColumn, deletable);
                        if (_store.Layout.HasEntityAssociations)
                        {
                            Delete(tx, "entity_associations", "source_id", deletable, "source_type = 'trace' AND ");
                            Delete(tx, "entity_associations", "destination_id", deletable, "destination_type = 'trace' AND ");
                        }
                        Delete(tx, "trace_info", "request_id", deletable);
                    }
                    tx.Commit();
                }
                return batch.Select(t => t.Receipt(
                    !present.TryGetValue(t.TraceId, out bool held) ? DeletionStatus.NotFound
                    : held ? DeletionStatus.Held
                    : kept.Contains(t.TraceId) || (objects.TryGetValue(t.TraceId, out var removal) && removal.Error != null) ? DeletionStatus.ObjectsNotRemoved
                    : DeletionStatus.Deleted, plan.TrackingUri)).ToList();
            });
        }

        /// <summary>Which of the traces are there, each with whether it is held; in a transaction, their rows locked.</summary>
        private Dictionary<string, bool> Presence(System.Data.Common.DbTransaction? tx, List<string> ids)
        {
            var present = new Dictionary<string, bool>(StringComparer.Ordinal);
            var p = new SqlParameters();
            using var check = _store.Command($"SELECT ti.request_id, {LegalHold.Condition("ti")} FROM trace_info ti WHERE {_store.Dialect.IsAnyOf("ti.request_id", p, ids)}{(tx == null ? "" : _store.Dialect.ForUpdate)}", p);
            check.Transaction = tx;
            using var r = check.ExecuteReader();
            while (r.Read()) present[r.GetString(0)] = r.GetBoolean(1);
            return present;
        }

        /// <summary>The files of each trace as its tags say now (<see cref="TraceFiles.Locate"/>).</summary>
        private Dictionary<string, TraceFiles> Files(System.Data.Common.DbTransaction tx, DeletionPlan plan, List<PlannedDeletion> traces)
        {
            var ids = traces.Select(t => t.TraceId).ToList();
            var tags = ids.ToDictionary(id => id, id => (Artifact: (string?)null, Archive: (string?)null), StringComparer.Ordinal);
            var p = new SqlParameters();
            using (var cmd = _store.Command($"SELECT request_id, \"key\", value FROM trace_tags WHERE \"key\" IN ({p.Add(TraceTagKeys.ArtifactLocation)}, {p.Add(TraceTagKeys.ArchiveLocation)}) AND {_store.Dialect.IsAnyOf("request_id", p, ids)}", p))
            {
                cmd.Transaction = tx;
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    var (artifact, archive) = tags[r.GetString(0)];
                    string? value = r.IsDBNull(2) ? null : r.GetString(2);
                    tags[r.GetString(0)] = r.GetString(1) == TraceTagKeys.ArtifactLocation ? (value, archive) : (artifact, value);
                }
            }
            return traces.ToDictionary(t => t.TraceId, t => TraceFiles.Locate(t.TraceId, t.ExperimentId, t.ExperimentArtifactLocation, tags[t.TraceId].Artifact, tags[t.TraceId].Archive, plan.Settings), StringComparer.Ordinal);
        }

        private void Delete(System.Data.Common.DbTransaction tx, string table, string traceColumn, List<string> ids, string condition = "")
        {
            var p = new SqlParameters();
            using var cmd = _store.Command($"DELETE FROM {table} WHERE {condition}{_store.Dialect.IsAnyOf(traceColumn, p, ids)}", p);
            cmd.Transaction = tx;
            cmd.ExecuteNonQuery();
        }
    }
}
