using StreamTriggers.Triggers;

namespace StreamTriggers.Sessions;

/// <summary>What the engine has done, for the replay summary and the worker's metrics. Single-writer.</summary>
public sealed class EngineCounters
{
    public long EventsApplied;
    public long DuplicatesIgnored;

    /// <summary>Events skipped because the session's state already held them (input read again after a restart).</summary>
    public long ReplayedSkipped;
    public long SessionsCreated;
    public long SessionsExpired;
    public long PeriodsClosed;
    public long CartAddsDropped;

    /// <summary>Cart or checkout triggers fired again because their anonymous session was identified.</summary>
    public long Refired;
    public readonly long[] Fired = new long[TriggerTypes.Count];
    public readonly long[] SuppressedByCooldown = new long[TriggerTypes.Count];

    public long TotalFired => Fired.Sum();
}
