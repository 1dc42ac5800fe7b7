using StreamTriggers.Buffers;
using StreamTriggers.Decoding;
using StreamTriggers.Timers;
using StreamTriggers.Triggers;

namespace StreamTriggers.Sessions;

/// <summary>
/// Everything the engine knows about one session. A session lives through periods: a period starts with the first
/// event after the previous one closed and ends when its deadline fires. The cart and the cooldown history outlive
/// periods; the period flags reset when a period closes.
/// </summary>
/// <remarks>
/// Kept compact: a worker holds every open session in memory, and each object a session keeps is one more for the
/// garbage collector to copy while every thread waits (the pauses set how late a trigger can be). The session is
/// its own timer node, its id and user id are characters in arrays it keeps when it is reused for another visit
/// (<see cref="OwnedText"/>: no new visit's string behind an old session), its lists are filled in place, and an
/// email or time zone that repeats keeps the instance the session already holds.
/// </remarks>
public sealed class SessionState : TimerNode
{
    public const long None = long.MinValue;

    private ulong _seen0, _seen1, _seen2, _seen3;
    private ulong[]? _seenMore;
    private int _seenCount;
    private int _seenNext;

    private string? _timeZone;

    public SessionState(string sessionId)
        : base(sessionId)
    {
        Owner = this;
    }

    /// <summary>
    /// Makes this instance the fresh state of <paramref name="sessionId"/>, as the constructor would: the engine reuses
    /// the instances of sessions it evicted (see <see cref="SessionEngine.Recycle"/>) instead of allocating one per
    /// visit, so the state of a short visit is not copied by the garbage collector into the older generations only to
    /// die there. The instance keeps its arrays (emptied) for the next visit, unless they grew large: see
    /// <see cref="Kept{T}"/>.
    /// </summary>
    internal SessionState Reuse(string sessionId)
    {
        if (IsScheduled || IsDirty)
        {
            throw new InvalidOperationException($"session {SessionId} is still scheduled or has unpersisted changes; it cannot be reused");
        }

        SetSubject(sessionId);
        DueMs = 0;
        Kind = default;
        _seen0 = _seen1 = _seen2 = _seen3 = 0;
        _seenMore = Kept(_seenMore); // its values need no clearing: the count says which slots hold ids
        _seenCount = 0;
        _seenNext = 0;
        _timeZone = null;
        _userId.Clear();
        Email = null;
        Anonymous = AnonymousFlags.None;
        LastActivityMs = None;
        ResetPeriod(keepArrays: true);
        ClearCart(keepArrays: true);
        _lastBrowseMs = _lastCartMs = _lastCheckoutMs = None;
        AppliedOffset = -1;
        UnwrittenSinceOffset = -1;
        UnwrittenSinceMs = 0;
        InTimerIndex = false;
        ClearDecisions();
        return this;
    }

    /// <summary>The session id: a new string each time it is read (see <see cref="TimerNode.Subject"/>).</summary>
    public string SessionId => Subject;

    /// <summary>The visitor's user id, if an event gave one: a new string each time it is read (the session holds its characters, see <see cref="OwnedText"/>).</summary>
    public string? UserId
    {
        get => _userId.ToStringOrNull();
        internal set => _userId.Set(value);
    }

    /// <summary>Whether an event gave the visitor's user id.</summary>
    public bool HasUserId => _userId.HasValue;

    /// <summary>The user id's characters (empty when there is none), without a string; valid until it changes.</summary>
    public ReadOnlySpan<char> UserIdSpan => _userId.Span;

    public string? Email { get; internal set; }

    /// <summary>The customer key the session's events go to (<see cref="Customers.CustomerKeys.For(string?, string?, string)"/>), built from the characters held.</summary>
    public string CustomerKey() => Customers.CustomerKeys.For(_userId.HasValue, _userId.Span, Email, SubjectSpan);

    /// <summary>Whether an event gave the visitor's user id or email.</summary>
    public bool HasIdentity => _userId.HasValue || Email is not null;

    // The user id's characters, kept in the instance's own array across reuses, as the session id's are.
    private OwnedText _userId;

    /// <summary>The newest IANA time zone the session's events gave (<c>context.timezone</c>).</summary>
    public string? TimeZone
    {
        get => _timeZone;
        internal set => _timeZone = Same(_timeZone, value);
    }

    /// <summary>Cart and checkout triggers that fired while the session was anonymous, and whether one fired again with identity.</summary>
    internal AnonymousFlags Anonymous { get; set; }

