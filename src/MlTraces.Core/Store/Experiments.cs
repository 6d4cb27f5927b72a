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

        /// <summary>
        /// Adds an active experiment and returns its id, numbered as MLflow numbers them: on PostgreSQL from the
        /// experiments_experiment_id_seq sequence (so the MLflow server's next experiment does not collide), on
        /// SQLite the next integer. The artifact location, which holds the id, is set in the same statement group.
        /// </summary>
        public static long Create(TraceStore store, string name, Func<long, string> artifactLocation)
        {
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var p = new SqlParameters();
            string sql = store.Kind == StoreKind.Postgres
                ? "INSERT INTO experiments (name, lifecycle_stage, creation_time, last_update_time) " +
                  $"VALUES ({p.Add(name)}, 'active', {p.Add(now)}, {p.Add(now)}) RETURNING experiment_id"
                : "INSERT INTO experiments (experiment_id, name, lifecycle_stage, creation_time, last_update_time) " +
                  $"VALUES ((SELECT coalesce(max(experiment_id), -1) + 1 FROM experiments), {p.Add(name)}, 'active', {p.Add(now)}, {p.Add(now)}) RETURNING experiment_id";
            long id;
            using (var cmd = store.Command(sql, p)) id = Convert.ToInt64(store.Translate(() => cmd.ExecuteScalar()), CultureInfo.InvariantCulture);
            var u = new SqlParameters();
            using (var update = store.Command($"UPDATE experiments SET artifact_location = {u.Add(artifactLocation(id))} WHERE experiment_id = {u.Add(id)}", u))
                store.Translate(() => update.ExecuteNonQuery());
            return id;
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

        /// <summary>MLflow's workspace for resources from before workspaces (the column's default).</summary>
        public const string DefaultWorkspace = "default";

        /// <summary>Whether the experiment belongs to the workspace; a store without workspaces holds everything
        /// in the default one, as MLflow's migration puts it there.</summary>
        public static bool InWorkspace(Experiment e, string? workspace) =>
            workspace == null || (e.Workspace ?? DefaultWorkspace) == workspace;

        /// <summary>
        /// The experiments a command works on, by id and name as Search-Trace takes them. With none named: the
        /// active ones (a search's default scope), or with <paramref name="allByDefault"/> every one. With a
        /// workspace, an experiment outside it is reported exactly like one that does not exist, so nothing
        /// about other tenants shows.
        /// </summary>
        public static ExperimentScope Resolve(TraceStore store, IReadOnlyList<string>? ids, IReadOnlyList<string>? names,
            string? workspace, bool allByDefault = false)
        {
            var visible = All(store).FindAll(e => InWorkspace(e, workspace));
            var scope = new ExperimentScope { Experiments = visible };
            if (ids == null && names == null)
            {
                scope.Ids.AddRange(visible.FindAll(e => allByDefault || e.LifecycleStage == "active").ConvertAll(e => e.ExperimentId));
                return scope;
            }
            string where = workspace == null ? $"the store '{store.Uri.Original}'" : $"the workspace '{workspace}' of the store '{store.Uri.Original}'";
            foreach (var id in ids ?? Array.Empty<string>())
            {
                string normalized = NormalizeId(id);
                if (visible.Exists(e => e.ExperimentId == normalized)) scope.Ids.Add(normalized);
                else scope.NotFound.Add(new KeyValuePair<string, string>(id, $"Could not find experiment with ID {id} in {where}."));
            }
            foreach (var name in names ?? Array.Empty<string>())
            {
                var matches = visible.FindAll(e => e.Name == name);
                if (matches.Count == 0) scope.NotFound.Add(new KeyValuePair<string, string>(name, $"Could not find experiment with name '{name}' in {where}."));
                scope.Ids.AddRange(matches.ConvertAll(e => e.ExperimentId));
            }
            var distinct = new List<string>();
            foreach (var id in scope.Ids) if (!distinct.Contains(id)) distinct.Add(id);
            scope.Ids.Clear();
            scope.Ids.AddRange(distinct);
            return scope;
        }
    }

    /// <summary>The experiments a command covers, and the ones asked for that are not there (name or id, message).</summary>
    public sealed class ExperimentScope
    {
        public List<string> Ids { get; } = new List<string>();
        public List<KeyValuePair<string, string>> NotFound { get; } = new List<KeyValuePair<string, string>>();
        /// <summary>Every experiment the command may see (those of the workspace, when one is given).</summary>
        public List<Experiment> Experiments { get; set; } = new List<Experiment>();

        /// <summary>The resolved experiments themselves, in the order of <see cref="Ids"/>.</summary>
        public List<Experiment> Selected => Ids.ConvertAll(id => Experiments.Find(e => e.ExperimentId == id)!);
    }
}
