namespace MlTraces.Core.Store
{
    /// <summary>
    /// What a trace id MLflow could have written looks like: "tr-" and 32 hex digits (MLflow 3), 32 hex digits
    /// (MLflow 2), or the short ids MLflow's own tests write ("tr-123", "trace1"): at most 50 characters
    /// (request_id is VARCHAR(50)) of letters, digits, '-', '_' and '.'. Anything else is a mistake (a wildcard, a
    /// stray quote or space, a whole line of a file) and is refused before it reaches a store.
    /// </summary>
    public static class TraceIds
    {
        public const int MaxLength = 50;

        /// <summary>Why the id cannot be an MLflow trace id, or null when it can.</summary>
        public static string? Problem(string? id)
        {
            if (string.IsNullOrEmpty(id)) return "A trace id is empty. " + Forms;
            if (id!.Length > MaxLength)
                return $"'{UserText.Shorten(id, 60)}' is {id.Length} characters long; MLflow trace ids have at most {MaxLength}. " + Forms;
            foreach (char c in id)
            {
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                if (ok) continue;
                string shown = char.IsWhiteSpace(c) || char.IsControl(c) ? $"U+{(int)c:X4}" : $"'{c}'";
                string hint = c == '*' || c == '?' || c == '%' || c == '['
                    ? " Trace ids are exact, not wildcards: select traces by their properties with -Filter."
                    : "";
                return $"'{UserText.Shorten(id, 60)}' contains {shown}, which no MLflow trace id has. " + Forms + hint;
            }
            return null;
        }

        private const string Forms = "Trace ids are 'tr-' followed by 32 hex digits (MLflow 3) or 32 hex digits (MLflow 2).";
    }
}
