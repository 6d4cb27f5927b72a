using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Data.Sqlite;
using MlTraces.Core.Store;
using Npgsql;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// Copies a real MLflow SQLite store into an empty PostgreSQL database: its own schema generation (tables and
    /// indexes from sqlite_master, translated as New-TraceStore translates the current schema) and every row, so the
    /// fixture stores of every generation exist on both databases.
    /// </summary>
    public static class StoreCopy
    {
        public static void SqliteToPostgres(string sqliteFile, TrackingUri target)
        {
            using var source = (SqliteConnection)TraceStore.OpenConnection(TrackingUri.Parse(sqliteFile, "/"), StoreAccess.ReadOnly);
            var tables = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var indexes = new List<string>();
            using (var cmd = source.CreateCommand())
            {
                cmd.CommandText = "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                    if (r.GetString(0) == "table") tables[r.GetString(1)] = r.GetString(2);
                    else if (r.GetString(0) == "index") indexes.Add(r.GetString(2));
            }
            var parents = tables.Keys.ToDictionary(t => t, t => new HashSet<string>(StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);
            using (var cmd = source.CreateCommand())
            {
                cmd.CommandText = "SELECT m.name, p.\"table\" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) p WHERE m.type = 'table'";
                using var r = cmd.ExecuteReader();
                while (r.Read()) if (parents.ContainsKey(r.GetString(0)) && !string.Equals(r.GetString(0), r.GetString(1), StringComparison.OrdinalIgnoreCase)) parents[r.GetString(0)].Add(r.GetString(1));
            }
            var order = new List<string>();
            var done = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            void Visit(string t) { if (!done.Add(t)) return; foreach (var p in parents[t]) if (parents.ContainsKey(p)) Visit(p); order.Add(t); }
            foreach (var t in tables.Keys) Visit(t);

            using var pg = new NpgsqlConnection(PostgresConnector.ConnectionString(target.Postgres!, StoreAccess.ReadWrite));
            pg.Open();
            using var tx = pg.BeginTransaction();
            void Pg(string sql) { using var c = pg.CreateCommand(); c.Transaction = tx; c.CommandText = sql; c.ExecuteNonQuery(); }
            // SQLite does not enforce VARCHAR lengths, and a fixture holds longer values than MLflow's columns allow
            // (week5-lab's entity_associations.destination_id, 41 characters in a VARCHAR(36)): the copy widens them.
            foreach (var sql in PostgresSchema.FromSqlite(order.Select(t => tables[t]).Concat(indexes)))
                Pg(System.Text.RegularExpressions.Regex.Replace(sql, @"\bVARCHAR\(\d+\)", "VARCHAR"));
            foreach (var t in order) MlTraces.Generator.PostgresLoader.CopyTable(source, pg, tx, t);
            // A SERIAL column continues after the copied ids, as MLflow's sequence would.
            Pg("SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), (SELECT coalesce(max(experiment_id), 0) + 1 FROM experiments), false) " +
               "WHERE pg_get_serial_sequence('experiments', 'experiment_id') IS NOT NULL");
            tx.Commit();
        }
    }
}
