using System;

namespace MlTraces.Bench
{
    public static class Pg
    {
        /// <summary>The postgresql:// URI with another database name (the server's maintenance database "postgres",
        /// or a copy of the store).</summary>
        public static string WithDatabase(string uri, string database)
        {
            int slash = uri.IndexOf('/', uri.IndexOf("://", StringComparison.Ordinal) + 3);
            int query = uri.IndexOf('?');
            string head = slash >= 0 ? uri.Substring(0, slash) : query >= 0 ? uri.Substring(0, query) : uri;
            return head + "/" + database + (query >= 0 ? uri.Substring(query) : "");
        }
    }
}
