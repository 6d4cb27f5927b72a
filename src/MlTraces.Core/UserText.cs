using System.Globalization;

namespace MlTraces.Core
{
    /// <summary>How text the user gave (a filter, a token, an id, a line of a file) is echoed in a message: whole when
    /// short, else its start and its length, so a 2 MB input never makes a 6 MB error.</summary>
    public static class UserText
    {
        public const int MaxEcho = 200;

        public static string Shorten(string? text, int max = MaxEcho)
        {
            if (text == null) return "";
            if (text.Length <= max) return text;
            int cut = max;
            // Never split a surrogate pair: half a character is not text.
            if (char.IsHighSurrogate(text[cut - 1])) cut--;
            return text.Substring(0, cut) + "... (" + text.Length.ToString("N0", CultureInfo.InvariantCulture) + " characters)";
        }

        /// <summary>Control characters shown as code points, so a message never carries a NUL or an escape.</summary>
        public static string Printable(string text)
        {
            var sb = new System.Text.StringBuilder(text.Length);
            foreach (char c in text) sb.Append(char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString());
            return sb.ToString();
        }

        /// <summary>A whole message bounded: its start and its end (where the advice is) kept, the middle, where
        /// echoed input sits, left out. The net under every MlTraces error, for echoes no call site cut.</summary>
        public static string Bound(string message, int max)
        {
            if (message.Length <= max) return message;
            int tail = max / 3, head = max - tail;
            if (char.IsHighSurrogate(message[head - 1])) head--;
            if (char.IsLowSurrogate(message[message.Length - tail])) tail--;
            return message.Substring(0, head) + " ... (" + (message.Length - head - tail).ToString("N0", CultureInfo.InvariantCulture)
                + " characters left out) ... " + message.Substring(message.Length - tail);
        }
    }
}
