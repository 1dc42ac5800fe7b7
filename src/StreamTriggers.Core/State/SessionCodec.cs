using System.Buffers;
using System.Globalization;
using System.Text;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.State;

/// <summary>
/// Compact binary encoding of a <see cref="SessionState"/> for the state store: varints, times as deltas from last
/// activity, strings length-prefixed, optional parts behind flag bits. An idle session (period closed, empty cart)
/// is a few dozen bytes. The first byte is a format version so a newer worker can still read older state.
/// </summary>
public static class SessionCodec
{
    // 2 added the decision history, 3 the time zone and anonymous-trigger flags, 4 the applied input position;
    // older versions are still read.
    private const byte Version = 4;

    [Flags]
    private enum Parts : ushort
    {
        None = 0,
        OpenPeriod = 1,
        AddedToCart = 2,
        Ordered = 4,
        CheckoutStarted = 8,
        UserId = 16,
        Email = 32,
        FiredBrowse = 64,
        FiredCart = 128,
        FiredCheckout = 256,
        SeenIds = 512,
        Viewed = 1024,
        Cart = 2048,
        Decisions = 4096,
        TimeZone = 8192,
        Anonymous = 16384,
        AppliedOffset = 32768,
    }

    // A commit encodes thousands of sessions, each needing only its final array.
    public static byte[] Encode(SessionState s) => Buffers.ScratchBuffer.Encode(s, Encode);

    public static void Encode(SessionState s, IBufferWriter<byte> output)
    {
        var w = new StateWriter(output);
        var parts = Parts.None;
        if (s.HasOpenPeriod) parts |= Parts.OpenPeriod;
        if (s.PeriodAddedToCart) parts |= Parts.AddedToCart;
        if (s.PeriodOrdered) parts |= Parts.Ordered;
        if (s.PeriodCheckoutStarted) parts |= Parts.CheckoutStarted;
        if (s.HasUserId) parts |= Parts.UserId;
        if (s.Email is not null) parts |= Parts.Email;
        if (s.LastFired(TriggerType.BrowseAbandoned) != SessionState.None) parts |= Parts.FiredBrowse;
        if (s.LastFired(TriggerType.CartAbandoned) != SessionState.None) parts |= Parts.FiredCart;
        if (s.LastFired(TriggerType.CheckoutAbandoned) != SessionState.None) parts |= Parts.FiredCheckout;
        if (s.SeenIdCount > 0) parts |= Parts.SeenIds;
        if (s.Viewed.Count > 0) parts |= Parts.Viewed;
        if (s.Cart.Count > 0) parts |= Parts.Cart;
        if (s.Decisions.Count > 0) parts |= Parts.Decisions;
        if (s.TimeZone is not null) parts |= Parts.TimeZone;
        if (s.Anonymous != SessionState.AnonymousFlags.None) parts |= Parts.Anonymous;
        if (s.AppliedOffset >= 0) parts |= Parts.AppliedOffset;

        w.Byte(Version);
        w.UVarint((ushort)parts);
        long last = s.LastActivityMs;
        w.Varint(last);
        if ((parts & Parts.OpenPeriod) != 0)
        {
            w.Varint(s.PendingDeadlineMs - last);
            w.Varint(last - s.PeriodStartMs);
            w.UVarint((uint)s.PeriodEvents);
        }

        if ((parts & Parts.UserId) != 0) w.String(s.UserIdSpan);
        if ((parts & Parts.Email) != 0) w.String(s.Email);
        if ((parts & Parts.FiredBrowse) != 0) w.Varint(last - s.LastFired(TriggerType.BrowseAbandoned));
        if ((parts & Parts.FiredCart) != 0) w.Varint(last - s.LastFired(TriggerType.CartAbandoned));
        if ((parts & Parts.FiredCheckout) != 0) w.Varint(last - s.LastFired(TriggerType.CheckoutAbandoned));
        if ((parts & Parts.SeenIds) != 0)
        {
            w.UVarint((uint)s.SeenIdCount);
            for (int i = 0; i < s.SeenIdCount; i++) w.UInt64(s.SeenIdAt(i));
        }

        if ((parts & Parts.Viewed) != 0)
        {
            var list = s.Viewed;
            w.UVarint((uint)list.Count);
            for (int i = 0; i < list.Count; i++) w.Product(list[i]);
        }

        if ((parts & Parts.Cart) != 0)
        {
            var list = s.Cart;
            w.UVarint((uint)list.Count);
            for (int i = 0; i < list.Count; i++) w.Product(list[i]);
        }

        if ((parts & Parts.Decisions) != 0)
        {
            // Per decision: type, outcome, reason, then times as deltas (about 8 bytes in all).
            w.UVarint((uint)s.Decisions.Count);
            for (int i = 0; i < s.Decisions.Count; i++)
            {
                var d = s.Decisions[i];
                w.Byte((byte)d.Type);
                w.Byte((byte)d.Outcome);
                w.Byte((byte)d.Reason);
                w.Varint(last - d.DeadlineMs);
                w.Varint(d.DecidedAtMs - d.DeadlineMs);
                w.Varint(d.RelatedMs == SessionState.None ? 0 : d.DeadlineMs - d.RelatedMs);
            }
        }

        if ((parts & Parts.TimeZone) != 0) w.String(s.TimeZone);
        if ((parts & Parts.Anonymous) != 0) w.Byte((byte)s.Anonymous);
        if ((parts & Parts.AppliedOffset) != 0) w.UVarint((ulong)s.AppliedOffset);
    }

