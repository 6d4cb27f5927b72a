using System;
using System.Collections.Generic;
using System.Linq;

namespace MlTraces.Bench
{
    public sealed class Args
    {
        public string Command { get; private set; } = "";
        public string Store { get; private set; } = "";
        public bool IsPostgres => Store.StartsWith("postgresql", StringComparison.Ordinal);
        public int Runs { get; private set; } = 7;
        public string? Out { get; private set; }
        /// <summary>delete: how many traces each deletion removes, and the folder for the copies it deletes from.</summary>
        public int Traces { get; private set; } = 100_000;
        /// <summary>Whether --traces was given (a bench with another default, as delete-s3's 10,000, takes it only then).</summary>
        public bool TracesGiven { get; private set; }
        public string Work { get; private set; } = System.IO.Path.GetFullPath("bench/data");
        /// <summary>maintenance: "measure" stops after Measure-TraceStore (no deletion, no optimization).</summary>
        public string Part { get; private set; } = "all";

        public static Args Parse(string[] args)
        {
            var a = new Args { Command = args.FirstOrDefault() ?? "" };
            for (int i = 1; i + 1 < args.Length; i += 2)
            {
                switch (args[i])
                {
                    // A file path, or a postgresql:// URI taken as it is.
                    case "--store": a.Store = args[i + 1].Contains("://") ? args[i + 1] : System.IO.Path.GetFullPath(args[i + 1]); break;
                    case "--runs": a.Runs = int.Parse(args[i + 1]); break;
                    case "--out": a.Out = args[i + 1]; break;
                    case "--traces": a.Traces = int.Parse(args[i + 1]); a.TracesGiven = true; break;
                    case "--work": a.Work = System.IO.Path.GetFullPath(args[i + 1]); break;
                    case "--part": a.Part = args[i + 1]; break;
                    default: throw new ArgumentException($"Unknown option {args[i]}");
                }
            }
            return a;
        }
    }

    public static class Stats
    {
        public static double Median(IEnumerable<double> values)
        {
            var v = values.OrderBy(x => x).ToList();
            return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
        }

        public static double Time(Action action)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            action();
            return sw.Elapsed.TotalMilliseconds;
        }

        public static void Report(string? outPath, IEnumerable<string> lines)
        {
            var text = string.Join(Environment.NewLine, lines);
            Console.WriteLine(text);
            if (outPath != null) System.IO.File.AppendAllText(outPath, text + Environment.NewLine + Environment.NewLine);
        }
    }
}
