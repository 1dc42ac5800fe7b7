using StreamTriggers.Decoding;
using StreamTriggers.Timers;
using StreamTriggers.Triggers;

namespace StreamTriggers.Customers;

/// <summary>
/// The deterministic customer state machine: (customer state, signals, clock) -> (state', long timers, triggers,
/// audit decisions). Like the session engine it does no I/O and reads no clock of its own.
/// </summary>
/// <remarks>
/// One call of <see cref="Apply"/> is one step. In a step: every customer timer due at or before the clock fires
/// (held triggers released at the end of quiet hours, reminders, cross-sells, replenishments, win-backs, segment
/// changes by the passing of time); then each signal is applied in order. Candidate triggers are decided together,
/// per customer, when the step ends or when a fact about that customer (an order, a consent change) comes next:
/// that is what "due at once" means for priority. Each candidate passes, in order: consent, quiet hours (held until
/// they end, then decided again without them), priority, frequency cap; the first that holds it back is the reason
/// in the audit. Operational triggers (segment changes, revocations) skip the policy.
/// <para>
/// Time: a candidate is judged at its due time (a session trigger's deadline, a lifecycle trigger's scheduled time,
/// a held trigger's release time), not at the clock, so replay and live decide alike however late they run.
/// </para>
/// </remarks>
public sealed partial class CustomerEngine
{
    private const long Day = 86_400_000;

    private readonly LifecycleOptions _lifecycle;
    private readonly PolicyOptions _policy;
    private readonly SegmentOptions _segments;
    private readonly QuietHours _quiet;
    private readonly TimeZoneInfo _defaultZone;
    private readonly Dictionary<string, CustomerState> _customers = new(StringComparer.Ordinal);
    private readonly TimerIndex _timers = new();
    private readonly List<CustomerState> _dirty = [];
    private readonly bool _trackChanges;
    private readonly int[] _rank = new int[TriggerTypes.Count];
    private readonly TriggerType[][] _familyOf = new TriggerType[TriggerTypes.Count][];
    private readonly long[] _capMs = new long[TriggerTypes.Count];
    private readonly long _anonymousRetentionMs;

    // Candidates waiting for the end of the step, per customer, in arrival order.
    private readonly Dictionary<string, List<Candidate>> _step = new(StringComparer.Ordinal);
    private readonly List<string> _stepOrder = [];
    private long _now = long.MinValue;

    public CustomerEngine(LifecycleOptions lifecycle, PolicyOptions policy, bool trackChanges = false)
    {
        _lifecycle = lifecycle.EnsureValid();
        _policy = policy.EnsureValid();
        _segments = lifecycle.Segments;
        _trackChanges = trackChanges;
        _quiet = new QuietHours(policy.QuietHoursStart, policy.QuietHoursEnd);
        _defaultZone = TimeZones.Find(policy.DefaultTimeZone)!;

        for (int i = 0; i < policy.Priority.Count; i++)
        {
            if (TriggerTypes.TryParse(policy.Priority[i], out var t))
            {
                _rank[(int)t] = policy.Priority.Count - i;
            }
        }

        long maxCap = 0;
        foreach (var type in TriggerTypes.All)
        {
            string? family = policy.CapFamilies.GetValueOrDefault(TriggerTypes.Name(type));
            _familyOf[(int)type] = family is null
                ? []
                : [.. TriggerTypes.All.Where(t => policy.CapFamilies.GetValueOrDefault(TriggerTypes.Name(t)) == family)];
            _capMs[(int)type] = family is not null && policy.FrequencyCaps.TryGetValue(family, out var cap) ? (long)cap.TotalMilliseconds : 0;
            maxCap = Math.Max(maxCap, _capMs[(int)type]);
        }

        // An anonymous subject only has to remember what a later order could revoke and what the cap still counts.
        _anonymousRetentionMs = Math.Max(Math.Max(lifecycle.RevokeMs, maxCap), Day);
    }

