using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core.Locations;
using MlTraces.Core.Store;

namespace MlTraces.Core.Delete
{
    /// <summary>
    /// The files of a trace outside the database: its artifact folder (tag mlflow.artifactLocation, MLflow's
    /// "&lt;experiment artifact location&gt;/traces/&lt;id&gt;/artifacts") and its archived payload (traces.pb in the folder
    /// named by mlflow.trace.archiveLocation). Only a folder that <see cref="TraceFolders"/> proves the trace's own
    /// is touched, so a wrong or hostile tag or id can never point the deletion at anything else; the rest is
    /// reported as left behind, with the reason. In an object store (s3://, wasbs://, abfss://, mlflow-artifacts:/)
    /// the same rule holds for keys (<see cref="ObjectKeys"/>): those objects are <see cref="Objects"/>, deleted
    /// before the trace's rows.
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

        /// <summary>The trace's own objects in object stores: its artifact folder's objects first, its archived
        /// payload (the object its row points to) last.</summary>
        public List<TraceObject> Objects { get; } = new List<TraceObject>();

        /// <summary>Why the trace's own objects cannot be reached from here though they can be named (an
        /// mlflow-artifacts:/ location without the server's --artifacts-destination): deleting its rows would leave
        /// them for good, so the trace is kept, with this error. Null when everything of the trace can be handled.</summary>
        public MlTracesException? Unreachable { get; private set; }

        public bool IsEmpty => Folders.Count == 0 && Files.Count == 0 && LeftBehind.Count == 0 && Objects.Count == 0 && Unreachable == null;

        /// <summary>Where the trace's files are. Looks at the file system only for local locations and sends no
        /// request to an object store.</summary>
        /// <param name="experimentLocation">The artifact location of the trace's experiment (the root its artifact
        /// folder must be under); null when the experiment is not known.</param>
        public static TraceFiles Locate(string traceId, string experimentId, string? experimentLocation, string? artifactLocation, string? archiveLocation, ObjectStoreSettings settings)
        {
            var files = new TraceFiles();
            if (artifactLocation != null)
            {
                string? own = null, why = "";
                if (LocationUri.IsObjectStoreScheme(artifactLocation) || LocationUri.IsObjectStoreScheme(experimentLocation))
                {
                    // The folder derived from the experiment's own location and the checked id, which the tag must name exactly.
                    var found = ObjectKeys.OwnArtifacts(traceId, experimentLocation, artifactLocation, settings, out why);
                    if (found?.Root != null) files.Objects.Add(new TraceObject(found.Value.Root, found.Value.FolderKey, folder: true));
                    else if (found != null) own = TraceFolders.Artifacts(traceId, found.Value.LocalRoot, found.Value.LocalTag!, out why);
                    if (found?.Root == null && own == null)
                    {
                        if (NeedsDestination(artifactLocation, settings) && NamesOwnFolder(traceId, experimentLocation, artifactLocation))
                            files.KeepFor(traceId, artifactLocation, "artifact folder");
                        else files.LeftBehind.Add($"{LocationUri.Shown(artifactLocation)} (artifact folder, {why.TrimEnd('.')}, so left in place)");
                    }
                }
                else
                {
                    own = TraceFolders.Artifacts(traceId, experimentLocation, artifactLocation, out why);
                    if (own == null) files.LeftBehind.Add($"{artifactLocation} (artifact folder, {why}, so left in place)");
                }
                if (own != null && Directory.Exists(own)) files.Folders.Add(Path.GetDirectoryName(own)!);
            }
            if (archiveLocation != null && archiveLocation != artifactLocation && LocationUri.IsObjectStoreScheme(archiveLocation))
            {
                string? local = null;
                try
                {
                    var folder = LocationUri.Parse(archiveLocation, settings);
                    if (folder.Kind == LocationKind.Folder) local = folder.Prefix;
                    else
                    {
                        var (root, folderKey) = ObjectKeys.SplitTraceFolder(folder, traceId, experimentId);
                        files.Objects.Add(new TraceObject(root, folderKey + "/" + ArchiveFileName, folder: false));
                    }
                }
                catch (MlTracesException) when (NeedsDestination(archiveLocation, settings)) { files.KeepFor(traceId, archiveLocation, "archived payload"); }
                catch (MlTracesException ex)
                {
                    files.LeftBehind.Add($"{LocationUri.Shown(archiveLocation)} (archived payload, {ex.Message.TrimEnd('.')}, so left in place)");
                }
                if (local != null) files.AddLocalArchive(traceId, experimentId, local, archiveLocation);
            }
            else if (archiveLocation != null && archiveLocation != artifactLocation) files.AddLocalArchive(traceId, experimentId, archiveLocation, archiveLocation);
            else if (archiveLocation != null && files.Objects.Count == 1 && files.Objects[0].Folder)
                // The payload sits in the artifact folder: it is still the last object to go.
                files.Objects.Add(new TraceObject(files.Objects[0].Root, files.Objects[0].Key + "/" + ArchiveFileName, folder: false));
            return files;
        }

