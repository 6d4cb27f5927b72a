using System.Collections.Generic;

namespace MlTraces.Core.Query
{
    /// <summary>What a filter clause compares, after MLflow's key mapping (e.g. <c>name</c> is the tag
    /// <c>mlflow.traceName</c>, <c>run_id</c> the metadata <c>mlflow.sourceRun</c>, <c>text</c> span content).</summary>
    public enum FilterEntity
    {
        /// <summary>A trace_info column: request_id, timestamp_ms, execution_time_ms, end_time_ms, status, client_request_id.</summary>
        Attribute,
        Tag,
        Metadata,
        /// <summary>A span column (name, type, status, content) or <c>attributes.&lt;name&gt;</c>.</summary>
        Span,
        Feedback,
        Expectation,
        /// <summary>issue.id: an assessment of type issue whose name is the value.</summary>
        Issue,
    }

    /// <summary>One AND-ed clause of a filter string, validated the way MLflow validates it.</summary>
    public sealed class FilterClause
    {
        public FilterClause(FilterEntity entity, string key, string comparator, object? value, string text)
        {
            Entity = entity; Key = key; Comparator = comparator; Value = value; Text = text;
        }

        public FilterEntity Entity { get; }
        /// <summary>Attribute column name (timestamp_ms, not the alias timestamp), tag/metadata key, span key
        /// (name, type, status, content, attributes.x) or assessment name.</summary>
        public string Key { get; }
        /// <summary>Upper case: = != &lt; &lt;= &gt; &gt;= LIKE ILIKE RLIKE IN NOT IN IS NULL IS NOT NULL.</summary>
        public string Comparator { get; }
        /// <summary>A string, a long or double (numeric attributes only), a list of strings (IN / NOT IN),
        /// or null (IS NULL / IS NOT NULL).</summary>
        public object? Value { get; }
        /// <summary>The clause as it was written.</summary>
        public string Text { get; }

        public string? StringValue => Value as string;
        public IReadOnlyList<string>? ListValue => Value as IReadOnlyList<string>;

        public override string ToString() => Text;
    }
}
