using System.Collections.Generic;
using MlTraces.Core.Json;
using MlTraces.Core.Store;

namespace MlTraces.Core.Retention
{
    /// <summary>An experiment's archival tags, read leniently and written byte for byte as MLflow writes them
    /// (json.dumps: {"type": "duration", "value": "30d"}, {} and {"older_than": "1d"}).</summary>
    public static class ExperimentArchivalTags
    {
        public const string RetentionKey = "mlflow.trace.archivalRetention";
        public const string ArchiveNowKey = "mlflow.trace.archiveNow";

        public static string RetentionValue(RetentionDuration d) =>
            new JsonObject().Set("type", "duration").Set("value", d.Text).ToPythonJson();

        public static string ArchiveNowValue(RetentionDuration? olderThan) =>
            olderThan == null ? "{}" : new JsonObject().Set("older_than", olderThan.Text).ToPythonJson();

        /// <summary>The retention override, or null with the reason it is ignored (MLflow warns and ignores it).</summary>
        public static RetentionDuration? ParseRetention(string? raw, out string? problem)
        {
            problem = null;
            if (raw == null) return null;
            if (!(TryObject(raw) is JsonObject o)) { problem = "Trace archival config must be encoded as a JSON object."; return null; }
            if (o["type"]?.AsString() != "duration") { problem = "Trace archival config must use type 'duration'."; return null; }
            try { return RetentionDuration.Parse(o["value"]?.AsString()); }
            catch (InvalidParameterException ex) { problem = ex.Message; return null; }
        }

        /// <summary>A pending archive-now request: true with its older_than (null: no age limit); false if none or malformed.</summary>
        public static bool ParseArchiveNow(string? raw, out RetentionDuration? olderThan, out string? problem)
        {
            olderThan = null; problem = null;
            if (raw == null) return false;
            if (!(TryObject(raw) is JsonObject o)) { problem = "Trace archival config must be encoded as a JSON object."; return false; }
            var node = o["older_than"];
            if (node == null || node is JsonNull) return true;
            try { olderThan = RetentionDuration.Parse(node.AsString()); return true; }
            catch (InvalidParameterException ex) { problem = ex.Message; return false; }
        }

        private static JsonNode? TryObject(string raw)
        {
            try { return JsonNode.Parse(raw); } catch (JsonException) { return null; }
        }

        /// <summary>The archival tags of the given experiments.</summary>
        public static Dictionary<string, Dictionary<string, string?>> Read(TraceStore store, IEnumerable<string> experimentIds)
        {
            var result = new Dictionary<string, Dictionary<string, string?>>();
            var ids = new List<object?>();
            foreach (var id in experimentIds) { ids.Add(long.Parse(id, System.Globalization.CultureInfo.InvariantCulture)); result[id] = new Dictionary<string, string?>(); }
            if (ids.Count == 0) return result;
            var p = new SqlParameters();
            using var cmd = store.Command(
                $"SELECT experiment_id, \"key\", value FROM experiment_tags WHERE \"key\" IN ({p.Add(RetentionKey)}, {p.Add(ArchiveNowKey)}) AND experiment_id IN ({p.AddList(ids)})", p);
            using var r = store.Translate(() => cmd.ExecuteReader());
            while (r.Read())
                result[System.Convert.ToString(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!][r.GetString(1)] = r.IsDBNull(2) ? null : r.GetString(2);
            return result;
        }

        /// <summary>Sets (value not null) or removes (value null) one experiment tag.</summary>
        public static void Write(TraceStore store, string experimentId, string key, string? value)
        {
            var p = new SqlParameters();
            long id = long.Parse(experimentId, System.Globalization.CultureInfo.InvariantCulture);
            string sql = value == null
                ? $"DELETE FROM experiment_tags WHERE \"key\" = {p.Add(key)} AND experiment_id = {p.Add(id)}"
                : $"INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES ({p.Add(key)}, {p.Add(value)}, {p.Add(id)}) " +
                  "ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value";
            using var cmd = store.Command(sql, p);
            store.Translate(() => cmd.ExecuteNonQuery());
        }
    }
}