    public LifecycleOptions Lifecycle => _lifecycle;

    public PolicyOptions Policy => _policy;

    public CustomerCounters Counters { get; } = new();

    public long Now => _now;

    public int CustomerCount => _customers.Count;

    public int PendingTimers => _timers.Count;

    public long? NextDueMs => _timers.TryPeek(out var node) ? node.DueMs : null;

    public CustomerState? Find(string key) => _customers.GetValueOrDefault(key);

    /// <summary>When <paramref name="c"/> expires unless it is active again (or something is held for it).</summary>
    public long ExpiresAtMs(CustomerState c) => ExpiresAt(c);

    /// <summary>When <paramref name="c"/>'s timer is next due (its entry in a durable timer index), or null when it has none.</summary>
    public long? ScheduledDueMs(CustomerState c) => IsLive(c) && c.Timer.IsScheduled ? c.Timer.DueMs : null;

    public bool Contains(string key) => _customers.ContainsKey(key);

    /// <summary>Adds a customer read back from a state store (false when its retention has run out by the engine's clock).</summary>
    public bool Import(CustomerState c)
    {
        if (Expired(c))
        {
            return false;
        }

        if (_customers.TryGetValue(c.Key, out var existing))
        {
            _timers.Cancel(existing.Timer);
        }

        _customers[c.Key] = c;
        _timers.Schedule(c.Timer, NextDue(c), TimerKind.CustomerDue);
        return true;
    }

    /// <summary>Drops a clean customer from memory (it is durable elsewhere).</summary>
    public void Evict(CustomerState c)
    {
        if (c.IsDirty)
        {
            throw new InvalidOperationException($"customer {c.Key} has unpersisted changes");
        }

        _timers.Cancel(c.Timer);
        _customers.Remove(c.Key);
    }

    public void Clear()
    {
        _timers.Clear();
        _customers.Clear();
        _dirty.Clear();
        _step.Clear();
        _stepOrder.Clear();
    }

    /// <summary>Hands out every customer changed since the last call (expired ones included: the store deletes them), and marks them clean.</summary>
    public void TakeDirty(List<CustomerState> into)
    {
        foreach (var c in _dirty)
        {
            c.IsDirty = false;
            into.Add(c);
        }

        _dirty.Clear();
    }

    /// <summary>Whether <paramref name="c"/> is still kept (false once it expired).</summary>
    public bool IsLive(CustomerState c) => _customers.TryGetValue(c.Key, out var live) && ReferenceEquals(live, c);

    /// <summary>
    /// One step: fires customer timers due at <paramref name="nowMs"/>, applies <paramref name="signals"/> in order,
    /// and decides every candidate. Triggers that go out are added to <paramref name="output"/>; every decision that
    /// held one back (suppressed or deferred) to <paramref name="audit"/>.
    /// </summary>
    public void Apply(IReadOnlyList<CustomerSignal> signals, long nowMs, List<Trigger> output, List<TriggerDecision> audit)
    {
        if (nowMs > _now)
        {
            _now = nowMs;
        }

        FireDue(output, audit);
        foreach (var signal in signals)
        {
            ApplySignal(signal, output, audit);
        }

        FlushStep(output, audit);

        // A trigger held back while the step ran late may be due already: release it in this step too.
        while (_timers.TryPeekDue(_now, out _))
        {
            FireDue(output, audit);
            FlushStep(output, audit);
        }
    }

    /// <summary>A step without signals: fires what is due at <paramref name="nowMs"/>.</summary>
    public void AdvanceTo(long nowMs, List<Trigger> output, List<TriggerDecision> audit) => Apply([], nowMs, output, audit);

    private void FireDue(List<Trigger> output, List<TriggerDecision> audit)
    {
        while (_timers.TryPeekDue(_now, out var node))
        {
            _timers.Dequeue();
            var c = (CustomerState)node.Owner!;
            FireTimers(c, output, audit);
        }
    }

