using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Sessions.Ev;

namespace StreamTriggers.Tests.Sessions;

// Defaults throughout unless a test says otherwise: gap 30 min, browse threshold 2, cooldown 24 h, lateness 0.
// Minutes are after 2026-11-23T10:00:00Z. "clock" below is the watermark: greatest event time seen minus lateness.
public class SessionEngineTests
{
    [Fact]
    public void CartAbandoned_FiresAtDeadline_WhenClockReachesIt()
    {
        var run = new Run().Push(Add("s1", 0, "p1"), Page("other", 29.99));
        Assert.Empty(run.Fired);

        run.Push(Page("other", 30));

        Assert.Equal(["cart_abandoned s1 @30"], run.Summary());
    }

    [Fact]
    public void Deadline_OneMillisecondAfterClock_DoesNotFire()
    {
        var run = new Run().Push(Add("s1", 0, "p1"), Page("other", 30 - (1 / 60_000.0)));

        Assert.Empty(run.Fired);
        Assert.True(run.Engine.Find("s1")!.HasOpenPeriod);
    }

    [Fact]
    public void EventExactlyOneGapAfterLastActivity_ClosesPeriodFirst_ThenStartsANewOne()
    {
        var run = new Run().Push(Add("s1", 0, "p1"), View("s1", 30, "p2"));

        Assert.Equal(["cart_abandoned s1 @30"], run.Summary());
        var s = run.Engine.Find("s1")!;
        Assert.Equal(At(30), s.PeriodStartMs);
        Assert.Equal(At(60), s.PendingDeadlineMs);
        Assert.Equal(1, s.PeriodEvents);
    }

    [Fact]
    public void EventJustInsideGap_ExtendsDeadline_WithoutFiring()
    {
        var run = new Run().Push(Add("s1", 0, "p1"), View("s1", 29.5, "p2"), Page("other", 59));

        Assert.Empty(run.Fired);
        Assert.Equal(At(59.5), run.Engine.Find("s1")!.PendingDeadlineMs);

        run.Push(Page("other", 59.5));
        Assert.Equal(["cart_abandoned s1 @59.5"], run.Summary());
    }

    [Fact]
    public void CheckoutAbandoned_WinsOverCart_WhenCheckoutStartedInPeriod()
    {
        var run = new Run().Push(Add("s1", 0, "p1"), Checkout("s1", 1)).Flush();

        Assert.Equal(["checkout_abandoned s1 @31"], run.Summary());
    }

    [Fact]
    public void CheckoutStarted_WithEmptyCart_FiresNoCheckoutTrigger()
    {
        var run = new Run().Push(Checkout("s1", 0)).Flush();

        Assert.Empty(run.Fired);
    }

    [Fact]
    public void CheckoutStarted_WithEmptyCart_AndEnoughViews_IsBrowseAbandonment()
    {
        // The browse rule asks only: nothing added, no order, K distinct products viewed.
        var run = new Run().Push(View("s1", 0, "p1"), View("s1", 1, "p2"), Checkout("s1", 2)).Flush();

        Assert.Equal(["browse_abandoned s1 @32"], run.Summary());
    }

    [Fact]
    public void OrderCompleted_EmptiesCart_AndNothingFires()
    {
        var run = new Run().Push(View("s1", 0, "p1"), View("s1", 0, "p2"), Add("s1", 1, "p1"), Checkout("s1", 2), Order("s1", 3)).Flush();

        Assert.Empty(run.Fired);
        Assert.Empty(run.Engine.Find("s1")!.Cart.ToArray());
    }

    [Fact]
    public void BrowseAbandoned_NeedsKDistinctProducts()
    {
        var same = new Run().Push(View("s1", 0, "p1"), View("s1", 1, "p1")).Flush();
        Assert.Empty(same.Fired);

        var two = new Run().Push(View("s1", 0, "p1"), View("s1", 1, "p2")).Flush();
        Assert.Equal(["browse_abandoned s1 @31"], two.Summary());
        Assert.Equal(["p1", "p2"], two.Fired[0].ProductsViewed.Select(p => p.Id));

        var threshold3 = new Run(new RulesOptions { BrowseMinProducts = 3 }).Push(View("s1", 0, "p1"), View("s1", 1, "p2")).Flush();
        Assert.Empty(threshold3.Fired);
    }

