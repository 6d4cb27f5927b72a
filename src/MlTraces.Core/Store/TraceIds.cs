using System;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// What a trace id MLflow could have written looks like: "tr-" and 32 hex digits (MLflow 3), 32 hex digits
    /// (MLflow 2), or the short ids MLflow's own tests write ("tr-123", "trace1"): at most 50 characters
    /// (request_id is VARCHAR(50)) of letters, digits, '-', '_' and '.', usable as exactly one folder name on every
    /// file system (MLflow keeps a trace's files in .../traces/&lt;id&gt;/artifacts). Anything else is a mistake (a
    /// wildcard, a stray quote or space, a whole line of a file) or an attack (".." or "a/../b" in a path), and is
    /// refused at every door: import, -TraceId, piped objects, and again wherever a path is built from an id.
    /// </summary>
    public static class TraceIds
    {
        public const int MaxLength = 50;

        /// <summary>Why the id cannot be an MLflow trace id, or null when it can. The door check.</summary>
        public static string? Problem(string? id)
        {
            if (string.IsNullOrEmpty(id)) return "A trace id is empty. " + Forms;
            if (id!.Length > MaxLength)
                return $"'{UserText.Shorten(UserText.Printable(id), 60)}' is {id.Length} characters long; MLflow trace ids have at most {MaxLength}. " + Forms;
            foreach (char c in id)
            {
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                if (ok) continue;
                string shown = char.IsWhiteSpace(c) || char.IsControl(c) ? $"U+{(int)c:X4}" : c > '~' ? $"'{c}' (U+{(int)c:X4}, not the ASCII letter it may look like)" : $"'{c}'";
                string hint = c == '*' || c == '?' || c == '%' || c == '['
                    ? " Trace ids are exact, not wildcards: select traces by their properties with -Filter."
                    : "";
                return $"'{UserText.Shorten(UserText.Printable(id), 60)}' contains {shown}, which no MLflow trace id has. " + Forms + hint;
            }
            string? segment = PathSegmentProblem(id);
            return segment == null ? null : $"'{id}' {segment}, so it cannot be an MLflow trace id. " + Forms;
        }

        /// <summary>
        /// Why a name cannot be exactly one folder name inside a root on every file system MLflow runs on, or null.
        /// Every path built from store data (trace ids, experiment ids, workspace names) checks its parts here:
        /// "." and ".." step out, separators and ':' split, NUL ends the string early, and Windows drops trailing
        /// dots and spaces and maps device names (CON, NUL, COM1 ...) anywhere in a path to the device.
        /// </summary>
        public static string? PathSegmentProblem(string? name)
        {
            if (string.IsNullOrEmpty(name)) return "is empty";
            if (name == "." || name == "..") return "is a relative folder reference";
            if (name!.Length > 255) return "is longer than a folder name can be";
            foreach (char c in name)
                if (c == '/' || c == '\\' || c == ':' || char.IsControl(c)) return $"contains U+{(int)c:X4}, which splits or ends a path";
            char last = name[name.Length - 1];
            if (last == '.' || last == ' ') return "ends with a dot or space, which Windows drops from folder names";
            string stem = name.Split('.')[0].ToUpperInvariant();
            if (stem == "CON" || stem == "PRN" || stem == "AUX" || stem == "NUL"
                || (stem.Length == 4 && (stem.StartsWith("COM", StringComparison.Ordinal) || stem.StartsWith("LPT", StringComparison.Ordinal)) && stem[3] >= '0' && stem[3] <= '9'))
                return "is a Windows device name";
            return null;
        }

        private const string Forms = "Trace ids are 'tr-' followed by 32 hex digits (MLflow 3) or 32 hex digits (MLflow 2).";
    }
}
