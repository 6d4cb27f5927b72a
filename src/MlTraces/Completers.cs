using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using MlTraces.Core.Store;

namespace MlTraces.Commands
{
    /// <summary>
    /// Tab completion from the store the command would use (its -TrackingUri as typed so far, else the default),
    /// opened read-only. A completer never writes and never fails loudly: no store, no suggestions.
    /// </summary>
    public abstract class StoreCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            try
            {
                string? uri = fakeBoundParameters.Contains("TrackingUri") ? fakeBoundParameters["TrackingUri"] as string : null;
                // Completion runs inside the caller's pipeline, so the session state is fetched by a script block on
                // this thread (SessionStateProxy would be a second, refused pipeline).
                if (!(ScriptBlock.Create("$ExecutionContext.SessionState").Invoke().FirstOrDefault()?.BaseObject is SessionState session))
                    return Enumerable.Empty<CompletionResult>();
                using var store = TraceStore.Open(UserPaths.ParseUri(session, uri));
                return Complete(store, wordToComplete ?? "").ToList();
            }
            catch (Exception ex) when (ex is Core.MlTracesException || ex is ArgumentException || ex is NotSupportedException
                                       || ex is PlatformNotSupportedException || ex is System.IO.IOException)
            {
                return Enumerable.Empty<CompletionResult>();
            }
        }

        protected abstract IEnumerable<CompletionResult> Complete(TraceStore store, string word);

        /// <summary>A value as PowerShell needs it typed: quoted when it has spaces or special characters.</summary>
        protected static string Quote(string value) =>
            value.Length > 0 && value.All(c => char.IsLetterOrDigit(c) || c == '-' || c == '_' || c == '.') ? value : "'" + value.Replace("'", "''") + "'";

        protected static string Unquote(string word) => word.Trim('\'', '"');
    }

    public sealed class ExperimentNameCompleter : StoreCompleter
    {
        protected override IEnumerable<CompletionResult> Complete(TraceStore store, string word) =>
            Completion.Experiments(store)
                .Where(e => e.Name.StartsWith(Unquote(word), StringComparison.OrdinalIgnoreCase))
                .Select(e => new CompletionResult(Quote(e.Name), e.Name, CompletionResultType.ParameterValue, $"{e.Name} (experiment {e.ExperimentId})"));
    }

    public sealed class ExperimentIdCompleter : StoreCompleter
    {
        protected override IEnumerable<CompletionResult> Complete(TraceStore store, string word) =>
            Completion.Experiments(store)
                .Where(e => e.ExperimentId.StartsWith(Unquote(word), StringComparison.Ordinal))
                .Select(e => new CompletionResult(e.ExperimentId, $"{e.ExperimentId} {e.Name}", CompletionResultType.ParameterValue, e.Name));
    }

    /// <summary>order_by keys: MLflow's attribute keys, and tag./metadata. with the keys the store holds.</summary>
    public sealed class OrderByCompleter : StoreCompleter
    {
        protected override IEnumerable<CompletionResult> Complete(TraceStore store, string word)
        {
            string typed = Unquote(word);
            var keys = Completion.OrderKeys
                .Concat(Completion.TagKeys(store).Select(k => "tag." + FilterKey(k)))
                .Concat(Completion.MetadataKeys(store).Select(k => "metadata." + FilterKey(k)));
            return keys.Where(k => k.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                .Select(k => new CompletionResult("'" + k + "'", k, CompletionResultType.ParameterValue, k));
        }

        internal static string FilterKey(string key) =>
            key.All(c => char.IsLetterOrDigit(c) || c == '_') ? key : "`" + key + "`";
    }

    /// <summary>
    /// Filter completion completes the last word of the filter typed so far: a field, or a tag/metadata key after
    /// "tag." / "metadata.". The result keeps what was typed before it and leaves the string open to go on.
    /// </summary>
    public sealed class FilterCompleter : StoreCompleter
    {
        protected override IEnumerable<CompletionResult> Complete(TraceStore store, string word)
        {
            char quote = word.StartsWith("'", StringComparison.Ordinal) ? '\'' : '"';
            string text = word.Length > 0 && (word[0] == '\'' || word[0] == '"') ? word.Substring(1) : word;
            // PowerShell closes an open string before it asks ('status = ... span.t' arrives with both quotes).
            if (text.Length > 0 && text[text.Length - 1] == quote && word.Length > 0 && word[0] == quote) text = text.Substring(0, text.Length - 1);
            int start = text.LastIndexOf(' ') + 1;
            string before = text.Substring(0, start), last = text.Substring(start);
            IEnumerable<string> candidates = Completion.FilterFields;
            if (last.StartsWith("tag.", StringComparison.OrdinalIgnoreCase) || last.StartsWith("tags.", StringComparison.OrdinalIgnoreCase))
                candidates = Completion.TagKeys(store).Select(k => last.Substring(0, last.IndexOf('.') + 1) + OrderByCompleter.FilterKey(k));
            else if (last.StartsWith("metadata.", StringComparison.OrdinalIgnoreCase))
                candidates = Completion.MetadataKeys(store).Select(k => "metadata." + OrderByCompleter.FilterKey(k));
            // PowerShell hands over the string's value behind its opening quote; the completion is typed text again,
            // so quotes inside it are escaped for the quote it opens with.
            string Escape(string v) => quote == '\'' ? v.Replace("'", "''") : v.Replace("`", "``").Replace("\"", "`\"").Replace("$", "`$");
            string typed = last.Replace("`", "");
            return candidates.Where(c => c.Replace("`", "").StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                .Select(c => new CompletionResult(quote + Escape(before + c), c, CompletionResultType.ParameterValue, c));
        }
    }
}
