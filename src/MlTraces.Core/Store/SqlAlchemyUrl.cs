using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// SQLAlchemy's own reading of a database URL (sqlalchemy/engine/url.py, _parse_url, 1.4 to 2.x), so that a
    /// tracking URI means to MlTraces what it means to MLflow: the password runs to the first '@' and may hold '/',
    /// '?', ':' and '#' unencoded; user and password are percent-decoded (urllib's unquote), host and database are
    /// not; the query is urllib's parse_qsl.
    /// </summary>
    internal static class SqlAlchemyUrl
    {
        // The pattern as SQLAlchemy writes it (re.X), anchored at the start as Python's re.match is.
        private static readonly Regex Pattern = new Regex(@"\A
            (?<name>[\w\+]+)://
            (?:
                (?<username>[^:/]*)
                (?::(?<password>[^@]*))?
            @)?
            (?:
                (?:
                    \[(?<ipv6host>[^/\?]+)\] |
                    (?<ipv4host>[^/:\?]+)
                )?
                (?::(?<port>[^/\?]*))?
            )?
            (?:/(?<database>[^\?]*))?
            (?:\?(?<query>.*))?
            ", RegexOptions.IgnorePatternWhitespace | RegexOptions.CultureInvariant);

        internal sealed class Parts
        {
            public Group UserName = null!, Password = null!, Ipv6Host = null!, Ipv4Host = null!, Port = null!, Database = null!, Query = null!;
        }

        public static Parts? Parse(string text)
        {
            var m = Pattern.Match(text);
            if (!m.Success) return null;
            return new Parts
            {
                UserName = m.Groups["username"], Password = m.Groups["password"], Ipv6Host = m.Groups["ipv6host"],
                Ipv4Host = m.Groups["ipv4host"], Port = m.Groups["port"], Database = m.Groups["database"], Query = m.Groups["query"],
            };
        }

        /// <summary>Where the host and port end, and whether they hold an '@': the sign of a password with an unencoded
        /// '@', whose rest SQLAlchemy takes for the host.</summary>
        public static (int End, bool HostHasAt) AuthorityEnd(Parts p)
        {
            int end = 0;
            bool at = false;
            foreach (var g in new[] { p.Ipv6Host, p.Ipv4Host, p.Port })
            {
                if (!g.Success) continue;
                end = System.Math.Max(end, g.Index + g.Length + (g == p.Ipv6Host ? 1 : 0));
                at |= g.Value.IndexOf('@') >= 0;
            }
            return (end, at);
        }

        /// <summary>urllib.parse.parse_qsl with its defaults: '&amp;' separates, a pair without '=' or with an empty
        /// value is dropped, '+' is a space, escapes are decoded.</summary>
        public static IEnumerable<(string Key, string Value)> ParseQsl(string query)
        {
            foreach (string pair in query.Split('&'))
            {
                if (pair.Length == 0) continue;
                int eq = pair.IndexOf('=');
                if (eq < 0 || eq == pair.Length - 1) continue;
                yield return (Unquote(pair.Substring(0, eq).Replace('+', ' ')), Unquote(pair.Substring(eq + 1).Replace('+', ' ')));
            }
        }

        /// <summary>urllib.parse.unquote: %XX runs are UTF-8 bytes, undecodable ones become U+FFFD; a '%' without two hex
        /// digits stays as it is.</summary>
        public static string Unquote(string text)
        {
            if (text.IndexOf('%') < 0) return text;
            var s = new StringBuilder(text.Length);
            var bytes = new List<byte>();
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == '%' && i + 2 < text.Length && IsHex(text[i + 1]) && IsHex(text[i + 2]))
                {
                    bytes.Add((byte)(Hex(text[i + 1]) * 16 + Hex(text[i + 2])));
                    i += 2;
                    continue;
                }
                Flush();
                s.Append(text[i]);
            }
            Flush();
            return s.ToString();

            void Flush()
            {
                if (bytes.Count == 0) return;
                s.Append(Encoding.UTF8.GetString(bytes.ToArray()));
                bytes.Clear();
            }
        }

        private static bool IsHex(char c) => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        private static int Hex(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    }
}
