using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using MlTraces.Shell;

namespace MlTraces.Tests.Support
{
    /// <summary>The built module imported into the real PowerShell engine, through the same host users run.</summary>
    public sealed class PsShell : IDisposable
    {
        public ShellSession Session { get; }

        public PsShell(string? workingDirectory = null, string input = "", int width = 120)
        {
            Session = new ShellSession(input: new System.IO.StringReader(input), width: width, workingDirectory: workingDirectory);
        }

        /// <summary>A shell in the store's folder whose commands use the store when no -TrackingUri is given
        /// (for SQLite the default sqlite:///mlflow.db is the store; PostgreSQL's URI is set as a default value).</summary>
        public PsShell(TestStore store, string input = "", int width = 120) : this(store.Folder, input, width)
        {
            if (store.Kind == Core.Store.StoreKind.Postgres)
            {
                var r = Run("$PSDefaultParameterValues['*:TrackingUri'] = $uri", new Dictionary<string, object?> { ["uri"] = store.UriText });
                if (r.Failed) throw new InvalidOperationException("Could not set the default store: " + r.Terminating?.Message);
            }
        }

        public RunResult Run(string script, IDictionary<string, object?>? variables = null) => Session.Invoke(script, variables);

        /// <summary>Runs a script that must not fail, and returns its objects as T.</summary>
        public List<T> Objects<T>(string script, IDictionary<string, object?>? variables = null)
        {
            var r = Run(script, variables);
            if (r.Failed)
                throw new Xunit.Sdk.XunitException("Script failed: " + script + "\n" +
                    (r.Terminating?.Message ?? string.Join("\n", r.Errors.Select(e => e.ToString()))));
            return r.Output.Select(o => (T)o.BaseObject).ToList();
        }

        public List<string> Ids(string script, IDictionary<string, object?>? variables = null) =>
            Objects<Trace>(script, variables).Select(t => t.TraceId).ToList();

        public void Dispose() => Session.Dispose();
    }
}
