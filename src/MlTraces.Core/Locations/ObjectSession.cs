using System;
using System.Collections.Generic;

namespace MlTraces.Core.Locations
{
    /// <summary>
    /// The object locations of one run (an archival pass, a restore, a removal): each opened once, and a bucket or
    /// container whose server did not answer even after the retries (stopped, hung, unreachable) is not asked again
    /// in that run: every later request there fails at once, so a dead server costs one request's retries, not
    /// every trace's. The next run asks again.
    /// </summary>
    public sealed class ObjectSession
    {
        private readonly Dictionary<string, IObjectLocation> _open = new Dictionary<string, IObjectLocation>(StringComparer.Ordinal);
        private readonly Dictionary<string, MlTracesException> _gone = new Dictionary<string, MlTracesException>(StringComparer.Ordinal);

        /// <summary>The location at <paramref name="root"/>; ObjectStoreUnreachable at once when its server did not
        /// answer earlier in this run.</summary>
        public IObjectLocation Open(LocationUri root, ObjectStoreSettings settings)
        {
            string name = Server(root);
            lock (_open)
            {
                if (_gone.TryGetValue(name, out var gone))
                    throw new MlTracesException(gone.Kind, gone.ErrorId,
                        $"'{LocationUri.Shown(root.ToString())}' was not asked: its server did not answer earlier in this run. {gone.Message}");
                if (!_open.TryGetValue(root.ToString(), out var location)) _open[root.ToString()] = location = ObjectLocations.Open(root, settings);
                return location;
            }
        }

        /// <summary>Remembers a location whose server did not answer even after the retries.</summary>
        public void Saw(LocationUri root, MlTracesException error)
        {
            if (error.ErrorId != "ObjectStoreUnreachable") return;
            lock (_open) _gone[Server(root)] = error;
        }

        /// <summary>One request to the location at <paramref name="root"/>, remembering its server when it did not answer.</summary>
        public T Use<T>(LocationUri root, ObjectStoreSettings settings, Func<IObjectLocation, T> request)
        {
            var location = Open(root, settings);
            try { return request(location); }
            catch (MlTracesException ex) { Saw(root, ex); throw; }
        }

        /// <summary><see cref="Use{T}"/> for a request that holds no thread while it is out.</summary>
        public async System.Threading.Tasks.Task UseAsync(LocationUri root, ObjectStoreSettings settings, Func<IObjectLocation, System.Threading.Tasks.Task> request)
        {
            var location = Open(root, settings);
            try { await request(location).ConfigureAwait(false); }
            catch (MlTracesException ex) { Saw(root, ex); throw; }
        }

        private static string Server(LocationUri root) => root.WithPrefix("").ToString();
    }
}
