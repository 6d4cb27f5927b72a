using System.Collections.Generic;
using MlTraces.Core.Store;

namespace MlTraces.Core.Retention
{
    /// <summary>
    /// One change to experiments' trace archival tags, as `mlflow experiments update` makes it: MLflow's rules on
    /// which options go together, what each experiment's change says, and the tags written in one transaction per
    /// experiment.
    /// </summary>
    public sealed class RetentionUpdate
    {
        private readonly RetentionDuration? _retention, _olderThan;
        private readonly bool _clearRetention, _archiveNow, _clearArchiveNow;

        private RetentionUpdate(RetentionDuration? retention, bool clearRetention, bool archiveNow, RetentionDuration? olderThan, bool clearArchiveNow)
        {
            _retention = retention; _clearRetention = clearRetention; _archiveNow = archiveNow; _olderThan = olderThan; _clearArchiveNow = clearArchiveNow;
        }

        /// <summary>MLflow's rules, in PowerShell's parameter names; durations as MLflow writes them ("30d").</summary>
        public static RetentionUpdate Create(string? retention, bool clearRetention, bool archiveNow, string? olderThan, bool clearArchiveNow)
        {
            if (retention != null && clearRetention)
                throw new InvalidParameterException("Cannot specify both -Retention and -ClearRetention.", "ConflictingParameters");
            if (olderThan != null && !archiveNow)
                throw new InvalidParameterException("-OlderThan goes with -ArchiveNow: it limits the archive-now request to older traces.", "ConflictingParameters");
            if (clearArchiveNow && archiveNow)
                throw new InvalidParameterException("Cannot specify -ClearArchiveNow together with archive-now request flags.", "ConflictingParameters");
            if (retention == null && !clearRetention && !archiveNow && !clearArchiveNow)
                throw new InvalidParameterException("Must specify at least one update option: -Retention, -ClearRetention, -ArchiveNow or -ClearArchiveNow.", "NoUpdateGiven");
            return new RetentionUpdate(retention == null ? null : RetentionDuration.Parse(retention, "Retention"), clearRetention,
                archiveNow, olderThan == null ? null : RetentionDuration.Parse(olderThan, "OlderThan"), clearArchiveNow);
        }

        /// <summary>What the update does to an experiment whose tags are <paramref name="current"/>, in MLflow's words,
        /// and the tags it writes (a null value removes the tag).</summary>
        public (string Summary, List<KeyValuePair<string, string?>> Writes) For(IReadOnlyDictionary<string, string?> current)
        {
            var changes = new List<string>();
            var writes = new List<KeyValuePair<string, string?>>();
            if (_retention != null)
            {
                changes.Add($"set trace archival retention to {_retention.Text}");
                writes.Add(new KeyValuePair<string, string?>(ExperimentArchivalTags.RetentionKey, ExperimentArchivalTags.RetentionValue(_retention)));
            }
            if (_clearRetention)
            {
                changes.Add(current.ContainsKey(ExperimentArchivalTags.RetentionKey)
                    ? "cleared trace archival retention override" : "trace archival retention override was already unset");
                writes.Add(new KeyValuePair<string, string?>(ExperimentArchivalTags.RetentionKey, null));
            }
            if (_archiveNow)
            {
                changes.Add(_olderThan == null ? "requested archive-now on the next scheduler pass"
                    : $"requested archive-now for traces older than {_olderThan.Text} on the next scheduler pass");
                writes.Add(new KeyValuePair<string, string?>(ExperimentArchivalTags.ArchiveNowKey, ExperimentArchivalTags.ArchiveNowValue(_olderThan)));
            }
            if (_clearArchiveNow)
            {
                changes.Add(current.ContainsKey(ExperimentArchivalTags.ArchiveNowKey)
                    ? "cleared pending archive-now request" : "archive-now request was already unset");
                writes.Add(new KeyValuePair<string, string?>(ExperimentArchivalTags.ArchiveNowKey, null));
            }
            return (string.Join("; ", changes), writes);
        }

        /// <summary>Writes one experiment's tags in one transaction.</summary>
        public static void Apply(TraceStore store, string experimentId, IEnumerable<KeyValuePair<string, string?>> writes)
        {
            using var tx = store.BeginTransaction();
            foreach (var w in writes) ExperimentArchivalTags.Write(store, experimentId, w.Key, w.Value);
            tx.Commit();
        }
    }
}
