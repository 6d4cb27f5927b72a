using System.IO;
using System.Linq;
using MlTraces.Shell;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>The table view through the host at the widths people use: nothing essential is cut.</summary>
    public class ViewTests
    {
        [RealStoreTheory]
        [InlineData(80)]
        [InlineData(120)]
        public void TraceTableKeepsIdTimeStateAndName(int width)
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            var output = new StringWriter();
            using var session = new ShellSession(output, width: width, workingDirectory: ts.Folder);
            Assert.Equal(0, session.RunInteractive($"Search-Trace -TrackingUri '{ts.Path}' -First 5"));
            var lines = output.ToString().Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
            Assert.All(lines, l => Assert.True(l.Length <= width, $"line wider than {width}: {l}"));
            Assert.Matches("^[- ]+$", lines[1]);   // the header is one line
            Assert.Contains("RequestTime", lines[0]);
            Assert.Contains("State", lines[0]);
            Assert.Contains("Name", lines[0]);
            var rows = lines.Skip(2).ToList();
            Assert.Equal(5, rows.Count);
            // Times in UTC, marked Z, as -WhatIf lines show them.
            Assert.All(rows, r => Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ tr-[0-9a-f]{32} OK\s+(agent|rag_pipeline|chat|\w+)", r));
            if (width >= 120) Assert.Contains("Request", lines[0]);
        }

        /// <summary>Every output type through its view at both widths: its identifying fields are never cut.</summary>
        [RealStoreTheory]
        [InlineData(80)]
        [InlineData(120)]
        public void EveryOutputTypeRendersItsEssentials(int width)
        {
            using var ts = TestStore.CopyOfFixture("week5-lab-gen-e.db");
            string config = System.IO.Path.Combine(ts.Folder, "archival.yaml");
            System.IO.File.WriteAllText(config, $"trace_archival:\n  enabled: true\n  location: {new System.Uri(System.IO.Path.Combine(ts.Folder, "archive")).AbsoluteUri}\n  retention: 1d\n");
            string id = "tr-fc14cf85f3c754dece33aae752bb93e5";
            var cases = new (string Script, string[] Expected)[]
            {
                ($"(Get-Trace {id}).Spans", new[] { "SpanId", "Status", "Name" }),
                ($"(Get-Trace {id}).Assessments", new[] { id, "Type", "Name" }),
                ("Get-ExperimentRetention -ConfigPath $config -ExperimentId 1", new[] { "ExperimentId", "MLflow Demo", "1 day" }),
                ("Invoke-TraceArchive -ConfigPath $config -MaxTraces 1 -PassThru", new[] { id, "Archived" }),
                ("Invoke-TraceArchive -ConfigPath $config -MaxTraces 1", new[] { "Archived", "TrackingUri" }),
                ($"Restore-Trace {id} -PassThru", new[] { id, "Restored" }),
                // A real server's store: its artifacts are under mlflow-artifacts:/, relative to the server's destination.
                ($"Remove-Trace {id} -Confirm:$false -PassThru -ArtifactsDestination mlartifacts", new[] { id, "Deleted" }),
                ("New-TraceStore sqlite:///new.db", new[] { "TrackingUri", "AlembicRevision" }),
            };
            foreach (var (script, expected) in cases)
            {
                var output = new StringWriter();
                using var session = new ShellSession(output, width: width, workingDirectory: ts.Folder);
                // Session defaults, not the process environment: tests run in parallel in one process.
                session.Invoke("$global:PSDefaultParameterValues['*-Trace*:TrackingUri'] = 'sqlite:///week5-lab-gen-e.db'; " +
                               "$global:PSDefaultParameterValues['*-Experiment*:TrackingUri'] = 'sqlite:///week5-lab-gen-e.db'; $global:config = '" + config + "'");
                int code = session.RunInteractive(script);
                string text = output.ToString();
                Assert.True(code == 0, script + "\n" + text);
                // Views must fit; warnings are the console's to wrap.
                Assert.All(text.Split('\n').Where(l => !l.StartsWith("WARNING:", System.StringComparison.Ordinal)),
                    l => Assert.True(l.TrimEnd('\r').Length <= width, $"{script}: line wider than {width}: {l}"));
                foreach (var e in expected) Assert.True(text.Contains(e), $"{script} at {width} columns lacks '{e}':\n{text}");
            }
        }
    }
}
