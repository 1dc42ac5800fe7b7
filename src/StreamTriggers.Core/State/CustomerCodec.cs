using System.Buffers;
using System.Globalization;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Triggers;

namespace StreamTriggers.State;

/// <summary>
/// Compact binary encoding of a <see cref="CustomerState"/> for the state store, in the primitives of
/// <see cref="SessionCodec"/>: a format version byte, then every field. Held triggers are stored whole (a deferred
/// trigger must go out after a restart exactly as it was decided).
/// </summary>
/// <remarks>
/// Version 2 writes times that may be absent in one byte when absent (version 1 spent 10 on each), and the last
/// time each trigger type went out as a bitmask of the types that did plus their times. Version 1 is still read.
/// </remarks>
public static class CustomerCodec
{
    private const byte Version = 2;

    public static byte[] Encode(CustomerState c) => Buffers.ScratchBuffer.Encode(c, Encode);

    public static void Encode(CustomerState c, IBufferWriter<byte> output)
    {
        var w = new StateWriter(output);
        w.Byte(Version);
        w.String(c.UserId);
        w.String(c.Email);
        w.String(c.TimeZone);
        w.Time(c.FirstSeenMs);
        w.Time(c.LastActivityMs);
        w.UVarint((uint)c.Orders);
        w.String(c.Revenue.ToString(CultureInfo.InvariantCulture));
        w.Time(c.FirstOrderMs);
        w.Time(c.LastOrderMs);
        w.UInt64(c.LastOrderKey);
        w.Byte((byte)((c.Subscribed ? 1 : 0) | (c.Unsubscribed ? 2 : 0) | (c.AbandonedCart ? 4 : 0) | (c.VipReached ? 8 : 0) | (c.WelcomeSent ? 16 : 0)));
        w.Byte((byte)c.Segment);
        w.Time(c.SegmentSinceMs);
        w.Time(c.WinBackForMs);

        ulong sent = 0;
        foreach (var type in TriggerTypes.All)
        {
            if (c.LastSent(type) != CustomerState.None)
            {
                sent |= 1UL << (int)type;
            }
        }

        w.UVarint(sent);
        foreach (var type in TriggerTypes.All)
        {
            if ((sent & (1UL << (int)type)) != 0)
            {
                w.Time(c.LastSent(type));
            }
        }

        w.UVarint((uint)c.Bought.Count);
        foreach (var b in c.Bought)
        {
            w.Product(b.Product);
            w.Time(b.LastBoughtMs);
            w.UVarint((uint)(b.CycleDays ?? 0));
            w.Time(b.ReplenishedForMs);
        }

        w.UVarint((uint)c.Pending.Count);
        foreach (var p in c.Pending)
        {
            w.Time(p.DueMs);
            w.Byte(p.Deferred ? (byte)1 : (byte)0);
            WriteTrigger(ref w, p.Trigger);
        }

        w.UVarint((uint)c.Outstanding.Count);
        foreach (var o in c.Outstanding)
        {
            w.String(o.Id);
            w.Byte((byte)o.Type);
            w.Time(o.FromMs);
            w.Time(o.DeadlineMs);
            w.String(o.SessionId);
        }

        w.UVarint((uint)c.Sessions.Count);
        foreach (var s in c.Sessions)
        {
            w.String(s);
        }

        var applied = c.Applied.ToList();
        w.UVarint((uint)applied.Count);
        foreach (ulong h in applied)
        {
            w.UInt64(h);
        }

        w.UVarint((uint)c.Decisions.Count);
        foreach (var d in c.Decisions)
        {
            w.String(d.TriggerId);
            w.Byte((byte)d.Type);
            w.String(d.SessionId);
            w.Time(d.DeadlineMs);
            w.Time(d.DecidedAtMs);
            w.Byte((byte)d.Outcome);
            w.String(d.Reason);
            w.String(d.Detail);
            w.Time(d.ReleaseAtMs ?? CustomerState.None);
        }
    }

