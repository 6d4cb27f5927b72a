using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Text;
using MlTraces.Core.Store;
using MlTraces.Shell;
using MlTraces.Tests.Support;
using Xunit;

namespace MlTraces.Tests.Attack
{
    /// <summary>
    /// Passwords in PostgreSQL tracking URIs, read as SQLAlchemy (and so MLflow) reads them: '/', '?', ':', '#',
    /// spaces and any Unicode unencoded, '@' as %40. No message of any kind shows the password or a piece of it, and
    /// what a message says does not depend on the password at all.
    /// </summary>
    [Collection(ProcessEnvironmentCollection.Name)]
    public class PasswordAttackTests
    {
        /// <summary>(as written in the URI, the password it stands for).</summary>
        public static readonly (string Written, string Password)[] Battery =
        {
            ("ab12/SLASHSECRET", "ab12/SLASHSECRET"),
            ("5432/SECRETTAIL", "5432/SECRETTAIL"),
            ("qu?ery=QMARKSECRET&x=1", "qu?ery=QMARKSECRET&x=1"),
            ("co:lon:COLONSECRET", "co:lon:COLONSECRET"),
            ("hash#FRAGSECRET", "hash#FRAGSECRET"),
            ("%2FPERCENTSECRET%25", "/PERCENTSECRET%"),
            ("at%40ENCODEDSECRET", "at@ENCODEDSECRET"),
            ("sp ace SPACESECRET", "sp ace SPACESECRET"),
            ("пароль秘密UNISECRET", "пароль秘密UNISECRET"),
            ("sl/as?h:co#lo@n%40", null!), // a raw '@': refused, never half-read
        };

        public static IEnumerable<object[]> BatteryData() => Battery.Select(b => new object[] { b.Written, b.Password ?? "" });

        private static string Host => TrackingUri.Parse(PgServer.AdminUri, "/").Postgres!.Host!;
        private static int Port => TrackingUri.Parse(PgServer.AdminUri, "/").Postgres!.Port!.Value;

        /// <summary>Every piece of text a run showed a person or a script.</summary>
        internal static string AllText(RunResult r, bool withExceptionDetails = true)
        {
            var s = new StringBuilder(r.HostText);
            foreach (var o in r.Output) foreach (var p in o.Properties) { try { s.Append(p.Value).Append('\n'); } catch (Exception) { } }
            foreach (var e in r.Errors)
                s.Append(withExceptionDetails ? e.Exception.ToString() : e.Exception.Message).Append(e.ErrorDetails?.Message).Append(e.TargetObject).Append('\n');
            foreach (var w in r.Warnings) s.Append(w.Message).Append('\n');
            foreach (var v in r.Verbose) s.Append(v.Message).Append('\n');
            foreach (var p in r.Progress) s.Append(p.Activity).Append(p.StatusDescription).Append(p.CurrentOperation).Append('\n');
            if (r.Terminating != null) s.Append(withExceptionDetails ? r.Terminating.ToString() : r.Terminating.Message);
            return s.ToString();
        }

        /// <summary>No piece of 4 or more characters of the secret (that is not in what a neutral run showed too).</summary>
        internal static void NoFragment(string secret, string text, string neutral = "")
        {
            for (int len = Math.Min(secret.Length, 4); len <= secret.Length; len++)
                for (int i = 0; i + len <= secret.Length; i++)
                {
                    string piece = secret.Substring(i, len);
                    if (piece.Trim().Length < len || neutral.Contains(piece)) continue;
                    Assert.False(text.Contains(piece), $"'{piece}' of the password shows in: {text}");
                }
        }

