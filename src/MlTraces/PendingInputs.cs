using System.Collections.Generic;

namespace MlTraces.Commands
{
    /// <summary>
    /// Pipeline input a writer holds until EndProcessing, grouped by the scope it came with (its store, and for
    /// some commands its experiments), groups in the order they first came. Writers act at the end: an upstream
    /// Search-Trace still reading the same SQLite file would block every commit until it is done.
    /// </summary>
    internal sealed class PendingInputs<TScope, TItem> where TScope : notnull
    {
        private readonly Dictionary<TScope, List<TItem>> _groups = new Dictionary<TScope, List<TItem>>();
        private readonly List<TScope> _order = new List<TScope>();

        public void Add(TScope scope, TItem item)
        {
            if (!_groups.TryGetValue(scope, out var items))
            {
                _groups[scope] = items = new List<TItem>();
                _order.Add(scope);
            }
            items.Add(item);
        }

        public IEnumerable<KeyValuePair<TScope, List<TItem>>> Groups()
        {
            foreach (var scope in _order) yield return new KeyValuePair<TScope, List<TItem>>(scope, _groups[scope]);
        }
    }
}
