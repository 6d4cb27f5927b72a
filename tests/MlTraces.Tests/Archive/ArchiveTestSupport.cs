using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Archive;
using MlTraces.Core.Export;
using MlTraces.Core.Store;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Archive
{
    /// <summary>Archives traces of a test store the way MLflow's pass leaves them: traces.pb written, then the
    /// finalize step (content emptied, spansLocation/archiveLocation tags set, generation bumped).</summary>
    internal static class ArchiveTestSupport
    {
        public static string ArchiveRoot(TestStore ts) => Path.Combine(ts.Folder, "archive");

        /// <summary>An MLflow server's archival YAML beside the store (archive after a day, to <paramref name="location"/>); its path.</summary>
        public static string Config(TestStore ts, string location)
        {
            string config = Path.Combine(ts.Folder, "archival.yaml");
            File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {location}\n  retention: 1d\n");
            return config;
        }

        /// <summary>Archives one trace and returns its archive folder URI.</summary>
        public static string Archive(TestStore ts, string traceId)
        {
            using var store = ts.Open();
            string exp;
            using (var cmd = store.Command("SELECT experiment_id FROM trace_info WHERE request_id = @id"))
            {
                TraceStore.AddParameter(cmd, "@id", traceId);
                exp = Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
            }
            var spans = new List<Span>();
            using (var cmd = store.Command("SELECT content FROM spans WHERE trace_id = @id ORDER BY span_id"))
            {
                TraceStore.AddParameter(cmd, "@id", traceId);
                using var r = cmd.ExecuteReader();
                while (r.Read()) spans.Add(SpanJson.FromContent(traceId, r.GetString(0)));
            }
            string folderUri = new Uri(Path.Combine(ArchiveRoot(ts), exp, "traces", traceId, "artifacts")).AbsoluteUri;
            FileArchiveRepository.Instance.Write(folderUri, TracePayload.Write(traceId, spans));
            using var tx = store.BeginTransaction();
            Exec(store, "UPDATE spans SET content = '' WHERE trace_id = @id", traceId);
            SetTag(store, traceId, TraceTagKeys.SpansLocation, SpansLocations.ArchiveRepo);
            SetTag(store, traceId, TraceTagKeys.ArchiveLocation, folderUri);
            if (store.Layout.HasDbPayloadGeneration)
                Exec(store, "UPDATE trace_info SET db_payload_generation = db_payload_generation + 1 WHERE request_id = @id", traceId);
            tx.Commit();
            return folderUri;
        }

        public static string PayloadFile(string folderUri) => Path.Combine(new Uri(folderUri).LocalPath, TracePayload.FileName);

        public static void SetTag(TraceStore store, string traceId, string key, string? value)
        {
            Exec(store, "DELETE FROM trace_tags WHERE request_id = @id AND key = @k", traceId, key);
            if (value != null) Exec(store, "INSERT INTO trace_tags (key, value, request_id) VALUES (@k, @v, @id)", traceId, key, value);
        }

        private static void Exec(TraceStore store, string sql, string id, string? key = null, string? value = null)
        {
            using var cmd = store.Command(sql);
            TraceStore.AddParameter(cmd, "@id", id);
            if (key != null) TraceStore.AddParameter(cmd, "@k", key);
            if (value != null) TraceStore.AddParameter(cmd, "@v", value);
            cmd.ExecuteNonQuery();
        }

        public static List<string> TraceIds(TestStore ts)
        {
            using var store = ts.Open(StoreAccess.ReadOnly);
            using var cmd = store.Command("SELECT request_id FROM trace_info ORDER BY request_id");
            using var r = cmd.ExecuteReader();
            var ids = new List<string>();
            while (r.Read()) ids.Add(r.GetString(0));
            return ids;
        }

        /// <summary>A workspaces row with the given archival columns and an experiment in it; returns the experiment id.</summary>
        public static string AddWorkspaceExperiment(TestStore ts, string workspace, string? location, string? retention, string experimentName)
        {
            Query.QueryTestSupport.Execute(ts, "INSERT INTO workspaces (name, description, trace_archival_location, trace_archival_retention) VALUES ({0}, 'x', {1}, {2})",
                workspace, location, retention);
            string e = ts.AddExperiment(experimentName);
            Query.QueryTestSupport.Execute(ts, "UPDATE experiments SET workspace = {0} WHERE experiment_id = {1}", workspace, long.Parse(e));
            return e;
        }

        /// <summary>Runs with MLFLOW_ENABLE_WORKSPACES=true (process-wide: only in the ProcessEnvironmentCollection).</summary>
        public static void WithWorkspaces(Action run)
        {
            Environment.SetEnvironmentVariable(Core.Retention.RetentionPolicy.WorkspacesVariable, "true");
            try { run(); }
            finally { Environment.SetEnvironmentVariable(Core.Retention.RetentionPolicy.WorkspacesVariable, null); }
        }

        /// <summary>Everything Get-Trace says about a trace's spans, as one comparable text per span.</summary>
        public static List<string> Describe(Trace t) => t.Spans!.Select(s => string.Join("|", s.SpanId, s.ParentSpanId, s.Name, s.SpanType,
            s.Status, s.StatusMessage, s.StartTimeUnixNano, s.EndTimeUnixNano,
            string.Join(",", s.Attributes.Select(kv => kv.Key + "=" + kv.Value)), s.Content)).ToList();
    }
}
