using System;
using System.Collections.Generic;
using System.IO;
using MlTraces.Core.Store;

namespace MlTraces.Core.Delete
{
    /// <summary>
    /// The files of a trace outside the database: its artifact folder (tag mlflow.artifactLocation, MLflow's
    /// ".../traces/&lt;id&gt;/artifacts") and its archived payload (traces.pb in the folder named by
    /// mlflow.trace.archiveLocation). Only a local folder that is visibly the trace's own — its path ends in
    /// &lt;trace id&gt;/artifacts — is removed, so a wrong or hostile tag can never point the deletion at
    /// anything else; the rest is reported as left behind.
    /// </summary>
    public sealed class TraceFiles
    {
        public const string ArchiveFileName = "traces.pb";

        /// <summary>Local folders to remove whole (the trace's folder, holding artifacts/).</summary>
        public List<string> Folders { get; } = new List<string>();
        /// <summary>Local archived payloads to remove (their folders go too once empty).</summary>
        public List<string> Files { get; } = new List<string>();
        /// <summary>What is the trace's but cannot be removed from here, each with the reason.</summary>
        public List<string> LeftBehind { get; } = new List<string>();

        public bool IsEmpty => Folders.Count == 0 && Files.Count == 0 && LeftBehind.Count == 0;

        /// <summary>Where the trace's files are. Looks at the file system only for local locations.</summary>
        public static TraceFiles Locate(string traceId, string? artifactLocation, string? archiveLocation)
        {
            var files = new TraceFiles();
            if (artifactLocation != null)
            {
                string? folder = OwnFolder(traceId, artifactLocation, "artifact folder", files.LeftBehind);
                if (folder != null && Directory.Exists(folder)) files.Folders.Add(folder);
            }
            if (archiveLocation != null && archiveLocation != artifactLocation)
            {
                string? folder = OwnFolder(traceId, archiveLocation, "archived payload", files.LeftBehind);
                if (folder != null)
                {
                    string pb = Path.Combine(folder, "artifacts", ArchiveFileName);
                    if (File.Exists(pb) && !files.Folders.Contains(folder)) files.Files.Add(pb);
                }
            }
            return files;
        }

        /// <summary>The trace's folder (the parent of .../&lt;id&gt;/artifacts) when the location is local and
        /// has that shape; otherwise null, with the reason added to <paramref name="leftBehind"/>.</summary>
        private static string? OwnFolder(string traceId, string location, string what, List<string> leftBehind)
        {
            string? path = SpanLoader.LocalPath(location);
            if (path == null)
            {
                leftBehind.Add($"{location} ({what}, not on the local file system)");
                return null;
            }
            string trimmed = path.TrimEnd('/', '\\');
            string? parent = Path.GetDirectoryName(trimmed);
            if (!string.Equals(Path.GetFileName(trimmed), "artifacts", StringComparison.Ordinal) || parent == null
                || !string.Equals(Path.GetFileName(parent), traceId, StringComparison.Ordinal))
            {
                leftBehind.Add($"{location} ({what}, not the trace's own folder .../{traceId}/artifacts, so left in place)");
                return null;
            }
            return parent;
        }

        /// <summary>Removes the files; returns what was removed. A failure stops at the first path it concerns
        /// and is handed to <paramref name="failed"/> with that path.</summary>
        public List<string> Remove(Action<string, Exception> failed)
        {
            var removed = new List<string>();
            foreach (var folder in Folders)
            {
                try
                {
                    if (!Directory.Exists(folder)) continue;
                    Directory.Delete(folder, recursive: true);
                    removed.Add(folder);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { failed(folder, ex); }
            }
            foreach (var file in Files)
            {
                try
                {
                    if (!File.Exists(file)) continue;
                    File.Delete(file);
                    removed.Add(file);
                    // The payload's folders, .../<id>/artifacts and .../<id>, go too when nothing else is in them.
                    string artifacts = Path.GetDirectoryName(file)!;
                    RemoveIfEmpty(artifacts);
                    RemoveIfEmpty(Path.GetDirectoryName(artifacts)!);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { failed(file, ex); }
            }
            return removed;
        }

        private static void RemoveIfEmpty(string folder)
        {
            if (Directory.Exists(folder) && Directory.GetFileSystemEntries(folder).Length == 0) Directory.Delete(folder);
        }
    }
}
