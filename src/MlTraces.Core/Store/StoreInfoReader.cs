using System;

namespace MlTraces.Core.Store
{
    /// <summary>Reads a <see cref="StoreInfo"/>: the model holds values, the store runs the SQL.</summary>
    public static class StoreInfoReader
    {
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
    }
}
