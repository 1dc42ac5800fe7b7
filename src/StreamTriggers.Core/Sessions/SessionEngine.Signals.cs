using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Triggers;

namespace StreamTriggers.Sessions;

public sealed partial class SessionEngine
{
    // What the customer engine must hear about the event just applied, in the order it happened.
    private void Signal(SessionState s, TrackerEvent ev, string? keyBefore, IReadOnlyList<ProductInfo> orderLines)
    {
        bool identified = s.HasIdentity;
        string key = s.CustomerKey();
        if (identified && key != keyBefore)
        {
            _signals!.Add(new CustomerSignal(SignalKind.Linked, s, ev.TimestampMs));
            if (keyBefore is null)
            {
                Refire(s, ev.TimestampMs);
            }
        }

        switch (ev.Type)
        {
            case EventType.OrderCompleted:
                _signals!.Add(new CustomerSignal(SignalKind.Order, s, ev.TimestampMs)
                {
                    OrderId = ev.OrderId,
                    OrderTotal = ev.OrderTotal,
                    Currency = ev.Currency ?? (orderLines.Count > 0 ? orderLines[0].Currency : null),
                    Products = orderLines,
                });
                if (identified && (s.Anonymous & (SessionState.AnonymousFlags.CartFired | SessionState.AnonymousFlags.CheckoutFired)) != 0)
                {
                    // What this session's anonymous triggers sent is revoked where it was sent: the anonymous subject.
                    _signals.Add(new CustomerSignal
                    {
                        Kind = SignalKind.Revoke,
                        Subject = CustomerKeys.Anonymous(s.SessionId),
                        SessionId = s.SessionId,
                        TimeMs = ev.TimestampMs,
                    });
                    s.Anonymous &= ~(SessionState.AnonymousFlags.CartFired | SessionState.AnonymousFlags.CheckoutFired);
                }

                break;
            case EventType.SignedUp:
            case EventType.Subscribed:
                _signals!.Add(new CustomerSignal(ev.Type == EventType.SignedUp ? SignalKind.SignedUp : SignalKind.Subscribed, s, ev.TimestampMs)
                {
                    Products = [.. s.Viewed],
                });
                break;
            case EventType.Unsubscribed:
                _signals!.Add(new CustomerSignal(SignalKind.Unsubscribed, s, ev.TimestampMs));
                break;
        }
    }

    // A cart or checkout trigger that fired while the session was anonymous fires again, once, when identity arrives
    // within the window and the cart is still there: the first one could not reach the person.
    private void Refire(SessionState s, long identifiedAtMs)
    {
        if ((s.Anonymous & SessionState.AnonymousFlags.Refired) != 0 || s.Cart.Count == 0)
        {
            return;
        }

        TriggerType? type = null;
        long deadline = SessionState.None;
        foreach (var (candidate, flag) in RefireTypes)
        {
            long fired = s.LastFired(candidate);
            if ((s.Anonymous & flag) != 0 && fired > deadline && identifiedAtMs >= fired && identifiedAtMs - fired <= _refireMs)
            {
                type = candidate;
                deadline = fired;
            }
        }

        if (type is not { } t)
        {
            return;
        }

        s.Anonymous |= SessionState.AnonymousFlags.Refired;
        var again = CreateTrigger(s, t, deadline, TriggerId.Create(TriggerTypes.Name(t), s.SessionId + "|identified", deadline),
            refireOf: TriggerId.Create(t, s.SessionId, deadline));
        Counters.Refired++;
        _signals!.Add(new CustomerSignal(SignalKind.Candidate, s, identifiedAtMs)
        {
            Trigger = again,
            DueMs = identifiedAtMs,
        });
    }

    // Checkout first: on equal deadlines the checkout trigger is the one fired again.
    private static readonly (TriggerType, SessionState.AnonymousFlags)[] RefireTypes =
    [
        (TriggerType.CheckoutAbandoned, SessionState.AnonymousFlags.CheckoutFired),
        (TriggerType.CartAbandoned, SessionState.AnonymousFlags.CartFired),
    ];

    private void Candidate(SessionState s, Trigger trigger, long deadline)
    {
        if (!s.HasIdentity)
        {
            s.Anonymous |= trigger.Type switch
            {
                TriggerType.CartAbandoned => SessionState.AnonymousFlags.CartFired,
                TriggerType.CheckoutAbandoned => SessionState.AnonymousFlags.CheckoutFired,
                _ => SessionState.AnonymousFlags.None,
            };
        }

        _signals!.Add(new CustomerSignal(SignalKind.Candidate, s, s.LastActivityMs)
        {
            Trigger = trigger,
            DueMs = deadline,
        });
    }
}
