using System;
using System.Diagnostics;
using System.Management.Automation;

namespace MlTraces.Commands
{
    /// <summary>
    /// Write-Progress for long work: throttled (a record at most every quarter second), with counts and, when the
    /// total is known, a percentage and an estimate of the time left; always completed, so no stale bar remains.
    /// $ProgressPreference decides whether anything shows, as for every command.
    /// </summary>
    internal sealed class ProgressReporter
    {
        private static int _nextId = 1000;
        private readonly Cmdlet _cmdlet;
        private readonly ProgressRecord _record;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _lastWrite = -1000;
        private bool _written;

        private readonly long _showAfterMs;

        /// <param name="showAfterMs">Nothing is shown before the work has run this long: work that is usually
        /// quick (a search) shows progress only when it turns out long.</param>
        public ProgressReporter(Cmdlet cmdlet, string activity, long showAfterMs = 0)
        {
            _cmdlet = cmdlet;
            _showAfterMs = showAfterMs;
            _record = new ProgressRecord(System.Threading.Interlocked.Increment(ref _nextId), activity, "Starting");
        }

        /// <summary>The bar's title, for work that learns it later (the store's name once it is open).</summary>
        public string Activity { set => _record.Activity = value; }

        /// <summary>True once a report would be shown: callers that must compute something for it can wait for this.</summary>
        public bool Due => _clock.ElapsedMilliseconds >= _showAfterMs && _clock.ElapsedMilliseconds - _lastWrite >= 250;

        /// <summary>Reports <paramref name="done"/> of <paramref name="total"/> (total &lt;= 0: unknown).</summary>
        public void Report(long done, long total, string unit)
        {
            if (!Due) return;
            long now = _clock.ElapsedMilliseconds;
            _lastWrite = now;
            if (total > 0)
            {
                double fraction = Math.Min(1.0, (double)done / total);
                _record.PercentComplete = (int)(fraction * 100);
                _record.SecondsRemaining = fraction > 0.01 ? (int)(now / 1000.0 * (1 - fraction) / fraction) : -1;
                _record.StatusDescription = $"{done:N0} of {total:N0} {unit}";
            }
            else
            {
                _record.StatusDescription = $"{done:N0} {unit}";
            }
            _cmdlet.WriteProgress(_record);
            _written = true;
        }

        /// <summary>Shows what the work is doing now, at once (before any count is known).</summary>
        public void Show(string status)
        {
            _record.StatusDescription = status;
            _cmdlet.WriteProgress(_record);
            _written = true;
        }

        public void Complete()
        {
            if (!_written) return;
            _written = false;
            _record.RecordType = ProgressRecordType.Completed;
            _record.PercentComplete = 100;
            try { _cmdlet.WriteProgress(_record); }
            catch (PipelineStoppedException)
            {
                // Ctrl+C: the host clears the bar itself when the pipeline ends.
            }
        }
    }
}
