using System;
using System.Linq;
using System.Text.RegularExpressions;
using MlTraces.Core.Store;

namespace MlTraces.Core.Locations
{
    public enum LocationKind { Folder, S3, AzureBlob }

    /// <summary>
    /// A root URI where MLflow keeps payloads or artifacts, parsed as MLflow parses it:
    /// <list type="bullet">
    /// <item>s3://bucket/prefix: S3ArtifactRepository.parse_s3_compliant_uri (mlflow/store/artifact/s3_artifact_repo.py):
    /// the bucket is the netloc, the key prefix the path without its leading '/'.</item>
    /// <item>wasbs://container@account.blob.core.windows.net/prefix: AzureBlobArtifactRepository.parse_wasbs_uri
    /// (azure_blob_artifact_repo.py): the netloc must fully match container@account.blob.core.(windows.net|chinacloudapi.cn|usgovcloudapi.net).</item>
    /// <item>abfss://filesystem@account.&lt;suffix&gt;/prefix: _parse_abfss_uri (azure_data_lake_artifact_repo.py):
    /// netloc matched by ([^@]+)@([^.]+)\.(.*); reached here through the blob endpoint of the same account
    /// (Data Lake Gen2 accounts serve both), so the dfs in the suffix becomes blob.</item>
    /// <item>mlflow-artifacts:[//host[:port]]/path: the server maps it to &lt;--artifacts-destination&gt;/path
    /// (mlflow_artifacts_repo.py, resolve_uri, and the server's artifact handlers); the destination is
    /// <see cref="ObjectStoreSettings.ArtifactsDestinationVariable"/>.</item>
    /// <item>file:// URIs and absolute local paths (<see cref="ConfinedPath.LocalPath"/>).</item>
    /// </list>
    /// Anything else (gs://, hdfs://, dbfs:/, http://, a relative path ...) is an UnsupportedLocation error that lists
    /// what is supported. The prefix never has ".", ".." or empty segments: a URL client may fold them, so the key
    /// sent would not be the key checked.
    /// </summary>
    public sealed class LocationUri
    {
        private const string ObjectForms = "s3://<bucket>/<path>, wasbs://<container>@<account>.blob.core.windows.net/<path>, abfss://<filesystem>@<account>.dfs.core.windows.net/<path>";
        private const string LocalForms = "file:// URIs and absolute local paths";
        public const string Supported = ObjectForms + ", mlflow-artifacts:/<path> (with -ArtifactsDestination or $env:" + ObjectStoreSettings.ArtifactsDestinationVariable + " naming the server's --artifacts-destination), " + LocalForms;
        /// <summary>What the server's --artifacts-destination can be here: where artifacts really are.</summary>
        public const string DestinationForms = ObjectForms + ", " + LocalForms;

        private static readonly Regex Wasbs = new Regex(@"^([^@]+)@([^.]+)\.(blob\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net))$", RegexOptions.CultureInvariant);
        private static readonly Regex Abfss = new Regex(@"^([^@]+)@([^.]+)\.(.*)$", RegexOptions.CultureInvariant | RegexOptions.Singleline);

        public LocationKind Kind { get; }
        /// <summary>The URI as given (before an mlflow-artifacts:/ URI is resolved).</summary>
        public string Original { get; }
        /// <summary>The bucket (S3) or container (Azure); empty for a folder.</summary>
        public string Container { get; }
        /// <summary>The storage account (Azure); empty otherwise.</summary>
        public string Account { get; }
        /// <summary>The blob service host suffix (blob.core.windows.net ...); empty otherwise.</summary>
        public string HostSuffix { get; }
        /// <summary>The key prefix inside the container: '/'-separated, without leading or trailing '/'. For a
        /// folder: the absolute local path.</summary>
        public string Prefix { get; }

        private LocationUri(LocationKind kind, string original, string container, string account, string suffix, string prefix)
        {
            Kind = kind; Original = original; Container = container; Account = account; HostSuffix = suffix; Prefix = prefix;
        }

        /// <summary>The URI in its canonical form, what messages show (it never holds a secret: a query string is refused).</summary>
        public override string ToString() => Kind switch
        {
            LocationKind.S3 => "s3://" + Container + (Prefix.Length > 0 ? "/" + Prefix : ""),
            LocationKind.AzureBlob => "wasbs://" + Container + "@" + Account + "." + HostSuffix + (Prefix.Length > 0 ? "/" + Prefix : ""),
            _ => Prefix,
        };

        /// <summary>The same container with another key prefix.</summary>
        public LocationUri WithPrefix(string prefix) => new LocationUri(Kind, Original, Container, Account, HostSuffix, prefix);

