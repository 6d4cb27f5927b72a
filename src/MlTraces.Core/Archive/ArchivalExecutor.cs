using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Export;
using MlTraces.Core.Query;
using MlTraces.Core.Retention;
using MlTraces.Core.Store;

namespace MlTraces.Core.Archive
{
    /// <summary>
    /// Executes a planned archival pass as one pass of MLflow's scheduler does, per trace: read the spans and the
    /// payload generation, write traces.pb, then finalize in one write transaction only if nothing changed meanwhile
    /// (empty span content, set ARCHIVE_REPO and the archive location). A trace is readable from exactly one place at
    /// every moment: the store until the finalize commits, the archive after.
    /// </summary>
    public sealed class ArchivalExecutor
    {
        /// <summary>A payload no trace points to is removed only when older than this, so a pass running
        /// elsewhere between its upload and its finalize never loses the file it is about to point to.</summary>
        public static readonly TimeSpan OrphanGracePeriod = TimeSpan.FromHours(1);

        private readonly TraceStore _store;
        private readonly Func<string, IArchiveRepository> _repositoryFor;
        public List<string> Warnings { get; } = new List<string>();

        /// <summary>The pass's object locations: a server that stops answering costs one request's retries, and every
        /// later trace there is left for the next pass at once.</summary>
        private readonly Locations.ObjectSession _objects = new Locations.ObjectSession();

        /// <param name="settings">How object stores are reached: the command's, for the pass and the sweep alike.</param>
        /// <param name="repositoryFor">Where payloads go for a location; default <see cref="ArchiveRepositories.For"/> with <paramref name="settings"/>.</param>
        public ArchivalExecutor(TraceStore store, Locations.ObjectStoreSettings settings, Func<string, IArchiveRepository>? repositoryFor = null)
        {
            _store = store;
            ObjectSettings = settings;
            _repositoryFor = repositoryFor ?? (location => ArchiveRepositories.For(location, settings, _objects));
        }

        /// <summary>Traces in the first batch: each is still checked inside the finalize transaction, but the
        /// commit (and its journal sync) is shared. Later batches are sized by how long the finalize held the write
        /// lock (<see cref="Sizer"/>), up to <see cref="MaxBatchSize"/> (the batch's spans are held in memory).</summary>
        public const int FinalizeBatchSize = 200, MaxBatchSize = 2000;

        /// <summary>How many traces the next batch should take.</summary>
        public TransactionSizer Sizer { get; } = new TransactionSizer(FinalizeBatchSize, MaxBatchSize);

        /// <summary>
        /// The pass, as every writer runs its plan: the plan's candidates in order, each approved by the listener,
        /// archived in batches sized by how long the last finalize held the write lock, then the served archive-now
        /// requests cleared, and the plan summed up in one line. A dry run walks the same candidates and writes
        /// nothing; its receipts say Planned.
        /// </summary>
        public TraceArchiveSummary Run(ArchivalPlan plan, long estimate, bool dryRun, IWriterListener<PlannedArchival, ArchivalReceipt> listener, CancellationToken cancel = default)
        {
            var summary = new TraceArchiveSummary { TrackingUri = _store.Uri.Original, WhatIf = dryRun };
            // Experiments with a trace worth another try keep their archive-now request.
            var retryable = new HashSet<string>(StringComparer.Ordinal);
            var batch = new List<PlannedArchival>(FinalizeBatchSize);
            // Batches upload while the next ones are read from the store and serialized. A batch is finished once
            // its uploads are done, or when more than MaxBatchSize traces wait behind it (their spans and payloads
            // are held in memory meanwhile).
            var started = new Queue<Started>();
            // The plan's line counts what was offered, whatever then fails: the archived bytes are the receipts'.
            long plannedBytes = 0;
            void RunBatch(bool last)
            {
                if (batch.Count > 0) started.Enqueue(Start(batch, cancel));
                batch.Clear();
                while (started.Count > 0 && (last || started.Peek().Uploads.IsCompleted || started.Sum(s => s.Work.Count) > MaxBatchSize))
                {
                    var results = Finish(started.Dequeue());
                    listener.Committed(results.Where(r => r.Status == ArchivalStatus.Archived).Select(r => r.TraceId));
                    foreach (var result in results)
                    {
                        Count(result, summary, retryable);
                        Report(result, listener);
                    }
                }
            }
            try
            {
                Flush(plan.Warnings, listener);
                using (var candidates = plan.Candidates(cancel).GetEnumerator())
                    while (candidates.MoveNext())
                    {
                        var c = candidates.Current;
                        listener.Progress(summary.Planned++, Math.Max(estimate, summary.Planned));
                        plannedBytes += c.PayloadBytes;
                        if (!listener.Approve(c))
                        {
                            if (dryRun)
                            {
                                summary.ArchivedBytes += c.PayloadBytes;
                                listener.Outcome(c.Planned(_store.Uri.Original), null);
                            }
                            continue;
                        }
                        batch.Add(c);
                        if (batch.Count >= Sizer.Next) RunBatch(last: false);
                    }
                RunBatch(last: true);
                if (!dryRun) summary.ArchiveNowRequestsCleared = ClearServedArchiveNowRequests(plan, retryable);
            }
            finally
            {
                // A batch started and not finished (the pass failed or was stopped) leaves no payload behind.
                while (started.Count > 0) Abandon(started.Dequeue());
                // Traces the candidate walk passed over (ids or folders no path may be built from), then the pass's own.
                Flush(plan.Warnings, listener);
                Flush(Warnings, listener);
            }
            listener.PlanSummary($"Archive {summary.Planned:N0} trace(s) with {plannedBytes:N0} bytes of span content from '{_store.Name}'.");
            return summary;
        }

