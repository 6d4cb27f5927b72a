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
            foreach (var candidate in batch)
            {
                cancel.ThrowIfCancellationRequested();
                var result = new TraceArchiveResult
                {
                    TraceId = candidate.TraceId, ExperimentId = candidate.ExperimentId, Reason = candidate.Reason.ToString(),
                    PayloadBytes = candidate.PayloadBytes, ArchiveLocation = candidate.ArchiveFolder, TrackingUri = _store.Uri.Original,
                };
                results.Add(result);
                var snapshot = Snapshot(candidate.TraceId);
                if (snapshot == null)
                {
                    Done(result, TraceArchiveOutcome.Skipped, "The trace is no longer a candidate (deleted, archived, marked, in progress or without content).");
                    continue;
                }
                byte[] payload;
                try
                {
                    var spans = snapshot.Spans.Select(s => SpanJson.FromContent(candidate.TraceId, s.Content)).ToList();
                    payload = TracePayload.Write(candidate.TraceId, spans);
                }
                catch (MlTracesException ex)
                {
                    MarkMalformed(candidate.TraceId, snapshot);
                    Done(result, TraceArchiveOutcome.Malformed, ex.Message);
                    continue;
                }
                IArchiveRepository repository;
                try { repository = _repositoryFor(candidate.ArchiveFolder); }
                catch (MlTracesException ex) { Done(result, TraceArchiveOutcome.LeftForNextPass, ex.Message); continue; }
                try
                {
                    repository.Write(candidate.ArchiveFolder, payload);
                }
                catch (MlTracesException ex)
                {
                    TryDelete(repository, candidate.ArchiveFolder);
                    Done(result, TraceArchiveOutcome.LeftForNextPass, "Trace archival upload failed: " + ex.Message);
                    continue;
                }
                result.PayloadBytes = snapshot.Spans.Sum(s => (long)System.Text.Encoding.UTF8.GetByteCount(s.Content));
                written.Add((candidate, snapshot, repository, result));
            }
            if (written.Count == 0) return results;

            var aborted = Finalize(written.Select(w => (w.Candidate, w.Snapshot)).ToList());
            foreach (var w in written)
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

        private sealed class TraceSnapshot
        {
            public long? Generation;
            public List<(string SpanId, string Content)> Spans = new List<(string, string)>();
        }

        /// <summary>The trace's spans and generation, if it still is a candidate (MLflow re-checks before serializing).</summary>
        private TraceSnapshot? Snapshot(string traceId)
        {
            var p = new SqlParameters();
            string generation = _store.Layout.HasDbPayloadGeneration ? "ti.db_payload_generation" : "NULL";
            using (var cmd = _store.Command($"SELECT {generation} FROM trace_info ti WHERE ti.request_id = {p.Add(traceId)} AND {ArchivalPlanner.CandidateCondition(p)}", p))
            using (var r = _store.Translate(() => cmd.ExecuteReader()))
            {
                if (!r.Read()) return null;
                var snapshot = new TraceSnapshot { Generation = r.IsDBNull(0) ? (long?)null : r.GetInt64(0) };
                var sp = new SqlParameters();
                using var spans = _store.Command($"SELECT span_id, content FROM spans WHERE trace_id = {sp.Add(traceId)} ORDER BY span_id", sp);
                using var sr = _store.Translate(() => spans.ExecuteReader());
                while (sr.Read()) snapshot.Spans.Add((sr.GetString(0), sr.GetString(1)));
                return snapshot;
            }
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
        /// as MLflow's SELECT ... FOR UPDATE does elsewhere): each trace is checked and finalized, or left as it is
        /// with the reason. Returns the traces left, by id.</summary>
        private Dictionary<string, string> Finalize(IReadOnlyList<(ArchiveCandidate Candidate, TraceSnapshot Snapshot)> batch)
        {
            return _store.Translate(() =>
            {
                var aborted = new Dictionary<string, string>(StringComparer.Ordinal);
                using var tx = _store.BeginTransaction();
                foreach (var (c, snapshot) in batch)
                {
                    var p = new SqlParameters();
                    using (var check = _store.Command($"SELECT 1 FROM trace_info ti WHERE ti.request_id = {p.Add(c.TraceId)} " +
                        $"AND ti.status IN ('OK', 'ERROR', 'STATE_UNSPECIFIED') AND {ArchivalPlanner.CandidateCondition(p)}", p))
                    {
                        if (check.ExecuteScalar() == null)
                        {
                            aborted[c.TraceId] = "The trace changed during its archival (state, tags or content); it is left for a later pass.";
                            continue;
                        }
                    }
                    if (!Unchanged(c.TraceId, snapshot))
                    {
                        aborted[c.TraceId] = "Spans were appended or changed during archival; the trace is left for a later pass.";
                        continue;
                    }
                    var u = new SqlParameters();
                    string id = u.Add(c.TraceId);
                    using var cmd = _store.Command(
                        $"UPDATE spans SET content = '' WHERE trace_id = {id}; " +
                        $"INSERT INTO trace_tags (\"key\", value, request_id) VALUES ({u.Add(TraceTagKeys.SpansLocation)}, {u.Add(SpansLocations.ArchiveRepo)}, {id}) " +
                        "ON CONFLICT (\"key\", request_id) DO UPDATE SET value = excluded.value; " +
                        $"INSERT INTO trace_tags (\"key\", value, request_id) VALUES ({u.Add(TraceTagKeys.ArchiveLocation)}, {u.Add(c.ArchiveFolder)}, {id}) " +
                        "ON CONFLICT (\"key\", request_id) DO UPDATE SET value = excluded.value; " +
                        $"DELETE FROM trace_tags WHERE request_id = {id} AND \"key\" = {u.Add(TraceTagKeys.ArchivalFailure)};", u);
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
                    archivable = r.GetInt64(0) != 0; transient = r.GetInt64(1) != 0; blocked = r.GetInt64(2) != 0 && !archivable;
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
    }
}