    [Fact]
    public void BrowseAbandoned_NotFired_WhenSomethingWasAddedAndRemovedInPeriod()
    {
        var run = new Run().Push(View("s1", 0, "p1"), View("s1", 1, "p2"), Add("s1", 2, "p1"), Remove("s1", 3, "p1")).Flush();

        Assert.Empty(run.Fired);
        Assert.Empty(run.Engine.Find("s1")!.Cart.ToArray());
    }

    [Fact]
    public void ProductRemoved_TakesOneUnit_UnlessQuantityGiven()
    {
        var run = new Run().Push(Add("s1", 0, "p1", quantity: 3, price: 5m), Remove("s1", 1, "p1"), Add("s1", 2, "p2", price: 7m)).Flush();

        var cart = run.Fired.Single().Cart;
        Assert.Equal([("p1", 2), ("p2", 1)], cart.Select(l => (l.Id, l.Quantity)));
        Assert.Equal(17m, run.Fired[0].CartValue);

        var more = new Run().Push(Add("s1", 0, "p1", quantity: 3), Remove("s1", 1, "p1", quantity: 5), Remove("s1", 2, "never-added")).Flush();
        Assert.Empty(more.Fired);
    }

    [Fact]
    public void RepeatedAdds_AccumulateUnits_AndKeepNewestPrice()
    {
        var run = new Run().Push(Add("s1", 0, "p1", price: 10m), Add("s1", 1, "p1", price: 12m)).Flush();

        var line = Assert.Single(run.Fired.Single().Cart);
        Assert.Equal(2, line.Quantity);
        Assert.Equal(12m, line.Price);
        Assert.Equal(24m, run.Fired[0].CartValue);
    }

    [Fact]
    public void Cart_OutlivesThePeriod_AndFiresAgainAfterCooldown()
    {
        // Period 1 ends at 30 with the cart; period 2 (25 h later) only browses one product, yet the cart is still there.
        var run = new Run().Push(Add("s1", 0, "p1"), View("s1", 25 * 60, "p9")).Flush();

        Assert.Equal(["cart_abandoned s1 @30", "cart_abandoned s1 @1530"], run.Summary());
        Assert.Equal("p1", run.Fired[1].Cart.Single().Id);
    }

    [Fact]
    public void PeriodFlags_ResetWhenPeriodCloses()
    {
        // One product viewed in each of two periods: never two distinct in one period.
        var run = new Run().Push(View("s1", 0, "p1"), View("s1", 40, "p2")).Flush();

        Assert.Empty(run.Fired);
        Assert.Equal(2, run.Engine.Counters.PeriodsClosed);
    }

    [Fact]
    public void Cooldown_SuppressesSameType_WithinCooldown_MeasuredBetweenDeadlines()
    {
        var run = new Run().Push(
            View("s1", 0, "p1"), View("s1", 1, "p2"),          // deadline 31: fires
            View("s1", 120, "p3"), View("s1", 121, "p4"),      // deadline 151: 2 h after, suppressed
            View("s1", 1440, "p5"), View("s1", 1441, "p6"))    // deadline 1471 = 31 + 24 h exactly: fires
            .Flush();

        Assert.Equal(["browse_abandoned s1 @31", "browse_abandoned s1 @1471"], run.Summary());
        Assert.Equal(1, run.Engine.Counters.SuppressedByCooldown[(int)TriggerType.BrowseAbandoned]);
    }

    [Fact]
    public void Cooldown_IsPerTriggerType()
    {
        var run = new Run().Push(View("s1", 0, "p1"), View("s1", 1, "p2"), Add("s1", 60, "p1")).Flush();

        Assert.Equal(["browse_abandoned s1 @31", "cart_abandoned s1 @90"], run.Summary());
    }

    [Fact]
    public void Cooldown_SuppressedMatch_DoesNotFallThroughToTheNextRule()
    {
        // Period 2 has a cart (cart_abandoned on cooldown) and two new views: no browse_abandoned instead.
        var run = new Run().Push(Add("s1", 0, "p1"), View("s1", 60, "p2"), View("s1", 61, "p3")).Flush();

        Assert.Equal(["cart_abandoned s1 @30"], run.Summary());
        Assert.Equal(1, run.Engine.Counters.SuppressedByCooldown[(int)TriggerType.CartAbandoned]);
    }

