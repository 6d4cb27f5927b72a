using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Store;

namespace MlTraces.Core.Delete
{
    /// <summary>
    /// The files of a trace outside the database: its artifact folder (tag mlflow.artifactLocation, MLflow's
    /// "&lt;experiment artifact location&gt;/traces/&lt;id&gt;/artifacts") and its archived payload (traces.pb in the folder
    /// named by mlflow.trace.archiveLocation). Only a folder that <see cref="TraceFolders"/> proves the trace's own
    /// is touched, so a wrong or hostile tag or id can never point the deletion at anything else; the rest is
    /// reported as left behind, with the reason.
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
        /// <param name="experimentLocation">The artifact location of the trace's experiment (the root its artifact
        /// folder must be under); null when the experiment is not known.</param>
        public static TraceFiles Locate(string traceId, string experimentId, string? experimentLocation, string? artifactLocation, string? archiveLocation)
        {
            var files = new TraceFiles();
            if (artifactLocation != null)
            {
                string? own = TraceFolders.Artifacts(traceId, experimentLocation, artifactLocation, out string why);
                if (own == null) files.LeftBehind.Add($"{artifactLocation} (artifact folder, {why}, so left in place)");
                else if (Directory.Exists(own)) files.Folders.Add(Path.GetDirectoryName(own)!);
            }
            if (archiveLocation != null && archiveLocation != artifactLocation)
            {
                string? own = TraceFolders.Archive(traceId, experimentId, archiveLocation, out string why);
                if (own == null) files.LeftBehind.Add($"{archiveLocation} (archived payload, {why}, so left in place)");
                else
                {
                    string pb = Path.Combine(own, ArchiveFileName);
                    bool inRemovedFolder = files.Folders.Any(f => ConfinedPath.SamePath(Path.GetDirectoryName(own)!, f));
                    if ((int)new FileInfo(pb).Attributes != -1 && !inRemovedFolder) files.Files.Add(pb);
                }
            }
            return files;
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
                    if ((int)new FileInfo(file).Attributes == -1) continue;
                    File.Delete(file);
                    removed.Add(file);
                    TraceFolders.RemoveEmptyFolders(Path.GetDirectoryName(file)!);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { failed(file, ex); }
            }
            return removed;
        }
    }
}
