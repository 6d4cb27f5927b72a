using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using MlTraces.Core.Archive;
using MlTraces.Core.Export;
using MlTraces.Core.Locations;
using S3Location = MlTraces.Core.Locations.S3Location;
using MlTraces.Core.Store;
using MlTraces.Shell;

namespace MlTraces.Bench
{
    /// <summary>
    /// Archiving to and deleting from S3 (a private s3rver, tests/objectstores/servers.sh) against a plain AWSSDK.S3
    /// loop doing the same requests for the same keys with the same concurrency, in the same run, on a copy of the
    /// store (<see cref="ArchiveBench.Prepare"/>). The plain loop runs at the module's object-store concurrency
    /// (<see cref="Transient.Concurrency"/>) through the module's own bounded loop (<see cref="Transient.ForEachAsync"/>).
    /// </summary>
    public static class ObjectStoreBench
    {
        private const string Bucket = "mltraces-archive", PlainBucket = "plain-loop";

        /// <summary>Invoke-TraceArchive of N traces to s3rver in a fresh MlTraces.Shell (time, peak working set)
        /// against PutObject of the same traces.pb bytes at the same keys (in another bucket).</summary>
        public static int Archive(Args a)
        {
            long? count = a.Traces > 0 ? a.Traces : (long?)null;
            using var server = new S3Server();
            var p = ArchiveBench.Prepare(a, "archive-s3-bench", "s3://" + Bucket, count);
            try
            {
                using var client = server.Client();
                // The same bytes the module writes, made off the clock: the plain loop only uploads.
                var payloads = new List<(string Key, byte[] Payload)>(p.Candidates.Count);
                var keys = p.Candidates.ToDictionary(c => c.TraceId, c => Key(c.ArchiveFolder), StringComparer.Ordinal);
                foreach (var (id, contents) in ArchiveBench.Contents(p.Work, p.Ids))
                    payloads.Add((keys[id], TracePayload.Write(id, contents.Select(c => SpanJson.FromContent(id, c)).ToList())));
                long bytes = payloads.Sum(x => (long)x.Payload.Length);

                var plain = Stopwatch.StartNew();
                Wait(Transient.ForEachAsync(payloads, Transient.Concurrency, async x =>
                {
                    using var body = new MemoryStream(x.Payload, writable: false);
                    await client.PutObjectAsync(new PutObjectRequest { BucketName = PlainBucket, Key = x.Key, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false }).ConfigureAwait(false);
                    return true;
                }, CancellationToken.None));
                plain.Stop();
                payloads.Clear();

                var run = Shell.Run($"$s = Invoke-TraceArchive -TrackingUri '{p.Work}' -ConfigPath '{p.Config}'{(count.HasValue ? $" -MaxTraces {count}" : "")} -ProgressAction SilentlyContinue; " +
                                    "\"$($s.Archived) $([System.Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64)\"");
                if (run == null) return 1;
                long archived = long.Parse(run.Value.Last[0], CultureInfo.InvariantCulture);
                if (archived != p.Candidates.Count) Console.Error.WriteLine($"Invoke-TraceArchive archived {archived:N0} of {p.Candidates.Count:N0} candidates.");
                double peakMb = run.Value.PeakMb(run.Value.Last[1]);
                double plainRate = p.Candidates.Count / plain.Elapsed.TotalSeconds, toolRate = archived / run.Value.Seconds, ratio = toolRate / plainRate;
                bool met = ratio >= 0.5 && peakMb < 300;
                Stats.Report(a.Out, new[]
                {
                    $"## Archiving {p.Candidates.Count:N0} traces to s3rver ({bytes / 1024.0 / 1024.0:N0} MiB of traces.pb) from a copy of {a.Store}",
                    "",
                    "| | traces | time | traces/s |",
                    "|---|---:|---:|---:|",
                    $"| plain AWSSDK.S3 PutObject loop, {Transient.Concurrency} in flight | {p.Candidates.Count:N0} | {plain.Elapsed.TotalSeconds:0.0} s | {plainRate:N0} |",
                    $"| Invoke-TraceArchive (fresh MlTraces.Shell, whole process) | {archived:N0} | {run.Value.Seconds:0.0} s | {toolRate:N0} |",
                    "",
                    $"Throughput {ratio:0.00} of the plain loop (target at least 0.5{(ratio >= 0.5 ? "" : ", **NOT MET**")}); peak working set {peakMb:0} MB ({(peakMb < 300 ? "under" : "**OVER**")} 300 MB).",
                });
                return met ? 0 : 1;
            }
            finally { Directory.Delete(p.Dir, true); }
        }

