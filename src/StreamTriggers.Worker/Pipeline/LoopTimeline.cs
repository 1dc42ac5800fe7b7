namespace StreamTriggers.Worker.Pipeline;

/// <summary>What a partition's loop is doing. A late trigger's wait is split by these (<see cref="LoopTimeline"/>).</summary>
internal enum LoopPhase
{
    /// <summary>
    /// Waiting for input or for a timer. A trigger late here waited for its wake-up (the timer, a pool thread, a core)
    /// or, in a partition not caught up, for the input that moves its clock.
    /// </summary>
    Idle,

    /// <summary>Reading what a batch needs from the state store (sessions, customers, due timers).</summary>
    Read,

    /// <summary>Decoding and applying a batch, firing what is due, encoding state: the partition's own CPU work.</summary>
    Apply,

    /// <summary>Waiting for the producer: too many batches' output not yet acknowledged (backpressure).</summary>
    Publish,

    /// <summary>Before a commit: waiting for the broker to acknowledge everything published so far.</summary>
    Acks,

    /// <summary>
    /// Waiting for a commit's write (state, timers, input position) to the state store: the customer stage's, or the
    /// session stage's still in flight when the next commit (or a read that must follow it) is due; the session stage's
    /// write otherwise runs beside the loop.
    /// </summary>
    Commit,
}

/// <summary>
/// The recent history of one partition loop's phases, each with when it began and the process's total GC pause time
/// then, so a trigger handed to the producer late can be told where its partition was between its due time and now:
/// which phases, and how much of it the garbage collector had every thread stopped. Single-threaded (the loop's own).
/// </summary>
/// <remarks>
/// The loop enters a few phases per batch; recording one costs a clock read and a read of
/// <see cref="GC.GetTotalPauseDuration"/>. A pause is counted against the phases it fell in pro rata to their
/// overlap with the wait (the total per phase is exact; where in a phase it fell is not recorded).
/// </remarks>
internal sealed class LoopTimeline
{
    /// <summary>Slots of a wait split: one per <see cref="LoopPhase"/>, then GC pauses, then time older than the history.</summary>
    public const int Slots = 8;

    /// <summary>The slot of time the garbage collector had every thread stopped.</summary>
    public const int Gc = 6;

    /// <summary>The slot of time before the oldest recorded phase (the history is a ring).</summary>
    public const int Unrecorded = 7;

    /// <summary>Slot names as exported (<c>phase</c> label).</summary>
    public static readonly string[] SlotNames = ["idle", "read", "apply", "publish", "acks", "commit", "gc", "unrecorded"];

    private readonly long[] _at;
    private readonly long[] _gcAt;
    private readonly LoopPhase[] _phase;
    private readonly Func<long> _gcPauseTicks;
    private int _newest = -1;
    private int _count;

    /// <param name="capacity">Phases kept (the history's reach: a few per batch).</param>
    /// <param name="gcPauseTicks">The process's total GC pause so far, in ticks; tests give their own.</param>
    public LoopTimeline(int capacity = 512, Func<long>? gcPauseTicks = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _at = new long[capacity];
        _gcAt = new long[capacity];
        _phase = new LoopPhase[capacity];
        _gcPauseTicks = gcPauseTicks ?? (static () => GC.GetTotalPauseDuration().Ticks);
    }

    /// <summary>The phase entered last (<see cref="LoopPhase.Idle"/> before any).</summary>
    public LoopPhase Current => _count == 0 ? LoopPhase.Idle : _phase[_newest];

    /// <summary>The loop enters <paramref name="phase"/> at <paramref name="nowTicks"/> (no-op if already in it).</summary>
    public void Enter(LoopPhase phase, long nowTicks)
    {
        if (_count > 0 && _phase[_newest] == phase)
        {
            return;
        }

        _newest = _newest + 1 == _at.Length ? 0 : _newest + 1;
        _at[_newest] = nowTicks;
        _gcAt[_newest] = _gcPauseTicks();
        _phase[_newest] = phase;
        if (_count < _at.Length)
        {
            _count++;
        }
    }

    /// <summary>
    /// Adds to <paramref name="ticks"/> (<see cref="Slots"/> long) how the time from <paramref name="fromTicks"/> to
    /// <paramref name="nowTicks"/> (the present) divides between the phases the loop was in, GC pauses apart.
    /// </summary>
    public void Split(long fromTicks, long nowTicks, Span<double> ticks)
    {
        if (ticks.Length < Slots)
        {
            throw new ArgumentException($"needs {Slots} slots", nameof(ticks));
        }

        long end = nowTicks;
        long gcEnd = _gcPauseTicks();
        for (int k = 0, i = _newest; k < _count && end > fromTicks; k++, i = i == 0 ? _at.Length - 1 : i - 1)
        {
            long start = _at[i];
            long from = Math.Max(start, fromTicks);
            if (end > from)
            {
                long overlap = end - from;
                long span = end - start;
                double gc = Math.Min(overlap, (gcEnd - _gcAt[i]) * (double)overlap / span);
                ticks[(int)_phase[i]] += overlap - gc;
                ticks[Gc] += gc;
            }

            end = Math.Min(end, start);
            gcEnd = _gcAt[i];
        }

        if (end > fromTicks)
        {
            ticks[Unrecorded] += end - fromTicks;
        }
    }
}