    [Fact]
    public void Cooldown_Zero_StillNeverRepeatsOneDeadline()
    {
        var rules = new RulesOptions { Cooldown = TimeSpan.Zero };
        // A late event (before the last activity) after the period closed re-opens it with the same last activity,
        // hence the same deadline, which must not fire a second trigger with the same id.
        var run = new Run(rules).Push(Add("s1", 0, "p1"), Page("x", 100), Add("s1", -5, "p2"));

        Assert.Equal(["cart_abandoned s1 @30"], run.Summary());
    }

    [Fact]
    public void DueDeadlines_FireInDeadlineThenSessionIdOrder()
    {
        var run = new Run().Push(Add("b", 0, "p"), Add("a", 0, "p"), Add("c", 1, "p"), Add("a2", 0.5, "p"), Page("x", 100));

        Assert.Equal(["cart_abandoned a @30", "cart_abandoned b @30", "cart_abandoned a2 @30.5", "cart_abandoned c @31"], run.Summary());
    }

    [Fact]
    public void LateEvent_WhoseDeadlineIsAlreadyPast_FiresRightAfterItIsApplied()
    {
        var run = new Run().Push(Page("x", 120), Add("late", 60, "p1"));

        Assert.Equal(["cart_abandoned late @90"], run.Summary());
        Assert.False(run.Engine.Find("late")!.HasOpenPeriod);
        Assert.Equal(At(120), run.Fired[0].DetectedAtMs);
    }

    [Fact]
    public void LateEvent_DoesNotMoveLastActivityBackwards()
    {
        var run = new Run().Push(Add("s1", 10, "p1"), Page("s1", 5), Page("x", 39.9));

        Assert.Empty(run.Fired);
        Assert.Equal(At(10), run.Engine.Find("s1")!.LastActivityMs);
        Assert.Equal(At(40), run.Engine.Find("s1")!.PendingDeadlineMs);
    }

    [Fact]
    public void AllowedLateness_HoldsDeadlines_SoAnOutOfOrderEventStillCounts()
    {
        var rules = new RulesOptions { AllowedLateness = TimeSpan.FromMinutes(5) };
        // Clock after "other"@31 is 26: the deadline at 30 has not fired, so the late view at 2 extends it to 32.
        var run = new Run(rules).Push(Add("s1", 0, "p1"), Page("other", 31), View("s1", 2, "p2"), Page("other", 36.9));
        Assert.Empty(run.Fired);

        run.Push(Page("other", 37));
        Assert.Equal(["cart_abandoned s1 @32"], run.Summary());
    }

    [Fact]
    public void WithLateness_AnEventPastItsOwnDeadline_ClosesThePeriodAtTheDeadline()
    {
        var rules = new RulesOptions { AllowedLateness = TimeSpan.FromMinutes(10) };
        var run = new Run(rules).Push(Add("s1", 0, "p1"), View("s1", 35, "p2"));

        // Clock is 25, below the deadline 30, but the session's own event at 35 proves the period ended.
        Assert.Equal(["cart_abandoned s1 @30"], run.Summary());
        Assert.Equal(At(65), run.Engine.Find("s1")!.PendingDeadlineMs);
        Assert.Equal(At(30), run.Fired[0].DetectedAtMs);
    }

    [Fact]
    public void Watermark_NeverMovesBackwards()
    {
        var run = new Run().Push(Page("x", 100), Page("y", 50));

        Assert.Equal(At(100), run.Driver.Watermark);
    }

    [Fact]
    public void DuplicateDelivery_IsIgnored_AndDoesNotExtendTheDeadline()
    {
        var run = new Run().Push(Add("s1", 0, "p1", id: "e1"), Add("s1", 0, "p1", id: "e1")).Flush();

        Assert.Equal(1, run.Fired.Single().Cart.Single().Quantity);
        Assert.Equal(1, run.Engine.Counters.DuplicatesIgnored);
        Assert.Equal(1, run.Engine.Counters.EventsApplied);
    }

