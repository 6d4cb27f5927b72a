using System;
using System.Globalization;

namespace MlTraces.Core.Store
{
    /// <summary>
    /// Sizes write transactions by time, not by count, for every command that writes many traces (deletion,
    /// archival finalize, import): a transaction holds SQLite's write lock for all of it, and an MLflow server
    /// logging meanwhile waits that long. Each batch is sized from what the last one took per trace, aiming at
    /// <see cref="Target"/>: it starts small, grows by at most half from one batch to the next, and shrinks at once when
    /// a batch ran long (a cold cache, a slow disk, a busy server). The same traces cost about the same whatever
    /// the batch size once the commit is shared by a few hundred, so the throughput stays.
    /// </summary>
    public sealed class TransactionSizer
    {
        /// <summary>How long one write transaction should hold the lock.</summary>
        public static readonly TimeSpan Target = TimeSpan.FromMilliseconds(200);

        private readonly int _max;
        private readonly bool _fixed;
        private double _lastPerItem;

        /// <param name="first">The first batch, before anything is known (small: a cold store is slow).</param>
        /// <param name="max">Never more than this many (memory, statement size).</param>
        /// <param name="fixedSizeVariable">An environment variable that fixes the size instead (tests use it).</param>
        public TransactionSizer(int first, int max, string? fixedSizeVariable = null)
        {
            _max = max;
            Next = Math.Min(first, max);
            string? env = fixedSizeVariable == null ? null : Environment.GetEnvironmentVariable(fixedSizeVariable);
            if (int.TryParse(env, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0)
            {
                Next = n;
                _fixed = true;
            }
        }

        /// <summary>
        /// How long to leave SQLite's write lock free after a transaction held it for <paramref name="locked"/>, so a
        /// writer that waited meanwhile gets in. Such a writer (an MLflow server: Python's sqlite3, or any connection
        /// with a busy timeout) retries at SQLite's default busy-handler times, 0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178,
        /// 228, 328 ms... after it started waiting, and it has waited at most <paramref name="locked"/>: the free spell
        /// must be as long as the gap between its tries at that point, no longer. A gap is at most 25 ms in a writer's
        /// first 128 ms, 50 ms up to 228 ms, then 100 ms; 10 ms more allow for a sleep that overran. After transactions of
        /// about 200 ms that is 60 ms, where a flat 100 ms made the pauses a third of a deletion's time.
        /// </summary>
        public static TimeSpan WaiterTurn(TimeSpan locked) => TimeSpan.FromMilliseconds(10 +
            (locked.TotalMilliseconds < 128 ? 25 : locked.TotalMilliseconds < 228 ? 50 : 100));

        /// <summary>How many items the next transaction should take.</summary>
        public int Next { get; private set; }

        /// <summary>Records that a transaction of <paramref name="count"/> items held the lock for <paramref name="elapsed"/>.</summary>
        public void Done(int count, TimeSpan elapsed)
        {
            if (_fixed || count <= 0) return;
            // The slower of the last two batches per item: one fast batch (warm pages, a quiet machine) must not
            // size a next one that overruns.
            double measured = Math.Max(elapsed.TotalMilliseconds, 0.01) / count;
            double perItem = Math.Max(measured, _lastPerItem);
            _lastPerItem = measured;
            double fits = Target.TotalMilliseconds / perItem;
            // Grow by half at most from the batch actually measured (a short last batch says little; the next
            // batch's pages may be colder), shrink at once.
            double next = Math.Min(fits, Math.Max(count, Next) * 1.5);
            Next = (int)Math.Max(1, Math.Min(_max, Math.Floor(next)));
        }
    }
}