        /// <summary>Remove-Trace of N traces archived to s3rver (in-process, warm, as <see cref="DeleteBench"/>) against
        /// DeleteObjects of the same keys, 1,000 a request, from a copy of them in another bucket.</summary>
        public static int Delete(Args a)
        {
            int count = a.TracesGiven ? a.Traces : 10_000;
            using var server = new S3Server();
            var p = ArchiveBench.Prepare(a, "delete-s3-bench", "s3://" + Bucket, count);
            try
            {
                using var client = server.Client();
                using var shell = new ShellSession(width: 120);
                var vars = new Dictionary<string, object?> { ["store"] = p.Work, ["config"] = p.Config, ["ids"] = p.Ids.ToArray() };
                var archived = shell.Invoke($"(Invoke-TraceArchive -TrackingUri $store -ConfigPath $config -MaxTraces {count} -ProgressAction SilentlyContinue).Archived", vars);
                if (archived.Failed) throw new Exception("Invoke-TraceArchive: " + (archived.Terminating?.Message ?? archived.Errors[0].ToString()));
                var keys = p.Candidates.Select(c => Key(c.ArchiveFolder)).ToList();
                // The same bytes at the same keys in the plain loop's bucket (s3rver's CopyObject does not find the source bucket).
                Wait(Transient.ForEachAsync(keys, Transient.Concurrency, async k =>
                {
                    using var got = await client.GetObjectAsync(Bucket, k).ConfigureAwait(false);
                    using var body = new MemoryStream();
                    await got.ResponseStream.CopyToAsync(body).ConfigureAwait(false);
                    body.Position = 0;
                    await client.PutObjectAsync(new PutObjectRequest { BucketName = PlainBucket, Key = k, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false }).ConfigureAwait(false);
                    return true;
                }, CancellationToken.None));
                if (Count(client, Bucket) != keys.Count || Count(client, PlainBucket) != keys.Count)
                    throw new Exception($"Expected {keys.Count:N0} objects in each bucket, found {Count(client, Bucket):N0} and {Count(client, PlainBucket):N0}.");

                double Time(string script)
                {
                    var sw = Stopwatch.StartNew();
                    var r = shell.Invoke(script, vars);
                    sw.Stop();
                    if (r.Failed) throw new Exception(script + ": " + (r.Terminating?.Message ?? r.Errors[0].ToString()));
                    return sw.Elapsed.TotalMilliseconds;
                }
                // Planning alone (no object request): -WhatIf, warm, median of 3.
                double plan = Stats.Median(Enumerable.Range(0, 3).Select(_ => Time("Remove-Trace -TrackingUri $store -TraceId $ids -WhatIf")));

                var batches = new List<List<string>>();
                for (int i = 0; i < keys.Count; i += S3Location.DeleteBatch) batches.Add(keys.Skip(i).Take(S3Location.DeleteBatch).ToList());
                var plain = Stopwatch.StartNew();
                Wait(Transient.ForEachAsync(batches, Transient.Concurrency, batch => client.DeleteObjectsAsync(new DeleteObjectsRequest
                {
                    BucketName = PlainBucket, Quiet = true, Objects = batch.Select(k => new KeyVersion { Key = k }).ToList(),
                }), CancellationToken.None));
                plain.Stop();

                long before = Rows(p.Work);
                var sw = Stopwatch.StartNew();
                var removed = shell.Invoke("Remove-Trace -TrackingUri $store -TraceId $ids -Confirm:$false -Verbose", vars);
                sw.Stop();
                if (removed.Failed) throw new Exception("Remove-Trace: " + (removed.Terminating?.Message ?? removed.Errors[0].ToString()));
                var locks = removed.Verbose.Select(v => Regex.Match(v.Message, "in a transaction of ([0-9,]+) ms")).Where(m => m.Success)
                    .Select(m => TimeSpan.FromMilliseconds(double.Parse(m.Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture))).ToList();
                long deleted = before - Rows(p.Work);
                long left = Count(client, Bucket), plainLeft = Count(client, PlainBucket);
                if (deleted != keys.Count || left != 0 || plainLeft != 0)
                    throw new Exception($"Remove-Trace deleted {deleted:N0} of {keys.Count:N0} traces and left {left:N0} objects; the plain loop left {plainLeft:N0}.");

                // Remove-Trace's steps: each batch's transaction, then (SQLite, not after the last) a pause for waiting
                // writers of at most TransactionSizer.WaiterTurn; the next batch's object requests run meanwhile, and
                // the executor times them (Verbose). What the object deletes add to the run is what is left of the
                // whole after the plan, the transactions and the pauses: the time the run waits for objects.
                double requests = removed.Verbose.Select(v => Regex.Match(v.Message, "after ([0-9,]+) ms of object requests")).Where(m => m.Success)
                    .Sum(m => double.Parse(m.Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture));
                double locked = locks.Sum(l => l.TotalMilliseconds);
                double pauses = locks.Take(Math.Max(0, locks.Count - 1)).Sum(l => TransactionSizer.WaiterTurn(l).TotalMilliseconds);
                double added = sw.Elapsed.TotalMilliseconds - plan - locked - pauses;
                double ratio = added / plain.Elapsed.TotalMilliseconds;
                Stats.Report(a.Out, new[]
                {
                    $"## Remove-Trace of {keys.Count:N0} traces archived to s3rver, from a copy of {a.Store}",
                    "",
                    "| | time |",
                    "|---|---:|",
                    $"| plain DeleteObjects loop, {S3Location.DeleteBatch:N0} keys a request, {Transient.Concurrency} in flight | {plain.Elapsed.TotalSeconds:0.00} s |",
                    $"| `Remove-Trace -TraceId $ids` (in-process, warm), whole | {sw.Elapsed.TotalSeconds:0.00} s |",
                    $"| of which the plan (`-WhatIf`, median of 3) | {plan / 1000:0.00} s |",
                    $"| of which {locks.Count} transactions (Verbose) | {locked / 1000:0.00} s |",
                    $"| of which pauses for waiting writers (at most) | {pauses / 1000:0.00} s |",
                    $"| of which **waiting for the object deletes** (the rest) | {added / 1000:0.00} s |",
                    $"| the object requests' own time, mostly during the transactions and pauses (Verbose) | {requests / 1000:0.00} s |",
                    "",
                    $"Object deletes add {ratio:0.00}x the plain loop's time to the run (target within 1.5x{(ratio <= 1.5 ? "" : ", **NOT MET**")}); " +
                    $"their requests take {requests / plain.Elapsed.TotalMilliseconds:0.00}x, overlapped with the store's work.",
                });
                return ratio <= 1.5 ? 0 : 1;
            }
            finally { Directory.Delete(p.Dir, true); }
        }

