using System;
using System.Collections.Generic;
using System.Linq;
using MlTraces.Core.Store;
using MlTraces.Shell;

namespace MlTraces.Bench
{
    /// <summary>Where the fixed cost of one Search-Trace call goes (engine, store opening, the search itself).</summary>
    public static class ProfileBench
    {
        public static int Run(Args a)
        {
            if (Environment.GetEnvironmentVariable("PRINT_SQL") is string f)
            {
                using var s0 = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var p = new SqlParameters();
                var w = new List<string>();
                Console.WriteLine(MlTraces.Core.Query.FilterCompiler.CompileWhere(MlTraces.Core.Query.FilterParser.Parse(f), s0.Layout, s0.Dialect, p, w));
                foreach (var kv in p.Values) Console.WriteLine($"{kv.Key} = {kv.Value}");
                return 0; // PrintSql
            }
            using var shell = new ShellSession(width: 120);
            var vars = new Dictionary<string, object?> { ["store"] = a.Store };
            void T(string label, Action act)
            {
                act();
                var times = Enumerable.Range(0, a.Runs).Select(_ => Stats.Time(act)).ToList();
                Console.WriteLine($"{label,-60} {Stats.Median(times),8:0.00} ms");
            }
            if (Environment.GetEnvironmentVariable("LOOP") is string script)
            {
                // For a sampling profiler (dotnet-trace): the script, run over and over for --runs seconds.
                var until = DateTime.UtcNow.AddSeconds(a.Runs);
                while (DateTime.UtcNow < until) shell.Invoke(script, vars);
                return 0;
            }
            if (Environment.GetEnvironmentVariable("AB") != null)
            {
                using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var npg = (Npgsql.NpgsqlConnection)s.Connection;
                var eids = Experiments.Active(s).Select(e => long.Parse(e.ExperimentId)).ToList();
                var reader = new TraceReader(s);
                var clauses = MlTraces.Core.Query.FilterParser.Parse("status = 'ERROR'");
                List<Trace> Page() => PerExperimentWalk.Run(s, eids, (id, p) =>
                {
                    string? where = MlTraces.Core.Query.FilterCompiler.CompileWhere(clauses, s.Layout, s.Dialect, p, new List<string>());
                    return $"SELECT {reader.InfoColumns} FROM trace_info ti WHERE ti.experiment_id = {p.Add(id)} AND ({where}) ORDER BY ti.timestamp_ms DESC, ti.request_id ASC";
                }, PerExperimentWalk.NewestFirst, default, 100).Take(100).ToList();
                // The floor's own plans (SearchBench), on this connection.
                var floorCase = new SearchBench.Case { SqlCondition = "ti.status = 'ERROR'" };
                void FloorWalk() => SearchBench.Walk(npg, SearchBench.ActiveExperiments(npg), floorCase);
                var rows = Page();
                void FloorHydrate() => SearchBench.Hydrate(npg, rows.Select(t => t.TraceId).ToList());
                void StoreCommandRead()
                {
                    var p = new SqlParameters();
                    var idl = rows.Select(t => t.TraceId).ToList();
                    using var cmd = s.Command($"SELECT request_id, \"key\", value FROM trace_tags WHERE {s.Dialect.IsAnyOf("request_id", p, idl)}; SELECT request_id, \"key\", value FROM trace_request_metadata WHERE {s.Dialect.IsAnyOf("request_id", p, idl)}; SELECT assessment_id, trace_id, name, assessment_type, value, error, created_timestamp, last_updated_timestamp, source_type, source_id, run_id, span_id, rationale, overrides, valid, assessment_metadata FROM assessments WHERE {s.Dialect.IsAnyOf("trace_id", p, idl)}", p);
                    using var r = cmd.ExecuteReader();
                    do { while (r.Read()) { for (int k = 0; k < r.FieldCount; k++) r.GetValue(k); } } while (r.NextResult());
                }
                var sc = new List<double>();
                var tp = new List<double>(); var fw = new List<double>(); var th = new List<double>(); var fh = new List<double>();
                for (int i = 0; i < a.Runs; i++)
                {
                    tp.Add(Stats.Time(() => Page()));
                    fw.Add(Stats.Time(FloorWalk));
                    sc.Add(Stats.Time(StoreCommandRead));
                    fh.Add(Stats.Time(FloorHydrate));
                    th.Add(Stats.Time(() => { foreach (var t in rows) { t.Tags.Clear(); t.Metadata.Clear(); t.Assessments.Clear(); } reader.Hydrate(rows); }));
                }
                Console.WriteLine($"page: tool {Stats.Median(tp):0.00} floor {Stats.Median(fw):0.00}; hydrate: tool {Stats.Median(th):0.00} floor {Stats.Median(fh):0.00}, tool's SQL read without objects {Stats.Median(sc):0.00}");
                return 0;
            }
            if (Environment.GetEnvironmentVariable("PHASES") is string phaseFilter)
            {
                // The core's steps of one Search-Trace -First 100 -Filter $PHASES, timed apart (median of --runs).
                var phases = new SortedDictionary<string, List<double>>(StringComparer.Ordinal);
                for (int run = 0; run <= a.Runs; run++)
                {
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    double last = 0;
                    void Mark(string phase)
                    {
                        double now = clock.Elapsed.TotalMilliseconds;
                        if (run > 0) { if (!phases.TryGetValue(phase, out var l)) phases[phase] = l = new List<double>(); l.Add(now - last); }
                        last = now;
                    }
                    using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                    Mark("1 open and layout");
                    var ids = Experiments.Active(s).Select(e => e.ExperimentId).ToList();
                    Mark("2 active experiments");
                    var search = new MlTraces.Core.Search.TraceSearch(s, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment());
                    var rows = search.RunBatches(new MlTraces.Core.Search.SearchOptions { ExperimentIds = ids, Filter = phaseFilter, Limit = 100 }).ToList();
                    Mark("3 page and hydration");
                }
                foreach (var kv in phases) Console.WriteLine($"{kv.Key,-60} {Stats.Median(kv.Value),8:0.00} ms");
                return 0;
            }
            T("engine: $null = 1", () => shell.Invoke("$null = 1"));
            T("open store + detect layout", () => { using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/")); });
            T("Search-Trace -First 1 (no filter)", () => shell.Invoke("$null = Search-Trace -TrackingUri $store -First 1", vars));
            T("Search-Trace -First 100 (no filter)", () => shell.Invoke("$null = Search-Trace -TrackingUri $store -First 100", vars));
            T("core only: no filter first 100", () =>
            {
                using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var ids = Experiments.Active(s).Select(e => e.ExperimentId).ToList();
                new MlTraces.Core.Search.TraceSearch(s, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).Run(new MlTraces.Core.Search.SearchOptions { ExperimentIds = ids, Limit = 100 }).ToList();
            });
            T("core only: no filter first 1", () =>
            {
                using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var ids = Experiments.Active(s).Select(e => e.ExperimentId).ToList();
                new MlTraces.Core.Search.TraceSearch(s, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).Run(new MlTraces.Core.Search.SearchOptions { ExperimentIds = ids, Limit = 1 }).ToList();
            });
            var traces = new List<Trace>();
            using (var s0 = TraceStore.Open(TrackingUri.Parse(a.Store, "/")))
                traces = new MlTraces.Core.Search.TraceSearch(s0, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).Run(new MlTraces.Core.Search.SearchOptions { ExperimentIds = Experiments.Active(s0).Select(e => e.ExperimentId).ToList(), Limit = 100 }).ToList();
            var tv = new Dictionary<string, object?> { ["traces"] = traces };
            T("engine: $null = $traces | ForEach-Object { $_ } (100)", () => shell.Invoke("$null = $traces | ForEach-Object { $_ }", tv));
            T("engine: $null = $traces (100)", () => shell.Invoke("$null = $traces", tv));
            T("Search-Trace status=ERROR -First 100", () => shell.Invoke("$null = Search-Trace -TrackingUri $store -Filter \"status = 'ERROR'\" -First 100", vars));
            T("core only: status=ERROR first 100", () =>
            {
                using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var ids = Experiments.Active(s).Select(e => e.ExperimentId).ToList();
                new MlTraces.Core.Search.TraceSearch(s, MlTraces.Core.Locations.ObjectStoreSettings.FromEnvironment()).Run(new MlTraces.Core.Search.SearchOptions { ExperimentIds = ids, Filter = "status = 'ERROR'", Limit = 100 }).ToList();
            });
            T("core: open + active experiments", () =>
            {
                using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                Experiments.Active(s);
            });
            T("open connection only (pooled)", () => { using var c = TraceStore.OpenConnection(TrackingUri.Parse(a.Store, "/"), StoreAccess.ReadOnly); });
            if (!a.Store.StartsWith("postgresql", StringComparison.Ordinal))
            T("core: rows only (merge, no hydration)", () =>
            {
                using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var reader = new TraceReader(s);
                var ids = Experiments.Active(s).Select(e => e.ExperimentId).ToList();
                var clauses = MlTraces.Core.Query.FilterParser.Parse("status = 'ERROR'");
                var readers = new List<Microsoft.Data.Sqlite.SqliteDataReader>();
                int n = 0;
                foreach (var id in ids)
                {
                    var p = new SqlParameters();
                    string? where = MlTraces.Core.Query.FilterCompiler.CompileWhere(clauses, s.Layout, s.Dialect, p, new List<string>());
                    var cmd = s.Command($"SELECT {reader.InfoColumns} FROM trace_info ti WHERE ti.experiment_id = {p.Add(long.Parse(id))} AND ({where}) ORDER BY ti.timestamp_ms DESC, ti.request_id ASC", p);
                    var r = cmd.ExecuteReader();
                    for (int i = 0; i < 20 && r.Read(); i++) { reader.ReadInfo(r); n++; }
                    r.Dispose();
                }
            });
            {
                using var s = TraceStore.Open(TrackingUri.Parse(a.Store, "/"));
                var reader = new TraceReader(s);
                List<string> ids100;
                using (var cmd = s.Command("SELECT request_id FROM trace_info WHERE experiment_id = 1 ORDER BY timestamp_ms DESC LIMIT 100"))
                using (var r = cmd.ExecuteReader()) { ids100 = new List<string>(); while (r.Read()) ids100.Add(r.GetString(0)); }
                T("core: GetInfos(100) on an open store", () => reader.GetInfos(ids100));
                var infos = reader.GetInfos(ids100);
                foreach (var table in new[] { "trace_tags", "trace_request_metadata" })
                    T("raw: " + table + " IN (100 params), read all", () =>
                    {
                        var p = new SqlParameters();
                        using var cmd = s.Command($"SELECT request_id, \"key\", value FROM {table} WHERE request_id IN ({p.AddList(ids100)})", p);
                        using var r = cmd.ExecuteReader();
                        while (r.Read()) { r.GetString(0); r.GetString(1); if (!r.IsDBNull(2)) r.GetString(2); }
                    });
                T("raw: assessments IN (100 params) ordered, read all", () =>
                {
                    var p = new SqlParameters();
                    using var cmd = s.Command($"SELECT * FROM assessments WHERE trace_id IN ({p.AddList(ids100)}) ORDER BY trace_id, created_timestamp, assessment_id", p);
                    using var r = cmd.ExecuteReader();
                    while (r.Read()) { for (int i = 0; i < r.FieldCount; i++) r.GetValue(i); }
                });
                T("raw: tags+metadata UNION ALL, read all", () =>
                {
                    var p = new SqlParameters();
                    string list = p.AddList(ids100);
                    using var cmd = s.Command($"SELECT 0, request_id, \"key\", value FROM trace_tags WHERE request_id IN ({list}) UNION ALL SELECT 1, request_id, \"key\", value FROM trace_request_metadata WHERE request_id IN ({list})", p);
                    using var r = cmd.ExecuteReader();
                    while (r.Read()) { r.GetInt64(0); r.GetString(1); r.GetString(2); if (!r.IsDBNull(3)) r.GetString(3); }
                });
                T("raw: tags+metadata UNION ALL, literal ids", () =>
                {
                    string list = string.Join(",", ids100.Select(i => "'" + i + "'"));
                    using var cmd = s.Command($"SELECT 0, request_id, \"key\", value FROM trace_tags WHERE request_id IN ({list}) UNION ALL SELECT 1, request_id, \"key\", value FROM trace_request_metadata WHERE request_id IN ({list})");
                    using var r = cmd.ExecuteReader();
                    while (r.Read()) { r.GetInt64(0); r.GetString(1); r.GetString(2); if (!r.IsDBNull(3)) r.GetString(3); }
                });
                T("raw: assessments unordered, read all", () =>
                {
                    var p = new SqlParameters();
                    using var cmd = s.Command($"SELECT * FROM assessments WHERE trace_id IN ({p.AddList(ids100)})", p);
                    using var r = cmd.ExecuteReader();
                    while (r.Read()) { for (int i = 0; i < r.FieldCount; i++) r.GetValue(i); }
                });
                T("core: Hydrate(100) on an open store", () => { foreach (var t in infos) { t.Tags.Clear(); t.Metadata.Clear(); t.Assessments.Clear(); } reader.Hydrate(infos); });
            }
            return 0;
        }
    }
}
