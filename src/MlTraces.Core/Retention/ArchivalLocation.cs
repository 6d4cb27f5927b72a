using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace MlTraces.Core.Retention
{
    /// <summary>MLflow's checks of a trace archival location (_validate_trace_archival_location and
    /// _validate_trace_archival_repository_support), with its messages.</summary>
    public static class ArchivalLocation
    {
        private static readonly Regex Scheme = new Regex("^([A-Za-z][A-Za-z0-9+.-]*):", RegexOptions.CultureInvariant);

        /// <summary>The artifact repository schemes MLflow registers (besides the Databricks ones it rejects).</summary>
        public static readonly IReadOnlyList<string> RegisteredSchemes = new[]
        {
            "", "file", "s3", "r2", "gs", "wasbs", "abfss", "ftp", "sftp", "viewfs", "hdfs", "runs", "models", "dbfs", "uc-volume", "oci",
        };

        /// <summary>The schemes MlTraces can write archives to today; object stores plug in later.</summary>
        public static readonly IReadOnlyList<string> WritableSchemes = new[] { "file" };

        public static string Validate(object? value, string parameterName)
        {
            if (!(value is string s) || Scheme.Match(s.Trim()) is var m && !m.Success)
                throw new InvalidParameterException($"Invalid value for '{parameterName}'. Expected a URI string." + LocalFolderHint(value as string), "InvalidArchivalLocation");
            string location = s.Trim();
            string scheme = m.Groups[1].Value.ToLowerInvariant();
            if (scheme.Length == 1 && location.Length > 2 && (location[2] == '\\' || location[2] == '/'))
                // C:\archive: a drive, not a scheme. MLflow's registry has no "c" scheme and refuses it.
                throw new InvalidParameterException(
                    $"Could not find a registered artifact repository for: {location}." + LocalFolderHint(location), "InvalidArchivalLocation");
            if (RepositoryProblem(location, parameterName) is string problem)
                throw new InvalidParameterException(problem, "InvalidArchivalLocation");
            // A relative file: URI names a folder relative to whichever process reads it: MLflow's server and this
            // console would archive to different places, so it is refused here rather than failing per trace.
            if (scheme == "file" && Store.ConfinedPath.LocalPath(location) == null)
                throw new InvalidParameterException(
                    $"Invalid value for '{parameterName}'. Trace archival location '{location}' is not an absolute local path: write it as file:///absolute/path.",
                    "InvalidArchivalLocation");
            return location;
        }

        /// <summary>What MLflow's repository checks refuse in a location with a scheme (the proxy-only
        /// mlflow-artifacts:, a scheme no artifact repository is registered for, a repository that cannot delete
        /// archived payloads), with MLflow's message; null when they accept it or it has no scheme.</summary>
        public static string? RepositoryProblem(string location, string parameterName)
        {
            var m = Scheme.Match(location.Trim());
            if (!m.Success) return null;
            string scheme = m.Groups[1].Value.ToLowerInvariant();
            if (scheme == "mlflow-artifacts")
                return $"Invalid value for '{parameterName}'. Trace archival location cannot use the proxy-only `mlflow-artifacts:` scheme.";
            if (!RegisteredSchemes.Contains(scheme))
                return $"Could not find a registered artifact repository for: {location.Trim()}. Currently registered schemes are: " +
                    "[" + string.Join(", ", RegisteredSchemes.Select(x => "'" + x + "'")) + "]";
            if (scheme == "dbfs" || scheme == "uc-volume")
                return $"Invalid value for '{parameterName}'. Trace archival location '{location.Trim()}' uses an artifact repository that does not support deleting archived payloads.";
            return null;
        }

        /// <summary>What to write for a local folder: MLflow's server takes a file: URI only (a plain path has no
        /// scheme, and its validation refuses it), so the hint names the URI of the same folder when the path is
        /// absolute, and says why a relative one cannot work.</summary>
        private static string LocalFolderHint(string? text)
        {
            string path = (text ?? "").Trim();
            if (path.Length == 0) return "";
            bool drive = path.Length > 2 && char.IsLetter(path[0]) && path[1] == ':' && (path[2] == '\\' || path[2] == '/');
            if (drive || path.StartsWith("/", StringComparison.Ordinal))
            {
                string uri = "file://" + (drive ? "/" : "") + path.Replace('\\', '/');
                return $" For a local folder write it as a file URI: {UserText.Shorten(uri)} (MLflow's server refuses a plain path here too).";
            }
            return " A local folder must be an absolute file URI such as file:///srv/mlflow-archive: a relative path would name a different folder for MLflow's server and for this console.";
        }

        /// <summary>The archive folder of a trace: root[/workspaces/ws]/experiment/traces/trace/artifacts.</summary>
        public static string TraceFolderUri(string root, string? workspacePrefix, string experimentId, string traceId) =>
            string.Join("/", new[] { root.TrimEnd('/'), workspacePrefix, experimentId, "traces", traceId, "artifacts" }.Where(p => !string.IsNullOrEmpty(p)));
    }
}
