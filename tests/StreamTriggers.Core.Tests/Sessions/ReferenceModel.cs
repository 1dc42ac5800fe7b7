using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Tests.Sessions;

/// <summary>
/// A second, deliberately naive implementation of the session rules, written straight from the text: linear
/// scans instead of a timer heap, dictionaries instead of tuned state. Only for comparison in property tests; it
/// ignores retention (the tests keep streams shorter than it).
/// </summary>
internal sealed class ReferenceModel(RulesOptions rules)
{
    private readonly Dictionary<string, Sess> _sessions = [];
    private long _maxSeen = long.MinValue;

    public List<(TriggerType Type, string Session, long Deadline, string Cart, string Viewed)> Fired { get; } = [];

    public void Push(TrackerEvent ev)
    {
        _maxSeen = Math.Max(_maxSeen, ev.TimestampMs);
        long clock = _maxSeen - (long)rules.AllowedLateness.TotalMilliseconds;

        // Every pending deadline <= clock fires, in (deadline, session id) order.
        while (true)
        {
            var due = _sessions.Values.Where(s => s.Deadline is { } d && d <= clock)
                .OrderBy(s => s.Deadline).ThenBy(s => s.Id, StringComparer.Ordinal).FirstOrDefault();
            if (due is null) break;
            Close(due);
        }

        if (!_sessions.TryGetValue(ev.SessionId, out var sess))
        {
            _sessions[ev.SessionId] = sess = new Sess { Id = ev.SessionId };
        }

        if (ev.EventId is not null)
        {
            if (sess.SeenIds.Contains(ev.EventId)) return;
            sess.SeenIds.Add(ev.EventId);
            if (sess.SeenIds.Count > rules.MaxEventIdsPerSession) sess.SeenIds.RemoveAt(0);
        }

        if (sess.Deadline is { } pending && ev.TimestampMs >= pending) Close(sess);

        sess.Last = sess.Last is { } last ? Math.Max(last, ev.TimestampMs) : ev.TimestampMs;
        switch (ev.Type)
        {
            case EventType.ProductViewed:
                foreach (var p in ev.Products)
                    if (!sess.Viewed.Contains(p.Id) && sess.Viewed.Count < rules.MaxViewedProducts) sess.Viewed.Add(p.Id);
                break;
            case EventType.ProductAdded:
                sess.Added = true;
                foreach (var p in ev.Products)
                {
                    int at = sess.Cart.FindIndex(l => l.Id == p.Id);
                    if (at >= 0) sess.Cart[at] = (p.Id, sess.Cart[at].Units + p.Quantity);
                    else sess.Cart.Add((p.Id, p.Quantity));
                }
                break;
            case EventType.ProductRemoved:
                foreach (var p in ev.Products)
                {
                    int at = sess.Cart.FindIndex(l => l.Id == p.Id);
                    if (at < 0) continue;
                    int left = sess.Cart[at].Units - p.Quantity;
                    if (left > 0) sess.Cart[at] = (p.Id, left); else sess.Cart.RemoveAt(at);
                }
                break;
            case EventType.CheckoutStarted:
                sess.Checkout = true;
                break;
            case EventType.OrderCompleted:
                sess.Ordered = true;
                sess.Cart.Clear();
                break;
        }

        sess.Deadline = sess.Last + (long)rules.Gap.TotalMilliseconds;
        if (sess.Deadline <= clock) Close(sess);
    }

    public void Flush()
    {
        while (true)
        {
            var next = _sessions.Values.Where(s => s.Deadline is not null)
                .OrderBy(s => s.Deadline).ThenBy(s => s.Id, StringComparer.Ordinal).FirstOrDefault();
            if (next is null) break;
            Close(next);
        }
    }

    private void Close(Sess s)
    {
        long deadline = s.Deadline!.Value;
        TriggerType? type =
            s.Cart.Count > 0 && s.Checkout ? TriggerType.CheckoutAbandoned
            : s.Cart.Count > 0 ? TriggerType.CartAbandoned
            : !s.Added && !s.Ordered && s.Viewed.Count >= rules.BrowseMinProducts ? TriggerType.BrowseAbandoned
            : null;

        if (type is { } t)
        {
            bool cooled = !s.LastFired.TryGetValue(t, out long last)
                || (deadline - last >= (long)rules.Cooldown.TotalMilliseconds && deadline != last);
            if (cooled)
            {
                s.LastFired[t] = deadline;
                Fired.Add((t, s.Id, deadline, string.Join(",", s.Cart.Select(l => $"{l.Id}x{l.Units}")), string.Join(",", s.Viewed)));
            }
        }

        s.Deadline = null;
        s.Viewed.Clear();
        if (s.SeenIds.Count > rules.MaxEventIdsAfterClose) s.SeenIds.RemoveRange(0, s.SeenIds.Count - rules.MaxEventIdsAfterClose);
        s.Added = s.Ordered = s.Checkout = false;
    }

    private sealed class Sess
    {
        public required string Id;
        public long? Last;
        public long? Deadline;
        public List<string> Viewed = [];
        public List<(string Id, int Units)> Cart = [];
        public bool Added, Ordered, Checkout;
        public Dictionary<TriggerType, long> LastFired = [];
        public List<string> SeenIds = [];
    }
}
