using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// MLflow's schema for PostgreSQL, derived from the SQLite DDL that MLflow's own migrations wrote (the one copy of
    /// the schema we keep). SQLAlchemy renders the same tables, columns, keys and indexes on both databases; only
    /// these differ: BLOB is BYTEA, booleans are native (no CHECK (x IN (0, 1)), defaults false/true), a single
    /// integer primary key is a SERIAL (experiments.experiment_id uses experiments_experiment_id_seq), and generated
    /// columns are STORED.
    /// </summary>
    public static class PostgresSchema
    {
        private static readonly Regex BooleanCheck = new Regex(@",\s*(CONSTRAINT\s+""?\w+""?\s+)?CHECK\s*\(\s*""?\w+""?\s+IN\s*\(\s*0\s*,\s*1\s*\)\s*\)", RegexOptions.IgnoreCase);
        private static readonly Regex BooleanDefault = new Regex(@"\bBOOLEAN\s+DEFAULT\s+\(?'?([01])'?\)?", RegexOptions.IgnoreCase);
        private static readonly Regex SinglePrimaryKey = new Regex(@"PRIMARY KEY\s*\(\s*""?(\w+)""?\s*\)", RegexOptions.IgnoreCase);

        public static IReadOnlyList<string> FromSqlite(IEnumerable<string> sqliteStatements)
        {
            var result = new List<string>();
            foreach (var statement in sqliteStatements) result.Add(Translate(statement));
            return result;
        }

        public static string Translate(string sql)
        {
            string s = BooleanCheck.Replace(sql, "");
            s = BooleanDefault.Replace(s, m => "BOOLEAN DEFAULT " + (m.Groups[1].Value == "1" ? "true" : "false"));
            s = Regex.Replace(s, @"\bBLOB\b", "BYTEA", RegexOptions.IgnoreCase);
            s = Regex.Replace(s, @"\bDATETIME\b", "TIMESTAMP WITHOUT TIME ZONE", RegexOptions.IgnoreCase);
            s = Regex.Replace(s, @"\)\s*VIRTUAL\b", ") STORED", RegexOptions.IgnoreCase);
            if (s.TrimStart().StartsWith("CREATE TABLE", System.StringComparison.OrdinalIgnoreCase))
            {
                var pk = SinglePrimaryKey.Match(s);
                if (pk.Success)
                {
                    // SQLAlchemy makes a lone integer primary key autoincrement: SERIAL on PostgreSQL.
                    var column = new Regex(@"(^|\n)(\s*""?" + Regex.Escape(pk.Groups[1].Value) + @"""?\s+)INTEGER\b", RegexOptions.IgnoreCase);
                    s = column.Replace(s, m => m.Groups[1].Value + m.Groups[2].Value + "SERIAL", 1);
                }
            }
            return s;
        }
    }
}
