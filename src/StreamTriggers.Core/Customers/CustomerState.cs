using StreamTriggers.Decoding;
using StreamTriggers.Timers;
using StreamTriggers.Triggers;

namespace StreamTriggers.Customers;

/// <summary>A product a customer bought: when last, its use cycle, and which purchase its replenishment reminder was for.</summary>
public sealed record BoughtProduct(ProductInfo Product, long LastBoughtMs, int? CycleDays, long ReplenishedForMs);

/// <summary>A trigger the customer engine holds: released by quiet hours ending (<paramref name="Deferred"/>), or scheduled (reminder, cross-sell).</summary>
public sealed record PendingTrigger(Trigger Trigger, long DueMs, bool Deferred);

/// <summary>
/// A cart, checkout or reminder trigger that went out and an order may still revoke: an order at or after
/// <paramref name="FromMs"/> (the abandonment it is about) and within the revoke window after <paramref name="DeadlineMs"/>.
/// </summary>
public readonly record struct SentTrigger(string Id, TriggerType Type, long FromMs, long DeadlineMs, string SessionId);

/// <summary>
/// Everything the customer engine knows about one customer (or one anonymous session's triggers): identity, orders,
/// consent, time zone, linked sessions, what went out, and what is waiting. One timer in the index covers all of
/// its long timers: the earliest of them.
/// </summary>
public sealed class CustomerState
{
    public const long None = long.MinValue;
    internal const int AppliedCapacity = 32;

    private readonly List<ulong> _applied = [];
    private long[]? _lastSent;

    public CustomerState(string key)
    {
        Key = key;
        Timer = new TimerNode(key, this);
    }

    /// <summary>The customer key (<see cref="CustomerKeys"/>).</summary>
    public string Key { get; }

    public bool IsAnonymous => CustomerKeys.IsAnonymous(Key);

    public TimerNode Timer { get; }

    public string? UserId { get; internal set; }
    public string? Email { get; internal set; }

    /// <summary>The newest IANA time zone a session of this customer reported.</summary>
    public string? TimeZone { get; internal set; }

    public long FirstSeenMs { get; internal set; } = None;
    public long LastActivityMs { get; internal set; } = None;

    public int Orders { get; internal set; }
    public decimal Revenue { get; internal set; }
    public long FirstOrderMs { get; internal set; } = None;
    public long LastOrderMs { get; internal set; } = None;

    /// <summary>Hash of the last order's id (0 when it had none): further events of the same order add to it.</summary>
    internal ulong LastOrderKey { get; set; }

    /// <summary>Signed up or subscribed at some point.</summary>
    public bool Subscribed { get; internal set; }

    /// <summary>Unsubscribed and not subscribed again since: no marketing trigger goes out.</summary>
    public bool Unsubscribed { get; internal set; }

    /// <summary>A cart or checkout was abandoned (for the abandoned-cart prospect segment).</summary>
    public bool AbandonedCart { get; internal set; }

    public bool VipReached { get; internal set; }
    public bool WelcomeSent { get; internal set; }

    public Segment Segment { get; internal set; }

    /// <summary>When the customer entered <see cref="Segment"/>.</summary>
    public long SegmentSinceMs { get; internal set; } = None;

    /// <summary>The last activity a win-back fired for (one per lapse), or <see cref="None"/>.</summary>
    public long WinBackForMs { get; internal set; } = None;

    internal List<BoughtProduct> BoughtList { get; } = [];
    internal List<PendingTrigger> PendingList { get; } = [];
    internal List<SentTrigger> OutstandingList { get; } = [];
    internal List<string> SessionList { get; } = [];
    internal List<TriggerDecision> DecisionList { get; } = [];

    public IReadOnlyList<BoughtProduct> Bought => BoughtList;
    public IReadOnlyList<PendingTrigger> Pending => PendingList;
    public IReadOnlyList<SentTrigger> Outstanding => OutstandingList;

    /// <summary>Linked sessions, newest first.</summary>
    public IReadOnlyList<string> Sessions => SessionList;

    /// <summary>The newest decisions about this customer's triggers, newest first.</summary>
    public IReadOnlyList<TriggerDecision> Decisions => DecisionList;

    /// <summary>Changed since the engine last handed it out for persisting.</summary>
    internal bool IsDirty { get; set; }

    /// <summary>The durable timer index's entry for this customer as of the last commit (its due time), or <see cref="None"/>.</summary>
    public long IndexedDueMs { get; set; } = None;

    /// <summary>When a trigger of <paramref name="type"/> last went out (its due or release time), or <see cref="None"/>.</summary>
    public long LastSent(TriggerType type) => _lastSent is null ? None : _lastSent[(int)type];

    internal void SetLastSent(TriggerType type, long ms)
    {
        if (_lastSent is null)
        {
            _lastSent = new long[TriggerTypes.Count];
            Array.Fill(_lastSent, None);
        }

        _lastSent[(int)type] = ms;
    }

    internal IEnumerable<ulong> Applied => _applied;

    /// <summary>Records a signal's identity (an order id, a candidate's trigger id); false when it was applied already.</summary>
    internal bool Remember(ulong hash)
    {
        if (_applied.Contains(hash))
        {
            return false;
        }

        if (_applied.Count == AppliedCapacity)
        {
            _applied.RemoveAt(0);
        }

        _applied.Add(hash);
        return true;
    }

    internal void LinkSession(string sessionId, int keep)
    {
        if (SessionList.Count > 0 && SessionList[0] == sessionId)
        {
            return;
        }

        SessionList.Remove(sessionId);
        SessionList.Insert(0, sessionId);
        if (SessionList.Count > keep)
        {
            SessionList.RemoveRange(keep, SessionList.Count - keep);
        }
    }

    internal void AddDecision(TriggerDecision decision, int keep)
    {
        if (keep == 0)
        {
            return;
        }

        DecisionList.Insert(0, decision);
        if (DecisionList.Count > keep)
        {
            DecisionList.RemoveRange(keep, DecisionList.Count - keep);
        }
    }
}
