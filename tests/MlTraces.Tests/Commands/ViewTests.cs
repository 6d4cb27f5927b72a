using System.IO;
using System.Linq;
using MlTraces.Shell;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Commands
{
    /// <summary>The table view through the host at the widths people use: nothing essential is cut.</summary>
    public class ViewTests
    {
        [Theory]
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
            Assert.Contains("RequestTime", lines[0]);
            Assert.Contains("State", lines[0]);
            Assert.Contains("Name", lines[0]);
            var rows = lines.Skip(2).ToList();
            Assert.Equal(5, rows.Count);
            Assert.All(rows, r => Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d tr-[0-9a-f]{32} OK\s+(agent|rag_pipeline|chat|\w+)", r));
            if (width >= 120) Assert.Contains("Request", lines[0]);
        }
    }
}
