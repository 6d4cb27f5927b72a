using System;
using System.Linq;
using MlTraces.Core.Store;

namespace MlTraces.Core.Locations
{
    /// <summary>
    /// Which object keys MlTraces may touch: keys built from store data, confined as local paths are
    /// (<see cref="TraceFolders"/>). Every part is one plain name (<see cref="TraceIds.PathSegmentProblem"/>), so no
    /// key can climb out of its root prefix (S3 itself does not fold "..", but URL clients and S3-compatible servers
    /// may), and a trace's objects are only ever under &lt;root&gt;[/&lt;experiment&gt;]/traces/&lt;trace id&gt;/artifacts/.
    /// </summary>
    public static class ObjectKeys
    {
        public const string ArtifactsFolder = "artifacts", TracesFolder = "traces";

        /// <summary>Why a key relative to a root cannot be used, or null.</summary>
        public static string? Problem(string? relativeKey)
        {
            if (string.IsNullOrEmpty(relativeKey)) return "it is empty";
            foreach (var part in relativeKey!.Split('/'))
            {
                string? bad = TraceIds.PathSegmentProblem(part);
                if (bad != null) return $"its part '{UserText.Printable(part)}' {bad}";
            }
            return null;
        }

        /// <summary>traces/&lt;id&gt;/artifacts (or &lt;experiment&gt;/traces/&lt;id&gt;/artifacts), relative to a root, after the
        /// id (and experiment id) are checked; an UnsafeArchiveLocation error before any request otherwise.</summary>
        public static string TraceFolder(string traceId, string? experimentId = null)
        {
            string? problem = TraceIds.Problem(traceId);
            if (problem != null) throw Unsafe($"the trace id is not one MLflow writes, so no key is built from it: {problem}");
            if (experimentId != null)
            {
                string? bad = TraceIds.PathSegmentProblem(experimentId);
                if (bad != null) throw Unsafe($"the experiment id '{UserText.Printable(experimentId)}' {bad}");
                return experimentId + "/" + TracesFolder + "/" + traceId + "/" + ArtifactsFolder;
            }
            return TracesFolder + "/" + traceId + "/" + ArtifactsFolder;
        }

        /// <summary>
        /// Splits a trace's folder URI as the store records it (its archiveLocation tag, or its artifact location)
        /// into the root above it and the folder key under that root, when the URI has the trace's own shape
        /// .../[&lt;experiment&gt;/]traces/&lt;id&gt;/artifacts with a valid id; with <paramref name="traceId"/> or
        /// <paramref name="experimentId"/>, they must be the ones named. UnsafeArchiveLocation otherwise.
        /// </summary>
        public static (LocationUri Root, string FolderKey) SplitTraceFolder(LocationUri folder, string? traceId = null, string? experimentId = null)
        {
            var parts = folder.Prefix.Length == 0 ? new string[0] : folder.Prefix.Split('/');
            int n = parts.Length, keep = experimentId == null ? 3 : 4;
            if (n < keep || parts[n - 3] != TracesFolder || parts[n - 1] != ArtifactsFolder
                || (traceId != null && parts[n - 2] != traceId) || (experimentId != null && parts[n - 4] != experimentId))
                throw Unsafe($"'{folder}' is not a trace's own folder .../{(experimentId == null ? "" : experimentId + "/")}traces/{traceId ?? "<trace id>"}/artifacts");
            string key = TraceFolder(parts[n - 2], experimentId);
            return (folder.WithPrefix(string.Join("/", parts.Take(n - keep))), key);
        }

        /// <summary>
        /// Where a trace's artifacts (traces.json) are, when its experiment's artifact location is an object store or
        /// mlflow-artifacts:/: the experiment's root and the key traces/&lt;id&gt;/artifacts under it (nothing is opened here:
        /// a plan of many traces opens each root once, when it acts).
        /// The trace's mlflow.artifactLocation tag must name exactly that folder (the tag is the store's word, the
        /// folder is derived from the experiment's own location and the trace's checked id); otherwise null and the
        /// reason, before any request. A root that resolves to a local folder gives its path in LocalRoot (and the
        /// tag's in LocalTag) for the local rules (<see cref="Store.TraceFolders.Artifacts"/>).
        /// </summary>
        public static (LocationUri? Root, string FolderKey, string? LocalRoot, string? LocalTag)? OwnArtifacts(
            string traceId, string? experimentLocation, string tagLocation, ObjectStoreSettings settings, out string reason)
        {
            reason = "";
            if (experimentLocation == null) { reason = "the trace's experiment is not known here, so the folder cannot be proven the trace's own"; return null; }
            LocationUri root, tag;
            string folderKey;
            try
            {
                root = LocationUri.Parse(experimentLocation, settings);
                tag = LocationUri.Parse(tagLocation, settings);
                folderKey = TraceFolder(traceId);
            }
            catch (MlTracesException ex) { reason = ex.Message; return null; }
            if (root.Kind == LocationKind.Folder || tag.Kind == LocationKind.Folder)
            {
                if (root.Kind != tag.Kind) { reason = $"it is not under the experiment's artifact location '{LocationUri.Shown(experimentLocation)}'"; return null; }
                return (null, folderKey, root.Prefix, tag.Prefix);
            }
            var own = root.WithPrefix(root.Prefix.Length == 0 ? folderKey : root.Prefix + "/" + folderKey);
            if (tag.Kind != root.Kind || !string.Equals(tag.ToString(), own.ToString(), StringComparison.Ordinal))
            {
                reason = $"not the trace's own folder '{own}'";
                return null;
            }
            return (root, folderKey, null, null);
        }

        private static MlTracesException Unsafe(string why) =>
            new MlTracesException(ErrorKind.InvalidData, "UnsafeArchiveLocation", $"The archive location is not used: {why}.");
    }
}