    /// <summary>Greatest event time seen for the session, Unix ms.</summary>
    public long LastActivityMs { get; internal set; } = None;

    /// <summary>The open period's deadline, or <see cref="None"/> when no period is open.</summary>
    public long PendingDeadlineMs { get; internal set; } = None;

    public long PeriodStartMs { get; internal set; } = None;
    public int PeriodEvents { get; internal set; }
    public bool PeriodAddedToCart { get; internal set; }
    public bool PeriodOrdered { get; internal set; }
    public bool PeriodCheckoutStarted { get; internal set; }

    // Each list grows by doubling and is filled in place. A list replaced on every change (an array exactly as long as
    // the list) made each view of an idle session store a new object in an old one: the write barrier marks the
    // session's 2 KB of heap, and every gen0 collection scans each marked range twice (to mark and to relocate), which
    // was most of its pause. Filled in place, a view stores the product table's instance, old itself, so no mark.
    private ProductInfo[]? _viewed;
    private ProductInfo[]? _cart;
    private int _viewedCount;
    private int _cartCount;

    // Deadline at which each trigger type last fired, or None. Fields, not an array: most sessions never fire.
    private long _lastBrowseMs = None;
    private long _lastCartMs = None;
    private long _lastCheckoutMs = None;

    /// <summary>Distinct products viewed in the open period, in first-view order.</summary>
    public ArraySegment<ProductInfo> Viewed => _viewed is null ? ArraySegment<ProductInfo>.Empty : new(_viewed, 0, _viewedCount);

    /// <summary>Cart lines in first-added order; <see cref="ProductInfo.Quantity"/> is the units in the cart.</summary>
    public ArraySegment<ProductInfo> Cart => _cart is null ? ArraySegment<ProductInfo>.Empty : new(_cart, 0, _cartCount);

    internal void AddViewed(ProductInfo p) => Append(ref _viewed, ref _viewedCount, p);

    internal void AddCartLine(ProductInfo p) => Append(ref _cart, ref _cartCount, p);

