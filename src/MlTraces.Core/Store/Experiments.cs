using System;
using System.Collections.Generic;
using System.Globalization;

namespace MlTraces.Core.Store
{
    /// <summary>Looks experiments up by id and name, as MLflow scopes trace searches.</summary>
    public static class Experiments
    {
        public static List<Experiment> All(TraceStore store)
        {
            var result = new List<Experiment>();
            string workspace = store.Layout.HasExperimentWorkspace ? ", workspace" : "";
            using var cmd = store.Command($"SELECT experiment_id, name, artifact_location, lifecycle_stage{workspace} FROM experiments ORDER BY experiment_id");
            using var r = store.Translate(() => cmd.ExecuteReader());
            while (r.Read())
                result.Add(new Experiment
                {
                    ExperimentId = Convert.ToString(r.GetValue(0), CultureInfo.InvariantCulture) ?? "",
                    Name = r.GetString(1),
                    ArtifactLocation = r.IsDBNull(2) ? null : r.GetString(2),
                    LifecycleStage = r.IsDBNull(3) ? "active" : r.GetString(3),
                    Workspace = store.Layout.HasExperimentWorkspace && !r.IsDBNull(4) ? r.GetString(4) : null,
                });
            return result;
        }

        /// <summary>The experiment with this id, or null. An id that is not an integer is an error, as in MLflow.</summary>
        public static Experiment? ById(TraceStore store, string id) =>
            All(store).Find(e => e.ExperimentId == NormalizeId(id));

        public static string NormalizeId(string id)
        {
            if (!long.TryParse(id.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n))
                throw new InvalidParameterException($"Invalid experiment ID '{id}': MLflow experiment IDs in a SQL store are integers.", "InvalidExperimentId");
            return n.ToString(CultureInfo.InvariantCulture);
        }

        /// <summary>Experiments with this name (one per workspace at most).</summary>
        public static List<Experiment> ByName(TraceStore store, string name) => All(store).FindAll(e => e.Name == name);

        /// <summary>The default scope of a search: every active experiment.</summary>
        public static List<Experiment> Active(TraceStore store) => All(store).FindAll(e => e.LifecycleStage == "active");
    }
}
