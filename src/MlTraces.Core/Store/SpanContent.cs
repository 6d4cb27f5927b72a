using System.Collections.Generic;

namespace MlTraces.Core.Store
{
    // Temporary bridge until SpanJson (Export/) lands: the span JSON is kept verbatim.
    internal static class SpanContent
    {
        public static Span Parse(string traceId, string content) => new Span { TraceId = traceId, Content = content };
        public static List<Span> ParseTracesJson(string traceId, string text) => new List<Span>();
    }
}