        [Theory]
        [MemberData(nameof(BatteryData))]
        public void TheUriIsReadAsSqlAlchemyReadsIt(string written, string password)
        {
            string text = $"postgresql://bob:{written}@db.example.com:5433/mlflow?sslmode=require";
            if (password.Length == 0)
            {
                var ex = Assert.Throws<ArgumentException>(() => TrackingUri.Parse(text, "/"));
                Assert.Contains("%40", ex.Message);
                NoFragment(written, ex.Message);
                return;
            }
            var uri = TrackingUri.Parse(text, "/");
            var t = uri.Postgres!;
            Assert.Equal(("db.example.com", 5433, "mlflow", "bob", password), (t.Host, t.Port, t.Database, t.UserName, t.Password));
            Assert.Equal("require", t.Options["sslmode"]);
            Assert.Equal("postgresql://bob@db.example.com:5433/mlflow?sslmode=require", uri.Original);
            Assert.Equal("postgresql://bob@db.example.com:5433/mlflow?sslmode=require", uri.ToString());
            Assert.Equal($"postgresql://bob:***@db.example.com:5433/mlflow?sslmode=require", TrackingUri.Redact(text));
        }

        [Theory]
        // IPv6 hosts, a password that looks like a port or a host, query keywords and their escapes.
        [InlineData("postgresql+psycopg2://u:p%3Aw@[2001:db8::1]:6543/db", "2001:db8::1", 6543, "db", "u", "p:w")]
        [InlineData("postgresql://u:[::1]:5432@[::1]/db", "::1", null, "db", "u", "[::1]:5432")]
        [InlineData("postgresql://u:host.example@host.example/host.example", "host.example", null, "host.example", "u", "host.example")]
        [InlineData("postgresql://u@h/db?password=a%2Bb+c&user=v", "h", null, "db", "v", "a+b c")]
        [InlineData("postgresql://u:pw@/db?host=/var/run/postgresql&port=5544", "/var/run/postgresql", 5544, "db", "u", "pw")]
        [InlineData("postgresql://%75ser:%F0%9F%94%91@h/my%20db", "h", null, "my%20db", "user", "\U0001F511")]
        public void HostsPortsAndQueryOptionsAreSqlAlchemys(string text, string host, int? port, string db, string user, string password)
        {
            var t = TrackingUri.Parse(text, "/").Postgres!;
            Assert.Equal((host, port, db, user, password), (t.Host, t.Port, t.Database, t.UserName, t.Password));
            string shown = TrackingUri.Parse(text, "/").Original;
            Assert.DoesNotContain(":" + password + "@", shown);
            // What is shown reads back to the same server, database and login.
            var again = TrackingUri.Parse(shown, "/").Postgres!;
            Assert.Equal((host, port, db, user), (again.Host, again.Port, again.Database, again.UserName));
        }

        [Theory]
        [InlineData("postgresql://bob:ab12/SLASHSECRET@h:notaport/db", "'notaport'")]
        [InlineData("postgresql://bob:ab12/SLASHSECRET@h:99999/db", "'99999'")]
        [InlineData("postgresql://bob:ab12/SLASHSECRET@h:5432", "no database name")]
        [InlineData("postgresql://bob:ab12/SLASHSECRET@h/db?sslmode=sometimes", "sslmode=sometimes")]
        [InlineData("postgresql://bob:ab12/SLASHSECRET@h/db?fancy=1", "'fancy'")]
        [InlineData("postgres://bob:ab12/SLASHSECRET@h/db", "postgresql://")]
        [InlineData("mysql://bob:ab12/SLASHSECRET@h/db", "'mysql'")]
        [InlineData("mysql://bob@h/db?password=SLASHSECRET", "'mysql'")]
        public void BadUrisSayWhatIsWrongWithoutThePassword(string text, string expected)
        {
            var ex = Assert.ThrowsAny<Exception>(() =>
            {
                var uri = TrackingUri.Parse(text, "/");
                PostgresConnector.ConnectionString(uri.Postgres!, StoreAccess.ReadOnly);
            });
            Assert.Contains(expected, ex.Message);
            Assert.DoesNotContain("SECRET", ex.Message);
            Assert.DoesNotContain("ab12", ex.Message);
        }