        /// <summary>This location with <paramref name="relativeKey"/> (checked by <see cref="ObjectKeys.Problem"/>) appended.</summary>
        public string Key(string relativeKey)
        {
            string? problem = ObjectKeys.Problem(relativeKey);
            if (problem != null)
                throw new MlTracesException(ErrorKind.InvalidData, "UnsafeArchiveLocation", $"The object key '{UserText.Printable(relativeKey)}' under '{this}' is not used: {problem}.");
            return Prefix.Length == 0 ? relativeKey : Prefix + "/" + relativeKey;
        }

        public static bool IsObjectStoreScheme(string? uri) =>
            uri != null && (uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("wasbs://", StringComparison.OrdinalIgnoreCase)
                || uri.StartsWith("abfss://", StringComparison.OrdinalIgnoreCase) || IsMlflowArtifacts(uri));

        /// <summary>mlflow-artifacts:/…, which only resolves with the server's --artifacts-destination.</summary>
        public static bool IsMlflowArtifacts(string? uri) => uri != null && uri.StartsWith("mlflow-artifacts:", StringComparison.OrdinalIgnoreCase);

        public static LocationUri Parse(string uri, ObjectStoreSettings settings)
        {
            if (string.IsNullOrWhiteSpace(uri)) throw Unsupported(uri ?? "", "it is empty");
            int colon = uri.IndexOf(':');
            string scheme = colon > 1 ? uri.Substring(0, colon).ToLowerInvariant() : "";
            if (scheme == "mlflow-artifacts") return Parse(ResolveMlflowArtifacts(uri, settings), uri, Supported);
            return Parse(uri, uri, Supported);
        }

        /// <summary>A URI that is not mlflow-artifacts:/; errors show <paramref name="original"/> and list <paramref name="supported"/>.</summary>
        private static LocationUri Parse(string uri, string original, string supported)
        {
            MlTracesException Refused(string shown, string why) => Unsupported(shown, why, supported);
            string? local = ConfinedPath.LocalPath(uri);
            if (local != null) return new LocationUri(LocationKind.Folder, original, "", "", "", local);
            int colon = uri.IndexOf(':');
            string scheme = colon > 1 ? uri.Substring(0, colon).ToLowerInvariant() : "";
            if (scheme != "s3" && scheme != "wasbs" && scheme != "abfss")
                throw Refused(original, scheme.Length == 0 || (colon == 1 && char.IsLetter(uri[0])) ? "it is not an absolute local path or a URI" : $"MlTraces cannot reach '{scheme}:' locations");
            if (uri.IndexOf('?') >= 0 || uri.IndexOf('#') >= 0)
                // A query is where a SAS token would sit: it is neither used nor echoed.
                throw new MlTracesException(ErrorKind.InvalidArgument, "UnsupportedLocation",
                    $"The location '{Shown(original)}' has a query string or fragment, which MLflow does not use for artifact locations; give the URI without it (credentials go in environment variables, for example AZURE_STORAGE_SAS_TOKEN).");
            if (!uri.Substring(colon).StartsWith("://", StringComparison.Ordinal)) throw Refused(original, $"'{scheme}:' must be followed by '//'");
            string rest = uri.Substring(colon + 3);
            int slash = rest.IndexOf('/');
            string netloc = slash < 0 ? rest : rest.Substring(0, slash);
            string path = slash < 0 ? "" : rest.Substring(slash + 1);
            string prefix = CheckedPrefix(path, original);
            switch (scheme)
            {
                case "s3":
                    if (netloc.Length == 0) throw Refused(original, "it names no bucket (s3://<bucket>/<path>)");
                    if (netloc.IndexOf('@') >= 0 || netloc.IndexOf(':') >= 0)
                        throw Refused(original, "an S3 bucket name has no '@' or ':' (credentials go in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile, an endpoint in MLFLOW_S3_ENDPOINT_URL)");
                    return new LocationUri(LocationKind.S3, original, netloc, "", "", prefix);
                case "wasbs":
                {
                    var m = Wasbs.Match(netloc);
                    if (!m.Success)
                        throw Refused(original, "WASBS URI must be of the form <container>@<account>.blob.core.windows.net or <container>@<account>.blob.core.chinacloudapi.cn or <container>@<account>.blob.core.usgovcloudapi.net");
                    return new LocationUri(LocationKind.AzureBlob, original, m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, prefix);
                }
                default:
                {
                    var m = Abfss.Match(netloc);
                    if (!m.Success) throw Refused(original, "ABFSS URI must be of the form abfss://<filesystem>@<account>.<domain_suffix>");
                    string suffix = m.Groups[3].Value;
                    if (suffix.StartsWith("dfs.", StringComparison.OrdinalIgnoreCase)) suffix = "blob." + suffix.Substring(4);
                    return new LocationUri(LocationKind.AzureBlob, original, m.Groups[1].Value, m.Groups[2].Value, suffix, prefix);
                }
            }
        }