    private void ApplySignal(CustomerSignal signal, List<Trigger> output, List<TriggerDecision> audit)
    {
        if (!_customers.TryGetValue(signal.Subject, out var c))
        {
            c = new CustomerState(signal.Subject);
            _customers.Add(signal.Subject, c);
            Counters.CustomersCreated++;
        }

        if (signal.Kind != SignalKind.Candidate)
        {
            // Candidates before a fact are decided before it: an order must see what went out before it.
            FlushCustomer(c, output, audit);
        }

        Counters.SignalsApplied++;
        MarkDirty(c);
        Touch(c, signal);
        long at = Math.Max(signal.TimeMs, _now);
        switch (signal.Kind)
        {
            case SignalKind.Candidate:
                var t = signal.Trigger!;
                if (!c.Remember(TriggerId.StableHash(t.Id)))
                {
                    Counters.DuplicateSignals++;
                    break;
                }

                if (t.Type is TriggerType.CartAbandoned or TriggerType.CheckoutAbandoned)
                {
                    c.AbandonedCart = true;
                }

                Enqueue(c, new Candidate(t, signal.DueMs, Released: false));
                break;
            case SignalKind.Order:
                // One signal per order event: several events may make up one order (REES46 writes a row per product).
                string firstProduct = signal.Products.Count > 0 ? signal.Products[0].Id : "";
                if (!c.Remember(TriggerId.StableHash($"order|{signal.OrderId}|{signal.SessionId}|{signal.TimeMs}|{firstProduct}")))
                {
                    Counters.DuplicateSignals++;
                    break;
                }

                OnOrder(c, signal, output, audit);
                break;
            case SignalKind.Revoke:
                Converted(c, signal.TimeMs, output, audit);
                break;
            case SignalKind.SignedUp:
            case SignalKind.Subscribed:
                c.Subscribed = true;
                if (signal.Kind == SignalKind.Subscribed)
                {
                    c.Unsubscribed = false;
                }

                if (!c.IsAnonymous && !c.WelcomeSent)
                {
                    c.WelcomeSent = true;
                    Enqueue(c, new Candidate(new Trigger
                    {
                        Id = TriggerId.Create(TriggerType.Welcome, c.Key, signal.TimeMs),
                        Type = TriggerType.Welcome,
                        SessionId = signal.SessionId,
                        UserId = c.UserId,
                        Email = c.Email,
                        DeadlineMs = signal.TimeMs,
                        DetectedAtMs = at,
                        LastActivityMs = c.LastActivityMs,
                        ProductsViewed = signal.Products,
                    }, signal.TimeMs, Released: false));
                }

                break;
            case SignalKind.Unsubscribed:
                c.Unsubscribed = true;
                break;
        }

        if (!c.IsAnonymous)
        {
            UpdateSegment(c, at, signal.SessionId, output);
        }

        Reschedule(c);
    }

    private void Touch(CustomerState c, CustomerSignal signal)
    {
        c.UserId = signal.UserId ?? c.UserId;
        c.Email = signal.Email ?? c.Email;
        if (signal.TimeZone is not null && TimeZones.Find(signal.TimeZone) is not null)
        {
            c.TimeZone = signal.TimeZone;
        }

        if (c.FirstSeenMs == CustomerState.None || signal.TimeMs < c.FirstSeenMs)
        {
            c.FirstSeenMs = signal.TimeMs;
        }

        if (signal.TimeMs > c.LastActivityMs)
        {
            c.LastActivityMs = signal.TimeMs;
        }

        c.LinkSession(signal.SessionId, _lifecycle.MaxLinkedSessions);
    }

