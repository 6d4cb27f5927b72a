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

        private static readonly Regex TableName = new Regex(@"^\s*CREATE TABLE\s+""?(\w+)""?", RegexOptions.IgnoreCase);
        private static readonly Regex References = new Regex(@"REFERENCES\s+""?(\w+)""?", RegexOptions.IgnoreCase);

        /// <summary>The statements translated, tables ordered so each comes after the tables it references
        /// (SQLite checks references only when rows arrive, PostgreSQL when the table is created), then the rest.</summary>
        public static IReadOnlyList<string> FromSqlite(IEnumerable<string> sqliteStatements)
        {
            var tables = new Dictionary<string, string>(System.StringComparer.OrdinalIgnoreCase);
            var tableOrder = new List<string>();
            var others = new List<string>();
            foreach (var statement in sqliteStatements)
            {
                var name = TableName.Match(statement);
                if (name.Success) { tables[name.Groups[1].Value] = statement; tableOrder.Add(name.Groups[1].Value); }
                else others.Add(statement);
            }
            var result = new List<string>();
            var placed = new HashSet<string>(System.StringComparer.OrdinalIgnoreCase);
            void Place(string table, int depth)
            {
                if (placed.Contains(table) || depth > tables.Count) return;
                foreach (Match r in References.Matches(tables[table]))
                    if (tables.ContainsKey(r.Groups[1].Value) && !string.Equals(r.Groups[1].Value, table, System.StringComparison.OrdinalIgnoreCase))
                        Place(r.Groups[1].Value, depth + 1);
                if (placed.Add(table)) result.Add(Translate(tables[table]));
            }
            foreach (var t in tableOrder) Place(t, 0);
            foreach (var statement in others)
            {
                if (Regex.IsMatch(statement, @"^\s*CREATE TRIGGER\s+prevent_secrets_aad_mutation\b", RegexOptions.IgnoreCase))
                {
                    // MLflow's migration writes this trigger per database; on PostgreSQL as a plpgsql function.
                    result.Add(SecretsImmutabilityFunction);
                    result.Add(SecretsImmutabilityTrigger);
                    continue;
                }
                if (Regex.IsMatch(statement, @"^\s*CREATE TRIGGER", RegexOptions.IgnoreCase))
                    throw new System.NotSupportedException("A SQLite trigger MlTraces does not know how MLflow writes on PostgreSQL: " + statement);
                result.Add(Translate(statement));
            }
            return result;
        }

        private const string SecretsImmutabilityFunction =
            "CREATE OR REPLACE FUNCTION prevent_secrets_aad_mutation()\nRETURNS TRIGGER AS $$\nBEGIN\n" +
            "    IF OLD.secret_id != NEW.secret_id OR OLD.secret_name != NEW.secret_name THEN\n" +
            "        RAISE EXCEPTION 'secret_id and secret_name are immutable (used as AAD in encryption)';\n" +
            "    END IF;\n    RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;";

        private const string SecretsImmutabilityTrigger =
            "CREATE TRIGGER prevent_secrets_aad_mutation\nBEFORE UPDATE ON secrets\nFOR EACH ROW\nEXECUTE FUNCTION prevent_secrets_aad_mutation();";

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