        /// <summary>mlflow-artifacts:[//host[:port]]/path to &lt;destination&gt;/path, as the server maps it.</summary>
        public static string ResolveMlflowArtifacts(string uri, ObjectStoreSettings settings)
        {
            string rest = uri.Substring("mlflow-artifacts:".Length);
            if (rest.StartsWith("//", StringComparison.Ordinal))
            {
                int slash = rest.IndexOf('/', 2);
                rest = slash < 0 ? "" : rest.Substring(slash);
            }
            string? destination = settings.ArtifactsDestination;
            if (string.IsNullOrWhiteSpace(destination))
                throw new MlTracesException(ErrorKind.InvalidArgument, "ArtifactsDestinationMissing",
                    $"The location '{Shown(uri)}' is relative to the MLflow server's --artifacts-destination, which only the server knows: give the same value with -ArtifactsDestination or in $env:{ObjectStoreSettings.ArtifactsDestinationVariable} (for example s3://my-bucket/mlartifacts).");
            CheckArtifactsDestination(destination!, settings.ArtifactsDestinationSource);
            string path = rest.TrimStart('/');
            return path.Length == 0 ? destination! : destination!.TrimEnd('/') + "/" + path;
        }

        private static string CheckedPrefix(string path, string original)
        {
            string trimmed = path.TrimEnd('/');
            if (trimmed.Length == 0) return "";
            foreach (var segment in trimmed.Split('/'))
            {
                if (segment.Length == 0 || segment == "." || segment == ".." || segment.Any(char.IsControl) || segment.IndexOf('\\') >= 0)
                    throw new MlTracesException(ErrorKind.InvalidData, "UnsafeArchiveLocation",
                        $"The location '{Shown(original)}' is not used: its path has an empty, '.' or '..' part, a backslash or a control character, which MLflow never writes and a URL client may fold into another key.");
            }
            return trimmed;
        }

        /// <summary>The URI for a message: printable, shortened, and with any query string (where a SAS token
        /// would be) cut off.</summary>
        public static string Shown(string uri)
        {
            int q = uri.IndexOfAny(new[] { '?', '#' });
            string cut = q >= 0 ? uri.Substring(0, q) + "?…" : uri;
            // user:password@ in the authority (no container or account name has ':') is masked.
            int start = cut.IndexOf("://", StringComparison.Ordinal);
            if (start > 0)
            {
                int end = cut.IndexOf('/', start + 3);
                string authority = end < 0 ? cut.Substring(start + 3) : cut.Substring(start + 3, end - start - 3);
                int at = authority.LastIndexOf('@');
                if (at >= 0 && authority.Substring(0, at).IndexOf(':') >= 0)
                    cut = cut.Substring(0, start + 3) + "***" + authority.Substring(at) + (end < 0 ? "" : cut.Substring(end));
            }
            return UserText.Shorten(UserText.Printable(cut), 300);
        }

        /// <summary>
        /// The server's --artifacts-destination as given (<paramref name="source"/>: -ArtifactsDestination or the
        /// environment variable), checked before it is used: it must name where the server keeps artifacts
        /// (<see cref="DestinationForms"/>), never another mlflow-artifacts: URI. InvalidArtifactsDestination
        /// otherwise, naming where the value came from and showing it as every location is shown.
        /// </summary>
        public static LocationUri CheckArtifactsDestination(string destination, string source)
        {
            string problem;
            if (destination.TrimStart().StartsWith("mlflow-artifacts:", StringComparison.OrdinalIgnoreCase))
                problem = $"'{Shown(destination)}' is itself an mlflow-artifacts: URI, which would need a destination of its own. MlTraces reaches {DestinationForms}.";
            else
            {
                try { return Parse(destination, destination, DestinationForms); }
                catch (MlTracesException ex) { problem = ex.Message; }
            }
            throw new MlTracesException(ErrorKind.InvalidArgument, "InvalidArtifactsDestination",
                $"The artifacts destination given by {source} cannot be used: {problem} Give where the MLflow server keeps its artifacts, its --artifacts-destination.");
        }

        private static MlTracesException Unsupported(string uri, string why, string supported = Supported) =>
            new MlTracesException(ErrorKind.UnsupportedStore, "UnsupportedLocation",
                $"The location '{Shown(uri)}' is not supported: {why}. MlTraces reaches {supported}.");
    }
}
