using System;
using MlTraces.Core.Store;

namespace MlTraces
{
    /// <summary>A summary of a tracking store: where it is, its schema revision and how much it holds.</summary>
    public sealed class StoreInfo
    {
        public string TrackingUri { get; set; } = "";
        public string? Path { get; set; }
        public string? AlembicRevision { get; set; }
        public long Experiments { get; set; }
        public long Traces { get; set; }
        public bool HasSpansTable { get; set; }

        public static StoreInfo Read(TraceStore store)
        {
            long Count(string sql) { using var cmd = store.Command(sql); return Convert.ToInt64(cmd.ExecuteScalar()); }
            return store.Translate(() => new StoreInfo
            {
                TrackingUri = store.Uri.Original,
                Path = store.Uri.FilePath,
                AlembicRevision = store.Layout.AlembicRevision,
                Experiments = Count("SELECT count(*) FROM experiments"),
                Traces = Count("SELECT count(*) FROM trace_info"),
                HasSpansTable = store.Layout.HasSpans,
            });
        }

        public override string ToString() => TrackingUri;
    }
}