        private static void Flush(List<string> warnings, IWriterListener<PlannedArchival, ArchivalReceipt> listener)
        {
            foreach (var warning in warnings) listener.Warning(warning);
            warnings.Clear();
        }

        /// <summary>A trace's receipt, with what it means for the person running the pass.</summary>
        private static void Report(ArchivalReceipt r, IWriterListener<PlannedArchival, ArchivalReceipt> listener)
        {
            MlTracesException? error = null;
            switch (r.Status)
            {
                case ArchivalStatus.Skipped: listener.Note($"Skipped {r.TraceId}: {r.Message}"); break;
                case ArchivalStatus.LeftForNextPass:
                    string message = $"Trace {r.TraceId} was not archived and stays eligible for the next pass: {r.Message}";
                    // A failure (the location cannot be written, the payload vanished) is an error a scheduled task
                    // must see; a trace that changed meanwhile is the normal race, a warning.
                    if (r.ErrorId == null) listener.Warning(message);
                    else error = new MlTracesException(ErrorKind.WriteFailed, r.ErrorId, message);
                    break;
                case ArchivalStatus.Malformed:
                    error = new MlTracesException(ErrorKind.InvalidData, "MalformedTrace",
                        $"Trace {r.TraceId} cannot be archived and is tagged {TraceTagKeys.ArchivalFailure} = MALFORMED_TRACE: {r.Message}");
                    break;
            }
            listener.Outcome(r, error);
        }

        private static void Count(ArchivalReceipt r, TraceArchiveSummary summary, HashSet<string> retryable)
        {
            switch (r.Status)
            {
                case ArchivalStatus.Archived: summary.Archived++; summary.ArchivedBytes += r.PayloadBytes; break;
                case ArchivalStatus.Skipped: summary.Skipped++; break;
                case ArchivalStatus.LeftForNextPass: summary.LeftForNextPass++; retryable.Add(r.ExperimentId); break;
                case ArchivalStatus.Malformed: summary.Malformed++; break;
            }
        }

        public ArchivalReceipt Archive(PlannedArchival candidate, CancellationToken cancel = default) =>
            ArchiveBatch(new[] { candidate }, cancel)[0];

        /// <summary>Serializes and writes each trace's payload, then finalizes the batch in one write transaction.</summary>
        public List<ArchivalReceipt> ArchiveBatch(IReadOnlyList<PlannedArchival> batch, CancellationToken cancel = default)
        {
            return Finish(Start(batch, cancel));
        }

        /// <summary>Payload requests in flight for this pass, across the batches it has started.</summary>
        private readonly SemaphoreSlim _requests = new SemaphoreSlim(Locations.Transient.Concurrency);

        /// <summary>A batch whose payloads are being written while this thread goes on with the store.</summary>
        private sealed class Started
        {
            public readonly List<ArchivalReceipt> Results = new List<ArchivalReceipt>();
            public readonly List<(PlannedArchival Candidate, TraceSnapshot Snapshot, ArchivalReceipt Result)> Work = new List<(PlannedArchival, TraceSnapshot, ArchivalReceipt)>();
            public (IArchiveRepository? Repository, byte[]? Payload, string? Malformed, MlTracesException? Failed)[] Outcomes = Array.Empty<(IArchiveRepository?, byte[]?, string?, MlTracesException?)>();
            public Task Uploads = Task.CompletedTask;
            /// <summary>Which payloads reached their location (for <see cref="Abandon"/>).</summary>
            public bool[] Uploaded = Array.Empty<bool>();
        }