    private void OnOrder(CustomerState c, CustomerSignal order, List<Trigger> output, List<TriggerDecision> audit)
    {
        Converted(c, order.TimeMs, output, audit);
        if (c.IsAnonymous)
        {
            return;
        }

        decimal total = order.OrderTotal ?? order.Products.Sum(p => (p.Price ?? 0) * p.Quantity);
        ulong orderKey = order.OrderId is null ? 0 : TriggerId.StableHash(order.OrderId);
        bool sameOrder = orderKey != 0 && orderKey == c.LastOrderKey;
        if (!sameOrder)
        {
            c.Orders++;
        }

        c.LastOrderKey = orderKey;
        c.Revenue += total;
        c.FirstOrderMs = c.FirstOrderMs == CustomerState.None ? order.TimeMs : Math.Min(c.FirstOrderMs, order.TimeMs);
        c.LastOrderMs = Math.Max(c.LastOrderMs, order.TimeMs);

        foreach (var p in order.Products)
        {
            int i = c.BoughtList.FindIndex(b => string.Equals(b.Product.Id, p.Id, StringComparison.Ordinal));
            if (i >= 0 && c.BoughtList[i].LastBoughtMs >= order.TimeMs)
            {
                continue; // an older order arriving late does not move a newer purchase back
            }

            if (i >= 0)
            {
                c.BoughtList.RemoveAt(i);
            }

            // A repurchase replaces the entry: the old replenishment date is gone, the new one counts from now.
            c.BoughtList.Insert(0, new BoughtProduct(p, order.TimeMs, _lifecycle.CycleDays(p), CustomerState.None));
        }

        if (c.BoughtList.Count > _lifecycle.MaxProductsBought)
        {
            c.BoughtList.RemoveRange(_lifecycle.MaxProductsBought, c.BoughtList.Count - _lifecycle.MaxProductsBought);
        }

        if (order.Products.Count > 0)
        {
            ScheduleCrossSell(c, order, sameOrder);
        }

        if (!c.VipReached && c.Revenue >= _lifecycle.VipThreshold)
        {
            c.VipReached = true;
            Enqueue(c, new Candidate(new Trigger
            {
                Id = TriggerId.Create(TriggerType.VipReached, c.Key, order.TimeMs),
                Type = TriggerType.VipReached,
                SessionId = order.SessionId,
                UserId = c.UserId,
                Email = c.Email,
                DeadlineMs = order.TimeMs,
                LastActivityMs = c.LastActivityMs,
                ProductsBought = order.Products,
                OrderId = order.OrderId,
                Currency = order.Currency,
            }, order.TimeMs, Released: false));
        }
    }

