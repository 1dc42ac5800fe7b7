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
    // 2 added the decision history; version 1 state (no history) is still read.
    private const byte Version = 2;

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
    }

    // One scratch buffer per thread: a commit encodes thousands of sessions, each needing only its final array.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _scratch;

    public static byte[] Encode(SessionState s)
    {
        var buffer = _scratch ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        Encode(s, buffer);
        byte[] result = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 64 * 1024)
        {
            _scratch = null; // an outsized session does not pin a large buffer to the thread
        }

        return result;
    }

    public static void Encode(SessionState s, IBufferWriter<byte> output)
    {
        var w = new Writer(output);
        var parts = Parts.None;
        if (s.HasOpenPeriod) parts |= Parts.OpenPeriod;
        if (s.PeriodAddedToCart) parts |= Parts.AddedToCart;
        if (s.PeriodOrdered) parts |= Parts.Ordered;
        if (s.PeriodCheckoutStarted) parts |= Parts.CheckoutStarted;
        if (s.UserId is not null) parts |= Parts.UserId;
        if (s.Email is not null) parts |= Parts.Email;
        if (s.LastFired(TriggerType.BrowseAbandoned) != SessionState.None) parts |= Parts.FiredBrowse;
        if (s.LastFired(TriggerType.CartAbandoned) != SessionState.None) parts |= Parts.FiredCart;
        if (s.LastFired(TriggerType.CheckoutAbandoned) != SessionState.None) parts |= Parts.FiredCheckout;
        if (s.SeenIdCount > 0) parts |= Parts.SeenIds;
        if (s.Viewed.Count > 0) parts |= Parts.Viewed;
        if (s.Cart.Count > 0) parts |= Parts.Cart;
        if (s.Decisions.Count > 0) parts |= Parts.Decisions;

        w.Byte(Version);
        w.UVarint((ushort)parts);
        long last = s.LastActivityMs;
        w.Varint(last);
        if (parts.HasFlag(Parts.OpenPeriod))
        {
            w.Varint(s.PendingDeadlineMs - last);
            w.Varint(last - s.PeriodStartMs);
            w.UVarint((uint)s.PeriodEvents);
        }

        if (parts.HasFlag(Parts.UserId)) w.String(s.UserId);
        if (parts.HasFlag(Parts.Email)) w.String(s.Email);
        if (parts.HasFlag(Parts.FiredBrowse)) w.Varint(last - s.LastFired(TriggerType.BrowseAbandoned));
        if (parts.HasFlag(Parts.FiredCart)) w.Varint(last - s.LastFired(TriggerType.CartAbandoned));
        if (parts.HasFlag(Parts.FiredCheckout)) w.Varint(last - s.LastFired(TriggerType.CheckoutAbandoned));
        if (parts.HasFlag(Parts.SeenIds))
        {
            w.UVarint((uint)s.SeenIdCount);
            foreach (ulong id in s.SeenIds()) w.UInt64(id);
        }

        if (parts.HasFlag(Parts.Viewed))
        {
            w.UVarint((uint)s.Viewed.Count);
            foreach (var p in s.Viewed) w.Product(p);
        }

        if (parts.HasFlag(Parts.Cart))
        {
            w.UVarint((uint)s.Cart.Count);
            foreach (var p in s.Cart) w.Product(p);
        }

        if (parts.HasFlag(Parts.Decisions))
        {
            // Per decision: type, outcome, reason, then times as deltas (about 8 bytes in all).
            w.UVarint((uint)s.Decisions.Count);
            foreach (var d in s.Decisions)
            {
                w.Byte((byte)d.Type);
                w.Byte((byte)d.Outcome);
                w.Byte((byte)d.Reason);
                w.Varint(last - d.DeadlineMs);
                w.Varint(d.DecidedAtMs - d.DeadlineMs);
                w.Varint(d.RelatedMs == SessionState.None ? 0 : d.DeadlineMs - d.RelatedMs);
            }
        }
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
        var r = new Reader(data);
        byte version = r.Byte();
        if (version is not (1 or Version))
        {
            throw new FormatException($"session state format version {version} is not supported (this worker reads {Version})");
        }

        var parts = (Parts)r.UVarint();
        var s = new SessionState(sessionId);
        long last = r.Varint();
        s.LastActivityMs = last;
        if (parts.HasFlag(Parts.OpenPeriod))
        {
            s.PendingDeadlineMs = last + r.Varint();
            s.PeriodStartMs = last - r.Varint();
            s.PeriodEvents = (int)r.UVarint();
        }

        s.PeriodAddedToCart = parts.HasFlag(Parts.AddedToCart);
        s.PeriodOrdered = parts.HasFlag(Parts.Ordered);
        s.PeriodCheckoutStarted = parts.HasFlag(Parts.CheckoutStarted);
        if (parts.HasFlag(Parts.UserId)) s.UserId = r.String();
        if (parts.HasFlag(Parts.Email)) s.Email = r.String();
        if (parts.HasFlag(Parts.FiredBrowse)) s.SetLastFired(TriggerType.BrowseAbandoned, last - r.Varint());
        if (parts.HasFlag(Parts.FiredCart)) s.SetLastFired(TriggerType.CartAbandoned, last - r.Varint());
        if (parts.HasFlag(Parts.FiredCheckout)) s.SetLastFired(TriggerType.CheckoutAbandoned, last - r.Varint());
        if (parts.HasFlag(Parts.SeenIds))
        {
            int n = (int)r.UVarint();
            for (int i = 0; i < n; i++) s.RememberEventId(r.UInt64(), Math.Max(maxEventIds, n));
        }

        if (parts.HasFlag(Parts.Viewed))
        {
            int n = (int)r.UVarint();
            for (int i = 0; i < n; i++) s.ViewedList.Add(r.Product());
        }

        if (parts.HasFlag(Parts.Cart))
        {
            int n = (int)r.UVarint();
            for (int i = 0; i < n; i++) s.CartList.Add(r.Product());
        }

        if (parts.HasFlag(Parts.Decisions))
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

        if (!r.AtEnd)
        {
            throw new FormatException("trailing bytes after session state");
        }

        return s;
    }

    private ref struct Writer(IBufferWriter<byte> output)
    {
        public void Byte(byte b)
        {
            output.GetSpan(1)[0] = b;
            output.Advance(1);
        }

        public void UVarint(ulong v)
        {
            var span = output.GetSpan(10);
            int i = 0;
            while (v >= 0x80)
            {
                span[i++] = (byte)(v | 0x80);
                v >>= 7;
            }

            span[i++] = (byte)v;
            output.Advance(i);
        }

        public void Varint(long v) => UVarint((ulong)((v << 1) ^ (v >> 63)));

        public void UInt64(ulong v)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(output.GetSpan(8), v);
            output.Advance(8);
        }

        // Length + 1, so 0 is null and 1 is the empty string.
        public void String(string? s)
        {
            if (s is null)
            {
                UVarint(0);
                return;
            }

            int n = Encoding.UTF8.GetByteCount(s);
            UVarint((ulong)n + 1);
            Encoding.UTF8.GetBytes(s, output.GetSpan(n));
            output.Advance(n);
        }

        public void Product(ProductInfo p)
        {
            String(p.Id);
            String(p.Sku);
            String(p.Name);
            String(p.Category);
            String(p.Brand);
            String(p.Currency);
            String(p.Price?.ToString(CultureInfo.InvariantCulture));
            UVarint((uint)p.Quantity);
            UVarint((uint)(p.ReplenishDays ?? 0));
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public readonly bool AtEnd => _at == _data.Length;

        public byte Byte() => _at < _data.Length ? _data[_at++] : throw Truncated();

        public ulong UVarint()
        {
            ulong v = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = Byte();
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }

            throw new FormatException("varint too long");
        }

        public long Varint()
        {
            ulong v = UVarint();
            return (long)(v >> 1) ^ -(long)(v & 1);
        }

        public ulong UInt64()
        {
            if (_at + 8 > _data.Length) throw Truncated();
            ulong v = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(_data[_at..]);
            _at += 8;
            return v;
        }

        public string? String()
        {
            ulong n = UVarint();
            if (n == 0) return null;
            int len = checked((int)(n - 1));
            if (_at + len > _data.Length) throw Truncated();
            string s = Encoding.UTF8.GetString(_data.Slice(_at, len));
            _at += len;
            return s;
        }

        public ProductInfo Product()
        {
            string id = String() ?? throw new FormatException("product without id");
            string? sku = String(), name = String(), category = String(), brand = String(), currency = String(), price = String();
            int quantity = (int)UVarint();
            int replenish = (int)UVarint();
            return new ProductInfo
            {
                Id = id,
                Sku = sku,
                Name = name,
                Category = category,
                Brand = brand,
                Currency = currency,
                Price = price is null ? null : decimal.Parse(price, NumberStyles.Number, CultureInfo.InvariantCulture),
                Quantity = quantity,
                ReplenishDays = replenish == 0 ? null : replenish,
            };
        }

        private static FormatException Truncated() => new("session state is truncated");
    }
}
