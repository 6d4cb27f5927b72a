using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Export;
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
    public sealed class ArchivalPass
    {
        /// <summary>A payload no trace points to is removed only when older than this, so a pass running
        /// elsewhere between its upload and its finalize never loses the file it is about to point to.</summary>
        public static readonly TimeSpan OrphanGracePeriod = TimeSpan.FromHours(1);

        private readonly TraceStore _store;
        private readonly Func<string, IArchiveRepository> _repositoryFor;
        public List<string> Warnings { get; } = new List<string>();

        /// <param name="repositoryFor">Where payloads go for a location; default <see cref="ArchiveRepositories.For"/>.</param>
        public ArchivalPass(TraceStore store, Func<string, IArchiveRepository>? repositoryFor = null)
        {
            _store = store;
            _repositoryFor = repositoryFor ?? ArchiveRepositories.For;
        }

        /// <summary>Traces finalized per write transaction: each is still checked inside it, but the commit (and
        /// its journal sync) is shared, and the write lock is held for milliseconds.</summary>
        public const int FinalizeBatchSize = 200;

        public TraceArchiveResult Archive(ArchiveCandidate candidate, CancellationToken cancel = default) =>
            ArchiveBatch(new[] { candidate }, cancel)[0];

        /// <summary>Serializes and writes each trace's payload, then finalizes the batch in one write transaction.</summary>
        public List<TraceArchiveResult> ArchiveBatch(IReadOnlyList<ArchiveCandidate> batch, CancellationToken cancel = default)
        {
            var results = new List<TraceArchiveResult>();
            var written = new List<(ArchiveCandidate Candidate, TraceSnapshot Snapshot, IArchiveRepository Repository, TraceArchiveResult Result)>();
            var snapshots = Snapshots(batch.Select(c => c.TraceId).ToList());
            var work = new List<(ArchiveCandidate Candidate, TraceSnapshot Snapshot, TraceArchiveResult Result)>();
            foreach (var candidate in batch)
            {
                var result = new TraceArchiveResult
                {
                    TraceId = candidate.TraceId, ExperimentId = candidate.ExperimentId, Reason = candidate.Reason.ToString(),
                    PayloadBytes = candidate.PayloadBytes, ArchiveLocation = candidate.ArchiveFolder, TrackingUri = _store.Uri.Original,
                };
                results.Add(result);
                if (snapshots.TryGetValue(candidate.TraceId, out var snapshot)) work.Add((candidate, snapshot, result));
                else Done(result, TraceArchiveOutcome.Skipped, "The trace is no longer a candidate (deleted, archived, marked, in progress or without content).");
            }
            cancel.ThrowIfCancellationRequested();

            // Parsing, OTLP serialization and the file write are CPU and file work with no store access: they run on
            // every core. Everything that touches the store stays on this thread and its one connection.
            var outcomes = new (IArchiveRepository? Repository, string? Malformed, MlTracesException? Failed)[work.Count];
            System.Threading.Tasks.Parallel.For(0, work.Count, new System.Threading.Tasks.ParallelOptions { CancellationToken = cancel }, i =>
            {
                var (candidate, snapshot, _) = work[i];
                byte[] payload;
                try
                {
                    var spans = snapshot.Spans.Select(s => SpanJson.FromContent(candidate.TraceId, s.Content)).ToList();
                    payload = TracePayload.Write(candidate.TraceId, spans);
                }
                catch (MlTracesException ex) { outcomes[i] = (null, ex.Message, null); return; }
                IArchiveRepository repository;
                try { repository = _repositoryFor(candidate.ArchiveFolder); }
                catch (MlTracesException ex) { outcomes[i] = (null, null, ex); return; }
                try
                {
                    repository.Write(candidate.ArchiveFolder, payload);
                    outcomes[i] = (repository, null, null);
                }
                catch (MlTracesException ex)
                {
                    try { repository.Delete(candidate.ArchiveFolder); } catch (MlTracesException) { }
                    outcomes[i] = (null, null, new MlTracesException(ex.Kind, ex.ErrorId, "Trace archival upload failed: " + ex.Message, ex));
                }
            });
            for (int i = 0; i < work.Count; i++)
            {
                var (candidate, snapshot, result) = work[i];
                var (repository, malformed, failed) = outcomes[i];
                if (malformed != null)
                {
                    MarkMalformed(candidate.TraceId, snapshot);
                    Done(result, TraceArchiveOutcome.Malformed, malformed);
                }
                else if (failed != null) Failed(result, failed);
                else
                {
                    result.PayloadBytes = snapshot.Spans.Sum(s => (long)System.Text.Encoding.UTF8.GetByteCount(s.Content));
                    written.Add((candidate, snapshot, repository!, result));
                }
            }
            if (written.Count == 0) return results;

            // A payload that is gone before the finalize (removed by someone else, or a location that lies about
            // its writes) must not become the only copy of the spans: that trace stays in the store.
            var present = new List<(ArchiveCandidate Candidate, TraceSnapshot Snapshot, IArchiveRepository Repository, TraceArchiveResult Result)>();
            foreach (var w in written)
            {
                bool exists;
                try { exists = w.Repository.Exists(w.Candidate.ArchiveFolder); }
                catch (MlTracesException) { exists = false; }
                if (exists) present.Add(w);
                else Failed(w.Result, new MlTracesException(ErrorKind.NotFound, "ArchivedPayloadMissing",
                    $"The payload written to '{w.Candidate.ArchiveFolder}' was gone before the trace could point to it; the spans stay in the store."));
            }
            var aborted = present.Count == 0 ? new Dictionary<string, string>() : Finalize(present.Select(w => (w.Candidate, w.Snapshot)).ToList());
            foreach (var w in present)
            {
                if (aborted.TryGetValue(w.Candidate.TraceId, out string? why))
                {
                    // Not finalized: the store still serves the trace, so the file must go, unless the trace already
                    // points at it (another pass finalized the same folder).
                    if (!PointsAt(w.Candidate.TraceId, w.Candidate.ArchiveFolder)) TryDelete(w.Repository, w.Candidate.ArchiveFolder);
                    Done(w.Result, TraceArchiveOutcome.LeftForNextPass, why);
                }
                else Done(w.Result, TraceArchiveOutcome.Archived, null);
            }
            return results;
        }

        private static TraceArchiveResult Done(TraceArchiveResult r, TraceArchiveOutcome outcome, string? message)
        {
            r.Outcome = outcome;
            r.Message = message;
            return r;
        }

        /// <summary>Left for the next pass because something failed (not because the trace changed).</summary>
        private static void Failed(TraceArchiveResult r, MlTracesException error)
        {
            Done(r, TraceArchiveOutcome.LeftForNextPass, error.Message);
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
        private Dictionary<string, string> Finalize(IReadOnlyList<(ArchiveCandidate Candidate, TraceSnapshot Snapshot)> batch)
        {
            return _store.Translate(() =>
            {
                var aborted = new Dictionary<string, string>(StringComparer.Ordinal);
                using var tx = _store.BeginTransaction();
                var ids = batch.Select(b => b.Candidate.TraceId).ToList();
                var now = Generations(ids, finalizable: true);
                // Without a generation column (older layouts) the span contents themselves are compared.
                var spansNow = _store.Layout.HasDbPayloadGeneration ? null : ReadSpans(now.Keys.ToList());
                var ok = new List<ArchiveCandidate>();
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

        private void TryDelete(IArchiveRepository repository, string folder)
        {
            try { repository.Delete(folder); }
            catch (MlTracesException ex) { Warnings.Add($"Could not remove the unfinished payload in '{folder}': {ex.Message}"); }
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
                string range = $"ti.experiment_id = {p.Add(long.Parse(kv.Key, CultureInfo.InvariantCulture))}" + (cutoff.HasValue ? $" AND ti.timestamp_ms <= {p.Add(cutoff.Value)}" : "");
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
        /// Removes payloads under the experiments' local archive folders that no trace points to (left by a pass that
        /// stopped between its upload and its finalize, or by a trace deleted outside MlTraces), once they are older
        /// than the grace period. A payload a trace points to is never touched.
        /// </summary>
        public int RemoveOrphanedPayloads(IEnumerable<string> experimentArchiveLocations, DateTimeOffset now)
        {
            int removed = 0;
            foreach (var location in experimentArchiveLocations)
            {
                string? folder = FileArchiveRepository.LocalFolder(location);
                string? traces = folder == null ? null : Path.Combine(folder, "traces");
                if (traces == null || !Directory.Exists(traces)) continue;
                foreach (var traceFolder in Directory.GetDirectories(traces))
                {
                    removed += RemoveStaleTemporaryFiles(Path.Combine(traceFolder, "artifacts"), now);
                    string file = Path.Combine(traceFolder, "artifacts", TracePayload.FileName);
                    if (!File.Exists(file) || now - File.GetLastWriteTimeUtc(file) < OrphanGracePeriod) continue;
                    string traceId = Path.GetFileName(traceFolder);
                    string folderUri = location.TrimEnd('/') + "/traces/" + traceId + "/artifacts";
                    if (PointsAt(traceId, folderUri)) continue;
                    try { File.Delete(file); removed++; }
                    catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                    {
                        Warnings.Add($"Could not remove the orphaned payload '{file}': {ex.Message}");
                    }
                }
            }
            return removed;
        }

        /// <summary>Half-written payloads (traces.pb.*.tmp) of a process killed in the middle of a write: nothing
        /// ever points to them.</summary>
        private int RemoveStaleTemporaryFiles(string folder, DateTimeOffset now)
        {
            int removed = 0;
            if (!Directory.Exists(folder)) return 0;
            foreach (var temp in Directory.GetFiles(folder, TracePayload.FileName + ".*" + FileArchiveRepository.TemporarySuffix))
            {
                if (now - File.GetLastWriteTimeUtc(temp) < OrphanGracePeriod) continue;
                try { File.Delete(temp); removed++; }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    Warnings.Add($"Could not remove the unfinished payload '{temp}': {ex.Message}");
                }
            }
            return removed;
        }
    }
}