    // One cross-sell per order, with every product of it: a later event of the same order adds its products.
    private void ScheduleCrossSell(CustomerState c, CustomerSignal order, bool sameOrder)
    {
        int existing = sameOrder
            ? c.PendingList.FindIndex(p => p.Trigger.Type == TriggerType.PostPurchaseCrossSell && p.Trigger.OrderId == order.OrderId)
            : -1;
        var previous = existing >= 0 ? c.PendingList[existing].Trigger : null;
        long due = previous?.DeadlineMs ?? order.TimeMs + _lifecycle.CrossSellMs;
        string subject = c.Key + "|" + (order.OrderId ?? order.SessionId + "|" + order.TimeMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var trigger = new Trigger
        {
            Id = previous?.Id ?? TriggerId.Create(TriggerType.PostPurchaseCrossSell, subject, due),
            Type = TriggerType.PostPurchaseCrossSell,
            SessionId = order.SessionId,
            UserId = c.UserId,
            Email = c.Email,
            DeadlineMs = due,
            LastActivityMs = order.TimeMs,
            ProductsBought = previous is null ? order.Products : [.. previous.ProductsBought, .. order.Products],
            OrderId = order.OrderId,
            Currency = order.Currency ?? previous?.Currency,
        };
        if (existing >= 0)
        {
            c.PendingList[existing] = new PendingTrigger(trigger, due, Deferred: false);
        }
        else
        {
            c.PendingList.Add(new PendingTrigger(trigger, due, Deferred: false));
        }
    }

    // An order: what abandonment is still held back is dropped (the customer bought), and what went out within the
    // revoke window is revoked so a sender can cancel a message still queued.
    private void Converted(CustomerState c, long orderMs, List<Trigger> output, List<TriggerDecision> audit)
    {
        for (int i = 0; i < c.PendingList.Count; i++)
        {
            var p = c.PendingList[i];
            bool abandonment = p.Trigger.Type is TriggerType.BrowseAbandoned or TriggerType.CartAbandoned
                or TriggerType.CheckoutAbandoned or TriggerType.CartAbandonedReminder;
            if (abandonment && orderMs <= p.DueMs && (p.Trigger.Type == TriggerType.CartAbandonedReminder || orderMs >= p.Trigger.DeadlineMs))
            {
                c.PendingList.RemoveAt(i--);
                Suppress(c, p.Trigger, DecisionReason.Converted, Math.Max(_now, orderMs), $"an order at {Time.UnixTime.Format(orderMs)} came first", audit);
            }
        }

        for (int i = 0; i < c.OutstandingList.Count; i++)
        {
            var sent = c.OutstandingList[i];
            if (orderMs < sent.FromMs)
            {
                continue;
            }

            c.OutstandingList.RemoveAt(i--);
            if (orderMs - sent.DeadlineMs > _lifecycle.RevokeMs)
            {
                continue;
            }

            var revoked = new Trigger
            {
                Id = TriggerId.Create(TriggerType.TriggerRevoked, sent.Id, sent.DeadlineMs),
                Type = TriggerType.TriggerRevoked,
                SessionId = sent.SessionId,
                UserId = c.UserId,
                Email = c.Email,
                DeadlineMs = orderMs,
                LastActivityMs = c.LastActivityMs,
                RevokedTriggerId = sent.Id,
                RevokedType = sent.Type,
            };
            Emit(c, revoked, orderMs, released: false, output);
        }
    }

    private void FireTimers(CustomerState c, List<Trigger> output, List<TriggerDecision> audit)
    {
        MarkDirty(c);
        for (int i = 0; i < c.PendingList.Count; i++)
        {
            var p = c.PendingList[i];
            if (p.DueMs <= _now)
            {
                c.PendingList.RemoveAt(i--);
                Enqueue(c, new Candidate(p.Trigger, p.DueMs, p.Deferred));
            }
        }

        if (!c.IsAnonymous)
        {
            for (int i = 0; i < c.BoughtList.Count; i++)
            {
                var b = c.BoughtList[i];
                if (ReplenishDue(b) is { } due && due <= _now)
                {
                    c.BoughtList[i] = b with { ReplenishedForMs = b.LastBoughtMs };
                    Enqueue(c, new Candidate(new Trigger
                    {
                        Id = TriggerId.Create(TriggerType.Replenishment, c.Key + "|" + b.Product.Id, due),
                        Type = TriggerType.Replenishment,
                        SessionId = c.Sessions.Count > 0 ? c.Sessions[0] : c.Key,
                        UserId = c.UserId,
                        Email = c.Email,
                        DeadlineMs = due,
                        LastActivityMs = c.LastActivityMs,
                        ProductsBought = [b.Product],
                    }, due, Released: false));
                }
            }

            if (WinBackDue(c) is { } winBack && winBack <= _now)
            {
                c.WinBackForMs = c.LastActivityMs;
                Enqueue(c, new Candidate(new Trigger
                {
                    Id = TriggerId.Create(TriggerType.WinBack, c.Key, winBack),
                    Type = TriggerType.WinBack,
                    SessionId = c.Sessions.Count > 0 ? c.Sessions[0] : c.Key,
                    UserId = c.UserId,
                    Email = c.Email,
                    DeadlineMs = winBack,
                    LastActivityMs = c.LastActivityMs,
                }, winBack, Released: false));
            }

            // The passing of time alone moves a customer out of "recent": the segment changes at that boundary.
            long boundary = c.LastOrderMs + _segments.AtRiskMs + 1;
            if (c.Orders > 0 && boundary <= _now)
            {
                UpdateSegment(c, boundary, c.Sessions.Count > 0 ? c.Sessions[0] : c.Key, output);
            }
        }

        if (Expired(c) && !HasCandidates(c))
        {
            _customers.Remove(c.Key);
            Counters.CustomersExpired++;
            return;
        }

        Reschedule(c);
    }

    private long? ReplenishDue(BoughtProduct b)
    {
        if (b.CycleDays is not { } days || b.ReplenishedForMs == b.LastBoughtMs)
        {
            return null;
        }

        long due = b.LastBoughtMs + days * Day - _lifecycle.LeadMs;
        // A cycle no longer than the lead leaves nothing to remind about.
        return due > b.LastBoughtMs ? due : null;
    }

    private long? WinBackDue(CustomerState c) =>
        c.Orders > 0 && c.WinBackForMs != c.LastActivityMs ? c.LastActivityMs + _lifecycle.WinBackMs : null;

    private long ExpiresAt(CustomerState c) => c.LastActivityMs + (c.IsAnonymous ? _anonymousRetentionMs : _lifecycle.RetentionMs);

    /// <summary>The earliest time anything is due for <paramref name="c"/>: a long timer, or its expiry when nothing is held.</summary>
    internal long NextDue(CustomerState c)
    {
        long next = long.MaxValue;
        foreach (var p in c.PendingList)
        {
            next = Math.Min(next, p.DueMs);
        }

        if (!c.IsAnonymous)
        {
            foreach (var b in c.BoughtList)
            {
                if (ReplenishDue(b) is { } due)
                {
                    next = Math.Min(next, due);
                }
            }

            if (WinBackDue(c) is { } winBack)
            {
                next = Math.Min(next, winBack);
            }

            if (Segments.NextBoundary(c, _now, _segments) is { } boundary)
            {
                next = Math.Min(next, boundary);
            }
        }

        return c.PendingList.Count == 0 ? Math.Min(next, ExpiresAt(c)) : next;
    }

    private bool Expired(CustomerState c) => c.PendingList.Count == 0 && ExpiresAt(c) <= _now;

    private void Reschedule(CustomerState c)
    {
        long due = NextDue(c);
        if (due <= _now && HasCandidates(c))
        {
            due = _now + 1; // its candidates are decided first; it may expire after
        }

        _timers.Schedule(c.Timer, due, TimerKind.CustomerDue);
    }

    private void UpdateSegment(CustomerState c, long atMs, string sessionId, List<Trigger> output)
    {
        var segment = Segments.Of(c, atMs, _segments);
        if (segment == c.Segment)
        {
            return;
        }

        var previous = c.Segment;
        long since = c.SegmentSinceMs;
        c.Segment = segment;
        c.SegmentSinceMs = atMs;
        if (previous == Segment.None || since == atMs)
        {
            // A customer's first segment is where they start, not a move; nor is a second fact of the same event
            // (identified and signed up at once).
            return;
        }

        var t = new Trigger
        {
            Id = TriggerId.Create(TriggerType.SegmentChanged, c.Key + "|" + Segments.Name(segment), atMs),
            Type = TriggerType.SegmentChanged,
            SessionId = sessionId,
            UserId = c.UserId,
            Email = c.Email,
            DeadlineMs = atMs,
            LastActivityMs = c.LastActivityMs,
            PreviousSegment = Segments.Name(previous),
        };
        Emit(c, t, atMs, released: false, output);
    }

    private void MarkDirty(CustomerState c)
    {
        if (_trackChanges && !c.IsDirty)
        {
            c.IsDirty = true;
            _dirty.Add(c);
        }
    }

    private TimeZoneInfo ZoneOf(CustomerState c) => TimeZones.Find(c.TimeZone) ?? _defaultZone;

    private readonly record struct Candidate(Trigger Trigger, long DueMs, bool Released);
}
