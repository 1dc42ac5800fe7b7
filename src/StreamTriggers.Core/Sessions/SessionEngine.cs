using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Timers;
using StreamTriggers.Triggers;

namespace StreamTriggers.Sessions;

/// <summary>Which trigger decisions a <see cref="SessionEngine"/> hands out through <see cref="SessionEngine.TakeDecisions"/>.</summary>
public enum DecisionLog
{
    /// <summary>None (each session still keeps its own latest decisions in its state).</summary>
    None,

    /// <summary>Only triggers held back (suppressed or deferred): what an audit needs.</summary>
    HeldBack,

    /// <summary>Every matched trigger's decision, sent or not.</summary>
    All,
}

/// <summary>
/// The deterministic session state machine: (state, event, clock) -> (state', timers, triggers). It does no I/O and
/// reads no clock of its own; the caller passes the clock, which is the watermark in replay
/// (see <see cref="EventTimeDriver"/>) and the wall clock minus the allowed lateness in the live worker.
/// </summary>
/// <remarks>
/// The rules, in the order they are applied:
/// <list type="number">
/// <item>Before an event is applied, every timer due at or before the clock fires, in (due, session id) order.</item>
/// <item>A duplicate delivery (an <c>event_id</c> the session remembers) is ignored entirely. A session remembers
/// its newest <see cref="RulesOptions.MaxEventIdsPerSession"/> ids while a period is open and its newest
/// <see cref="RulesOptions.MaxEventIdsAfterClose"/> once it has closed.</item>
/// <item>An event at or after its session's pending deadline first closes that period at the deadline.</item>
/// <item>The event is applied; the deadline becomes last activity (greatest event time) plus the gap.</item>
/// <item>If that deadline is already at or before the clock (a late event), it fires right after.</item>
/// </list>
/// At a deadline at most one trigger fires, first match wins: checkout_abandoned (cart not empty and a checkout was
/// started in the period), cart_abandoned (cart not empty), browse_abandoned (nothing added, no order, at least K
/// distinct products viewed in the period). A match on cooldown suppresses the deadline's trigger; it does not fall
/// through to the next rule.
/// </remarks>
public sealed partial class SessionEngine
{
    private readonly RulesOptions _rules;
    private readonly SubjectTable<SessionState> _sessions = new(); // holds no id string of its own: see SubjectTable
    private readonly TimerIndex _timers = new();
    private readonly ProductTable _products;
    private readonly List<SessionState> _dirty = [];
    private readonly Stack<SessionState> _recycled = new();
    private long _now = long.MinValue;

    /// <summary>Distinct products an engine of its own shares among its sessions before it starts its table afresh.</summary>
    internal const int ProductTableCapacity = 20_000;

    private readonly bool _trackChanges;
    private readonly List<TriggerDecision>? _decisions;
    private readonly bool _heldBackOnly;
    private readonly List<CustomerSignal>? _signals;
    private readonly long _refireMs;

    /// <param name="rules">The session rules.</param>
    /// <param name="trackChanges">Record changed sessions for <see cref="TakeDirty"/> (the live worker persists them; replay does not).</param>
    /// <param name="decisions">Which <see cref="TriggerDecision"/>s to record for <see cref="TakeDecisions"/>: none, the held-back ones (an audit), or every matched trigger's.</param>
    /// <param name="lifecycle">
    /// When given and enabled, the engine also tells the customer engine what happened, as <see cref="CustomerSignal"/>s
    /// for <see cref="TakeSignals"/>: its triggers as candidates for the sending policy, orders, sign-ups, consent,
    /// identity, activity, and a cart or checkout trigger again once an anonymous session is identified.
    /// </param>
    /// <param name="products">A product table shared with other engines (the live worker's partitions); by default one of its own.</param>
    public SessionEngine(RulesOptions rules, bool trackChanges = false, DecisionLog decisions = DecisionLog.None, LifecycleOptions? lifecycle = null,
        ProductTable? products = null)
    {
        _products = products ?? new ProductTable(ProductTableCapacity);
        _rules = rules.EnsureValid();
        _trackChanges = trackChanges;
        _decisions = decisions == DecisionLog.None ? null : [];
        _heldBackOnly = decisions == DecisionLog.HeldBack;
        _signals = lifecycle is { Enabled: true } ? [] : null;
        _refireMs = lifecycle?.RefireMs ?? 0;
    }

