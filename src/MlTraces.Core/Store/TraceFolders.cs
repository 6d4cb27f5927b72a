using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Which local folder is provably a trace's own, the one rule every reader, writer and remover of a trace's
    /// files asks. MLflow's shapes: artifacts at &lt;experiment artifact_location&gt;/traces/&lt;id&gt;/artifacts, archived
    /// payloads at &lt;archive root&gt;[/workspaces/&lt;ws&gt;]/&lt;experiment id&gt;/traces/&lt;id&gt;/artifacts. A folder is the
    /// trace's own only when the trace's id is a valid one (<see cref="TraceIds.Problem"/>), the location has that
    /// shape with no "." or ".." in it, and its real path (<see cref="ConfinedPath"/>) is exactly that folder under
    /// the real root. A tag pointing anywhere else is not provably the trace's: its files are left alone and
    /// reported. Each method gives the folder's real path, or null and the reason.
    /// </summary>
    public static class TraceFolders
    {
        /// <summary>The trace's artifact folder, when the tag names the folder MLflow gives it under its
        /// experiment's artifact location.</summary>
        public static string? Artifacts(string traceId, string? experimentLocation, string tagLocation, out string reason)
        {
            if (!UsableId(traceId, out reason)) return null;
            string? tag = ConfinedPath.LocalPath(tagLocation);
            if (tag == null) { reason = "not on the local file system"; return null; }
            string? root = ConfinedPath.LocalPath(experimentLocation);
            if (root == null)
            {
                reason = experimentLocation == null
                    ? "the trace's experiment is not known here, so the folder cannot be proven the trace's own"
                    : $"the experiment's artifact location '{experimentLocation}' is not a local folder, so the folder cannot be proven the trace's own";
                return null;
            }
            string? own = ConfinedPath.Within(root, new[] { "traces", traceId, "artifacts" }, out string? problem);
            if (own == null) { reason = $"the trace's own folder under '{experimentLocation}' is not safe: {problem}"; return null; }
            string? real = ConfinedPath.RealPath(tag, out problem);
            if (real == null || !ConfinedPath.SamePath(real, own))
            {
                reason = $"not the trace's own folder '{own}'";
                return null;
            }
            reason = "";
            return own;
        }

        /// <summary>The folder of a trace's archived payload named by its archiveLocation tag; with
        /// <paramref name="experimentId"/>, the folder must also sit under that experiment's id.</summary>
        public static string? Archive(string traceId, string? experimentId, string location, out string reason)
        {
            if (!UsableId(traceId, out reason)) return null;
            string? path = ConfinedPath.LocalPath(location);
            if (path == null) { reason = "not on the local file system"; return null; }
            var parts = path.Split('/', Path.DirectorySeparatorChar).ToList();
            while (parts.Count > 0 && parts[parts.Count - 1].Length == 0) parts.RemoveAt(parts.Count - 1);
            if (parts.Any(p => p == "." || p == ".."))
            {
                reason = "it contains '.' or '..', which MLflow never writes";
                return null;
            }
            int n = parts.Count, keep = experimentId == null ? 3 : 4;
            if (n < keep + 1 || parts[n - 3] != "traces" || parts[n - 2] != traceId || parts[n - 1] != "artifacts"
                || (experimentId != null && parts[n - 4] != experimentId))
            {
                reason = $"not the trace's own folder .../{(experimentId == null ? "" : experimentId + "/")}traces/{traceId}/artifacts";
                return null;
            }
            string root = string.Join(Path.DirectorySeparatorChar.ToString(), parts.Take(n - keep));
            if (root.Length == 0 || root.EndsWith(":", StringComparison.Ordinal)) root += Path.DirectorySeparatorChar;
            string? own = ConfinedPath.Within(root, parts.Skip(n - keep).ToList(), out string? problem);
            if (own == null) { reason = problem!; return null; }
            return own;
        }

        /// <summary>The folder an archive repository may read, write or remove a payload in: .../traces/&lt;valid
        /// id&gt;/artifacts, confined below the folder above "traces". Throws UnsafeArchiveLocation otherwise.</summary>
        public static string PayloadFolder(string folderUri)
        {
            string? path = ConfinedPath.LocalPath(folderUri);
            var parts = path?.TrimEnd('/', Path.DirectorySeparatorChar).Split('/', Path.DirectorySeparatorChar);
            string id = parts != null && parts.Length >= 2 ? parts[parts.Length - 2] : "";
            return Archive(id, null, folderUri, out string reason)
                ?? throw new MlTracesException(ErrorKind.InvalidData, "UnsafeArchiveLocation",
                    $"The archive folder '{folderUri}' is not used: {reason}.");
        }

        /// <summary>The folder URI an archival pass records for a trace: &lt;location&gt;/traces/&lt;id&gt;/artifacts, or null
        /// and the reason when the trace's id cannot name a folder.</summary>
        public static string? ArchiveFolderUri(string experimentArchiveLocation, string traceId, out string reason) =>
            UsableId(traceId, out reason) ? experimentArchiveLocation.TrimEnd('/') + "/traces/" + traceId + "/artifacts" : null;

        private static bool UsableId(string traceId, out string reason)
        {
            string? problem = TraceIds.Problem(traceId);
            reason = problem == null ? "" : "the trace id is not one MLflow writes, so no path is built from it: " + problem;
            return problem == null;
        }

        /// <summary>After a trace's payload is removed: its own folders .../&lt;id&gt;/artifacts and .../&lt;id&gt; go too
        /// when nothing else is in them.</summary>
        public static void RemoveEmptyFolders(string ownArtifactsFolder)
        {
            RemoveIfEmpty(ownArtifactsFolder);
            RemoveIfEmpty(Path.GetDirectoryName(ownArtifactsFolder)!);
        }

        private static void RemoveIfEmpty(string folder)
        {
            try
            {
                if (Directory.Exists(folder) && Directory.GetFileSystemEntries(folder).Length == 0) Directory.Delete(folder);
            }
            catch (IOException) { /* filled meanwhile: it stays */ }
        }
    }
}