        /// <summary>The store's part of a batch (which traces still are candidates, their spans and generations),
        /// the payloads serialized, and their uploads started: at most <see cref="Locations.Transient.Concurrency"/>
        /// requests in flight for the whole pass, so the next batch's reads and serialization overlap this one's uploads.</summary>
        private Started Start(IReadOnlyList<PlannedArchival> batch, CancellationToken cancel)
        {
            var s = new Started();
            var snapshots = Snapshots(batch.Select(c => c.TraceId).ToList());
            foreach (var candidate in batch)
            {
                var result = new ArchivalReceipt
                {
                    TraceId = candidate.TraceId, ExperimentId = candidate.ExperimentId, Reason = candidate.Reason.ToString(),
                    PayloadBytes = candidate.PayloadBytes, ArchiveLocation = candidate.ArchiveFolder, TrackingUri = _store.Uri.Original,
                };
                s.Results.Add(result);
                if (snapshots.TryGetValue(candidate.TraceId, out var snapshot)) s.Work.Add((candidate, snapshot, result));
                else Done(result, ArchivalStatus.Skipped, "The trace is no longer a candidate (deleted, archived, marked, in progress or without content).");
            }
            cancel.ThrowIfCancellationRequested();

            // Parsing and OTLP serialization are CPU work with no store access: they run on every core. Everything
            // that touches the store stays on this thread and its one connection. (Made here rather than in each
            // upload's task: a burst of them queued on the thread pool ahead of the uploads' completions slowed the
            // uploads, bench archive-s3.)
            var outcomes = s.Outcomes = new (IArchiveRepository?, byte[]?, string?, MlTracesException?)[s.Work.Count];
            var work = s.Work;
            Parallel.For(0, work.Count, new ParallelOptions { CancellationToken = cancel }, i =>
            {
                var (candidate, snapshot, _) = work[i];
                try { outcomes[i].Payload = TracePayload.Write(candidate.TraceId, snapshot.Spans.Select(sp => SpanJson.FromContent(candidate.TraceId, sp.Content)).ToList()); }
                catch (MlTracesException ex) { outcomes[i].Malformed = ex.Message; return; }
                try { outcomes[i].Repository = _repositoryFor(candidate.ArchiveFolder); }
                catch (MlTracesException ex) { outcomes[i].Failed = ex; }
            });
            s.Uploaded = new bool[work.Count];
            s.Uploads = Task.WhenAll(Enumerable.Range(0, work.Count).Where(i => outcomes[i].Repository != null).Select(i => UploadAsync(s, i, cancel)));
            return s;
        }

        /// <summary>One payload written, in its turn among the pass's requests. A failure is that trace's, recorded in
        /// its outcome; nothing to clean up: a failed write leaves the target as it was, which may be a payload
        /// another pass finished and a trace points to.</summary>
        private async Task UploadAsync(Started s, int i, CancellationToken cancel)
        {
            var (repository, payload, _, _) = s.Outcomes[i];
            string folder = s.Work[i].Candidate.ArchiveFolder;
            await _requests.WaitAsync(cancel).ConfigureAwait(false);
            try
            {
                if (repository is ObjectArchiveRepository objects) await objects.WriteAsync(folder, payload!, cancel).ConfigureAwait(false);
                else await Task.Run(() => repository!.Write(folder, payload!), cancel).ConfigureAwait(false);
                s.Uploaded[i] = true;
            }
            catch (MlTracesException ex)
            {
                s.Outcomes[i] = (null, null, null, new MlTracesException(ex.Kind, ex.ErrorId, "Trace archival upload failed: " + ex.Message, ex));
            }
            finally { _requests.Release(); }
        }

        /// <summary>Waits for a started batch's uploads, then finalizes the traces whose payload is in place in one
        /// write transaction.</summary>
        private List<ArchivalReceipt> Finish(Started s)
        {
            try { s.Uploads.GetAwaiter().GetResult(); }
            catch
            {
                // Stopped (or a failure no trace owns): what was uploaded goes, as for a batch never finished.
                Abandon(s);
                throw;
            }
            var results = s.Results;
            var written = new List<Written>();
            for (int i = 0; i < s.Work.Count; i++)
            {
                var (candidate, snapshot, result) = s.Work[i];
                var (repository, payload, malformed, failed) = s.Outcomes[i];
                if (malformed != null)
                {
                    MarkMalformed(candidate.TraceId, snapshot);
                    Done(result, ArchivalStatus.Malformed, malformed);
                }
                else if (failed != null) Failed(result, failed);
                else
                {
                    result.PayloadBytes = TracePayload.ContentBytes(snapshot.Spans.Select(sp => sp.Content));
                    written.Add(new Written(candidate, snapshot, repository!, payload!, result));
                }
            }
            if (written.Count == 0) return results;

            // A payload that is gone before the finalize (removed by someone else, or a location that lies about
            // its writes) must not become the only copy of the spans: that trace stays in the store. Checked where
            // that is a look at a local file. In an object store the upload's success is the proof (S3 and Azure Blob
            // read their own writes; MLflow finalizes on it too): a check there doubled the requests per trace and
            // halved the pass's speed (bench archive-s3), and still could not see a delete between it and the commit.
            var found = written.Select(w => w.Repository is ObjectArchiveRepository).ToArray();
            var checkFailed = new MlTracesException?[written.Count];
            var toCheck = Enumerable.Range(0, written.Count).Where(i => !found[i]).ToList();
            if (toCheck.Count > 0)
                Parallel.ForEach(toCheck, new ParallelOptions { MaxDegreeOfParallelism = Locations.Transient.Concurrency }, i =>
                {
                    try { found[i] = written[i].Repository.Exists(written[i].Candidate.ArchiveFolder); }
                    catch (MlTracesException ex) { checkFailed[i] = ex; }
                });
            var present = new List<Written>();
            for (int i = 0; i < written.Count; i++)
            {
                var w = written[i];
                if (found[i]) present.Add(w);
                else if (checkFailed[i] is MlTracesException ex)
                    // Left where it is (the location did not answer): if it is there, no row points to it and the sweep removes it.
                    Failed(w.Result, new MlTracesException(ex.Kind, ex.ErrorId,
                        $"The payload written to '{Locations.LocationUri.Shown(w.Candidate.ArchiveFolder)}' could not be checked before the trace would point to it; the spans stay in the store. {ex.Message}", ex));
                else Failed(w.Result, new MlTracesException(ErrorKind.NotFound, "ArchivedPayloadMissing",
                    $"The payload written to '{w.Candidate.ArchiveFolder}' was gone before the trace could point to it; the spans stay in the store."));
            }
            Dictionary<string, string> aborted;
            try
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                aborted = present.Count == 0 ? new Dictionary<string, string>() : Finalize(present.Select(w => (w.Candidate, w.Snapshot)).ToList());
                Sizer.Done(present.Count, clock.Elapsed);
            }
            catch (MlTracesException)
            {
                // The store could not be written (locked, read-only, gone): these payloads are this pass's own and
                // go before the error is reported.
                RemoveUnfinalized(present);
                throw;
            }
            foreach (var w in present)
            {
                if (aborted.TryGetValue(w.Candidate.TraceId, out string? why))
                {
                    // Not finalized: the store still serves the trace (or the trace is gone), so this pass's file
                    // must go, unless a trace points at the folder after all.
                    if (!PointsAt(w.Candidate.TraceId, w.Candidate.ArchiveFolder)) RemoveOwnPayload(w);
                    Done(w.Result, ArchivalStatus.LeftForNextPass, why);
                }
                else Done(w.Result, ArchivalStatus.Archived, null);
            }
            return results;
        }

