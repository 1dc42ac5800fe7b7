using System.Buffers;
using System.Globalization;
using StreamTriggers.Customers;
using StreamTriggers.State;
using StreamTriggers.Triggers;

namespace StreamTriggers.Tests.State;

/// <summary>The version-1 customer encoding, exactly as the worker wrote it before version 2: state in Redis may still be in it.</summary>
internal static class CustomerCodecV1
{
    public static byte[] Encode(CustomerState c)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Encode(c, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    public static void Encode(CustomerState c, IBufferWriter<byte> output)
    {
        var w = new StateWriter(output);
        w.Byte(1);
        w.String(c.UserId);
        w.String(c.Email);
        w.String(c.TimeZone);
        w.Varint(c.FirstSeenMs);
        w.Varint(c.LastActivityMs);
        w.UVarint((uint)c.Orders);
        w.String(c.Revenue.ToString(CultureInfo.InvariantCulture));
        w.Varint(c.FirstOrderMs);
        w.Varint(c.LastOrderMs);
        w.UInt64(c.LastOrderKey);
        w.Byte((byte)((c.Subscribed ? 1 : 0) | (c.Unsubscribed ? 2 : 0) | (c.AbandonedCart ? 4 : 0) | (c.VipReached ? 8 : 0) | (c.WelcomeSent ? 16 : 0)));
        w.Byte((byte)c.Segment);
        w.Varint(c.SegmentSinceMs);
        w.Varint(c.WinBackForMs);

        foreach (var type in TriggerTypes.All)
        {
            w.Varint(c.LastSent(type));
        }

        w.UVarint((uint)c.Bought.Count);
        foreach (var b in c.Bought)
        {
            w.Product(b.Product);
            w.Varint(b.LastBoughtMs);
            w.UVarint((uint)(b.CycleDays ?? 0));
            w.Varint(b.ReplenishedForMs);
        }

        w.UVarint((uint)c.Pending.Count);
        foreach (var p in c.Pending)
        {
            w.Varint(p.DueMs);
            w.Byte(p.Deferred ? (byte)1 : (byte)0);
            CustomerCodec.WriteTrigger(ref w, p.Trigger);
        }

        w.UVarint((uint)c.Outstanding.Count);
        foreach (var o in c.Outstanding)
        {
            w.String(o.Id);
            w.Byte((byte)o.Type);
            w.Varint(o.FromMs);
            w.Varint(o.DeadlineMs);
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
            w.Varint(d.DeadlineMs);
            w.Varint(d.DecidedAtMs);
            w.Byte((byte)d.Outcome);
            w.String(d.Reason);
            w.String(d.Detail);
            w.Varint(d.ReleaseAtMs ?? CustomerState.None);
        }
    }
}
