using System;
using System.Collections.Generic;
using System.Globalization;
using MlTraces.Core;

namespace MlTraces.Generator
{
    internal static class Program
    {
        private const string Usage =
@"MlTraces.Generator: synthetic MLflow traces for tests and benchmarks.

  sample --out samples/traces.jsonl [--count 300] [--seed 42]
      A deterministic JSON Lines file of varied traces in MLflow's trace JSON (Trace.to_dict()).

  store --out bench/data/bench.db [--traces 1000000] [--experiments 5] [--seed 1] [--batch 1000000] [--force]
      A benchmark tracking store in MLflow's newest schema; prints what it wrote and how long it took.

  copy-to-postgres --from bench/data/bench-1m.db --to postgresql://user:pw@host:port/bench1m
      Drops and creates the database named by --to and copies the SQLite store into it (New-TraceStore's schema,
      binary COPY, indexes after the rows, VACUUM ANALYZE); prints how long each step took. --from is only read.";

        public static int Main(string[] args)
        {
            if (args.Length == 0 || args[0] == "-h" || args[0] == "--help") { Console.WriteLine(Usage); return args.Length == 0 ? 2 : 0; }
            try
            {
                var options = ParseOptions(args);
                switch (args[0])
                {
                    case "sample":
                        return SampleGenerator.Run(Required(options, "out"), Int(options, "count", 300), Int(options, "seed", 42));
                    case "store":
                        return StoreGenerator.Run(Required(options, "out"), Int(options, "traces", 1_000_000), Int(options, "experiments", 5),
                            Int(options, "seed", 1), Int(options, "batch", 1_000_000), options.ContainsKey("force"));
                    case "copy-to-postgres":
                        return PostgresLoader.Run(Required(options, "from"), Required(options, "to"));
                    default:
                        Console.Error.WriteLine($"Unknown command '{args[0]}'.\n\n{Usage}");
                        return 2;
                }
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine(ex.Message + "\n\n" + Usage);
                return 2;
            }
            catch (MlTracesException ex)
            {
                Console.Error.WriteLine($"{ex.ErrorId}: {ex.Message}");
                return 1;
            }
        }

        private static Dictionary<string, string> ParseOptions(string[] args)
        {
            var options = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 1; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"Unexpected argument '{args[i]}'.");
                string name = args[i].Substring(2);
                if (name == "force") { options[name] = "true"; continue; }
                if (i + 1 >= args.Length) throw new ArgumentException($"--{name} needs a value.");
                options[name] = args[++i];
            }
            return options;
        }

        private static string Required(Dictionary<string, string> options, string name) =>
            options.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required.");

        private static int Int(Dictionary<string, string> options, string name, int fallback)
        {
            if (!options.TryGetValue(name, out var v)) return fallback;
            if (int.TryParse(v.Replace("_", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 0) return n;
            throw new ArgumentException($"--{name} must be a non-negative integer, not '{v}'.");
        }
    }
}