        /// <summary>An mlflow-artifacts:/ URI while the server's --artifacts-destination is not given: its objects
        /// exist somewhere MlTraces is not told of.</summary>
        private static bool NeedsDestination(string location, ObjectStoreSettings settings) =>
            LocationUri.IsMlflowArtifacts(location) && string.IsNullOrWhiteSpace(settings.ArtifactsDestination);

        /// <summary>Whether the tag names exactly the folder MLflow gives the trace under its experiment's location
        /// (compared as text, since neither can be resolved): a tag naming anything else is not the trace's own.</summary>
        private static bool NamesOwnFolder(string traceId, string? experimentLocation, string tagLocation)
        {
            if (experimentLocation == null || !LocationUri.IsMlflowArtifacts(experimentLocation)) return false;
            string folder;
            try { folder = ObjectKeys.TraceFolder(traceId); }
            catch (MlTracesException) { return false; }
            return string.Equals(tagLocation.TrimEnd('/'), experimentLocation.TrimEnd('/') + "/" + folder, StringComparison.Ordinal);
        }

        private void KeepFor(string traceId, string location, string what)
        {
            Unreachable ??= new MlTracesException(ErrorKind.WriteFailed, "TraceObjectsNotRemoved",
                $"Trace '{traceId}' was not removed: its {what} '{LocationUri.Shown(location)}' is relative to the MLflow server's --artifacts-destination, which only the server knows, " +
                $"and removing the trace's rows without its objects would leave them in the artifact store for good. Give the server's --artifacts-destination with -ArtifactsDestination " +
                $"or in $env:{ObjectStoreSettings.ArtifactsDestinationVariable} (for example s3://my-bucket/mlartifacts) and run Remove-Trace again.");
        }

        private void AddLocalArchive(string traceId, string experimentId, string archiveLocation, string shown)
        {
            var files = this;
            {
                string? own = TraceFolders.Archive(traceId, experimentId, archiveLocation, out string why);
                if (own == null) files.LeftBehind.Add($"{shown} (archived payload, {why}, so left in place)");
                else
                {
                    string pb = Path.Combine(own, ArchiveFileName);
                    bool inRemovedFolder = files.Folders.Any(f => ConfinedPath.SamePath(Path.GetDirectoryName(own)!, f));
                    if ((int)new FileInfo(pb).Attributes != -1 && !inRemovedFolder) files.Files.Add(pb);
                }
            }
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

    /// <summary>An object (or, with <see cref="Folder"/>, every object under a folder) that is a trace's own, by the
    /// root it is under and its key relative to that root, checked when it was made.</summary>
    public sealed class TraceObject
    {
        public TraceObject(LocationUri root, string key, bool folder) { Root = root; Key = key; Folder = folder; root.Key(key); }
        public LocationUri Root { get; }
        public string Key { get; }
        public bool Folder { get; }
        /// <summary>The URI a person reads: the object's, or the folder's with a trailing '/'.</summary>
        public string Uri => Root.WithPrefix(Root.Key(Key)) + (Folder ? "/" : "");
        public override string ToString() => Uri;
    }
}
