using System.Buffers;
using System.Globalization;
using StreamTriggers.Customers;

namespace StreamTriggers.State;

/// <summary>
/// The wire format of the internal customer topic: one <see cref="CustomerSignal"/> per message, keyed by its
/// subject, in the primitives of the state codecs (a format version byte, then every field; a candidate's trigger
/// whole). Only this service reads the topic, so it is binary and compact rather than JSON.
/// </summary>
public static class SignalCodec
{
    private const byte Version = 1;

    public static byte[] Encode(CustomerSignal s) => Buffers.ScratchBuffer.Encode(s, Encode);

    public static void Encode(CustomerSignal s, IBufferWriter<byte> output)
    {
        var w = new StateWriter(output);
        w.Byte(Version);
        w.Byte((byte)s.Kind);
        w.String(s.Subject);
        w.String(s.SessionId);
        w.Varint(s.TimeMs);
        w.String(s.UserId);
        w.String(s.Email);
        w.String(s.TimeZone);
        w.Varint(s.DueMs);
        w.String(s.OrderId);
        w.String(s.OrderTotal?.ToString(CultureInfo.InvariantCulture));
        w.String(s.Currency);
        CustomerCodec.WriteProducts(ref w, s.Products);
        w.Byte(s.Trigger is null ? (byte)0 : (byte)1);
        if (s.Trigger is { } t)
        {
            CustomerCodec.WriteTrigger(ref w, t);
        }
    }

    /// <summary>Decodes what <see cref="Encode(CustomerSignal)"/> wrote. Throws <see cref="FormatException"/> on anything else.</summary>
    public static CustomerSignal Decode(ReadOnlySpan<byte> data)
    {
        var r = new StateReader(data);
        byte version = r.Byte();
        if (version != Version)
        {
            throw new FormatException($"customer signal format version {version} is not supported (this worker reads {Version})");
        }

        var kind = (SignalKind)r.Byte();
        if (!Enum.IsDefined(kind))
        {
            throw new FormatException($"unknown customer signal kind {(byte)kind}");
        }

        string subject = r.String() ?? throw new FormatException("customer signal without a subject");
        string session = r.String() ?? throw new FormatException("customer signal without a session");
        long time = r.Varint();
        string? user = r.String(), email = r.String(), zone = r.String();
        long due = r.Varint();
        string? orderId = r.String();
        string? total = r.String();
        string? currency = r.String();
        var products = CustomerCodec.ReadProducts(ref r);
        var trigger = r.Byte() == 1 ? CustomerCodec.ReadTrigger(ref r) : null;
        if (!r.AtEnd)
        {
            throw new FormatException("trailing bytes after customer signal");
        }

        if (kind == SignalKind.Candidate && trigger is null)
        {
            throw new FormatException("candidate signal without its trigger");
        }

        return new CustomerSignal
        {
            Kind = kind,
            Subject = subject,
            SessionId = session,
            TimeMs = time,
            UserId = user,
            Email = email,
            TimeZone = zone,
            DueMs = due,
            OrderId = orderId,
            OrderTotal = total is null ? null : decimal.Parse(total, NumberStyles.Number, CultureInfo.InvariantCulture),
            Currency = currency,
            Products = products,
            Trigger = trigger,
        };
    }
}
