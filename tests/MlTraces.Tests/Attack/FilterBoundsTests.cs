using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using MlTraces.Core.Query;
using MlTraces.Core.Store;
using MlTraces.Shell;
using MlTraces.Tests.Support;
using Xunit;

namespace MlTraces.Tests.Attack
{
    /// <summary>
    /// Filters, orderings and page tokens of hostile size: tens of thousands of clauses, parentheses nested 100,000
    /// deep, IN lists longer than a database takes parameters, megabytes of token. Each is MLflow's
    /// InvalidParameterValue, quickly and before any SQL runs, and no message echoes more than a few hundred
    /// characters of what was given.
    /// </summary>
    public class FilterBoundsTests
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;
        private const int MaxMessage = 2000;

        private static string Repeat(string clause, int n, string joiner = " AND ") => string.Join(joiner, Enumerable.Repeat(clause, n));

        public static IEnumerable<object[]> HostileFilters() => new[]
        {
            new object[] { "60,000 clauses", Repeat("tag.k = 'v'", 60_000), "characters" },
            new object[] { "2,000 short clauses", Repeat("status = 'OK'", 2_000), "comparisons" },
            new object[] { "one comparison too many", Repeat("tag.k = 'v'", FilterParser.MaxComparisons + 1), "comparisons" },
            new object[] { "150,000 open parentheses", new string('(', 150_000), "characters" },
            new object[] { "99,000 open parentheses", new string('(', 99_000), "nested" },
            new object[] { "parentheses 101 deep", new string('(', 101) + "status = 'OK'" + new string(')', 101), "nested" },
            new object[] { "33,000 commas", Repeat("a", 33_000, ", "), "words and signs" },
            new object[] { "49,000 names", Repeat("a", 49_000, " "), "words and signs" },
            new object[] { "an IN list with 10,000 open parentheses", "request_id IN (" + new string('(', 10_000) + "'a')", "nested" },
            new object[] { "one name of 90,000 characters", new string('x', 90_000) + " = 'a'", "Invalid attribute key" },
            new object[] { "one clause of 90,000 characters", "tag.k = " + new string('x', 90_000), "quoted" },
            new object[] { "a second statement of 90,000 characters", "status = 'OK'; " + new string('x', 90_000), "multiple expression" },
        };

        [Theory]
        [MemberData(nameof(HostileFilters))]
        public void AHostileFilterIsInvalidParameterValueQuicklyAndShortly(string what, string filter, string expected)
        {
            using var ts = TestStore.CreateEmpty(Kind);
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-1", "0", 1, 5) });
            string before = ts.Fingerprint();
            using var sh = new PsShell(ts.Folder);
            foreach (string script in new[] { "Search-Trace -TrackingUri $u -Filter $f", "Remove-Trace -TrackingUri $u -Filter $f -Before ([DateTime]::MaxValue) -Confirm:$false" })
            {
                var sw = Stopwatch.StartNew();
                var r = sh.Run(script, new Dictionary<string, object?> { ["u"] = ts.UriText, ["f"] = filter });
                sw.Stop();
                var e = r.Errors.Count == 1 ? r.Errors[0] : throw new Xunit.Sdk.XunitException($"{what}: {script}: {r.Errors.Count} errors, terminating: {r.Terminating?.Message?.Substring(0, Math.Min(500, r.Terminating.Message.Length))}");
                Assert.StartsWith("InvalidParameterValue,", e.FullyQualifiedErrorId);
                Assert.Contains(expected, e.Exception.Message);
                Assert.True(e.Exception.Message.Length < MaxMessage, $"{what}: a message of {e.Exception.Message.Length:N0} characters");
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"{what}: {sw.Elapsed}");
            }
            Assert.Equal(before, ts.Fingerprint());
        }

        [Fact]
        public void FiltersUpToTheLimitsRunAsBefore()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            ts.AddTraces(Enumerable.Range(0, 3).Select(i => TestStore.MakeTrace($"tr-{i}", "0", 1 + i, 5, tags: new Dictionary<string, string> { ["k"] = "v" })));
            using var sh = new PsShell(ts.Folder);
            List<string> Ids(string filter) => sh.Ids("Search-Trace -TrackingUri $u -Filter $f", new Dictionary<string, object?> { ["u"] = ts.UriText, ["f"] = filter });
            // As many comparisons as MlTraces takes, on tags (each a subquery) and on columns.
            Assert.Equal(3, Ids(Repeat("tag.k = 'v'", FilterParser.MaxComparisons)).Count);
            Assert.Equal(3, Ids(Repeat("status = 'OK'", FilterParser.MaxComparisons)).Count);
            Assert.Equal(3, Ids(Repeat("metadata.m IS NULL AND timestamp_ms > 0 AND execution_time_ms < 100", FilterParser.MaxComparisons / 3)).Count);
            // An IN list as long as the length allows: one parameter, not one per value.
            Assert.Equal(new[] { "tr-2", "tr-1" }, Ids("request_id IN (" + string.Join(", ", Enumerable.Range(1, 9_000).Select(i => $"'tr-{i}'")) + ")"));
        }

        [Theory]
        [InlineData(2 * 1024 * 1024)]
        [InlineData(100_000)]
        public void AHugePageTokenIsNotEchoedWhole(int size)
        {
            using var ts = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(ts.Folder);
            // Base64 of something that is not {"offset": N}: MLflow's message quotes the decoded value.
            string token = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(new string('x', size)));
            string notJson = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("{\"offset\": [" + string.Join(",", Enumerable.Repeat("1", size / 2)) + "]}"));
            foreach (string t in new[] { token, notJson })
            {
                var r = sh.Run("Search-Trace -TrackingUri $u -PageToken $t", new Dictionary<string, object?> { ["u"] = ts.UriText, ["t"] = t });
                var e = Assert.Single(r.Errors);
                Assert.StartsWith("InvalidParameterValue,", e.FullyQualifiedErrorId);
                Assert.StartsWith("Invalid page token", e.Exception.Message);
                Assert.True(e.Exception.Message.Length < MaxMessage, $"a message of {e.Exception.Message.Length:N0} characters");
            }
        }

        [Fact]
        public void AHugeOrderByIsNotEchoedWhole()
        {
            using var ts = TestStore.CreateEmpty(Kind);
            using var sh = new PsShell(ts.Folder);
            foreach (string o in new[] { new string('x', 1_000_000), "nosuch." + new string('x', 1_000_000) + " DESC", "timestamp_ms " + new string('x', 1_000_000) })
            {
                var r = sh.Run("Search-Trace -TrackingUri $u -OrderBy $o", new Dictionary<string, object?> { ["u"] = ts.UriText, ["o"] = o });
                var e = Assert.Single(r.Errors);
                Assert.StartsWith("InvalidParameterValue,", e.FullyQualifiedErrorId);
                Assert.True(e.Exception.Message.Length < MaxMessage, $"a message of {e.Exception.Message.Length:N0} characters");
            }
        }
    }

    public class FilterBoundsTestsOnPostgres : FilterBoundsTests
    {
        protected override StoreKind Kind => StoreKind.Postgres;
    }
}