        private static int FreePort()
        {
            var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            l.Start();
            int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        private static string NewRole(string password)
        {
            string role = "pw_" + Guid.NewGuid().ToString("N").Substring(0, 10);
            PgServer.RunAdmin($"CREATE ROLE {role} LOGIN PASSWORD '{password.Replace("'", "''")}'");
            PgServer.RunAdmin($"GRANT pg_read_all_data TO {role}");
            return role;
        }

        /// <summary>The scripts that fail (bad port, a server that is not there, a wrong password), then one that
        /// works with -Verbose; run with the password and with a neutral one, they show the same text.</summary>
        private static List<string> Runs(PsShell sh, string db, string role, string written)
        {
            string free = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
            var uris = new[]
            {
                $"postgresql://{role}:{written}@{Host}:notaport/{db}",
                $"postgresql://{role}:{written}@127.0.0.1:{free}/{db}",
                $"postgresql://nosuchrole:{written}@{Host}:{Port}/{db}",
                $"postgresql://{role}:{written}@{Host}:{Port}/no_such_db",
                $"postgresql://{role}:{written}@{Host}:{Port}/{db}",
            };
            var texts = new List<string>();
            foreach (string u in uris)
            {
                var vars = new Dictionary<string, object?> { ["u"] = u };
                foreach (string script in new[] { "Search-Trace -TrackingUri $u -Verbose", "New-TraceStore -TrackingUri $u -WhatIf -Verbose", "Get-ExperimentRetention -TrackingUri $u -Verbose -WarningAction Continue" })
                {
                    var r = sh.Run(script, vars);
                    texts.Add(AllText(r, withExceptionDetails: false).Replace(free, "FREE"));
                    NoFragmentOfPasswordIn(r, written);
                }
            }
            return texts;
        }

        private static void NoFragmentOfPasswordIn(RunResult r, string written)
        {
            // Exception details (inner exceptions, stack) too, and everything as the host printed it.
            string all = AllText(r);
            foreach (var e in r.Errors) all += e.ToString() + "\n" + e.CategoryInfo + "\n";
            NoFragment(written, all);
        }

        [Theory]
        [MemberData(nameof(BatteryData))]
        public void NoMessageOfAnyPathShowsThePassword(string written, string password)
        {
            using var ts = TestStore.CreateEmpty(StoreKind.Postgres);
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-1", "0", 1, 5) });
            string db = ts.Uri.Postgres!.Database!;
            using var sh = new PsShell(TestStore.NewFolder());
            string? savedPw = Environment.GetEnvironmentVariable("PGPASSWORD"), savedFile = Environment.GetEnvironmentVariable("PGPASSFILE");
            try
            {
                Environment.SetEnvironmentVariable("PGPASSWORD", null);
                Environment.SetEnvironmentVariable("PGPASSFILE", System.IO.Path.Combine(TestStore.NewFolder(), "none"));
                string role = NewRole(password.Length > 0 ? password : "unused-" + Guid.NewGuid());
                var withSecret = Runs(sh, db, role, written);
                var neutral = Runs(sh, db, role, "neutralpw");
                if (password.Length > 0)
                {
                    // The password was read right: the login succeeded, and the store was read.
                    var ok = sh.Run("Search-Trace -TrackingUri $u", new Dictionary<string, object?> { ["u"] = $"postgresql://{role}:{written}@{Host}:{Port}/{db}" });
                    Assert.True(!ok.Failed, AllText(ok));
                    Assert.Single(ok.Output);
                    // Where both fail alike (bad port, no server, no such login), everything said is the same whatever
                    // the password; where the real one logs in, the runs differ, and no piece of it shows either.
                    for (int i = 0; i < 9; i++) Assert.Equal(neutral[i], withSecret[i]);
                    Assert.Contains($"Opening store 'postgresql://{role}@{Host}:{Port}/{db}'", withSecret[withSecret.Count - 3]);
                }
                else
                {
                    Assert.All(withSecret.Take(12), t => Assert.Contains("%40", t));
                }
            }
            finally
            {
                Environment.SetEnvironmentVariable("PGPASSWORD", savedPw);
                Environment.SetEnvironmentVariable("PGPASSFILE", savedFile);
            }
        }

        [Theory]
        // A password equal to the host, the port or the database name: masked where it is the password, shown where
        // it is the host, port or database (masking by text replacement would get both wrong).
        [InlineData("HOST")]
        [InlineData("PORT")]
        [InlineData("DB")]
        public void APasswordEqualToAnotherPartIsMaskedByPlaceNotByText(string which)
        {
            using var ts = TestStore.CreateEmpty(StoreKind.Postgres);
            string db = ts.Uri.Postgres!.Database!;
            string password = which == "HOST" ? Host : which == "PORT" ? Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : db;
            string role = NewRole(password);
            string uri = $"postgresql://{role}:{password}@{Host}:{Port}/{db}";
            Assert.Equal($"postgresql://{role}@{Host}:{Port}/{db}", TrackingUri.Parse(uri, "/").Original);
            Assert.Equal($"postgresql://{role}:***@{Host}:{Port}/{db}", TrackingUri.Redact(uri));
            using var sh = new PsShell(TestStore.NewFolder());
            var r = sh.Run("Search-Trace -TrackingUri $u -Verbose", new Dictionary<string, object?> { ["u"] = uri });
            Assert.True(!r.Failed, AllText(r));
            Assert.Contains($"Opening store 'postgresql://{role}@{Host}:{Port}/{db}'", AllText(r));
            Assert.DoesNotContain(":" + password + "@", AllText(r));
        }

        [Fact]
        public void AMistypedPasswordIsNotRememberedAndAStaleOneGivesWayToPgpassword()
        {
            using var ts = TestStore.CreateEmpty(StoreKind.Postgres);
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-1", "0", 1, 5) });
            string db = ts.Uri.Postgres!.Database!;
            string good = Guid.NewGuid().ToString("N"), role = NewRole(good);
            string bare = $"postgresql://{role}@{Host}:{Port}/{db}";
            using var sh = new PsShell(TestStore.NewFolder());
            RunResult Search(string u) => sh.Run("Search-Trace -TrackingUri $u", new Dictionary<string, object?> { ["u"] = u });
            string? savedPw = Environment.GetEnvironmentVariable("PGPASSWORD"), savedFile = Environment.GetEnvironmentVariable("PGPASSFILE");
            try
            {
                Environment.SetEnvironmentVariable("PGPASSFILE", System.IO.Path.Combine(TestStore.NewFolder(), "none"));
                Environment.SetEnvironmentVariable("PGPASSWORD", null);
                // A typo in the URI: refused, and not kept for later.
                var typo = Search($"postgresql://{role}:typo-{good}@{Host}:{Port}/{db}");
                Assert.Equal("StoreLoginFailed,MlTraces.Commands.SearchTraceCommand", Assert.Single(typo.Errors).FullyQualifiedErrorId);
                Environment.SetEnvironmentVariable("PGPASSWORD", good);
                var r = Search(bare);
                Assert.True(!r.Failed, AllText(r));
                Assert.Single(r.Output);

                // A password that worked is kept (the URI shown on output objects has none) ...
                Environment.SetEnvironmentVariable("PGPASSWORD", null);
                Assert.Single(Search($"postgresql://{role}:{good}@{Host}:{Port}/{db}").Output);
                Assert.Single(Search(bare).Output);
                // ... until the server refuses it: then PGPASSWORD answers, as it would have without it.
                string changed = Guid.NewGuid().ToString("N");
                PgServer.RunAdmin($"ALTER ROLE {role} PASSWORD '{changed}'");
                Environment.SetEnvironmentVariable("PGPASSWORD", changed);
                r = Search(bare);
                Assert.True(!r.Failed, AllText(r));
                Assert.Single(r.Output);
            }
            finally
            {
                Environment.SetEnvironmentVariable("PGPASSWORD", savedPw);
                Environment.SetEnvironmentVariable("PGPASSFILE", savedFile);
            }
        }
    }
}
