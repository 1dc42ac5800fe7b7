using System.Globalization;
using System.Text;
using StreamTriggers.Decoding;

namespace StreamTriggers.State;

// The primitives of the compact state encodings (sessions, customers): zig-zag varints, length-prefixed strings
// where 0 is null, products field by field.
internal ref struct StateReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _at;

    public readonly bool AtEnd => _at == _data.Length;

    /// <summary>A count read from the data, checked against what is left (each item takes at least one byte).</summary>
    public int Count()
    {
        ulong n = UVarint();
        return n <= (ulong)(_data.Length - _at) ? (int)n : throw Truncated();
    }

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

    /// <summary>What <c>StateWriter.Time</c> wrote: long.MinValue for absent.</summary>
    public long Time()
    {
        ulong v = UVarint();
        if (v == 0) return long.MinValue;
        v--;
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

    private static FormatException Truncated() => new("state is truncated");
}
