using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MlTraces.Core.Store
{
    public enum ImportOutcome { Imported, AlreadyExists, ExperimentNotFound, CannotHold,
        /// <summary>The store refused one of the trace's rows (a duplicate assessment id, a value too long for
        /// its column): the trace's writes were rolled back to its savepoint, the rest of the batch went on.</summary>
        Refused }

    public sealed class ImportResult
    {
        public Trace Trace { get; set; } = null!;
        public ImportOutcome Outcome { get; set; }
        public string? Message { get; set; }
    }

    /// <summary>
    /// Writes traces into a store in transactions of a bounded size, one savepoint per trace, so a trace that
    /// cannot be imported is reported and skipped while the others land, and nothing is ever half-written.
    /// </summary>
    public sealed class TraceImporter
    {
        public const int TransactionSize = 1000;
        private readonly TraceStore _store;
        private readonly Dictionary<string, Experiment> _experiments;

        public TraceImporter(TraceStore store)
        {
            _store = store;
            _experiments = Experiments.All(store).ToDictionary(e => e.ExperimentId);
        }

        /// <summary>The experiment with this name, created (as mlflow.set_experiment does) when it is missing.</summary>
        public Experiment EnsureExperiment(string name)
        {
            var existing = _experiments.Values.FirstOrDefault(e => e.Name == name);
            if (existing != null) return existing;
            return _store.Translate(() =>
            {
                string root = ArtifactRoot();
                string LocationOf(long experimentId) => root + "/" + experimentId.ToString(CultureInfo.InvariantCulture);
                long id = Experiments.Create(_store, name, LocationOf);
                string location = LocationOf(id);
                var e = new Experiment { ExperimentId = id.ToString(CultureInfo.InvariantCulture), Name = name, ArtifactLocation = location };
                _experiments[e.ExperimentId] = e;
                return e;
            });
        }

        public Experiment? FindExperiment(string id) => _experiments.TryGetValue(id, out var e) ? e : null;

        /// <summary>The store's artifact root, read off experiment 0 (MLflow puts each experiment at root/id).</summary>
        private string ArtifactRoot()
        {
            var zero = FindExperiment("0");
            string? loc = zero?.ArtifactLocation;
            if (loc != null && loc.EndsWith("/0", StringComparison.Ordinal)) return loc.Substring(0, loc.Length - 2);
            return "mlflow-artifacts:";
        }

        /// <summary>Imports a batch; <paramref name="targetExperimentId"/> overrides each trace's own experiment.</summary>
        public List<ImportResult> Import(IReadOnlyList<Trace> traces, string? targetExperimentId)
        {
            var results = new List<ImportResult>();
            _store.Translate(() =>
            {
                using var tx = _store.BeginTransaction();
                using var writer = new TraceWriter(_store, tx);
                foreach (var original in traces)
                {
                    var result = new ImportResult { Trace = original };
                    results.Add(result);
                    // The importer builds the artifact location from the id: the id rule holds here too, whoever calls.
                    if (TraceIds.Problem(original.TraceId) is string badId)
                    {
                        result.Outcome = ImportOutcome.CannotHold;
                        result.Message = $"A trace was not imported: {badId}";
                        continue;
                    }
                    string experimentId = targetExperimentId ?? original.ExperimentId;
                    var experiment = FindExperiment(experimentId);
                    if (experiment == null)
                    {
                        result.Outcome = ImportOutcome.ExperimentNotFound;
                        result.Message = $"Experiment {experimentId} of trace '{original.TraceId}' does not exist in the store '{_store.Name}'. Import into an experiment with -ExperimentName (created if missing) or -ExperimentId.";
                        continue;
                    }
                    if (writer.Exists(original.TraceId))
                    {
                        result.Outcome = ImportOutcome.AlreadyExists;
                        result.Message = $"Trace '{original.TraceId}' already exists in the store '{_store.Name}'; it was not imported again.";
                        continue;
                    }
                    var trace = Retarget(original, experiment);
                    string? cannot = writer.WhatCannotBeStored(trace);
                    if (cannot != null)
                    {
                        result.Outcome = ImportOutcome.CannotHold;
                        result.Message = $"Trace '{original.TraceId}' was not imported: {cannot}.";
                        continue;
                    }
                    using (var sp = _store.Command("SAVEPOINT import_trace")) { sp.Transaction = tx; sp.ExecuteNonQuery(); }
                    try
                    {
                        writer.Write(trace);
                        using var release = _store.Command("RELEASE import_trace"); release.Transaction = tx; release.ExecuteNonQuery();
                    }
                    catch (System.Data.Common.DbException ex)
                    {
                        using (var rollback = _store.Command("ROLLBACK TO import_trace")) { rollback.Transaction = tx; rollback.ExecuteNonQuery(); }
                        using (var release = _store.Command("RELEASE import_trace")) { release.Transaction = tx; release.ExecuteNonQuery(); }
                        if (!IsAboutThisTrace(ex)) throw; // a busy, read-only or lost store: the batch cannot go on
                        result.Outcome = ImportOutcome.Refused;
                        result.Message = $"Trace '{UserText.Shorten(original.TraceId, 60)}' was not imported: the store refused it ({UserText.Shorten(ex.Message.Trim(), 300)}). The other traces were imported.";
                        continue;
                    }
                    result.Trace = trace;
                    result.Outcome = ImportOutcome.Imported;
                }
                tx.Commit();
                return 0;
            });
            return results;
        }

        /// <summary>An error in the trace's own data (a constraint, a value the column cannot hold), as opposed to one
        /// about the store or the connection.</summary>
        private static bool IsAboutThisTrace(System.Data.Common.DbException ex) => ex switch
        {
            // SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH
            Microsoft.Data.Sqlite.SqliteException lite => lite.SqliteErrorCode == 18 || lite.SqliteErrorCode == 19 || lite.SqliteErrorCode == 20,
            // Class 22 (data exception: a string too long, a bad number) and 23 (integrity constraint violation).
            Npgsql.PostgresException pg => pg.SqlState.StartsWith("22", StringComparison.Ordinal) || pg.SqlState.StartsWith("23", StringComparison.Ordinal),
            _ => false,
        };

        /// <summary>The trace as it lands here: in the target experiment, with MLflow's tags for where it lives.</summary>
        private Trace Retarget(Trace t, Experiment experiment)
        {
            var copy = new Trace
            {
                TraceId = t.TraceId, ExperimentId = experiment.ExperimentId, State = t.State, TimestampMs = t.TimestampMs,
                ExecutionTimeMs = t.ExecutionTimeMs, ClientRequestId = t.ClientRequestId, RequestPreview = t.RequestPreview,
                ResponsePreview = t.ResponsePreview, Assessments = t.Assessments, Spans = t.Spans, TrackingUri = _store.Uri.Original,
                Tags = new SortedDictionary<string, string?>(t.Tags, StringComparer.Ordinal),
                Metadata = new SortedDictionary<string, string?>(t.Metadata, StringComparer.Ordinal),
            };
            foreach (var a in copy.Assessments) a.TraceId = t.TraceId;
            if (experiment.ExperimentId != t.ExperimentId || !copy.Tags.ContainsKey(TraceTagKeys.ArtifactLocation))
                copy.Tags[TraceTagKeys.ArtifactLocation] = $"{experiment.ArtifactLocation}/traces/{t.TraceId}/artifacts";
            // Spans written to the spans table are found there by MLflow only when the trace says so, and MLflow
            // reads spans.content in its 3.x form: a span exported from a 2.x traces.json is rewritten to it.
            if (_store.Layout.HasSpans && copy.Spans != null && copy.Spans.Count > 0)
            {
                copy.Tags[TraceTagKeys.SpansLocation] = SpansLocations.TrackingStore;
                copy.Spans = copy.Spans.Select(span =>
                {
                    // Cheap test first; ToCurrentContent leaves a 3.x span as it is.
                    if (span.Content.IndexOf("\"context\"", StringComparison.Ordinal) < 0) return span;
                    string current = Export.SpanJson.ToCurrentContent(t.TraceId, span.Content);
                    if (current == span.Content) return span;
                    var converted = Export.SpanJson.FromContent(t.TraceId, current);
                    converted.SpanId = span.SpanId; converted.ParentSpanId = span.ParentSpanId;
                    return converted;
                }).ToList();
            }
            return copy;
        }
    }
}