    public RulesOptions Rules => _rules;

    public EngineCounters Counters { get; } = new();

    /// <summary>The latest clock the engine has been given (the watermark in replay).</summary>
    public long Now => _now;

    public int SessionCount => _sessions.Count;

    public int PendingTimers => _timers.Count;

    // Whether a closed period keeps its cleared arrays for the session's next visit (SessionState.Kept): an engine that
    // tracks changes for a store (the live worker's) lets closed sessions go once written and reuses their instances.
    private bool KeepArrays => _trackChanges;

    // An engine that keeps arrays (and reuses instances) gives a new instance its lists' arrays while it is young:
    // the same arrays, stored later in the instance once it is old, would mark its card for every gen0 collection to
    // scan (SessionState.ReserveLists). Measured with the load tool at 35,000 events/s, side by side: ids held as
    // characters (OwnedText) and these arrays together took the worker's mean pause from 17-20 to 9-11 ms, its
    // collector's CPU from 0.10-0.12 to 0.05-0.06 cores (README, Performance).
    private SessionState NewSession(string sessionId)
    {
        var s = new SessionState(sessionId);
        if (KeepArrays)
        {
            s.ReserveLists();
        }

        return s;
    }

    public SessionState? Find(ReadOnlySpan<char> sessionId) => _sessions.Find(sessionId);

    public bool Contains(ReadOnlySpan<char> sessionId) => _sessions.Contains(sessionId);

    /// <summary>The products its sessions hold, one instance per distinct product (shared with a decoder).</summary>
    public ProductTable Products => _products;

    /// <summary>Whether the engine holds the session with this id (found without a string for it).</summary>
    public bool Holds(ReadOnlySpan<char> sessionId) => _sessions.Contains(sessionId);

    /// <summary>The earliest pending timer's due time, or null when none is pending.</summary>
    public long? NextDueMs => _timers.TryPeek(out var node) ? node.DueMs : null;

    /// <summary>
    /// Adds a session read back from a state store. A session whose retention has run out by the engine's clock is
    /// not imported (false): the visitor starts fresh, as in replay.
    /// </summary>
    public bool Import(SessionState s)
    {
        if (!s.HasOpenPeriod && s.LastActivityMs + _rules.RetentionMs <= _now)
        {
            return false;
        }

        if (_sessions.TryGetValue(s.SubjectSpan, out var existing))
        {
            _timers.Cancel(existing.Timer);
        }

        s.ShareProducts(_products); // its copies, read back from the store, die young
        if (KeepArrays)
        {
            s.ReserveLists(); // young still: see NewSession
        }

        _sessions.Set(s);
        s.InTimerIndex = s.HasOpenPeriod;
        _timers.Schedule(s.Timer, s.HasOpenPeriod ? s.PendingDeadlineMs : s.LastActivityMs + _rules.RetentionMs,
            s.HasOpenPeriod ? TimerKind.SessionDeadline : TimerKind.SessionExpiry);
        return true;
    }

    /// <summary>Hands out every session changed since the last call, and marks them clean.</summary>
    public void TakeDirty(List<SessionState> into)
    {
        foreach (var s in _dirty)
        {
            s.IsDirty = false;
            into.Add(s);
        }

        _dirty.Clear();
    }

    /// <summary>Hands out the decisions recorded since the last call, oldest first (see the constructor's <c>decisions</c>).</summary>
    public void TakeDecisions(List<TriggerDecision> into)
    {
        if (_decisions is not null)
        {
            into.AddRange(_decisions);
            _decisions.Clear();
        }
    }

