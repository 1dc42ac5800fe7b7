using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.State;
using StreamTriggers.Tests.Customers;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Customers.E;

namespace StreamTriggers.Tests.State;

public class CustomerCodecTests
{
    // A customer with a bit of everything: signed up, one order with a replenishable product (cross-sell and
    // replenishment waiting), VIP, a cart trigger held by quiet hours, decisions, linked sessions, a time zone.
    private static Life Busy() => new Life().Push(
            Ev(EventType.SignedUp, "s0", 0, email: "ana@example.com", tz: "Europe/Paris"),
            Order("s1", 1, total: 1200m, products: [P("shampoo", 12.5m, "beauty.hair", replenishDays: 30), P("tv", 1187.5m)]),
            Add("s2", 11, "p1", price: 19.99m))
        .Clock(11.5);

    [Fact]
    public void RoundTrip_KeepsEveryField()
    {
        var c = Busy().Customer("u:u1");
        Assert.NotEmpty(c.Pending);
        Assert.Contains(c.Pending, p => p.Deferred);

        byte[] bytes = CustomerCodec.Encode(c);
        var back = CustomerCodec.Decode("u:u1", bytes);

        Assert.Equal(bytes, CustomerCodec.Encode(back));
        Assert.Equal((c.UserId, c.Email, c.TimeZone, c.Orders, c.Revenue, c.Segment, c.VipReached, c.WelcomeSent),
            (back.UserId, back.Email, back.TimeZone, back.Orders, back.Revenue, back.Segment, back.VipReached, back.WelcomeSent));
        Assert.Equal(c.Pending.Select(p => (p.Trigger.Id, p.DueMs, p.Deferred, p.Trigger.Cart.Count)), back.Pending.Select(p => (p.Trigger.Id, p.DueMs, p.Deferred, p.Trigger.Cart.Count)));
        Assert.Equal(c.Decisions.Select(d => d.ToJson()), back.Decisions.Select(d => d.ToJson()));
        Assert.Equal(c.Sessions, back.Sessions);
    }

    [Fact]
    public void Version1State_IsStillRead_AndVersion2IsSmaller()
    {
        // A customer with everything, and the most common one: identified, one browse trigger sent, nothing else.
        var busy = Busy().Customer("u:u1");
        var plain = new Life().Push(View("b1", 0, "p1", user: "u2"), View("b1", 0.01, "p2", user: "u2")).Clock(1).Customer("u:u2");
        Assert.Single(plain.Decisions);

        foreach (var c in new[] { busy, plain })
        {
            byte[] v1 = CustomerCodecV1.Encode(c);
            byte[] v2 = CustomerCodec.Encode(c);
            Assert.Equal(1, v1[0]);
            Assert.Equal(2, v2[0]);
            Assert.Equal(v2, CustomerCodec.Encode(CustomerCodec.Decode(c.Key, v1)));   // v1 decodes to the same customer
            Assert.True(v2.Length <= v1.Length - 100, $"{c.Key}: version 2 takes {v2.Length} bytes, version 1 {v1.Length}");
        }
    }

    [Fact]
    public void ARestoredCustomer_FiresExactlyWhatTheOriginalFires()
    {
        var life = Busy();
        long now = life.Driver.Customers.Now;
        var snapshot = CustomerCodec.Encode(life.Customer("u:u1"));
        int before = life.Sent.Count;

        var restored = new CustomerEngine(new LifecycleOptions(), new PolicyOptions());
        var sent = new List<Trigger>();
        var audit = new List<TriggerDecision>();
        restored.AdvanceTo(now, sent, audit);
        Assert.True(restored.Import(CustomerCodec.Decode("u:u1", snapshot)));

        life.Clock(120 * 24);
        restored.AdvanceTo(Life.At(120 * 24), sent, audit);

        var expected = life.Sent.Skip(before).Select(t => $"{TriggerTypes.Name(t.Type)} {t.Id} {t.DetectedAtMs}").ToList();
        Assert.Equal(expected, sent.Select(t => $"{TriggerTypes.Name(t.Type)} {t.Id} {t.DetectedAtMs}"));
        Assert.Contains(sent, t => t.Type == TriggerType.CartAbandoned);           // released from quiet hours
        Assert.Contains(sent, t => t.Type == TriggerType.PostPurchaseCrossSell);
        Assert.Contains(sent, t => t.Type == TriggerType.Replenishment);
        Assert.Contains(sent, t => t.Type == TriggerType.WinBack);
    }

    [Fact]
    public void Garbage_IsAFormatException()
    {
        Assert.Throws<FormatException>(() => CustomerCodec.Decode("u:x", [9, 1, 2]));
        Assert.Throws<FormatException>(() => CustomerCodec.Decode("u:x", CustomerCodec.Encode(Busy().Customer("u:u1")).AsSpan(0, 20).ToArray()));
    }
}