    [Fact]
    public void DuplicateDelivery_IsIgnored_WhenTheDecoderKeptOnlyTheIdsHash()
    {
        // The worker's decoder keeps an event id's hash, not its string: the same event, by string or by hash, is one.
        var first = Add("s1", 0, "p1", id: "e1");
        var hashed = new TrackerEvent
        {
            Type = first.Type, TimestampMs = first.TimestampMs, SessionId = "s1", Products = first.Products,
            EventIdHash = TriggerId.StableHash("e1"),
        };
        var run = new Run().Push(first, hashed).Flush();

        Assert.Null(hashed.EventId);
        Assert.Equal(first.DedupHash, hashed.DedupHash);
        Assert.Equal(1, run.Engine.Counters.DuplicatesIgnored);
        Assert.Equal(1, run.Fired.Single().Cart.Single().Quantity);
    }

    [Fact]
    public void DuplicateDelivery_LaterInTime_DoesNotMoveTheDeadline()
    {
        var dupe = Add("s1", 0, "p1", id: "e1");
        var redelivered = Add("s1", 20, "p1", id: "e1");
        var run = new Run().Push(dupe, redelivered).Flush();

        Assert.Equal(["cart_abandoned s1 @30"], run.Summary());
    }

    [Fact]
    public void InputReadAgain_AtOrBeforeTheSessionsAppliedOffset_IsSkipped()
    {
        var engine = new SessionEngine(new RulesOptions(), trackChanges: true);
        var fired = new List<Trigger>();

        Assert.NotNull(engine.Apply(Add("s1", 0, "p1"), At(0), fired, offset: 10));
        Assert.Null(engine.Apply(Add("s1", 0, "p1"), At(0), fired, offset: 10));      // the same message again
        Assert.Null(engine.Apply(Add("s1", 0.5, "p1"), At(0.5), fired, offset: 7));   // an older one
        Assert.NotNull(engine.Apply(Add("s1", 1, "p1"), At(1), fired, offset: 11));
        Assert.NotNull(engine.Apply(Add("s2", 1, "p1"), At(1), fired, offset: 3));     // positions are per session
        Assert.NotNull(engine.Apply(Add("s1", 2, "p1"), At(2), fired));                 // no position (a file): applied
        engine.AdvanceTo(At(120), fired);

        Assert.Equal(11, engine.Find("s1")!.AppliedOffset);
        Assert.Equal(2, engine.Counters.ReplayedSkipped);
        Assert.Equal(3, fired.Single(t => t.SessionId == "s1").Cart.Single().Quantity);
    }

    [Fact]
    public void SameEventId_InAnotherSession_IsNotADuplicate()
    {
        var run = new Run().Push(Add("s1", 0, "p1", id: "e1"), Add("s2", 0, "p1", id: "e1")).Flush();

        Assert.Equal(2, run.Fired.Count);
        Assert.Equal(0, run.Engine.Counters.DuplicatesIgnored);
    }

    [Fact]
    public void DuplicateWindow_IsBoundedPerSession()
    {
        var rules = new RulesOptions { MaxEventIdsPerSession = 2, MaxEventIdsAfterClose = 2 };
        var run = new Run(rules).Push(Add("s1", 0, "p1", id: "e1"), Page("s1", 1, "e2"), Page("s1", 2, "e3"), Add("s1", 3, "p1", id: "e1")).Flush();

        // e1 fell out of a two-id window, so its redelivery counts again.
        Assert.Equal(2, run.Fired.Single().Cart.Single().Quantity);
    }

    [Fact]
    public void ClosedSession_RemembersOnlyItsNewestIds()
    {
        var rules = new RulesOptions { MaxEventIdsAfterClose = 1 };
        // e1 and e2 in period 1 (closes at 31); afterwards only e2 is remembered.
        var run = new Run(rules).Push(Add("s1", 0, "p1", id: "e1"), Add("s1", 1, "p2", id: "e2"), Page("x", 40),
            Add("s1", 41, "p2", id: "e2"), Add("s1", 42, "p1", id: "e1"));

        Assert.Equal(1, run.Engine.Counters.DuplicatesIgnored);
        Assert.Equal([("p1", 2), ("p2", 1)], run.Engine.Find("s1")!.Cart.Select(l => (l.Id, l.Quantity)));
    }

    [Fact]
    public void EndOfInput_FiresNothing_UnlessFlushed_ThenAllInDeadlineOrder()
    {
        var run = new Run().Push(Add("z", 0, "p"), View("a", 5, "p1"), View("a", 6, "p2"), Page("m", 7));
        run.Driver.Complete(flush: false, run.Fired);
        Assert.Empty(run.Fired);

        run.Flush();
        Assert.Equal(["cart_abandoned z @30", "browse_abandoned a @36"], run.Summary());
        Assert.Equal(0, run.Engine.CountOpenPeriods());
    }