    /// <summary>Hands out the customer signals since the last call, in the order they happened (needs <c>lifecycle</c>).</summary>
    public void TakeSignals(List<CustomerSignal> into)
    {
        if (_signals is not null)
        {
            into.AddRange(_signals);
            _signals.Clear();
        }
    }

    /// <summary>Drops a clean session from memory (it is durable elsewhere); its timer goes with it.</summary>
    public void Evict(SessionState s)
    {
        if (s.IsDirty)
        {
            throw new InvalidOperationException($"session {s.SessionId} has unpersisted changes");
        }

        _timers.Cancel(s.Timer);
        _sessions.Remove(s.SubjectSpan);
    }

    /// <summary>
    /// Evicts a clean session, as <see cref="Evict"/>, and keeps its instance for the next new session: the caller
    /// (and anything it handed the session to) must hold no reference to it after this call. The live worker recycles
    /// the sessions it has written and closed, so a steady stream of short visits allocates no session objects.
    /// </summary>
    public void Recycle(SessionState s)
    {
        Evict(s);
        if (_recycled.Count < RecycledLimit)
        {
            _recycled.Push(s);
        }
    }

    /// <summary>Evicted instances an engine keeps for reuse: enough for the visits that start between two commits of a busy partition.</summary>
    internal const int RecycledLimit = 4096;

    /// <summary>Instances kept by <see cref="Recycle"/> for reuse (at most <see cref="RecycledLimit"/>).</summary>
    public int RecycledCount => _recycled.Count;

    /// <summary>Drops every session (a partition was revoked).</summary>
    public void Clear()
    {
        _timers.Clear();
        _sessions.Clear();
        _dirty.Clear();
        _recycled.Clear();
    }

    /// <summary>Sessions with a period still open (a deadline not yet fired). O(sessions): for summaries, not the hot path.</summary>
    public int CountOpenPeriods() => _sessions.Count(s => s.HasOpenPeriod);

    /// <summary>
    /// Fires what is due at <paramref name="nowMs"/>, then applies <paramref name="ev"/>. <paramref name="offset"/> is
    /// the event's position in its input partition when there is one (-1 otherwise): an event at or before the
    /// session's <see cref="SessionState.AppliedOffset"/> is input read again and is skipped. Returns the session
    /// when the event changed it, null when it was skipped (a duplicate event id, or input read again).
    /// </summary>
    public SessionState? Apply(TrackerEvent ev, long nowMs, List<Trigger> output, long offset = -1)
    {
        AdvanceTo(nowMs, output);

        if (!_sessions.TryGetValue(ev.SessionId, out var s))
        {
            s = _recycled.TryPop(out var reused) ? reused.Reuse(ev.SessionId) : NewSession(ev.SessionId);
            _sessions.Add(s);
            Counters.SessionsCreated++;
        }

        if (offset >= 0 && offset <= s.AppliedOffset)
        {
            Counters.ReplayedSkipped++;
            return null;
        }

        ulong idHash = ev.DedupHash;
        if (idHash != 0 && !s.RememberEventId(idHash, _rules.MaxEventIdsPerSession))
        {
            Counters.DuplicatesIgnored++;
            return null;
        }

        Counters.EventsApplied++;
        s.AppliedOffset = Math.Max(s.AppliedOffset, offset);
        MarkDirty(s);

        if (s.HasOpenPeriod && ev.TimestampMs >= s.PendingDeadlineMs)
        {
            ClosePeriod(s, output);
        }

        if (!s.HasOpenPeriod)
        {
            s.PeriodStartMs = ev.TimestampMs;
        }

        s.LastActivityMs = Math.Max(s.LastActivityMs, ev.TimestampMs);
        s.PeriodEvents++;
        if (_signals is null)
        {
            ApplyEffect(s, ev);
        }
        else
        {
            string? keyBefore = s.HasIdentity ? s.CustomerKey() : null;
            var orderLines = ev.Type == EventType.OrderCompleted && ev.Products.Count == 0 ? s.Cart.ToArray() : null;
            ApplyEffect(s, ev);
            Signal(s, ev, keyBefore, orderLines ?? ev.Products);
        }

        s.PendingDeadlineMs = s.LastActivityMs + _rules.GapMs;
        if (s.PendingDeadlineMs <= _now)
        {
            ClosePeriod(s, output);
        }
        else
        {
            _timers.Schedule(s.Timer, s.PendingDeadlineMs, TimerKind.SessionDeadline);
        }

        return s;
    }

