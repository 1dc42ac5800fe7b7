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

    // What the version-1 encoder wrote (frozen bytes) for Busy()'s customer and for the most common one: identified,
    // one browse trigger sent, nothing else. Regenerate only if those scenarios change.
    private const string BusyV1 =
        "0103753110616E61406578616D706C652E636F6D0D4575726F70652F50617269738084C9FDC0688082ABA3C16801053132303080" +
        "BE8081C16880BE8081C16891EBFDCDB62376491D0680BE8081C168FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FFFFFFFFFF" +
        "FFFFFFFF01FFFFFFFFFFFFFFFFFF018084C9FDC068FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FF" +
        "FFFFFFFFFFFFFFFF0180BE8081C16880BE8081C168FFFFFFFFFFFFFFFFFF0102037476000000000007313138372E35010080BE80" +
        "81C16800FFFFFFFFFFFFFFFFFF01087368616D706F6F00000C6265617574792E6861697200000531322E35011E80BE8081C1681E" +
        "FFFFFFFFFFFFFFFFFF010280DEC882CA68002561643763346635382D616330312D353232382D623638612D333162386538323964" +
        "6237660503733103753110616E61406578616D706C652E636F6D80DEC882CA680080BE8081C168FFFFFFFFFFFFFFFFFF01000002" +
        "30000002087368616D706F6F00000C6265617574792E6861697200000531322E35011E037476000000000007313138372E350100" +
        "076F2D73312D310000000080C6D5C5C168012532363235663062342D323266382D353664362D613933652D386463356466326538" +
        "643166010373320375310080DF86A5C16880DF86A5C1688082ABA3C1688082ABA3C168010103703100000000000631392E393901" +
        "000631392E39390000000000000000000303733203733103733002B83C0E437DB13BD73BB7ACE15BD1000A042532363235663062" +
        "342D323266382D353664362D613933652D3864633564663265386431660103733280DF86A5C16880DF86A5C168020C7175696574" +
        "5F686F75727342717569657420686F75727320696E204575726F70652F50617269733B2072656C65617365642061742032303236" +
        "2D31312D32345430373A30303A30302E3030305A80C6D5C5C1682539646631386465302D343932302D353533612D386261302D36" +
        "66626434663665363734650803733180BE8081C16880BE8081C168000000FFFFFFFFFFFFFFFFFF012535363237396131612D3461" +
        "35332D356339362D396264332D3463393930303034663131370903733180BE8081C16880BE8081C168000000FFFFFFFFFFFFFFFF" +
        "FF012563333032653165342D613432642D356264622D626539662D326530316139363932626430030373308084C9FDC0688084C9" +
        "FDC068000000FFFFFFFFFFFFFFFFFF01";

    private const string PlainV1 =
        "0103753200008084C9FDC068C0B6CDFDC068000230FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF010000000000000000000680" +
        "84C9FDC068FFFFFFFFFFFFFFFFFF01C093A9FFC068FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FF" +
        "FFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF01FFFFFF" +
        "FFFFFFFFFFFF01FFFFFFFFFFFFFFFFFF010000000103623101406DD11ACA245FB8012564306635303462332D393263332D353062" +
        "362D383536662D38323663306462646431356500036231C093A9FFC06880BE8081C168000000FFFFFFFFFFFFFFFFFF01";

    [Fact]
    public void Version1State_IsStillRead_AndVersion2IsSmaller()
    {
        var busy = Busy().Customer("u:u1");
        var plain = new Life().Push(View("b1", 0, "p1", user: "u2"), View("b1", 0.01, "p2", user: "u2")).Clock(1).Customer("u:u2");
        Assert.Single(plain.Decisions);

        foreach (var (c, hex) in new[] { (busy, BusyV1), (plain, PlainV1) })
        {
            byte[] v1 = Convert.FromHexString(hex);
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