    [Fact]
    public void Trigger_CarriesIdentity_AndPeriodContext()
    {
        var run = new Run().Push(
            Make(EventType.PageViewed, "s1", 0, null, [], userId: "u-1"),
            View("s1", 1, "p1"),
            Make(EventType.ProductAdded, "s1", 2, null, [new ProductInfo { Id = "p1", Name = "Shoe", Price = 89.9m, Currency = "EUR", Quantity = 2 }], email: "ana@example.com"),
            Make(EventType.Identified, "s1", 3, null, [], userId: "u-2"))
            .Flush();

        var t = run.Fired.Single();
        Assert.Equal(TriggerType.CartAbandoned, t.Type);
        Assert.Equal("u-2", t.UserId);
        Assert.Equal("ana@example.com", t.Email);
        Assert.Equal("u-2", t.Key);
        Assert.Equal(At(33), t.DeadlineMs);
        Assert.Equal(At(3), t.LastActivityMs);
        Assert.Equal(At(0), t.PeriodStartMs);
        Assert.Equal(4, t.PeriodEvents);
        Assert.Equal(179.8m, t.CartValue);
        Assert.Equal("EUR", t.Currency);
        Assert.Equal("Shoe", t.Cart.Single().Name);
        Assert.Equal(["p1"], t.ProductsViewed.Select(p => p.Id));
        Assert.Equal(TriggerId.Create(TriggerType.CartAbandoned, "s1", At(33)), t.Id);
    }

    [Fact]
    public void TriggerSnapshot_IsNotChangedByLaterEvents()
    {
        var run = new Run().Push(Add("s1", 0, "p1"), Page("x", 30), Add("s1", 31, "p2"));

        Assert.Single(run.Fired[0].Cart);
        Assert.Equal(2, run.Engine.Find("s1")!.Cart.Count);
    }

    [Fact]
    public void Session_IsDroppedAfterRetention_AndAReturningVisitorStartsFresh()
    {
        var rules = new RulesOptions { SessionRetention = TimeSpan.FromDays(2) };
        var run = new Run(rules).Push(Add("s1", 0, "p1"), Page("x", 2 * 1440 - 1));
        Assert.NotNull(run.Engine.Find("s1"));

        run.Push(Page("x", 2 * 1440));
        Assert.Null(run.Engine.Find("s1"));
        Assert.Equal(1, run.Engine.Counters.SessionsExpired);

        run.Push(View("s1", 2 * 1440 + 1, "p2")).Flush();
        Assert.Equal(["cart_abandoned s1 @30"], run.Summary());
    }

    [Fact]
    public void ManyEventsPerSession_KeepOneTimerPerSession()
    {
        var run = new Run();
        for (int i = 0; i < 50_000; i++)
        {
            run.Push(Page("s" + (i % 10), i * 0.01));
        }

        Assert.Equal(10, run.Engine.PendingTimers);
    }

    [Fact]
    public void EventTypesWithoutEffect_StillExtendTheSession()
    {
        var run = new Run().Push(Add("s1", 0, "p1"), Make(EventType.SignedUp, "s1", 20, null, []), Make(EventType.Unsubscribed, "s1", 40, null, [])).Flush();

        Assert.Equal(["cart_abandoned s1 @70"], run.Summary());
    }

    [Theory]
    [InlineData(0, 2, 24, "Gap")]
    [InlineData(30, 0, 24, "BrowseMinProducts")]
    [InlineData(30, 2, -1, "Cooldown")]
    public void InvalidRules_AreRejected_WithTheKeyNamed(int gapMinutes, int browse, int cooldownHours, string key)
    {
        var rules = new RulesOptions { Gap = TimeSpan.FromMinutes(gapMinutes), BrowseMinProducts = browse, Cooldown = TimeSpan.FromHours(cooldownHours) };

        var error = Assert.Single(rules.Validate());
        Assert.StartsWith($"StreamTriggers:Rules:{key} is ", error);
        Assert.Throws<ArgumentException>(() => new SessionEngine(rules));
    }
}
