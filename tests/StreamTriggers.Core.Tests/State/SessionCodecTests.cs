using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Tests.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Tests.State;

public class SessionCodecTests
{
    [Theory]
    [MemberData(nameof(SessionEnginePropertyTests.Seeds), MemberType = typeof(SessionEnginePropertyTests))]
    public void RoundTrip_MidStream_GivesTheSameFuture(int seed)
    {
        // Run half the stream, encode every session, decode them into a fresh engine (as a worker taking over a
        // partition does), then drive both engines through the rest with the same clocks: the same triggers fire.
        var (rules, events) = SessionEnginePropertyTests.Generate(seed);
        int cut = events.Count / 2;
        var original = new Run(rules).Push([.. events.Take(cut)]);
        var copy = new SessionEngine(rules, trackChanges: true);
        foreach (var id in events.Select(e => e.SessionId).Distinct())
        {
            if (original.Engine.Find(id) is { } s)
            {
                var back = SessionCodec.Decode(id, SessionCodec.Encode(s), rules.MaxEventIdsPerSession);
                AssertSame(s, back);
                Assert.True(copy.Import(back));
            }
        }

        long lateness = (long)rules.AllowedLateness.TotalMilliseconds;
        long maxSeen = original.Driver.Watermark == long.MinValue ? long.MinValue : original.Driver.Watermark + lateness;
        var firedA = new List<Trigger>();
        var firedB = new List<Trigger>();
        copy.AdvanceTo(original.Engine.Now, firedB);
        foreach (var ev in events.Skip(cut))
        {
            maxSeen = Math.Max(maxSeen, ev.TimestampMs);
            original.Engine.Apply(ev, maxSeen - lateness, firedA);
            copy.Apply(ev, maxSeen - lateness, firedB);
        }

        original.Engine.FlushOpenPeriods(firedA);
        copy.FlushOpenPeriods(firedB);
        Assert.Equal(firedA.Select(Describe), firedB.Select(Describe));
    }

    private static string Describe(Trigger t) =>
        $"{t.Id} {t.Type} {t.SessionId} {t.DeadlineMs} {t.UserId} {t.CartValue} {string.Join(",", t.Cart.Select(l => $"{l.Id}x{l.Quantity}"))} {string.Join(",", t.ProductsViewed.Select(p => p.Id))}";

    [Fact]
    public void RoundTrip_OfARichSession()
    {
        var run = new Run().Push(
            Ev.Make(EventType.ProductViewed, "s-1", 0, "e1", [new ProductInfo { Id = "p1", Name = "Trail shoe é", Category = "shoes", Brand = "acme", Price = 89.90m, Currency = "EUR", ReplenishDays = 30 }], userId: "u-1", email: "ana@example.com"),
            Ev.Add("s-1", 1, "p1", quantity: 2, price: 89.90m, id: "e2"),
            Ev.Checkout("s-1", 2),
            Ev.Page("x", 40),
            Ev.View("s-1", 41, "p2", "e3"));
        var s = run.Engine.Find("s-1")!;

        var back = SessionCodec.Decode("s-1", SessionCodec.Encode(s), 64);

        AssertSame(s, back);
        Assert.Equal("89.90", back.Cart.Single().Price!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["p2"], back.Viewed.Select(p => p.Id));
        Assert.Equal("ana@example.com", back.Email);
    }

    [Fact]
    public void IdleSession_IsSmall()
    {
        // A closed period, empty cart, identity, one cooldown and its decision (9 bytes): what most of the store holds.
        var run = new Run().Push(
            Ev.Make(EventType.ProductViewed, "s", 0, "e1", [new ProductInfo { Id = "p1" }], userId: "u-123456"),
            Ev.View("s", 1, "p2", "e2"), Ev.Page("x", 40));
        var bytes = SessionCodec.Encode(run.Engine.Find("s")!);

        Assert.Single(run.Engine.Find("s")!.Decisions);
        Assert.InRange(bytes.Length, 1, 60);
    }

    [Fact]
    public void Version1State_WrittenBeforeDecisionHistory_IsStillRead()
    {
        // Version 1, no parts, last activity 2 (zigzag varint 4).
        var s = SessionCodec.Decode("s", [1, 0, 4], 64);

        Assert.Equal(2, s.LastActivityMs);
        Assert.Empty(s.Decisions);
        Assert.False(s.HasOpenPeriod);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 9, 0, 0 })]
    [InlineData(new byte[] { 1, 16, 2 })]
    [InlineData(new byte[] { 1, 0, 2, 7 })]
    public void Garbage_IsAFormatError_NotACrash(byte[] data)
    {
        Assert.Throws<FormatException>(() => SessionCodec.Decode("s", data, 64));
    }

    private static void AssertSame(SessionState a, SessionState b)
    {
        Assert.Equal(
            (a.UserId, a.Email, a.LastActivityMs, a.PendingDeadlineMs, a.PeriodStartMs, a.PeriodEvents, a.PeriodAddedToCart, a.PeriodOrdered, a.PeriodCheckoutStarted),
            (b.UserId, b.Email, b.LastActivityMs, b.PendingDeadlineMs, b.PeriodStartMs, b.PeriodEvents, b.PeriodAddedToCart, b.PeriodOrdered, b.PeriodCheckoutStarted));
        Assert.Equal(a.Cart, b.Cart);
        Assert.Equal(a.Viewed, b.Viewed);
        Assert.Equal(a.SeenIds(), b.SeenIds());
        foreach (var t in TriggerTypes.All) Assert.Equal(a.LastFired(t), b.LastFired(t));
    }
}
