using System;

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

        public override string ToString() => TrackingUri;
    }
}
