using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using MlTraces.Core.Audit;
using MlTraces.Core.Json;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>
    /// The audit log's file under many writers: real processes running commands and threads appending at once
    /// never interleave or lose a line; a line a killed writer left unfinished does not swallow the next one; a
    /// command that goes on to another store writes a line per store, with one run id.
    /// </summary>
    public class AuditLogAppendTests
    {
        [Fact]
        public void ProcessesAndThreadsAppendingAtOnceNeverInterleaveOrLoseALine()
        {
            using var ts = TestStore.CreateEmpty();
            string log = Path.Combine(TestStore.NewFolder(), "audit.jsonl");
            const int runsPerProcess = 30, idsPerRun = 300;
            // Each run names 300 ids (about 4 KB of parameters): lines far longer than one write of a small buffer.
            string Script(int p) =>
                $"foreach ($i in 1..{runsPerProcess}) {{ $ids = foreach ($k in 1..{idsPerRun}) {{ \"tr-p{p}-$i-$k\" }}; " +
                $"Set-TraceLegalHold -TrackingUri {ShellProcess.Quote(ts.Path)} -TraceId $ids -AuditLogPath {ShellProcess.Quote(log)} -WhatIf -ErrorAction SilentlyContinue *> $null }}";
            var processes = Enumerable.Range(1, 2).Select(p => ShellProcess.Start(Script(p))).ToList();
            var appended = new ConcurrentDictionary<int, int>();
            var threads = Enumerable.Range(1, 4).Select(t => Task.Run(() =>
            {
                var file = AuditLog.Open(log);
                // Until both processes are done, and at least 50 lines each: appends overlap theirs.
                for (int n = 1; n <= 50 || processes.Any(p => !p.HasExited); n++)
                {
                    var run = new AuditRun("Thread-" + t, new[] { new KeyValuePair<string, JsonNode>("Payload", new JsonString(new string((char)('a' + t), 20_000) + n)) }, dryRun: true);
                    run.Finish();
                    file.Append(run);
                    appended[t] = n;
                }
            })).ToList();
            foreach (var p in processes)
            {
                string errors = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, errors);
            }
            Task.WaitAll(threads.ToArray());

            var lines = File.ReadAllLines(log);
            Assert.Equal(2 * runsPerProcess + appended.Values.Sum(), lines.Length);
            var parsed = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
            for (int p = 1; p <= 2; p++)
            {
                var runs = parsed.Where(l => l.GetProperty("command").GetString() == "Set-TraceLegalHold"
                                             && l.GetProperty("parameters").GetProperty("TraceId")[0].GetString()!.StartsWith($"tr-p{p}-", StringComparison.Ordinal)).ToList();
                Assert.Equal(runsPerProcess, runs.Count);
                for (int i = 1; i <= runsPerProcess; i++)
                {
                    var ids = runs[i - 1].GetProperty("parameters").GetProperty("TraceId").EnumerateArray().Select(x => x.GetString()).ToList();
                    Assert.Equal(Enumerable.Range(1, idsPerRun).Select(k => $"tr-p{p}-{i}-{k}"), ids);
                    Assert.Equal("DryRun", runs[i - 1].GetProperty("outcome").GetString());
                }
                Assert.Single(runs.Select(r => r.GetProperty("processId").GetInt32()).Distinct());
            }
            foreach (var (t, count) in appended)
            {
                var mine = parsed.Where(l => l.GetProperty("command").GetString() == "Thread-" + t).ToList();
                Assert.Equal(Enumerable.Range(1, count).Select(n => new string((char)('a' + t), 20_000) + n),
                    mine.Select(l => l.GetProperty("parameters").GetProperty("Payload").GetString()));
            }
        }

        [Fact]
        public void ALineAKilledWriterLeftUnfinishedDoesNotSwallowTheNext()
        {
            using var ts = TestStore.CreateEmpty();
            string e = ts.AddExperiment("x");
            ts.AddTraces(new[] { TestStore.MakeTrace("tr-1", e, 1) });
            string log = Path.Combine(TestStore.NewFolder(), "audit.jsonl");
            File.WriteAllText(log, "{\"time\":\"2026-01-01T00:00:00.000Z\",\"command\":\"Remove-Tr");
            using var sh = new PsShell(ts);
            Assert.False(sh.Run("Set-TraceLegalHold -TrackingUri $uri -TraceId tr-1 -AuditLogPath $log -Confirm:$false",
                new Dictionary<string, object?> { ["uri"] = ts.Path, ["log"] = log }).Failed);
            var lines = File.ReadAllLines(log);
            Assert.Equal(2, lines.Length);
            Assert.Equal("{\"time\":\"2026-01-01T00:00:00.000Z\",\"command\":\"Remove-Tr", lines[0]);
            var line = JsonDocument.Parse(lines[1]).RootElement;
            Assert.Equal(new[] { "tr-1" }, line.GetProperty("traceIds").EnumerateArray().Select(x => x.GetString()));
        }

        [Fact]
        public void ACommandThatChangesTwoStoresWritesALinePerStoreWithOneRunId()
        {
            using var a = TestStore.CreateEmpty();
            using var b = TestStore.CreateEmpty();
            foreach (var ts in new[] { a, b })
            {
                string e = ts.AddExperiment("x");
                ts.AddTraces(new[] { TestStore.MakeTrace("tr-0", e, 1), TestStore.MakeTrace("tr-1", e, 2) });
            }
            string log = Path.Combine(TestStore.NewFolder(), "audit.jsonl");
            using var sh = new PsShell(a);
            var r = sh.Run("[pscustomobject]@{ TraceId = 'tr-0'; TrackingUri = $a }, [pscustomobject]@{ TraceId = 'tr-1'; TrackingUri = $b } | " +
                           "Set-TraceLegalHold -AuditLogPath $log -Confirm:$false",
                new Dictionary<string, object?> { ["a"] = a.Path, ["b"] = b.Path, ["log"] = log });
            Assert.True(!r.Failed, string.Join("\n", r.Errors) + r.Terminating);
            var lines = AuditLogTests.Lines(log);
            Assert.Equal(2, lines.Count);
            Assert.Equal(new[] { a.Uri.Original, b.Uri.Original }, lines.Select(l => l.GetProperty("store").GetString()));
            Assert.Equal(new[] { "tr-0", "tr-1" }, lines.Select(l => Assert.Single(l.GetProperty("traceIds").EnumerateArray()).GetString()));
            Assert.Single(lines.Select(l => l.GetProperty("runId").GetString()).Distinct());
            Assert.All(lines, l => Assert.True(l.GetProperty("pipelineInput").GetBoolean()));
            Assert.Equal(1, a.Scalar("SELECT count(*) FROM trace_tags WHERE request_id = 'tr-0' AND \"key\" = 'mltraces.legalHold'"));
            Assert.Equal(1, b.Scalar("SELECT count(*) FROM trace_tags WHERE request_id = 'tr-1' AND \"key\" = 'mltraces.legalHold'"));
        }
    }
}
