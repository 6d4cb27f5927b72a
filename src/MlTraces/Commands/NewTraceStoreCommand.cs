using System;
using System.IO;
using System.Management.Automation;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>Creates an empty MLflow tracking store (a SQLite file, or an empty PostgreSQL database) with MLflow's
    /// current schema.</summary>
    [Cmdlet(VerbsCommon.New, "TraceStore", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(StoreInfo))]
    public sealed class NewTraceStoreCommand : StoreCmdlet
    {
        /// <summary>The tracking URI (sqlite:///mlflow.db, postgresql://user@host:5432/db) or path of the store to create. Default: $env:MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "Path", "Store", "Uri")]
        [ValidateNotNullOrEmpty]
        public string? TrackingUri { get; set; }
        protected override string? StoreUri { get => TrackingUri; set => TrackingUri = value; }

        /// <summary>Where experiment artifacts go (experiment 0's artifact_location is this root + "/0").
        /// Default: the folder 'mlruns' next to a SQLite store, as a file URI; for PostgreSQL, mlflow-artifacts:/ (the
        /// tracking server's proxied artifact store, MLflow's default).</summary>
        [Parameter]
        public string? ArtifactRoot { get; set; }

        protected override void ProcessInput()
        {
            TrackingUri? parsed = null;
            Terminating(() => parsed = ResolveUri(), TrackingUri == null ? null : Core.Store.TrackingUri.Redact(TrackingUri));
            var uri = parsed!;
            string? artifactRoot = null;
            if (ArtifactRoot != null) Terminating(() => artifactRoot = UserPaths.UriOrPath(SessionState, ArtifactRoot), ArtifactRoot);
            if (!ShouldProcess(uri.Kind == StoreKind.Postgres ? uri.Original : uri.FilePath, "Create MLflow tracking store")) return;
            Terminating(() =>
            {
                if (uri.Kind == StoreKind.Postgres)
                {
                    using var pgStore = TraceStore.Create(uri, (artifactRoot ?? "mlflow-artifacts:").TrimEnd('/', '\\') + "/0");
                    WriteObject(StoreInfoReader.Read(pgStore));
                    return;
                }
                string folder = Path.GetDirectoryName(uri.FilePath!)!;
                if (!Directory.Exists(folder))
                    throw new Core.MlTracesException(Core.ErrorKind.StoreNotFound, "StoreFolderNotFound",
                        $"The folder '{folder}' for the new store '{uri.Original}' does not exist. Create it first.");
                string root = artifactRoot ?? new Uri(Path.Combine(folder, "mlruns") + Path.DirectorySeparatorChar).AbsoluteUri;
                string location = root.TrimEnd('/', '\\') + "/0";
                using var store = TraceStore.Create(uri, location);
                WriteObject(StoreInfoReader.Read(store));
            }, uri.Original);
        }
    }
}