        /// <summary>A started batch that will not be finished (the pass failed or was stopped): once its uploads
        /// are over, the payloads it wrote go, as a failed finalize's do.</summary>
        private void Abandon(Started s)
        {
            try { s.Uploads.Wait(); }
            catch (AggregateException) { }
            RemoveUnfinalized(Enumerable.Range(0, s.Work.Count).Where(i => s.Uploaded[i])
                .Select(i => new Written(s.Work[i].Candidate, s.Work[i].Snapshot, s.Outcomes[i].Repository!, s.Outcomes[i].Payload!, s.Work[i].Result)));
        }

        /// <summary>Removes payloads this pass wrote and did not finalize, each only if the store can still say no
        /// trace points at it (a commit whose answer was lost may have happened; an orphan is better than a lost trace).</summary>
        private void RemoveUnfinalized(IEnumerable<Written> payloads)
        {
            foreach (var w in payloads)
            {
                bool pointed;
                try { pointed = _store.Translate(() => PointsAt(w.Candidate.TraceId, w.Candidate.ArchiveFolder)); }
                catch (Exception ex) when (ex is MlTracesException || ex is System.Data.Common.DbException || ex is InvalidOperationException) { continue; }
                if (!pointed) RemoveOwnPayload(w);
            }
        }

        private sealed class Written
        {
            public readonly PlannedArchival Candidate;
            public readonly TraceSnapshot Snapshot;
            public readonly IArchiveRepository Repository;
            public readonly byte[] Payload;
            public readonly ArchivalReceipt Result;
            public Written(PlannedArchival candidate, TraceSnapshot snapshot, IArchiveRepository repository, byte[] payload, ArchivalReceipt result)
            {
                Candidate = candidate; Snapshot = snapshot; Repository = repository; Payload = payload; Result = result;
            }
        }

        /// <summary>Removes the payload this pass wrote, only while the file still holds exactly what it wrote:
        /// a file someone else has written there since is theirs.</summary>
        private void RemoveOwnPayload(Written w)
        {
            string folder = w.Candidate.ArchiveFolder;
            try
            {
                if (!w.Repository.Exists(folder) || !w.Repository.Read(folder).SequenceEqual(w.Payload)) return;
                w.Repository.Delete(folder);
            }
            catch (MlTracesException ex) { Warnings.Add($"Could not remove the unfinished payload in '{folder}': {ex.Message}"); }
        }

        private static ArchivalReceipt Done(ArchivalReceipt r, ArchivalStatus outcome, string? message)
        {
            r.Status = outcome;
            r.Message = message;
            return r;
        }

        /// <summary>Left for the next pass because something failed (not because the trace changed).</summary>
        private static void Failed(ArchivalReceipt r, MlTracesException error)
        {
            Done(r, ArchivalStatus.LeftForNextPass, error.Message);
            r.ErrorId = error.ErrorId;
        }

        private sealed class TraceSnapshot
        {
            public long? Generation;
            public List<(string SpanId, string Content)> Spans = new List<(string, string)>();
        }

        /// <summary>The spans and generations of the traces that still are candidates (MLflow re-checks before
        /// serializing), in two statements for the whole batch.</summary>
        private Dictionary<string, TraceSnapshot> Snapshots(List<string> traceIds)
        {
            var result = Generations(traceIds, finalizable: false);
            foreach (var kv in ReadSpans(result.Keys.ToList()))
                result[kv.Key].Spans = kv.Value;
            return result;
        }

