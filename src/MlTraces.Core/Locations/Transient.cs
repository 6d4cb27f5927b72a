using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace MlTraces.Core.Locations
{
    /// <summary>
    /// Retries with back-off and bounded concurrency, one policy for every object store. The SDKs' own retries
    /// are turned off, so a request is tried exactly as often as this says, whichever cloud it goes to. Async
    /// underneath (the SDKs are), waited on once at the top: bulk work holds no thread per request.
    /// </summary>
    public static class Transient
    {
        /// <summary>Tries per request: the first and up to 5 more, waiting about 0.2, 0.4, 0.8, 1.6, 3.2 s.</summary>
        public const int MaxAttempts = 6;
        /// <summary>Requests in flight at once for a bulk operation: enough to hide latency, few enough that a
        /// store's request rate and the machine's sockets are not the limit.</summary>
        public const int Concurrency = 16;

        private static readonly ThreadLocal<Random> Jitter = new ThreadLocal<Random>(() => new Random(Guid.NewGuid().GetHashCode()));

        /// <summary>Runs <paramref name="action"/>, again after a pause while <paramref name="isTransient"/> says the
        /// failure was throttling or a timeout and tries remain.</summary>
        public static async Task<T> RunAsync<T>(Func<Task<T>> action, Func<Exception, bool> isTransient, CancellationToken cancel, TimeSpan? firstDelay = null)
        {
            TimeSpan delay = firstDelay ?? TimeSpan.FromMilliseconds(200);
            for (int attempt = 1; ; attempt++)
            {
                cancel.ThrowIfCancellationRequested();
                try { return await action().ConfigureAwait(false); }
                catch (Exception ex) when (attempt < MaxAttempts && !cancel.IsCancellationRequested && isTransient(Unwrap(ex)))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(delay.TotalMilliseconds * (0.5 + Jitter.Value!.NextDouble())), cancel).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(delay.TotalMilliseconds * 2);
                }
            }
        }

        /// <summary><see cref="RunAsync"/>, with any failure but a cancellation the caller asked for turned into the
        /// store's MlTracesException by <paramref name="error"/> (which never keeps the SDK's exception).</summary>
        public static async Task<T> GuardedAsync<T>(Func<Task<T>> action, Func<Exception, bool> isTransient, Func<Exception, MlTracesException> error, CancellationToken cancel)
        {
            try { return await RunAsync(action, isTransient, cancel).ConfigureAwait(false); }
            catch (MlTracesException) { throw; }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested) { throw; }
            catch (Exception ex) { throw error(Unwrap(ex)); }
        }

        /// <summary>The first line of the innermost exception's text, shortened, with every secret scrubbed out:
        /// the most an SDK's own words reach a message.</summary>
        public static string Describe(Exception ex, ObjectStoreSettings settings)
        {
            while (ex.InnerException != null) ex = ex.InnerException;
            string text = ex.Message;
            int nl = text.IndexOfAny(new[] { '\r', '\n' });
            return settings.Scrub(UserText.Shorten(nl >= 0 ? text.Substring(0, nl) : text, 300));
        }

        /// <summary>HTTP statuses every store means as "try again later": 408 timeout, 429 throttling, 5xx (503 is S3's
        /// SlowDown and Azure's ServerBusy).</summary>
        public static bool IsRetryableStatus(int status) => status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;

        /// <summary>A dropped connection or a timeout below the SDK.</summary>
        public static bool IsNetworkFailure(Exception ex) =>
            ex is System.Net.Http.HttpRequestException || ex is System.IO.IOException || ex is TimeoutException || ex is TaskCanceledException || ex is System.Net.WebException;

        /// <summary>Waits for an async call from synchronous code, throwing what it threw (not an AggregateException).</summary>
        public static T Wait<T>(Task<T> task) => task.ConfigureAwait(false).GetAwaiter().GetResult();

        /// <summary>The exception an async call really threw.</summary>
        public static Exception Unwrap(Exception ex)
        {
            while (ex is AggregateException agg && agg.InnerExceptions.Count == 1) ex = agg.InnerExceptions[0];
            return ex;
        }

        /// <summary>Runs <paramref name="action"/> for every item with at most <paramref name="degree"/> in flight;
        /// each item's result in input order. No new item starts once <paramref name="cancel"/> is set.</summary>
        public static async Task<TResult[]> ForEachAsync<TItem, TResult>(IReadOnlyList<TItem> items, int degree, Func<TItem, Task<TResult>> action, CancellationToken cancel)
        {
            var results = new TResult[items.Count];
            using var gate = new SemaphoreSlim(Math.Max(1, degree));
            var tasks = new List<Task>(items.Count);
            bool stopped = false;
            try
            {
                for (int i = 0; i < items.Count; i++)
                {
                    await gate.WaitAsync(cancel).ConfigureAwait(false);
                    int index = i;
                    tasks.Add(Task.Run(async () =>
                    {
                        try { results[index] = await action(items[index]).ConfigureAwait(false); }
                        finally { gate.Release(); }
                    }));
                }
            }
            catch (OperationCanceledException) { stopped = true; }
            // Requests already sent finish (or fail) before this returns: the gate outlives them all.
            await Task.WhenAll(tasks).ConfigureAwait(false);
            if (stopped) cancel.ThrowIfCancellationRequested();
            return results;
        }
    }
}