    /// <summary>Decodes what <see cref="Encode(CustomerState)"/> wrote (this version or 1). Throws <see cref="FormatException"/> on anything else.</summary>
    public static CustomerState Decode(string key, ReadOnlySpan<byte> data)
    {
        var r = new StateReader(data);
        byte version = r.Byte();
        if (version is not (1 or 2))
        {
            throw new FormatException($"customer state format version {version} is not supported (this worker reads 1 and {Version})");
        }

        bool v1 = version == 1;
        var c = new CustomerState(key)
        {
            UserId = r.String(),
            Email = r.String(),
            TimeZone = r.String(),
            FirstSeenMs = v1 ? r.Varint() : r.Time(),
            LastActivityMs = v1 ? r.Varint() : r.Time(),
            Orders = (int)r.UVarint(),
            Revenue = decimal.Parse(r.String() ?? "0", NumberStyles.Number, CultureInfo.InvariantCulture),
            FirstOrderMs = v1 ? r.Varint() : r.Time(),
            LastOrderMs = v1 ? r.Varint() : r.Time(),
            LastOrderKey = r.UInt64(),
        };
        byte flags = r.Byte();
        c.Subscribed = (flags & 1) != 0;
        c.Unsubscribed = (flags & 2) != 0;
        c.AbandonedCart = (flags & 4) != 0;
        c.VipReached = (flags & 8) != 0;
        c.WelcomeSent = (flags & 16) != 0;
        c.Segment = (Segment)r.Byte();
        c.SegmentSinceMs = v1 ? r.Varint() : r.Time();
        c.WinBackForMs = v1 ? r.Varint() : r.Time();
        ulong sentMask = v1 ? ulong.MaxValue : r.UVarint();
        foreach (var type in TriggerTypes.All)
        {
            if ((sentMask & (1UL << (int)type)) == 0)
            {
                continue;
            }

            long sent = v1 ? r.Varint() : r.Time();
            if (sent != CustomerState.None)
            {
                c.SetLastSent(type, sent);
            }
        }

        int n = (int)r.UVarint();
        for (int i = 0; i < n; i++)
        {
            var product = r.Product();
            long bought = v1 ? r.Varint() : r.Time();
            int cycle = (int)r.UVarint();
            c.BoughtList.Add(new BoughtProduct(product, bought, cycle == 0 ? null : cycle, v1 ? r.Varint() : r.Time()));
        }

        n = (int)r.UVarint();
        for (int i = 0; i < n; i++)
        {
            long due = v1 ? r.Varint() : r.Time();
            bool deferred = r.Byte() == 1;
            c.PendingList.Add(new PendingTrigger(ReadTrigger(ref r), due, deferred));
        }

        n = (int)r.UVarint();
        for (int i = 0; i < n; i++)
        {
            string id = r.String()!;
            var type = (TriggerType)r.Byte();
            long from = v1 ? r.Varint() : r.Time();
            long deadline = v1 ? r.Varint() : r.Time();
            c.OutstandingList.Add(new SentTrigger(id, type, from, deadline, r.String()!));
        }

        n = (int)r.UVarint();
        for (int i = 0; i < n; i++)
        {
            c.SessionList.Add(r.String()!);
        }

        n = (int)r.UVarint();
        for (int i = 0; i < n; i++)
        {
            c.Remember(r.UInt64());
        }

        n = (int)r.UVarint();
        for (int i = 0; i < n; i++)
        {
            string id = r.String()!;
            var type = (TriggerType)r.Byte();
            string session = r.String()!;
            long deadline = v1 ? r.Varint() : r.Time();
            long decided = v1 ? r.Varint() : r.Time();
            var outcome = (DecisionOutcome)r.Byte();
            string? reason = r.String();
            string? detail = r.String();
            long release = v1 ? r.Varint() : r.Time();
            c.DecisionList.Add(new TriggerDecision(id, type, session, deadline, decided, outcome, reason, detail, key,
                release == CustomerState.None ? null : release));
        }

        if (!r.AtEnd)
        {
            throw new FormatException("trailing bytes after customer state");
        }

        return c;
    }

    internal static void WriteTrigger(ref StateWriter w, Trigger t)
    {
        w.String(t.Id);
        w.Byte((byte)t.Type);
        w.String(t.SessionId);
        w.String(t.UserId);
        w.String(t.Email);
        w.Varint(t.DeadlineMs);
        w.Varint(t.DetectedAtMs);
        w.Varint(t.LastActivityMs);
        w.Varint(t.PeriodStartMs);
        w.UVarint((uint)t.PeriodEvents);
        WriteProducts(ref w, t.Cart);
        w.String(t.CartValue.ToString(CultureInfo.InvariantCulture));
        w.String(t.Currency);
        WriteProducts(ref w, t.ProductsViewed);
        WriteProducts(ref w, t.ProductsBought);
        w.String(t.OrderId);
        w.String(t.RevokedTriggerId);
        w.Byte(t.RevokedType is { } revoked ? (byte)(revoked + 1) : (byte)0);
        w.String(t.RefireOf);
        w.String(t.PreviousSegment);
    }

    internal static Trigger ReadTrigger(ref StateReader r)
    {
        string id = r.String()!;
        var type = (TriggerType)r.Byte();
        string session = r.String()!;
        string? user = r.String(), email = r.String();
        long deadline = r.Varint(), detected = r.Varint(), last = r.Varint(), periodStart = r.Varint();
        int periodEvents = (int)r.UVarint();
        var cart = ReadProducts(ref r);
        decimal cartValue = decimal.Parse(r.String() ?? "0", NumberStyles.Number, CultureInfo.InvariantCulture);
        string? currency = r.String();
        var viewed = ReadProducts(ref r);
        var bought = ReadProducts(ref r);
        string? orderId = r.String(), revokedId = r.String();
        byte revokedType = r.Byte();
        string? refireOf = r.String(), previousSegment = r.String();
        return new Trigger
        {
            Id = id,
            Type = type,
            SessionId = session,
            UserId = user,
            Email = email,
            DeadlineMs = deadline,
            DetectedAtMs = detected,
            LastActivityMs = last,
            PeriodStartMs = periodStart,
            PeriodEvents = periodEvents,
            Cart = cart,
            CartValue = cartValue,
            Currency = currency,
            ProductsViewed = viewed,
            ProductsBought = bought,
            OrderId = orderId,
            RevokedTriggerId = revokedId,
            RevokedType = revokedType == 0 ? null : (TriggerType)(revokedType - 1),
            RefireOf = refireOf,
            PreviousSegment = previousSegment,
        };
    }

    internal static void WriteProducts(ref StateWriter w, IReadOnlyList<ProductInfo> products)
    {
        w.UVarint((uint)products.Count);
        foreach (var p in products)
        {
            w.Product(p);
        }
    }

    internal static ProductInfo[] ReadProducts(ref StateReader r)
    {
        var products = new ProductInfo[(int)r.UVarint()];
        for (int i = 0; i < products.Length; i++)
        {
            products[i] = r.Product();
        }

        return products;
    }
}
