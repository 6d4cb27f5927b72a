using System.Collections.Generic;
using System.Globalization;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// The few places where SQL differs between databases. The filter compiler and the store write SQL once and
    /// ask the dialect for these pieces; PostgreSQL plugs in as a second implementation.
    /// </summary>
    public abstract class SqlDialect
    {
        /// <summary>Case-sensitive LIKE with % and _ wildcards and no escape character (MLflow's semantics).</summary>
        public abstract string Like(string expr, string param);
        /// <summary>Case-insensitive LIKE.</summary>
        public abstract string ILike(string expr, string param);
        /// <summary>Case-sensitive, unanchored regular-expression search (Python re.search).</summary>
        public abstract string Regexp(string expr, string param);
        /// <summary>A boolean literal as the database stores MLflow's BOOLEAN columns.</summary>
        public abstract string True { get; }
        public abstract int MaxParameters { get; }
        /// <summary>The expression, written so the planner does not use an index on it. MLflow's SQLite stores have
        /// no statistics, and SQLite would otherwise look up assessments through the index on their type (a few
        /// values) instead of the one on their trace.</summary>
        public abstract string Unindexed(string expr);
        /// <summary>The paging tail of a SELECT (with a leading space), or "" when both are null; a null limit
        /// means no limit.</summary>
        public abstract string LimitOffset(string? limitParam, string? offsetParam);
        /// <summary>Every foreign key of the database, one row per column: child table, child column, parent
        /// table, parent column (NULL when it names the parent's primary key), ON DELETE action.</summary>
        public abstract string ForeignKeysQuery { get; }
        /// <summary>A statement that gives this connection (only) a page cache of about this size, or null.</summary>
        public abstract string? ConnectionCacheSize(int megabytes);
        /// <summary>One row per table of the store (name), joined to the columns (name, or NULL) of the tables
        /// named by @t0..@t3: what layout detection reads.</summary>
        public abstract string TablesAndColumnsQuery { get; }
        /// <summary>The condition "expr is one of these ids", for the id lists of a batch (up to thousands).</summary>
        public abstract string IsAnyOf(string expr, SqlParameters p, IReadOnlyCollection<string> ids);
        /// <summary>The suffix of a SELECT that locks the rows it reads until the transaction ends ("" where the
        /// transaction already holds the whole database, as SQLite's BEGIN IMMEDIATE does).</summary>
        public abstract string ForUpdate { get; }
        /// <summary>The tail of an EXISTS subquery that keeps it a per-row check of the rows an ordered walk reaches,
        /// rather than a join planned from a guess of how many child rows match ("" where nothing needs it).</summary>
        public abstract string KeepCorrelated { get; }
        /// <summary>The text expression as a BIGINT when it is a plain non-negative integer, else NULL (never an error).</summary>
        public abstract string IntegerOrNull(string expr);
    }

    public sealed class SqliteDialect : SqlDialect
    {
        public static readonly SqliteDialect Instance = new SqliteDialect();
        // case_sensitive_like is on for every connection, as in MLflow's own sessions.
        public override string Like(string expr, string param) => $"{expr} LIKE {param}";
        // SQLAlchemy's ilike outside PostgreSQL: lower(x) LIKE lower(y).
        public override string ILike(string expr, string param) => $"lower({expr}) LIKE lower({param})";
        // X REGEXP Y calls regexp(Y, X): the function registered on every connection.
        public override string Regexp(string expr, string param) => $"{expr} REGEXP {param}";
        public override string True => "1";
        public override int MaxParameters => 30000;
        // Unary + is SQLite's documented way to keep a term from using an index; it leaves the value as it is.
        public override string Unindexed(string expr) => "+" + expr;
        // SQLite has no OFFSET without LIMIT; LIMIT -1 is its "no limit".
        public override string LimitOffset(string? limitParam, string? offsetParam) =>
            limitParam == null && offsetParam == null ? ""
            : " LIMIT " + (limitParam ?? "-1") + (offsetParam == null ? "" : " OFFSET " + offsetParam);
        public override string ForeignKeysQuery =>
            "SELECT m.name, p.\"from\", p.\"table\", p.\"to\", p.on_delete FROM sqlite_master m " +
            "JOIN pragma_foreign_key_list(m.name) p WHERE m.type = 'table'";
        // cache_size is per connection and ends with it: nothing persistent about the user's store changes.
        public override string? ConnectionCacheSize(int megabytes) => $"PRAGMA cache_size = -{megabytes * 1024}";
        public override string TablesAndColumnsQuery =>
            "SELECT m.name, p.name FROM sqlite_master m LEFT JOIN pragma_table_xinfo(m.name) p " +
            "ON m.name IN (@t0, @t1, @t2, @t3, @t4) WHERE m.type = 'table'";
        // One JSON array parameter: Microsoft.Data.Sqlite offers every parameter of a command to every statement
        // by name, so a batch's hydration with 100 placeholders per statement spent 0.6 ms of 7 binding them.
        public override string IsAnyOf(string expr, SqlParameters p, IReadOnlyCollection<string> ids)
        {
            var json = new System.Text.StringBuilder("[");
            foreach (var id in ids)
            {
                if (json.Length > 1) json.Append(',');
                Json.PyJson.AppendString(json, id);
            }
            return $"{expr} IN (SELECT value FROM json_each({p.Add(json.Append(']').ToString())}))";
        }
        public override string ForUpdate => "";
        // SQLite runs EXISTS per row of the walk as written.
        public override string KeepCorrelated => "";
        public override string IntegerOrNull(string expr) =>
            $"CASE WHEN length({expr}) BETWEEN 1 AND 18 AND {expr} NOT GLOB '*[^0-9]*' THEN CAST({expr} AS INTEGER) END";
    }

    /// <summary>MLflow on PostgreSQL: SQLAlchemy's native ILIKE, RLIKE as the ~ operator, real booleans.</summary>
    public sealed class PostgresDialect : SqlDialect
    {
        public static readonly PostgresDialect Instance = new PostgresDialect();
        // PostgreSQL's LIKE is case-sensitive and treats a backslash as its escape character: SQLAlchemy writes a
        // plain LIKE, so MLflow on PostgreSQL has both behaviours, and so do we.
        public override string Like(string expr, string param) => $"{expr} LIKE {param}";
        public override string ILike(string expr, string param) => $"{expr} ILIKE {param}";
        // SQLAlchemy's regexp_match on PostgreSQL: a POSIX regular expression, case-sensitive, unanchored.
        public override string Regexp(string expr, string param) => $"{expr} ~ {param}";
        public override string True => "true";
        public override int MaxParameters => 30000;
        // PostgreSQL keeps statistics and picks the index by selectivity: nothing to hide.
        public override string Unindexed(string expr) => expr;
        public override string LimitOffset(string? limitParam, string? offsetParam) =>
            (limitParam == null ? "" : " LIMIT " + limitParam) + (offsetParam == null ? "" : " OFFSET " + offsetParam);
        public override string ForeignKeysQuery =>
            "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, pa.attname, " +
            "CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END " +
            "FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(child_att, parent_att) " +
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.child_att " +
            "JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.parent_att " +
            "WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace";
        public override string? ConnectionCacheSize(int megabytes) => null;
        // From the catalogs, not information_schema: its views cost 5-10 ms to plan, on every command that opens a
        // store (as much as a whole first page of Search-Trace). Ordinary and partitioned tables are its BASE TABLEs.
        public override string TablesAndColumnsQuery =>
            // Two parts, so pg_attribute is read through its index for the five tables only: an outer join of
            // every table to it scans all of pg_attribute (1.8 ms of every command on a warm server).
            "SELECT c.relname::text, NULL::text FROM pg_catalog.pg_class c " +
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') UNION ALL " +
            "SELECT c.relname::text, a.attname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid " +
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname IN (@t0, @t1, @t2, @t3, @t4) " +
            "AND a.attnum > 0 AND NOT a.attisdropped";
        // One text[] parameter: binding hundreds of separate ones costs Npgsql and the server more than the query
        // (a search's hydration took 4.5 ms with 100 placeholders per statement, 2.5 ms with one array each).
        public override string IsAnyOf(string expr, SqlParameters p, IReadOnlyCollection<string> ids)
        {
            var array = new string[ids.Count];
            int i = 0;
            foreach (var id in ids) array[i++] = id;
            return $"{expr} = ANY({p.Add(array)})";
        }
        // Row locks, as MLflow's finalize step takes them (SELECT ... FOR UPDATE), so an MLflow server writing
        // other traces is never blocked.
        public override string ForUpdate => " FOR UPDATE";
        // An OFFSET keeps the planner from pulling the subquery up into a semi-join (simplify_EXISTS_query). The
        // join is planned from the estimated number of matching spans, which for LIKE '%...%' on span content rests
        // on ANALYZE's sample: a low guess turned a 0.2 s page into 15-40 s, a scan of every span for each experiment.
        public override string KeepCorrelated => " OFFSET 0";
        public override string IntegerOrNull(string expr) => $"CASE WHEN {expr} ~ '^[0-9]{{1,18}}$' THEN CAST({expr} AS BIGINT) END";
    }

    /// <summary>Collects the values of a statement; SQL text only ever holds their placeholders.</summary>
    public sealed class SqlParameters
    {
        private readonly List<KeyValuePair<string, object?>> _values = new List<KeyValuePair<string, object?>>();
        public IReadOnlyList<KeyValuePair<string, object?>> Values => _values;

        /// <summary>Adds a value and returns its placeholder.</summary>
        public string Add(object? value)
        {
            string name = "@p" + _values.Count.ToString(CultureInfo.InvariantCulture);
            _values.Add(new KeyValuePair<string, object?>(name, value));
            return name;
        }

        /// <summary>A comma-separated list of placeholders for the given values.</summary>
        public string AddList(IEnumerable<object?> values)
        {
            var names = new List<string>();
            foreach (var v in values) names.Add(Add(v));
            return string.Join(", ", names);
        }
    }
}
