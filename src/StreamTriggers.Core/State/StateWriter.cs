using System.Buffers;
using System.Globalization;
using System.Text;
using StreamTriggers.Decoding;

namespace StreamTriggers.State;

// The primitives of the compact state encodings (sessions, customers): zig-zag varints, length-prefixed strings
// where 0 is null, products field by field.
internal ref struct StateWriter(IBufferWriter<byte> output)
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

    // A time that may be absent (long.MinValue): one byte for absent, a zig-zag varint otherwise (6 bytes for a
    // current Unix time in ms) instead of the 10 bytes long.MinValue takes as a plain varint.
    public void Time(long v) => UVarint(v == long.MinValue ? 0 : ((ulong)((v << 1) ^ (v >> 63))) + 1);

    public void UInt64(ulong v)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(output.GetSpan(8), v);
        output.Advance(8);
    }

    // Length + 1, so 0 is null and 1 is the empty string.
    /// <summary>A present string's characters (as <see cref="String(string?)"/> writes a non-null one).</summary>
    public void String(ReadOnlySpan<char> s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        UVarint((ulong)n + 1);
        Encoding.UTF8.GetBytes(s, output.GetSpan(n));
        output.Advance(n);
    }

    public void String(string? s)
    {
        if (s is null)
        {
            UVarint(0);
            return;
        }

        String(s.AsSpan());
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