    internal void SetCartLine(int i, ProductInfo p)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)_cartCount, nameof(i));
        _cart![i] = p;
    }

    internal void RemoveCartLine(int i, bool keepArrays)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)_cartCount, nameof(i));
        var cart = _cart!;
        Array.Copy(cart, i + 1, cart, i, _cartCount - i - 1);
        cart[--_cartCount] = null!;
        if (_cartCount == 0 && !keepArrays)
        {
            _cart = null;
        }
    }

    internal void ClearCart(bool keepArrays)
    {
        _cart?.AsSpan(0, _cartCount).Clear();
        _cart = keepArrays ? Kept(_cart) : null;
        _cartCount = 0;
    }

    /// <summary>Arrays up to this length are kept, emptied, when a list is cleared or the instance reused.</summary>
    internal const int KeptArrayLength = 64;

    // An engine whose sessions leave memory once written and closed (the live worker's, which then reuses the
    // instance for a new visit) keeps a cleared list's array: a new one stored in this (old) object would mark its
    // card, which every gen0 collection then scans until a gen1 collection promotes the array (a heap snapshot at
    // 45,000 events/s found new product lists, event-id rings and decision arrays in 17,000 of the 38,000 references
    // from gen2 objects to younger ones). Only an array grown unusually large is let go. An engine that holds closed
    // sessions for their retention (replay) releases them instead: most never open another period.
    private static T[]? Kept<T>(T[]? array) => array is { Length: <= KeptArrayLength } ? array : null;

    /// <summary>
    /// Gives the instance an array for each list it lacks, while it is young itself (new, or just read back from the
    /// store). An engine that reuses its instances (the live worker's) keeps the arrays across visits (see Kept), so
    /// a later visit that needs a list finds one instead of storing a new array in an instance by then old. About 250
    /// bytes per instance, which the live worker holds only while a visit is open or the instance waits for reuse.
    /// </summary>
    internal void ReserveLists()
    {
        _viewed ??= new ProductInfo[FirstListCapacity];
        _cart ??= new ProductInfo[FirstListCapacity];
        _seenMore ??= new ulong[InlineSeenIds];
        _decisions ??= new DecisionRecord[2];
    }

    internal void RestoreLists(ProductInfo[]? viewed, ProductInfo[]? cart)
    {
        _viewed = viewed is { Length: > 0 } ? viewed : null;
        _viewedCount = _viewed?.Length ?? 0;
        _cart = cart is { Length: > 0 } ? cart : null;
        _cartCount = _cart?.Length ?? 0;
    }

    /// <summary>Replaces each held product with the table's instance (a session read back from the store holds copies).</summary>
    internal void ShareProducts(ProductTable table)
    {
        for (int i = 0; i < _viewedCount; i++) _viewed![i] = table.Canonical(_viewed[i]);
        for (int i = 0; i < _cartCount; i++) _cart![i] = table.Canonical(_cart[i]);
    }

    private const int FirstListCapacity = 4;

    private static void Append(ref ProductInfo[]? list, ref int count, ProductInfo p)
    {
        if (list is null || count == list.Length)
        {
            Array.Resize(ref list, Math.Max(FirstListCapacity, count * 2));
        }

        list[count++] = p;
    }

    /// <summary>The one timer this session owns in the index (the session itself): its deadline while a period is open, else its expiry.</summary>
    public TimerNode Timer => this;

    public bool HasOpenPeriod => PendingDeadlineMs != None;

    /// <summary>Changed since the engine last handed it out for persisting.</summary>
    public bool IsDirty { get; internal set; }

    /// <summary>
    /// The input position (offset in the session's partition) of the newest event applied, or -1 when unknown.
    /// Stored with the state: an event at or before it that is read again (the input replayed after a crash from
    /// an older position) is skipped, so replaying input the state already holds changes nothing.
    /// </summary>
    public long AppliedOffset { get; set; } = -1;

    /// <summary>
    /// The input position of the oldest event applied since the state was last written, or -1 when the state store
    /// has every change (not stored; the worker's bookkeeping for deferred writes of open sessions).
    /// </summary>
    public long UnwrittenSinceOffset { get; set; } = -1;

    /// <summary>When the oldest unwritten change was applied (the worker's monotonic clock, ms); see <see cref="UnwrittenSinceOffset"/>.</summary>
    public long UnwrittenSinceMs { get; set; }

    /// <summary>
    /// Whether the state store's durable timer index lists this session (it does while a period is open, as of the
    /// last commit). The worker adds or removes it only when <see cref="HasOpenPeriod"/> no longer matches, not on
    /// every event: the exact deadline is in the state itself.
    /// </summary>
    public bool InTimerIndex { get; set; }

    private DecisionRecord[]? _decisions; // filled in place, newest first (see Kept)
    private int _decisionCount;

    /// <summary>The newest trigger decisions for this session, newest first (at most <see cref="RulesOptions.DecisionHistory"/>).</summary>
    public ArraySegment<DecisionRecord> Decisions => _decisions is null ? ArraySegment<DecisionRecord>.Empty : new(_decisions, 0, _decisionCount);

    internal void AddDecision(DecisionRecord decision, int keep)
    {
        if (keep == 0)
        {
            return;
        }

        int count = Math.Min(keep, _decisionCount + 1);
        EnsureDecisionCapacity(count, keep);
        Array.Copy(_decisions!, 0, _decisions!, 1, count - 1); // the oldest falls off the end once at `keep`
        _decisions![0] = decision;
        _decisionCount = count;
    }

    internal void RestoreDecision(DecisionRecord decision)
    {
        EnsureDecisionCapacity(_decisionCount + 1, int.MaxValue);
        _decisions![_decisionCount++] = decision;
    }

    private void EnsureDecisionCapacity(int count, int keep)
    {
        if (_decisions is null || _decisions.Length < count)
        {
            Array.Resize(ref _decisions, Math.Max(count, Math.Min(keep, Math.Max(2, _decisionCount * 2))));
        }
    }

    private void ClearDecisions()
    {
        _decisions = Kept(_decisions); // plain values: the count says which slots hold decisions
        _decisionCount = 0;
    }

    [Flags]
    internal enum AnonymousFlags : byte
    {
        None = 0,
        CartFired = 1,
        CheckoutFired = 2,
        Refired = 4,
    }

    internal void SetIdentity(string? userId, string? email)
    {
        // The user id's characters go into the array the session holds; an equal email keeps the instance already
        // held. Either way the event's string dies young instead of being kept.
        if (userId is not null && !_userId.Is(userId))
        {
            _userId.Set(userId);
        }

        Email = Same(Email, email ?? Email);
    }

    private static string? Same(string? held, string? value) => string.Equals(held, value, StringComparison.Ordinal) ? held : value;

    /// <summary>The deadline at which <paramref name="type"/> last fired for this session, or <see cref="None"/>.</summary>
    public long LastFired(TriggerType type) => type switch
    {
        TriggerType.BrowseAbandoned => _lastBrowseMs,
        TriggerType.CartAbandoned => _lastCartMs,
        _ => _lastCheckoutMs,
    };

    internal void SetLastFired(TriggerType type, long deadlineMs)
    {
        switch (type)
        {
            case TriggerType.BrowseAbandoned: _lastBrowseMs = deadlineMs; break;
            case TriggerType.CartAbandoned: _lastCartMs = deadlineMs; break;
            default: _lastCheckoutMs = deadlineMs; break;
        }
    }

    internal int SeenIdCount => _seenCount;

    internal IEnumerable<ulong> SeenIds()
    {
        for (int i = 0; i < _seenCount; i++)
        {
            yield return SeenIdAt(i);
        }
    }

    // The ring's slots: the first four inline (most visits send a handful of events: no array at all), the rest in
    // _seenMore, grown by doubling up to the capacity. The ring wraps only once it is at the capacity.
    private int SeenCapacity => InlineSeenIds + (_seenMore?.Length ?? 0);

    private const int InlineSeenIds = 4;

    private ulong SeenSlot(int i) => i switch
    {
        0 => _seen0,
        1 => _seen1,
        2 => _seen2,
        3 => _seen3,
        _ => _seenMore![i - InlineSeenIds],
    };

    private void SetSeenSlot(int i, ulong hash)
    {
        switch (i)
        {
            case 0: _seen0 = hash; break;
            case 1: _seen1 = hash; break;
            case 2: _seen2 = hash; break;
            case 3: _seen3 = hash; break;
            default: _seenMore![i - InlineSeenIds] = hash; break;
        }
    }

    /// <summary>The <paramref name="i"/>-th remembered event id hash, oldest first (an encode and decode round trip keeps the eviction order).</summary>
    /// <remarks>
    /// The ring holds <c>_seenCount</c> slots and <c>_seenNext</c> is its oldest: while it is filling, the next free slot
    /// (= the count, so the oldest is slot 0); once full, the slot the next id overwrites.
    /// </remarks>
    internal ulong SeenIdAt(int i) => SeenSlot((_seenNext + i) % _seenCount);

    /// <summary>Records an event id hash; false when it was already among the remembered ones.</summary>
    internal bool RememberEventId(ulong hash, int capacity)
    {
        if (capacity == 0)
        {
            return true;
        }

        for (int i = 0; i < _seenCount; i++)
        {
            if (SeenSlot(i) == hash)
            {
                return false;
            }
        }

        int slots = Math.Min(capacity, SeenCapacity);
        if (_seenCount == slots && slots < capacity)
        {
            // Not wrapped yet (the ring wraps only at the capacity): growing keeps the order.
            slots = Math.Min(capacity, Math.Max(InlineSeenIds * 2, _seenCount * 2));
            Array.Resize(ref _seenMore, slots - InlineSeenIds);
        }

        if (_seenCount < slots)
        {
            SetSeenSlot(_seenCount++, hash);
            _seenNext = _seenCount % slots;
        }
        else
        {
            SetSeenSlot(_seenNext, hash);
            _seenNext = (_seenNext + 1) % slots;
        }

        return true;
    }

    /// <summary>Keeps only the newest <paramref name="keep"/> remembered event ids.</summary>
    internal void TrimEventIds(int keep, bool keepArrays)
    {
        if (_seenCount <= keep)
        {
            return;
        }

        Span<ulong> newest = keep <= 256 ? stackalloc ulong[keep] : new ulong[keep];
        for (int i = 0; i < keep; i++)
        {
            newest[i] = SeenIdAt(_seenCount - keep + i);
        }

        // The newest `keep` ids, oldest first. The ring keeps its array (see Kept; it has more than `keep` slots) and
        // fills on from there, or takes one of exactly `keep` slots (a full ring that grows again if it must).
        if (!keepArrays || Kept(_seenMore) is null)
        {
            _seenMore = keep > InlineSeenIds ? new ulong[keep - InlineSeenIds] : null;
        }

        _seenCount = 0;
        foreach (ulong hash in newest)
        {
            SetSeenSlot(_seenCount++, hash);
        }

        _seenNext = 0;
    }

    internal void ResetPeriod(bool keepArrays)
    {
        PendingDeadlineMs = None;
        PeriodStartMs = None;
        PeriodEvents = 0;
        PeriodAddedToCart = false;
        PeriodOrdered = false;
        PeriodCheckoutStarted = false;
        _viewed?.AsSpan(0, _viewedCount).Clear(); // see Kept
        _viewed = keepArrays ? Kept(_viewed) : null;
        _viewedCount = 0;
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
