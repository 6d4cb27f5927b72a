using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MlTraces.Core.Store
{
    public enum ImportOutcome { Imported, AlreadyExists, ExperimentNotFound, CannotHold,
        /// <summary>The store refused one of the trace's rows (a duplicate assessment id, a value too long for
        /// its column): the trace's writes were rolled back to its savepoint, the rest of the batch went on.</summary>
        Refused,
        /// <summary>No target experiment was given, and the experiment of the trace's number here has another name
        /// than the one the trace came from.</summary>
        ExperimentNameDiffers,
        /// <summary>A span MLflow cannot load (Span.from_dict refuses it): it does not name its trace.</summary>
        MalformedSpan,
        /// <summary>A value MLflow's start_trace refuses as too long on this store (its session id or name).</summary>
        TooLong }

    public sealed class ImportResult
    {
        public Trace Trace { get; set; } = null!;
        public ImportOutcome Outcome { get; set; }
        public string? Message { get; set; }

        /// <summary>The trace's error, with its stable id, or null when it was imported.</summary>
        public MlTracesException? Error() => Outcome switch
        {
            ImportOutcome.Imported => null,
            ImportOutcome.AlreadyExists => new MlTracesException(ErrorKind.AlreadyExists, "TraceAlreadyExists", Message ?? ""),
            ImportOutcome.ExperimentNotFound => new MlTracesException(ErrorKind.NotFound, "ExperimentNotFound", Message ?? ""),
            ImportOutcome.ExperimentNameDiffers => new MlTracesException(ErrorKind.InvalidArgument, "ExperimentNameDiffers", Message ?? ""),
            ImportOutcome.Refused => new MlTracesException(ErrorKind.InvalidData, "TraceRefusedByStore", Message ?? ""),
            ImportOutcome.MalformedSpan => new MlTracesException(ErrorKind.InvalidData, "MalformedSpan", Message ?? ""),
            ImportOutcome.TooLong => new MlTracesException(ErrorKind.InvalidData, "TraceValueTooLong", Message ?? ""),
            _ => new MlTracesException(ErrorKind.UnsupportedStore, "StoreCannotHoldTrace", Message ?? ""),
        };
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

        /// <summary>Said once per experiment into which traces were filed by number alone (their experiment's
        /// name was not known); the caller shows and clears them.</summary>
        public List<string> Warnings { get; } = new List<string>();
        private readonly HashSet<string> _filedByNumber = new HashSet<string>(StringComparer.Ordinal);

        public Experiment? FindExperiment(string id) => _experiments.TryGetValue(id, out var e) ? e : null;

        /// <summary>The store's artifact root, read off experiment 0 (MLflow puts each experiment at root/id).</summary>
        private string ArtifactRoot()
        {
            var zero = FindExperiment("0");
            string? loc = zero?.ArtifactLocation;
            if (loc != null && loc.EndsWith("/0", StringComparison.Ordinal)) return loc.Substring(0, loc.Length - 2);
            return "mlflow-artifacts:";
        }

        /// <summary>Imports a batch; <paramref name="targetExperimentId"/> overrides each trace's own experiment.
        /// Without it a trace goes to the experiment of its number, and only if that one has the name the trace's
        /// experiment had where it came from, when <paramref name="sourceExperimentName"/> knows it.</summary>
        public List<ImportResult> Import(IReadOnlyList<Trace> traces, string? targetExperimentId, Func<Trace, string?>? sourceExperimentName = null)
        {
            var results = new List<ImportResult>();
            _store.Translate(() =>
            {
                using var tx = _store.BeginTransaction();
                using var writer = new TraceWriter(_store, tx);
                foreach (var original in traces)
                {
                    var refusal = Refusal(original, targetExperimentId, sourceExperimentName, out var experiment, out string? sourceName);
                    var result = refusal ?? new ImportResult { Trace = original };
                    results.Add(result);
                    if (refusal != null) continue;
                    if (writer.Exists(original.TraceId))
                    {
                        result.Outcome = ImportOutcome.AlreadyExists;
                        result.Message = $"Trace '{original.TraceId}' already exists in the store '{_store.Name}'; it was not imported again.";
                        continue;
                    }
                    var trace = Retarget(original, experiment!);
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
                    if (targetExperimentId == null && sourceName == null && _filedByNumber.Add(experiment!.ExperimentId))
                        Warnings.Add($"Traces were filed by experiment number into experiment {experiment.ExperimentId} ('{UserText.Printable(UserText.Shorten(experiment.Name))}') of '{_store.Name}': "
                            + "MLflow's trace JSON records an experiment's number, not its name, so whether they came from an experiment of that name is not known. "
                            + "To file traces from another store by name, import them with -ExperimentName <name> (created if missing).");
                }
                RollupQueue.Invalidate(_store, tx, results.Where(r => r.Outcome == ImportOutcome.Imported).Select(r => r.Trace.TraceId).ToList(),
                    DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                tx.Commit();
                return 0;
            });
            return results;
        }

        /// <summary>Why the trace cannot be imported into this store whatever its experiment: MLflow could not load
        /// it (<see cref="Unloadable"/>), or would refuse a value of it as too long on this layout
        /// (<see cref="TraceAnalytics.LengthProblem"/>). Null when neither.</summary>
        public ImportResult? Unwritable(Trace original)
        {
            if (Unloadable(original) is ImportResult unloadable) return unloadable;
            if (!(TraceAnalytics.LengthProblem(original.Tags, original.Metadata, _store.Layout.PromotedTraceColumns) is string tooLong)) return null;
            return new ImportResult
            {
                Trace = original, Outcome = ImportOutcome.TooLong,
                Message = $"Trace '{UserText.Shorten(original.TraceId, 60)}' was not imported: {tooLong}. Shorten the value in the trace JSON and import it again; the other traces were imported.",
            };
        }

        /// <summary>Why MLflow could not load the trace once imported, whatever the target: MLflow reads trace JSON
        /// with Trace.from_dict, whose Span.from_dict refuses a span that does not name its trace (nor could its
        /// archival pass archive it). Null when every span names it.</summary>
        private static ImportResult? Unloadable(Trace original)
        {
            if (!(original.Spans?.FirstOrDefault(s => !Export.SpanJson.NamesItsTrace(s)) is Span unnamed)) return null;
            return new ImportResult
            {
                Trace = original, Outcome = ImportOutcome.MalformedSpan,
                Message = $"Trace '{UserText.Shorten(original.TraceId, 60)}' was not imported: its span '{UserText.Shorten(UserText.Printable(unnamed.SpanId), 40)}' "
                    + $"has no {Export.SpanJson.TraceRequestIdAttribute} attribute (or an empty one), and MLflow cannot load such a span. "
                    + "Export the trace again from a store MLflow wrote, or give each span that attribute with the trace's id.",
            };
        }

        /// <summary>Why a trace cannot go where it is headed (a bad id, no experiment of its number, an experiment of
        /// its number with another name), known before anything is written: a dry run reports it as the real run
        /// does. Null when it may be imported.</summary>
        public ImportResult? Refusal(Trace original, string? targetExperimentId, Func<Trace, string?>? sourceExperimentName) =>
            Refusal(original, targetExperimentId, sourceExperimentName, out _, out _);

        private ImportResult? Refusal(Trace original, string? targetExperimentId, Func<Trace, string?>? sourceExperimentName,
            out Experiment? experiment, out string? sourceName)
        {
            experiment = null; sourceName = null;
            // The importer builds the artifact location from the id: the id rule holds here too, whoever calls.
            if (TraceIds.Problem(original.TraceId) is string badId)
                return new ImportResult { Trace = original, Outcome = ImportOutcome.CannotHold, Message = $"A trace was not imported: {badId}" };
            if (Unwritable(original) is ImportResult unwritable) return unwritable;
            string experimentId = targetExperimentId ?? original.ExperimentId;
            experiment = FindExperiment(experimentId);
            if (experiment == null)
                return new ImportResult
                {
                    Trace = original, Outcome = ImportOutcome.ExperimentNotFound,
                    Message = $"Experiment {experimentId} of trace '{original.TraceId}' does not exist in the store '{_store.Name}'. Import into an experiment with -ExperimentName (created if missing) or -ExperimentId.",
                };
            sourceName = targetExperimentId == null ? sourceExperimentName?.Invoke(original) : null;
            if (sourceName != null && sourceName != experiment.Name)
                return new ImportResult { Trace = original, Outcome = ImportOutcome.ExperimentNameDiffers, Message = NameDiffers(original, sourceName, experiment) };
            return null;
        }

        private string NameDiffers(Trace t, string sourceName, Experiment here)
        {
            string name = UserText.Printable(sourceName);
            return $"Trace '{UserText.Shorten(t.TraceId, 60)}' was not imported: it comes from experiment {UserText.Shorten(t.ExperimentId, 60)} '{name}', "
                + $"but experiment {here.ExperimentId} of the store '{_store.Name}' is '{UserText.Printable(here.Name)}'. "
                + $"To import it into an experiment of its own name, pass -ExperimentName '{name.Replace("'", "''")}' (created if missing); "
                + $"to put it into '{UserText.Printable(here.Name)}' anyway, pass -ExperimentId {here.ExperimentId}.";
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

    /// <summary>
    /// The name of the experiment a trace object came from, read from the trace's own store (a trace carries its
    /// store's URI and its experiment's number, not the name). Unknown (null) for traces read from a file, whose
    /// MLflow trace JSON records the number only, and for a store that cannot be read now (said in a warning).
    /// </summary>
    public sealed class SourceExperimentNames
    {
        private readonly Func<string, TrackingUri> _parse;
        private readonly Dictionary<string, Dictionary<string, string>?> _byStore = new Dictionary<string, Dictionary<string, string>?>(StringComparer.Ordinal);
        public List<string> Warnings { get; } = new List<string>();

        /// <param name="parse">Reads a trace's TrackingUri as the caller resolves store names (paths relative to its location).</param>
        public SourceExperimentNames(Func<string, TrackingUri> parse) { _parse = parse; }

        public string? Of(Trace t)
        {
            if (string.IsNullOrEmpty(t.TrackingUri)) return null;
            if (!_byStore.TryGetValue(t.TrackingUri!, out var names))
                _byStore[t.TrackingUri!] = names = Read(t.TrackingUri!);
            return names != null && names.TryGetValue(t.ExperimentId, out var name) ? name : null;
        }

        private Dictionary<string, string>? Read(string uri)
        {
            try
            {
                using var store = TraceStore.Open(_parse(uri), StoreAccess.ReadOnly);
                return Experiments.All(store).ToDictionary(e => e.ExperimentId, e => e.Name, StringComparer.Ordinal);
            }
            catch (Exception ex) when (ex is MlTracesException || ex is ArgumentException || ex is NotSupportedException)
            {
                Warnings.Add($"The names of the experiments in '{UserText.Shorten(uri)}', where piped traces come from, cannot be read ({ex.Message}); its traces are filed by experiment number.");
                return null;
            }
        }
    }
}
