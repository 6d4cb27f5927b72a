using System.Collections.Generic;
using System.Management.Automation;
using MlTraces.Core.Store;
using MlTraces.Core.Spans;

namespace MlTraces.Commands
{
    /// <summary>Gets traces by id, with their tags, metadata, assessments and spans.</summary>
    [Cmdlet(VerbsCommon.Get, "Trace")]
    [OutputType(typeof(Trace))]
    public sealed class GetTraceCommand : PayloadStoreCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("RequestId")]
        [ValidateNotNullOrEmpty]
        public string[] TraceId { get; set; } = new string[0];


        /// <summary>Leaves spans out, for a quick look at many traces.</summary>
        [Parameter]
        public SwitchParameter ExcludeSpans { get; set; }

        // Ids from the pipeline are read in batches; a batch belongs to one store.
        private readonly List<string> _pending = new List<string>();
        private string? _pendingUri;

        protected override void ProcessInput()
        {
            string uriKey = TrackingUri ?? "";
            if (_pending.Count > 0 && uriKey != _pendingUri) PerInput(Flush);
            _pendingUri = uriKey;
            string? savedUri = TrackingUri;
            foreach (var id in TraceId)
            {
                if (!AcceptTraceId(id)) continue;
                _pending.Add(id);
                if (_pending.Count >= TraceReader.BatchSize) Flush();
            }
            TrackingUri = savedUri;
        }

        protected override void EndProcessing()
        {
            PerInput(Flush);
            base.EndProcessing();
        }

        private void Flush()
        {
            if (_pending.Count == 0) return;
            var ids = new List<string>(_pending);
            _pending.Clear();
            TrackingUri = _pendingUri == "" ? null : _pendingUri;
            List<Trace> found = new List<Trace>();
            var spanLoader = (SpanLoader?)null;
            Terminating(() =>
            {
                var store = OpenStore();
                var reader = new TraceReader(store);
                found = reader.GetInfos(ids);
                spanLoader = new SpanLoader(store, ObjectSettings);
                reader.Hydrate(found);
                if (!ExcludeSpans) spanLoader.Load(found);
            });
            if (spanLoader != null) WriteWarnings(spanLoader.Warnings);
            var byId = new Dictionary<string, Trace>();
            foreach (var t in found) byId[t.TraceId] = t;
            foreach (var id in ids)
            {
                if (byId.TryGetValue(id, out var trace)) WriteObject(trace);
                else WriteError(ErrorRecords.NotFound(
                    $"Trace '{id}' was not found in the store '{ResolveUri().Original}'.", "TraceNotFound", id));
            }
        }
    }
}
