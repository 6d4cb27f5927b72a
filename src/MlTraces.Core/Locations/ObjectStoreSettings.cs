using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;

namespace MlTraces.Core.Locations
{
    /// <summary>
    /// What reaching an object store takes, read from the environment variables MLflow and each cloud's SDK read
    /// (<see cref="FromEnvironment"/>), or from a lookup a caller gives (tests, a command's -ArtifactsDestination). Secrets are kept
    /// here and nowhere else: <see cref="Scrub"/> removes them from any text before it reaches a message, and
    /// <see cref="ToString"/> names which variables are set, never their values.
    /// </summary>
    public sealed class ObjectStoreSettings
    {
        /// <summary>The server's --artifacts-destination, which mlflow-artifacts:/ URIs are relative to (only the
        /// server knows it, so the admin names it here).</summary>
        public const string ArtifactsDestinationVariable = "MLTRACES_ARTIFACTS_DESTINATION";

        /// <summary>MLflow's variable for how long one upload or download may take, in whole seconds (-1: no limit).</summary>
        public const string TimeoutVariable = "MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT";

        /// <summary>Without <see cref="TimeoutVariable"/>: long enough for the largest payload on a slow link.</summary>
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

        private static readonly string[] Names =
        {
            ArtifactsDestinationVariable, TimeoutVariable,
            "MLFLOW_S3_ENDPOINT_URL", "MLFLOW_S3_IGNORE_TLS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",
            "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_SAS_TOKEN",
        };

        /// <summary>The values that must never be shown.</summary>
        private static readonly string[] SecretNames =
            { "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_SAS_TOKEN" };

        private readonly Dictionary<string, string> _values = new Dictionary<string, string>(StringComparer.Ordinal);

        public ObjectStoreSettings(Func<string, string?> lookup)
        {
            foreach (var name in Names)
            {
                string? value = lookup(name);
                if (!string.IsNullOrEmpty(value)) _values[name] = value!;
            }
        }

        public static ObjectStoreSettings FromEnvironment() => new ObjectStoreSettings(Environment.GetEnvironmentVariable);

        /// <summary>
        /// These settings with the server's --artifacts-destination as a caller names it (a command's
        /// -ArtifactsDestination, <paramref name="source"/> in messages), which wins over the environment variable.
        /// Checked now (<see cref="LocationUri.CheckArtifactsDestination"/>), so a wrong value stops a command before it
        /// reads or deletes anything.
        /// </summary>
        public ObjectStoreSettings WithArtifactsDestination(string destination, string source)
        {
            LocationUri.CheckArtifactsDestination(destination, source);
            return new ObjectStoreSettings(n => n == ArtifactsDestinationVariable ? destination : Get(n)) { _destinationSource = source };
        }

        private string? _destinationSource;

        /// <summary>Where <see cref="ArtifactsDestination"/> came from, for messages.</summary>
        public string ArtifactsDestinationSource => _destinationSource ?? "$env:" + ArtifactsDestinationVariable;

        public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : null;

        public string? ArtifactsDestination => Get(ArtifactsDestinationVariable);
        public string? S3EndpointUrl => Get("MLFLOW_S3_ENDPOINT_URL");
        /// <summary>MLflow's rule (mlflow/store/artifact/s3_artifact_repo.py): "true" in any case turns verification off.</summary>
        public bool S3IgnoreTls => string.Equals(Get("MLFLOW_S3_IGNORE_TLS"), "true", StringComparison.OrdinalIgnoreCase);
        public string? AwsRegion => Get("AWS_REGION") ?? Get("AWS_DEFAULT_REGION");

        /// <summary>How long one request to an object store may take before it is given up (and, as a timeout, tried
        /// again): $env:MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT seconds as MLflow reads it, -1 for no limit, else
        /// <see cref="DefaultTimeout"/>. A hung server then costs a bounded time, not a scheduled task's night.</summary>
        public TimeSpan RequestTimeout
        {
            get
            {
                string? text = Get(TimeoutVariable);
                if (text == null) return DefaultTimeout;
                if (int.TryParse(text.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int seconds))
                {
                    if (seconds == -1) return System.Threading.Timeout.InfiniteTimeSpan;
                    if (seconds > 0) return TimeSpan.FromSeconds(seconds);
                }
                throw new MlTracesException(ErrorKind.InvalidArgument, "ObjectStoreTimeoutInvalid",
                    $"$env:{TimeoutVariable} is '{UserText.Printable(UserText.Shorten(text, 40))}': set a whole number of seconds above 0 (or -1 for no limit), as MLflow reads it.");
            }
        }

        /// <summary>For a message about a request that timed out: the limit each try had and where it is set.</summary>
        public string TimeoutNote(Exception ex)
        {
            if (RequestTimeout == System.Threading.Timeout.InfiniteTimeSpan) return "";
            for (Exception? e = ex; e != null; e = e.InnerException)
                if (e is TimeoutException || e is System.Threading.Tasks.TaskCanceledException)
                    return $" Each try was given up after {RequestTimeout.TotalSeconds:0} s ($env:{TimeoutVariable}).";
            return "";
        }

        /// <summary>A short digest of every value: clients are cached per settings, keyed by this, so no secret is
        /// kept as a dictionary key.</summary>
        public string Fingerprint() => _fingerprint ??= Digest();

        private string? _fingerprint;

        private string Digest()
        {
            var text = new StringBuilder();
            foreach (var name in Names) text.Append(name).Append('=').Append(Get(name) ?? "\u0001").Append('\n');
            using var sha = SHA256.Create();
            return Convert.ToBase64String(sha.ComputeHash(Encoding.UTF8.GetBytes(text.ToString())));
        }

        /// <summary>The text with every secret value (and each part of a connection string that holds one)
        /// replaced by "***". Applied to all text an SDK gives back before it reaches a message.</summary>
        public string Scrub(string? text)
        {
            if (string.IsNullOrEmpty(text)) return "";
            string result = text!;
            foreach (var secret in Secrets())
                if (secret.Length >= 4) result = result.Replace(secret, "***");
            return result;
        }

        private IEnumerable<string> Secrets()
        {
            foreach (var name in SecretNames)
            {
                string? value = Get(name);
                if (value == null) continue;
                yield return value;
                // A connection string's AccountKey and SharedAccessSignature parts, and a SAS token's signature,
                // may be echoed on their own, URL-encoded, or (a SAS comes encoded) decoded.
                foreach (var part in value.Split(';', '&', '?'))
                {
                    int eq = part.IndexOf('=');
                    string v = eq >= 0 ? part.Substring(eq + 1) : part;
                    string key = eq >= 0 ? part.Substring(0, eq) : "";
                    if (v.Length >= 8 && !key.Equals("BlobEndpoint", StringComparison.OrdinalIgnoreCase)
                        && !key.Equals("AccountName", StringComparison.OrdinalIgnoreCase) && !key.Equals("DefaultEndpointsProtocol", StringComparison.OrdinalIgnoreCase)
                        && !key.Equals("EndpointSuffix", StringComparison.OrdinalIgnoreCase) && !key.StartsWith("sv", StringComparison.Ordinal)
                        && !key.EndsWith("Endpoint", StringComparison.OrdinalIgnoreCase))
                    {
                        yield return v;
                        yield return Uri.EscapeDataString(v);
                        yield return Uri.UnescapeDataString(v);
                    }
                }
            }
        }

        /// <summary>Which variables are set, never a value.</summary>
        public override string ToString() => "ObjectStoreSettings(" + string.Join(", ", _values.Keys) + ")";
    }
}