    /// <summary>Whether the encoded session carries <paramref name="customer"/> as its user id or email (false for unreadable state).</summary>
    public static bool Matches(string sessionId, ReadOnlySpan<byte> data, string customer)
    {
        try
        {
            var s = Decode(sessionId, data, 0);
            return string.Equals(s.UserId, customer, StringComparison.Ordinal) || string.Equals(s.Email, customer, StringComparison.Ordinal);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Decodes what <see cref="Encode(SessionState)"/> wrote. Throws <see cref="FormatException"/> on anything else.</summary>
    public static SessionState Decode(string sessionId, ReadOnlySpan<byte> data, int maxEventIds)
    {
        var r = new StateReader(data);
        byte version = r.Byte();
        if (version is not (1 or 2 or 3 or Version))
        {
            throw new FormatException($"session state format version {version} is not supported (this worker reads {Version})");
        }

        var parts = (Parts)r.UVarint();
        var s = new SessionState(sessionId);
        long last = r.Varint();
        s.LastActivityMs = last;
        if ((parts & Parts.OpenPeriod) != 0)
        {
            s.PendingDeadlineMs = last + r.Varint();
            s.PeriodStartMs = last - r.Varint();
            s.PeriodEvents = (int)r.UVarint();
        }

        s.PeriodAddedToCart = (parts & Parts.AddedToCart) != 0;
        s.PeriodOrdered = (parts & Parts.Ordered) != 0;
        s.PeriodCheckoutStarted = (parts & Parts.CheckoutStarted) != 0;
        if ((parts & Parts.UserId) != 0) s.UserId = r.String();
        if ((parts & Parts.Email) != 0) s.Email = r.String();
        if ((parts & Parts.FiredBrowse) != 0) s.SetLastFired(TriggerType.BrowseAbandoned, last - r.Varint());
        if ((parts & Parts.FiredCart) != 0) s.SetLastFired(TriggerType.CartAbandoned, last - r.Varint());
        if ((parts & Parts.FiredCheckout) != 0) s.SetLastFired(TriggerType.CheckoutAbandoned, last - r.Varint());
        if ((parts & Parts.SeenIds) != 0)
        {
            int n = r.Count();
            for (int i = 0; i < n; i++) s.RememberEventId(r.UInt64(), Math.Max(maxEventIds, n));
        }

        s.RestoreLists((parts & Parts.Viewed) != 0 ? Products(ref r) : null, (parts & Parts.Cart) != 0 ? Products(ref r) : null);

        if ((parts & Parts.Decisions) != 0)
        {
            int n = (int)r.UVarint();
            for (int i = 0; i < n; i++)
            {
                var type = (TriggerType)r.Byte();
                var outcome = (DecisionOutcome)r.Byte();
                var reason = (DecisionReason)r.Byte();
                long deadline = last - r.Varint();
                long decided = deadline + r.Varint();
                long related = r.Varint();
                s.RestoreDecision(new DecisionRecord(type, outcome, reason, deadline, decided, related == 0 ? SessionState.None : deadline - related));
            }
        }

        if ((parts & Parts.TimeZone) != 0) s.TimeZone = r.String();
        if ((parts & Parts.Anonymous) != 0) s.Anonymous = (SessionState.AnonymousFlags)r.Byte();
        if ((parts & Parts.AppliedOffset) != 0) s.AppliedOffset = (long)r.UVarint();

        if (!r.AtEnd)
        {
            throw new FormatException("trailing bytes after session state");
        }

        return s;
    }

    /// <summary>A stored product list: its count (checked against the bytes left), then each product.</summary>
    private static ProductInfo[] Products(ref StateReader r)
    {
        var list = new ProductInfo[r.Count()];
        for (int i = 0; i < list.Length; i++) list[i] = r.Product();
        return list;
    }
}