        /// <summary>The generation of each trace that is still a candidate (for the finalize: also in a state MLflow
        /// archives). Traces that are not come back absent.</summary>
        private Dictionary<string, TraceSnapshot> Generations(List<string> traceIds, bool finalizable)
        {
            var result = new Dictionary<string, TraceSnapshot>(StringComparer.Ordinal);
            if (traceIds.Count == 0) return result;
            var p = new SqlParameters();
            string generation = _store.Layout.HasDbPayloadGeneration ? "ti.db_payload_generation" : "NULL";
            string state = finalizable ? "AND ti.status IN ('OK', 'ERROR', 'STATE_UNSPECIFIED') " : "";
            // For the finalize on PostgreSQL, the checked rows stay locked until it commits (MLflow's SELECT ... FOR
            // UPDATE): a span appended meanwhile waits, then bumps the generation of a trace already finalized.
            string lockRows = finalizable ? _store.Dialect.ForUpdate : "";
            using var cmd = _store.Command($"SELECT ti.request_id, {generation} FROM trace_info ti WHERE {_store.Dialect.IsAnyOf("ti.request_id", p, traceIds)} {state}AND {ArchivalPlanner.CandidateCondition(p)}{lockRows}", p);
            using var r = _store.Translate(() => cmd.ExecuteReader());
            while (r.Read()) result[r.GetString(0)] = new TraceSnapshot { Generation = r.IsDBNull(1) ? (long?)null : r.GetInt64(1) };
            return result;
        }

        private Dictionary<string, List<(string SpanId, string Content)>> ReadSpans(List<string> traceIds)
        {
            var spans = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
            foreach (var id in traceIds) spans[id] = new List<(string, string)>();
            if (traceIds.Count == 0) return spans;
            var p = new SqlParameters();
            using var cmd = _store.Command($"SELECT trace_id, span_id, content FROM spans WHERE {_store.Dialect.IsAnyOf("trace_id", p, traceIds)} ORDER BY trace_id, span_id", p);
            using var r = _store.Translate(() => cmd.ExecuteReader());
            while (r.Read()) spans[r.GetString(0)].Add((r.GetString(1), r.GetString(2)));
            return spans;
        }

