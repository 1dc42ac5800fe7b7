using StreamTriggers.Decoding;
using StreamTriggers.Timers;
using StreamTriggers.Triggers;

namespace StreamTriggers.Sessions;

/// <summary>
/// Everything the engine knows about one session. A session lives through periods: a period starts with the first
/// event after the previous one closed and ends when its deadline fires. The cart and the cooldown history outlive
/// periods; the period flags reset when a period closes.
/// </summary>
public sealed class SessionState
{
    public const long None = long.MinValue;

    private ulong[]? _seenIds;
    private int _seenCount;
    private int _seenNext;

    public SessionState(string sessionId) => SessionId = sessionId;

    public string SessionId { get; }
    public string? UserId { get; internal set; }
    public string? Email { get; internal set; }

    /// <summary>Greatest event time seen for the session, Unix ms.</summary>
    public long LastActivityMs { get; internal set; } = None;

    /// <summary>The open period's deadline, or <see cref="None"/> when no period is open.</summary>
    public long PendingDeadlineMs { get; internal set; } = None;

    public long PeriodStartMs { get; internal set; } = None;
    public int PeriodEvents { get; internal set; }
    public bool PeriodAddedToCart { get; internal set; }
    public bool PeriodOrdered { get; internal set; }
    public bool PeriodCheckoutStarted { get; internal set; }

    /// <summary>Distinct products viewed in the open period, in first-view order.</summary>
    public List<ProductInfo> Viewed { get; } = [];

    /// <summary>Cart lines in first-added order; <see cref="ProductInfo.Quantity"/> is the units in the cart.</summary>
    public List<ProductInfo> Cart { get; } = [];

    /// <summary>Deadline at which each trigger type last fired for this session, or <see cref="None"/>.</summary>
    internal long[] LastFiredMs { get; } = [None, None, None];

    /// <summary>The one timer this session owns in the index: its deadline while a period is open, else its expiry.</summary>
    public long TimerDueMs { get; internal set; } = None;

    public TimerKind TimerKind { get; internal set; }

    public bool HasOpenPeriod => PendingDeadlineMs != None;

    public long LastFired(TriggerType type) => LastFiredMs[(int)type];

    internal int SeenIdCount => _seenCount;

    internal IEnumerable<ulong> SeenIds()
    {
        // Oldest first, so an encoder and decoder round trip keeps the eviction order.
        for (int i = 0; i < _seenCount; i++)
        {
            int at = _seenCount < _seenIds!.Length ? i : (_seenNext + i) % _seenIds.Length;
            yield return _seenIds[at];
        }
    }

    /// <summary>Records an event id hash; false when it was already among the remembered ones.</summary>
    internal bool RememberEventId(ulong hash, int capacity)
    {
        if (capacity == 0)
        {
            return true;
        }

        for (int i = 0; i < _seenCount; i++)
        {
            if (_seenIds![i] == hash)
            {
                return false;
            }
        }

        if (_seenIds is null || (_seenIds.Length < capacity && _seenCount == _seenIds.Length))
        {
            Array.Resize(ref _seenIds, Math.Min(capacity, Math.Max(4, _seenCount * 2)));
        }

        if (_seenCount < _seenIds.Length)
        {
            _seenIds[_seenCount++] = hash;
            _seenNext = _seenCount % _seenIds.Length;
        }
        else
        {
            _seenIds[_seenNext] = hash;
            _seenNext = (_seenNext + 1) % _seenIds.Length;
        }

        return true;
    }

    internal void ResetPeriod()
    {
        PendingDeadlineMs = None;
        PeriodStartMs = None;
        PeriodEvents = 0;
        PeriodAddedToCart = false;
        PeriodOrdered = false;
        PeriodCheckoutStarted = false;
        Viewed.Clear();
    }

    public decimal CartValue()
    {
        decimal total = 0;
        foreach (var line in Cart)
        {
            total += (line.Price ?? 0) * line.Quantity;
        }

        return total;
    }
}