    /// <summary>Fires every timer due at or before <paramref name="nowMs"/>, in (due, session id) order.</summary>
    public void AdvanceTo(long nowMs, List<Trigger> output)
    {
        if (nowMs > _now)
        {
            _now = nowMs;
        }

        while (_timers.TryPeekDue(_now, out var node))
        {
            _timers.Dequeue();
            FireTimer(node, output);
        }
    }

    /// <summary>Fires every open period's deadline now, in (deadline, session id) order (replay's <c>--flush</c>).</summary>
    public void FlushOpenPeriods(List<Trigger> output)
    {
        while (_timers.TryPeek(out var node))
        {
            _timers.Dequeue();
            if (node.Kind == TimerKind.SessionDeadline)
            {
                FireTimer(node, output);
            }
        }
    }

    private void FireTimer(TimerNode node, List<Trigger> output)
    {
        var s = (SessionState)node.Owner!;
        switch (node.Kind)
        {
            case TimerKind.SessionDeadline:
                ClosePeriod(s, output);
                break;
            case TimerKind.SessionExpiry:
                _sessions.Remove(s.SubjectSpan);
                Counters.SessionsExpired++;
                break;
        }
    }

    private void ClosePeriod(SessionState s, List<Trigger> output)
    {
        long deadline = s.PendingDeadlineMs;
        var type = Evaluate(s);
        if (type is { } t)
        {
            long last = s.LastFired(t);
            if (last == SessionState.None || (deadline - last >= _rules.CooldownMs && deadline != last))
            {
                s.SetLastFired(t, deadline);
                Counters.Fired[(int)t]++;
                var trigger = CreateTrigger(s, t, deadline);
                output.Add(trigger);
                if (_signals is not null)
                {
                    Candidate(s, trigger, deadline);
                }
                Decide(s, new DecisionRecord(t, DecisionOutcome.Emitted, DecisionReason.None, deadline, trigger.DetectedAtMs, SessionState.None), trigger.Id);
            }
            else
            {
                Counters.SuppressedByCooldown[(int)t]++;
                Decide(s, new DecisionRecord(t, DecisionOutcome.Suppressed, DecisionReason.Cooldown, deadline, Math.Max(_now, deadline), last));
            }
        }

        if (_signals is not null && type is null && (s.UserId is not null || s.Email is not null))
        {
            _signals.Add(new CustomerSignal(SignalKind.Activity, s, s.LastActivityMs));
        }

        Counters.PeriodsClosed++;
        MarkDirty(s);
        s.ResetPeriod(KeepArrays);
        s.TrimEventIds(_rules.MaxEventIdsAfterClose, KeepArrays);
        _timers.Schedule(s.Timer, s.LastActivityMs + _rules.RetentionMs, TimerKind.SessionExpiry);
    }

    private void Decide(SessionState s, DecisionRecord decision, string? triggerId = null)
    {
        s.AddDecision(decision, _rules.DecisionHistory);
        if (_decisions is not null && !(_heldBackOnly && decision.Outcome == DecisionOutcome.Emitted))
        {
            _decisions.Add(decision.ToDecision(s.SessionId, triggerId));
        }
    }

    private void MarkDirty(SessionState s)
    {
        if (_trackChanges && !s.IsDirty)
        {
            s.IsDirty = true;
            _dirty.Add(s);
        }
    }

    private TriggerType? Evaluate(SessionState s)
    {
        if (s.Cart.Count > 0)
        {
            return s.PeriodCheckoutStarted ? TriggerType.CheckoutAbandoned : TriggerType.CartAbandoned;
        }

        if (!s.PeriodAddedToCart && !s.PeriodOrdered && s.Viewed.Count >= _rules.BrowseMinProducts)
        {
            return TriggerType.BrowseAbandoned;
        }

        return null;
    }

