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
    }
}
