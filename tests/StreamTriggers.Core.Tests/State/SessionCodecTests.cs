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

    [Theory]
    [MemberData(nameof(SessionEnginePropertyTests.Seeds), MemberType = typeof(SessionEnginePropertyTests))]
    public void Restart_FromTheOldestUnwrittenChange_SkippingWhatWrittenSessionsHold_FiresWhatOneRunFires(int seed)
    {
        // What the live worker does: at a commit, closed sessions (and some open ones, as if aged) are written with
        // the offset of their newest event; the rest wait, and the stored position is the oldest waiting change. A
        // crash there: a fresh engine imports what was written and reads the input again from that position. It
        // must fire exactly what one uninterrupted run fires (the same ids and carts; triggers that went out before
        // the crash may go out again with their ids), and stored sessions must not apply their events twice.
        var (rules, events) = SessionEnginePropertyTests.Generate(seed);
        long lateness = (long)rules.AllowedLateness.TotalMilliseconds;
        var clocks = new long[events.Count];
        long maxSeen = long.MinValue;
        for (int i = 0; i < events.Count; i++)
        {
            maxSeen = Math.Max(maxSeen, events[i].TimestampMs);
            clocks[i] = maxSeen - lateness;
        }

        var whole = new SessionEngine(rules, trackChanges: true);
        var expected = new List<Trigger>();
        for (int i = 0; i < events.Count; i++) whole.Apply(events[i], clocks[i], expected, i);
        whole.FlushOpenPeriods(expected);

        int cut = events.Count * 2 / 3;
        var crashed = new SessionEngine(rules, trackChanges: true);
        var before = new List<Trigger>();
        var unwrittenSince = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < cut; i++)
        {
            if (crashed.Apply(events[i], clocks[i], before, i) is { } changed) unwrittenSince.TryAdd(changed.SessionId, i);
        }

        var stored = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int position = cut;
        foreach (var (id, since) in unwrittenSince)
        {
            var s = crashed.Find(id)!;
            if (!s.HasOpenPeriod || TriggerId.StableHash(id) % 3 == 0) stored[id] = SessionCodec.Encode(s);
            else position = Math.Min(position, since);
        }

        var restarted = new SessionEngine(rules, trackChanges: true);
        foreach (var (id, bytes) in stored) restarted.Import(SessionCodec.Decode(id, bytes, rules.MaxEventIdsPerSession));
        var after = new List<Trigger>();
        for (int i = position; i < events.Count; i++) restarted.Apply(events[i], clocks[i], after, i);
        restarted.FlushOpenPeriods(after);

        var expectedById = expected.ToDictionary(t => t.Id, Describe);
        var got = before.Concat(after).ToList();
        Assert.All(got, t => Assert.Equal(expectedById.GetValueOrDefault(t.Id, "(not in the uninterrupted run)"), Describe(t)));
        Assert.Equal(expectedById.Keys.Order(), got.Select(t => t.Id).Distinct().Order());
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
    public void AppliedOffset_RoundTrips_AndIsAbsentUntilKnown()
    {
        var s = new Run().Push(Ev.Page("s", 0)).Engine.Find("s")!;
        Assert.Equal(-1, SessionCodec.Decode("s", SessionCodec.Encode(s), 64).AppliedOffset);

        s.AppliedOffset = 1_234_567_890_123;
        Assert.Equal(1_234_567_890_123, SessionCodec.Decode("s", SessionCodec.Encode(s), 64).AppliedOffset);
    }

    [Fact]
    public void Version3State_WrittenBeforeAppliedOffsets_IsStillRead()
    {
        // Version 3, parts = open period (1), last activity 2, deadline +5, start -2 (zigzag 10, 4), 1 event.
        var s = SessionCodec.Decode("s", [3, 1, 4, 10, 4, 1], 64);

        Assert.Equal(7, s.PendingDeadlineMs);
        Assert.Equal(0, s.PeriodStartMs);
        Assert.Equal(-1, s.AppliedOffset);
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
        Assert.Equal(0, s.Decisions.Count);
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
        Assert.Equal(a.Cart.ToArray(), b.Cart.ToArray());
        Assert.Equal(a.Viewed.ToArray(), b.Viewed.ToArray());
        Assert.Equal(a.SeenIds(), b.SeenIds());
        foreach (var t in TriggerTypes.All) Assert.Equal(a.LastFired(t), b.LastFired(t));
    }
}
