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
                using var store = TraceStore.CreateNew(uri, artifactRoot);
                WriteObject(StoreInfoReader.Read(store));
            }, uri.Original);
        }
    }
}