        /// <summary>The key of traces.pb in a trace's archive folder s3://bucket/key.</summary>
        private static string Key(string folder)
        {
            string prefix = "s3://" + Bucket + "/";
            if (!folder.StartsWith(prefix, StringComparison.Ordinal)) throw new Exception($"Unexpected archive folder {folder}.");
            return folder.Substring(prefix.Length) + "/" + TracePayload.FileName;
        }

        private static long Count(AmazonS3Client client, string bucket)
        {
            long n = 0;
            string? token = null;
            do
            {
                var page = Wait(client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, ContinuationToken = token }));
                n += page.S3Objects?.Count ?? 0;
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            } while (token != null);
            return n;
        }

        private static long Rows(string work)
        {
            using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={work};Mode=ReadOnly;Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT count(*) FROM trace_info";
            return (long)cmd.ExecuteScalar()!;
        }

        private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();

        /// <summary>A private s3rver for the run (tests/objectstores/servers.sh), named to the module and to this
        /// process's plain client through MLflow's variables; stopped at the end.</summary>
        private sealed class S3Server : IDisposable
        {
            private readonly string _script, _dir = Path.Combine(Path.GetTempPath(), "mltraces-bench-s3-" + Guid.NewGuid().ToString("N"));
            public string Endpoint { get; }

            public S3Server()
            {
                string root = AppContext.BaseDirectory;
                while (!File.Exists(Path.Combine(root, "tests", "objectstores", "servers.sh")))
                    root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar)) ?? throw new Exception("tests/objectstores/servers.sh not found above " + AppContext.BaseDirectory);
                _script = Path.Combine(root, "tests", "objectstores", "servers.sh");
                Endpoint = Bash($"start s3 \"{_dir}\"").Trim().Split('\n').Last().Trim();
                // s3rver's only key pair.
                Environment.SetEnvironmentVariable("MLFLOW_S3_ENDPOINT_URL", Endpoint);
                Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "S3RVER");
                Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "S3RVER");
            }

            /// <summary>A client set up as the module's (<see cref="S3Location"/>: path style, checksums only where
            /// required), once the module's bucket and the plain loop's are made.</summary>
            public AmazonS3Client Client()
            {
                var client = new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"), new AmazonS3Config
                {
                    ServiceURL = Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1",
                    RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED, ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
                });
                Wait(client.PutBucketAsync(Bucket));
                Wait(client.PutBucketAsync(PlainBucket));
                return client;
            }

            private string Bash(string args)
            {
                var psi = new ProcessStartInfo("bash", $"\"{_script}\" {args}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                using var p = Process.Start(psi)!;
                var err = p.StandardError.ReadToEndAsync();
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0) throw new Exception($"servers.sh {args}: exit {p.ExitCode}: {err.Result}{output}");
                return output;
            }

            public void Dispose() => Bash($"stop \"{_dir}\"");
        }
    }
}