    private Trigger CreateTrigger(SessionState s, TriggerType type, long deadline, string? id = null, string? refireOf = null)
    {
        string? currency = null;
        var cart = s.Cart;
        for (int i = 0; i < cart.Count && currency is null; i++)
        {
            currency = cart[i].Currency;
        }

        string sessionId = s.SessionId; // a new string (the session holds its id's characters): one for the trigger
        return new Trigger
        {
            Id = id ?? TriggerId.Create(type, sessionId, deadline),
            RefireOf = refireOf,
            Type = type,
            SessionId = sessionId,
            UserId = s.UserId,
            Email = s.Email,
            DeadlineMs = deadline,
            DetectedAtMs = Math.Max(_now, deadline),
            LastActivityMs = s.LastActivityMs,
            PeriodStartMs = s.PeriodStartMs,
            PeriodEvents = s.PeriodEvents,
            Cart = [.. s.Cart],
            CartValue = s.CartValue(),
            Currency = currency,
            ProductsViewed = [.. s.Viewed],
        };
    }

    private void ApplyEffect(SessionState s, TrackerEvent ev)
    {
        if (ev.UserId is not null || ev.Email is not null)
        {
            s.SetIdentity(ev.UserId, ev.Email);
        }

        if (ev.TimeZone is not null)
        {
            s.TimeZone = ev.TimeZone;
        }

        switch (ev.Type)
        {
            case EventType.ProductViewed:
                for (int i = 0; i < ev.Products.Count; i++)
                {
                    var p = ev.Products[i];
                    if (s.Viewed.Count < _rules.MaxViewedProducts && IndexOf(s.Viewed, p.Id) < 0)
                    {
                        s.AddViewed(_products.Canonical(p.Quantity == 1 ? p : p with { Quantity = 1 }));
                    }
                }

                break;
            case EventType.ProductAdded:
                s.PeriodAddedToCart = true;
                for (int i = 0; i < ev.Products.Count; i++)
                {
                    AddToCart(s, ev.Products[i]);
                }

                break;
            case EventType.ProductRemoved:
                for (int i = 0; i < ev.Products.Count; i++)
                {
                    RemoveFromCart(s, ev.Products[i]);
                }

                break;
            case EventType.CheckoutStarted:
                s.PeriodCheckoutStarted = true;
                break;
            case EventType.OrderCompleted:
                s.PeriodOrdered = true;
                s.ClearCart(KeepArrays);
                break;
        }
    }

    private void AddToCart(SessionState s, ProductInfo p)
    {
        var cart = s.Cart;
        int i = IndexOf(cart, p.Id);
        if (i >= 0)
        {
            var line = cart[i];
            // The newest description wins (a price change between adds), the units accumulate.
            s.SetCartLine(i, p with
            {
                Quantity = line.Quantity + p.Quantity,
                Price = p.Price ?? line.Price,
                Name = p.Name ?? line.Name,
                Sku = p.Sku ?? line.Sku,
                Category = p.Category ?? line.Category,
                Brand = p.Brand ?? line.Brand,
                Currency = p.Currency ?? line.Currency,
            });
        }
        else if (cart.Count < _rules.MaxCartLines)
        {
            s.AddCartLine(_products.Canonical(p));
        }
        else
        {
            Counters.CartAddsDropped++;
        }
    }

    private void RemoveFromCart(SessionState s, ProductInfo p)
    {
        int i = IndexOf(s.Cart, p.Id);
        if (i < 0)
        {
            return;
        }

        var line = s.Cart[i];
        int left = line.Quantity - p.Quantity;
        if (left > 0)
        {
            s.SetCartLine(i, line with { Quantity = left });
        }
        else
        {
            s.RemoveCartLine(i, KeepArrays);
        }
    }

    private static int IndexOf(ReadOnlySpan<ProductInfo> list, string productId)
    {
        for (int i = 0; i < list.Length; i++)
        {
            if (string.Equals(list[i].Id, productId, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
