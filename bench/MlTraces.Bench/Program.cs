using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using MlTraces.Bench;

// dotnet run -c Release --project bench/MlTraces.Bench -- <search|stream|startup|profile|archive-plan|archive|archive-profile|delete|archive-s3|delete-s3|maintenance> --store <path.db> [--runs N] [--traces N]
var options = Args.Parse(args);
switch (options.Command)
{
    case "search": return SearchBench.Run(options);
    case "stream": return StreamBench.Run(options);
    case "startup": return StartupBench.Run(options);
    case "startup-child": return StartupBench.Child(options);
    case "profile": return ProfileBench.Run(options);
    case "archive-plan": return ArchivePlanBench.Run(options);
    case "archive": return ArchiveBench.Run(options);
    case "archive-profile": return ArchiveProfile.Run(options);
    case "delete": return DeleteBench.Run(options);
    case "archive-s3": return ObjectStoreBench.Archive(options);
    case "delete-s3": return ObjectStoreBench.Delete(options);
    case "maintenance": return MaintenanceBench.Run(options);
    default:
        Console.Error.WriteLine("usage: MlTraces.Bench search|stream|startup|profile|archive-plan|archive|archive-profile|delete|archive-s3|delete-s3|maintenance --store <path.db> [--runs N] [--traces N] [--work dir] [--out results.md]");
        return 2;
}