        /// <summary>True when nothing changed since the snapshot: the generation where the layout has one, the span
        /// contents themselves where it does not (older MLflow compared the rows the same way).</summary>
        private bool Unchanged(string traceId, TraceSnapshot snapshot)
        {
            var p = new SqlParameters();
            if (_store.Layout.HasDbPayloadGeneration)
            {
                using var cmd = _store.Command($"SELECT db_payload_generation FROM trace_info WHERE request_id = {p.Add(traceId)}", p);
                return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) == snapshot.Generation;
            }
            using var spans = _store.Command($"SELECT span_id, content FROM spans WHERE trace_id = {p.Add(traceId)} ORDER BY span_id", p);
            using var r = spans.ExecuteReader();
            var now = new List<(string, string)>();
            while (r.Read()) now.Add((r.GetString(0), r.GetString(1)));
            return now.SequenceEqual(snapshot.Spans);
        }

        /// <summary>The finalize step for a batch in one write transaction (BEGIN IMMEDIATE takes SQLite's write lock,
        /// as MLflow's SELECT ... FOR UPDATE does elsewhere): every trace is checked inside it, as MLflow checks each,
        /// and the ones unchanged are finalized with a few statements for the whole batch. Returns the traces left,
        /// by id, with the reason.</summary>
        private Dictionary<string, string> Finalize(IReadOnlyList<(PlannedArchival Candidate, TraceSnapshot Snapshot)> batch)
        {
            return _store.Translate(() =>
            {
                var aborted = new Dictionary<string, string>(StringComparer.Ordinal);
                using var tx = _store.BeginTransaction();
                var ids = batch.Select(b => b.Candidate.TraceId).ToList();
                var now = Generations(ids, finalizable: true);
                // Without a generation column (older layouts) the span contents themselves are compared.
                var spansNow = _store.Layout.HasDbPayloadGeneration ? null : ReadSpans(now.Keys.ToList());
                var ok = new List<PlannedArchival>();
                foreach (var (c, snapshot) in batch)
                {
                    if (!now.TryGetValue(c.TraceId, out var current))
                        aborted[c.TraceId] = "The trace changed during its archival (state, tags or content); it is left for a later pass.";
                    else if (spansNow == null ? current.Generation != snapshot.Generation : !spansNow[c.TraceId].SequenceEqual(snapshot.Spans))
                        aborted[c.TraceId] = "Spans were appended or changed during archival; the trace is left for a later pass.";
                    else ok.Add(c);
                }
                if (ok.Count > 0)
                {
                    var u = new SqlParameters();
                    string list = u.AddList(ok.Select(c => (object?)c.TraceId));
                    string location = u.Add(TraceTagKeys.SpansLocation), archive = u.Add(SpansLocations.ArchiveRepo), pointer = u.Add(TraceTagKeys.ArchiveLocation);
                    var locations = string.Join(", ", ok.Select(c => $"({location}, {archive}, {u.Add(c.TraceId)}), ({pointer}, {u.Add(c.ArchiveFolder)}, {u.Add(c.TraceId)})"));
                    using var cmd = _store.Command(
                        $"UPDATE spans SET content = '' WHERE trace_id IN ({list}); " +
                        $"INSERT INTO trace_tags (\"key\", value, request_id) VALUES {locations} " +
                        "ON CONFLICT (\"key\", request_id) DO UPDATE SET value = excluded.value; " +
                        $"DELETE FROM trace_tags WHERE \"key\" = {u.Add(TraceTagKeys.ArchivalFailure)} AND request_id IN ({list});", u);
                    cmd.ExecuteNonQuery();
                }
                tx.Commit();
                return aborted;
            });
        }

        /// <summary>MALFORMED_TRACE, only if the trace is still DB-backed and unchanged (a payload appended meanwhile
        /// may be the fix).</summary>
        private void MarkMalformed(string traceId, TraceSnapshot snapshot)
        {
            _store.Translate(() =>
            {
                using var tx = _store.BeginTransaction();
                var p = new SqlParameters();
                using (var check = _store.Command($"SELECT 1 FROM trace_info ti WHERE ti.request_id = {p.Add(traceId)} AND {ArchivalPlanner.CandidateCondition(p)}", p))
                    if (check.ExecuteScalar() == null || !Unchanged(traceId, snapshot)) return 0;
                var u = new SqlParameters();
                using (var cmd = _store.Command(
                    $"INSERT INTO trace_tags (\"key\", value, request_id) VALUES ({u.Add(TraceTagKeys.ArchivalFailure)}, {u.Add("MALFORMED_TRACE")}, {u.Add(traceId)}) " +
                    "ON CONFLICT (\"key\", request_id) DO UPDATE SET value = excluded.value", u))
                    cmd.ExecuteNonQuery();
                tx.Commit();
                return 0;
            });
        }

        private bool PointsAt(string traceId, string folder)
        {
            var p = new SqlParameters();
            using var cmd = _store.Command($"SELECT 1 FROM trace_tags WHERE request_id = {p.Add(traceId)} AND \"key\" = {p.Add(TraceTagKeys.ArchiveLocation)} AND value = {p.Add(folder)}", p);
            return cmd.ExecuteScalar() != null;
        }

        /// <summary>
        /// Clears each archive-now request the pass has fully served, by MLflow's rules: kept while archivable or
        /// in-progress traces remain in its range; otherwise removed if still the value read at plan time.
        /// </summary>
        public int ClearServedArchiveNowRequests(ArchivalPlan plan, ISet<string> experimentsWithRetryableFailures)
        {
            int cleared = 0;
            foreach (var kv in plan.ArchiveNowRequests)
            {
                if (experimentsWithRetryableFailures.Contains(kv.Key)) continue;
                ExperimentArchivalTags.ParseArchiveNow(kv.Value, out var olderThan, out _);
                long? cutoff = olderThan == null ? (long?)null : RetentionDuration.CutoffMs(plan.Now, olderThan.TimeSpan);
                var p = new SqlParameters();
                string range = SearchCompiler.TracesOf(new[] { long.Parse(kv.Key, CultureInfo.InvariantCulture) }, p) + (cutoff.HasValue ? $" AND ti.timestamp_ms <= {p.Add(cutoff.Value)}" : "");
                string dbBacked = $"NOT EXISTS (SELECT 1 FROM trace_tags l WHERE l.request_id = ti.request_id AND l.\"key\" = {p.Add(TraceTagKeys.SpansLocation)} AND l.value <> {p.Add(SpansLocations.TrackingStore)}) " +
                                  $"AND NOT EXISTS (SELECT 1 FROM trace_tags f WHERE f.request_id = ti.request_id AND f.\"key\" = {p.Add(TraceTagKeys.ArchivalFailure)})";
                string sql = $"SELECT EXISTS (SELECT 1 FROM trace_info ti WHERE {range} AND {ArchivalPlanner.CandidateCondition(p)}), " +
                             $"EXISTS (SELECT 1 FROM trace_info ti WHERE {range} AND ti.status = 'IN_PROGRESS' AND {dbBacked}), " +
                             $"EXISTS (SELECT 1 FROM trace_info ti WHERE {range} AND ti.status <> 'IN_PROGRESS' AND {dbBacked})";
                using var cmd = _store.Command(sql, p);
                bool archivable, transient, blocked;
                using (var r = _store.Translate(() => cmd.ExecuteReader()))
                {
                    r.Read();
                    // EXISTS is an integer on SQLite and a boolean on PostgreSQL.
                    archivable = Convert.ToBoolean(r.GetValue(0)); transient = Convert.ToBoolean(r.GetValue(1)); blocked = Convert.ToBoolean(r.GetValue(2)) && !archivable;
                }
                if (archivable || transient) continue;
                if (blocked) Warnings.Add($"The archive-now request of experiment {kv.Key} is cleared, but some of its traces cannot be archived (no span content, or under legal hold).");
                var d = new SqlParameters();
                using var del = _store.Command($"DELETE FROM experiment_tags WHERE experiment_id = {d.Add(long.Parse(kv.Key, CultureInfo.InvariantCulture))} AND \"key\" = {d.Add(ExperimentArchivalTags.ArchiveNowKey)} AND value = {d.Add(kv.Value)}", d);
                cleared += _store.Translate(() => del.ExecuteNonQuery());
            }
            return cleared;
        }

        /// <summary>
        /// The sweep (opt-in): the payloads under these experiments' archive locations (local folders, and S3 or
        /// Azure Blob prefixes listed with their last-modified times) that nothing in the
        /// store can need, and the temporary files of writes that never finished (a pass killed between its upload
        /// and its finalize leaves them, as does a trace deleted outside MlTraces). Conservative by construction:
        /// only files older than the grace period, only at &lt;location&gt;/traces/&lt;valid trace id&gt;/artifacts/
        /// with no symbolic link on the way below the location, and a payload only when no trace in the store
        /// (any experiment, any workspace) with that id is archived, and no trace's archive location resolves to
        /// that file, whatever its spelling (./, .., a symbolic link, another workspace's path). Reads only: the
        /// dry run lists exactly these, and <see cref="RemoveOrphan"/> removes one after checking it again.
        /// </summary>
        public List<string> FindOrphanedPayloads(IEnumerable<string> experimentArchiveLocations, DateTimeOffset now)
        {
            var payloads = new Dictionary<string, (string TraceId, string File)>(ConfinedPath.PathComparer); // by real path
            var temporary = new List<string>();
            var objects = new Dictionary<string, (string TraceId, string Uri)>(StringComparer.Ordinal); // by the object's URI
            foreach (var location in experimentArchiveLocations.Distinct(StringComparer.Ordinal))
            {
                if (Locations.LocationUri.IsObjectStoreScheme(location))
                {
                    foreach (var (traceId, uri) in OrphanCandidates(location, now)) objects[uri] = (traceId, uri);
                    continue;
                }
                string? folder = FileArchiveRepository.LocalFolder(location);
                string? traces = folder == null ? null : Path.Combine(folder, "traces");
                if (traces == null || !Directory.Exists(traces) || IsLink(traces)) continue;
                foreach (var traceFolder in Directory.GetDirectories(traces))
                {
                    string traceId = Path.GetFileName(traceFolder);
                    string artifacts = Path.Combine(traceFolder, "artifacts");
                    if (TraceIds.Problem(traceId) != null || traceId.Trim('.').Length == 0 || IsLink(traceFolder)
                        || !Directory.Exists(artifacts) || IsLink(artifacts)) continue;
                    foreach (var temp in Directory.GetFiles(artifacts))
                        if (FileArchiveRepository.IsTemporaryName(Path.GetFileName(temp)) && Stale(temp, now)) temporary.Add(temp);
                    string file = Path.Combine(artifacts, TracePayload.FileName);
                    if (!File.Exists(file) || IsLink(file) || !Stale(file, now)) continue;
                    string? real = ConfinedPath.RealPath(file, out _);
                    if (real != null) payloads[real] = (traceId, file);
                }
            }
            if (payloads.Count + objects.Count > 0)
            {
                var archived = new HashSet<string>(ArchivedIds(payloads.Values.Select(v => v.TraceId).Concat(objects.Values.Select(v => v.TraceId)).Distinct(StringComparer.Ordinal).ToList()), StringComparer.Ordinal);
                foreach (var key in payloads.Where(kv => archived.Contains(kv.Value.TraceId)).Select(kv => kv.Key).ToList()) payloads.Remove(key);
                foreach (var key in objects.Where(kv => archived.Contains(kv.Value.TraceId)).Select(kv => kv.Key).ToList()) objects.Remove(key);
            }
            if (payloads.Count + objects.Count > 0)
            {
                // Any trace's archive location, however spelled, that resolves to one of the files or objects keeps it.
                var p = new SqlParameters();
                foreach (var value in _store.Stream($"SELECT value FROM trace_tags WHERE \"key\" = {p.Add(TraceTagKeys.ArchiveLocation)}", p, r => r.IsDBNull(0) ? null : r.GetString(0)))
                {
                    string? local = value == null ? null : FileArchiveRepository.LocalFolder(value);
                    string? real = local == null ? null : ConfinedPath.RealPath(Path.Combine(local, TracePayload.FileName), out _);
                    if (real != null) payloads.Remove(real);
                    string? uri = ObjectPayloadUri(value);
                    if (uri != null) objects.Remove(uri);
                    if (payloads.Count + objects.Count == 0) break;
                }
            }
            return payloads.Values.Select(v => v.File).Concat(temporary).Concat(objects.Keys).OrderBy(f => f, StringComparer.Ordinal).ToList();
        }

        /// <summary>Removes one file <see cref="FindOrphanedPayloads"/> found, if it still is what it was then: as
        /// old, and (a payload) with no archived trace of its id. False when it was left.</summary>
        public bool RemoveOrphan(string file, DateTimeOffset now)
        {
            if (Locations.LocationUri.IsObjectStoreScheme(file)) return RemoveOrphanObject(file, now);
            if (!File.Exists(file) || IsLink(file) || !Stale(file, now)) return false;
            if (!FileArchiveRepository.IsTemporaryName(Path.GetFileName(file))
                && ArchivedIds(new List<string> { Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(file)!)!) }).Count > 0) return false;
            try
            {
                File.Delete(file);
                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                Warnings.Add($"Could not remove the orphaned file '{file}': {ex.Message}");
                return false;
            }
        }

        /// <summary>How object stores are reached, as MLflow finds its credentials.</summary>
        public Locations.ObjectStoreSettings ObjectSettings { get; }

        /// <summary>The traces.pb objects under an experiment's archive location in an object store, older than the
        /// grace period, at exactly traces/&lt;valid trace id&gt;/artifacts/traces.pb (MLflow's key layout, nothing else):
        /// each with its trace id and URI. An unreachable location is a warning, not a failed pass.</summary>
        private List<(string TraceId, string Uri)> OrphanCandidates(string location, DateTimeOffset now)
        {
            var found = new List<(string, string)>();
            Locations.LocationUri? root = null;
            try
            {
                root = Locations.LocationUri.Parse(location, ObjectSettings);
                if (root.Kind == Locations.LocationKind.Folder) return found;
                // Streamed (an archive may hold millions of payloads), so a failure is remembered here, not by Use.
                foreach (var entry in _objects.Open(root, ObjectSettings).List(Locations.ObjectKeys.TracesFolder))
                {
                    var parts = entry.Key.Split('/');
                    if (parts.Length != 4 || parts[2] != Locations.ObjectKeys.ArtifactsFolder || parts[3] != TracePayload.FileName
                        || TraceIds.Problem(parts[1]) != null || now - entry.LastModified < OrphanGracePeriod) continue;
                    found.Add((parts[1], root.WithPrefix(root.Key(entry.Key)).ToString()));
                }
            }
            catch (MlTracesException ex)
            {
                if (root != null) _objects.Saw(root, ex);
                Warnings.Add($"The orphan sweep skipped '{Locations.LocationUri.Shown(location)}': {ex.Message}");
            }
            return found;
        }

        /// <summary>The traces.pb URI an archiveLocation tag in an object store names, as the sweep spells its finds; null otherwise.</summary>
        private string? ObjectPayloadUri(string? archiveLocation)
        {
            if (!Locations.LocationUri.IsObjectStoreScheme(archiveLocation)) return null;
            try
            {
                var folder = Locations.LocationUri.Parse(archiveLocation!, ObjectSettings);
                return folder.Kind == Locations.LocationKind.Folder ? null : folder.WithPrefix(folder.Key(TracePayload.FileName)).ToString();
            }
            catch (MlTracesException) { return null; }
        }

        /// <summary><see cref="RemoveOrphan"/> for an object: still the trace's own key shape, still as old, still no
        /// archived trace of its id; then deleted.</summary>
        private bool RemoveOrphanObject(string uri, DateTimeOffset now)
        {
            try
            {
                var folder = Locations.LocationUri.Parse(uri.Substring(0, uri.Length - TracePayload.FileName.Length - 1), ObjectSettings);
                var (root, folderKey) = Locations.ObjectKeys.SplitTraceFolder(folder);
                string traceId = folderKey.Split('/')[1];
                string key = folderKey + "/" + TracePayload.FileName;
                var entry = _objects.Use(root, ObjectSettings, l => l.List(folderKey).FirstOrDefault(e => e.Key == key));
                if (entry == null || now - entry.LastModified < OrphanGracePeriod || ArchivedIds(new List<string> { traceId }).Count > 0) return false;
                return _objects.Use(root, ObjectSettings, l => l.Delete(key));
            }
            catch (MlTracesException ex)
            {
                Warnings.Add($"Could not remove the orphaned object '{Locations.LocationUri.Shown(uri)}': {ex.Message}");
                return false;
            }
        }

        private static bool Stale(string file, DateTimeOffset now) => now - File.GetLastWriteTimeUtc(file) >= OrphanGracePeriod;

        /// <summary>A symbolic link (or anything that vanished meanwhile): the sweep never goes through it.</summary>
        private static bool IsLink(string path)
        {
            try { return (File.GetAttributes(path) & FileAttributes.ReparsePoint) != 0; }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { return true; }
        }

        /// <summary>The ids among these that some trace in the store has archived.</summary>
        private List<string> ArchivedIds(List<string> ids)
        {
            var archived = new List<string>();
            foreach (var chunk in TraceReader.Chunks(ids, TraceReader.BatchSize))
            {
                var p = new SqlParameters();
                using var cmd = _store.Command($"SELECT request_id FROM trace_tags WHERE \"key\" = {p.Add(TraceTagKeys.SpansLocation)} AND value = {p.Add(SpansLocations.ArchiveRepo)} AND {_store.Dialect.IsAnyOf("request_id", p, chunk)}", p);
                using var r = _store.Translate(() => cmd.ExecuteReader());
                while (r.Read()) archived.Add(r.GetString(0));
            }
            return archived;
        }
    }
}
