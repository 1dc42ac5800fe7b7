using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Customers.E;

namespace StreamTriggers.Tests.Customers;

// Defaults unless a test says otherwise: gap 30 min, reminder 24 h, cross-sell 14 d, lead 3 d, win-back 60 d, VIP 1000,
// quiet hours 21:00-08:00 in UTC. Times are hours after Monday 2026-11-23 10:00 UTC; the clock is the watermark.
public class LifecycleScenarioTests
{
    [Fact]
    public void Welcome_OnSignUp_CarriesTheProductsViewedBeforeInTheSession()
    {
        var life = new Life().Push(
            View("s1", 0, "p1", user: null), View("s1", 0.1, "p2", user: null),
            Ev(EventType.SignedUp, "s1", 0.2, user: "u1", email: "ana@example.com"));

        var welcome = Assert.Single(life.OfType(TriggerType.Welcome));
        Assert.Equal(["p1", "p2"], welcome.ProductsViewed.Select(p => p.Id));
        Assert.Equal("u1", welcome.UserId);
        Assert.Equal("ana@example.com", welcome.Email);
        Assert.Equal(Life.At(0.2), welcome.DeadlineMs);
        Assert.Equal("subscriber_never_bought", welcome.Segment);
    }

    [Fact]
    public void Welcome_GoesOutOncePerCustomer()
    {
        var life = new Life().Push(Ev(EventType.SignedUp, "s1", 0), Ev(EventType.Subscribed, "s2", 1), Ev(EventType.SignedUp, "s3", 2));

        Assert.Single(life.OfType(TriggerType.Welcome));
    }

    [Fact]
    public void CartReminder_FiresOneDayAfterTheFirstCartAbandoned_WithTheSameCart()
    {
        var life = new Life().Push(Add("s1", 0, "p1", price: 25m)).Clock(0.5);
        var first = Assert.Single(life.OfType(TriggerType.CartAbandoned));

        life.Clock(24.49);
        Assert.Empty(life.OfType(TriggerType.CartAbandonedReminder));
        life.Clock(24.5);

        var reminder = Assert.Single(life.OfType(TriggerType.CartAbandonedReminder));
        Assert.Equal(Life.At(24.5), reminder.DeadlineMs);
        Assert.Equal("p1", Assert.Single(reminder.Cart).Id);
        Assert.Equal(25m, reminder.CartValue);
        Assert.Equal("u1", reminder.UserId);
        Assert.NotEqual(first.Id, reminder.Id);
        Assert.Equal(["cart_abandoned @0.5", "cart_abandoned_reminder @24.5"], life.Summary().Where(s => !s.StartsWith("segment_changed", StringComparison.Ordinal)));
    }

    [Fact]
    public void CartReminder_IsDropped_WhenAnOrderFollowsWithinTheDay()
    {
        var life = new Life().Push(Add("s1", 0, "p1")).Clock(0.5).Push(Order("s2", 10, products: [P("p1")])).Clock(48);

        Assert.Empty(life.OfType(TriggerType.CartAbandonedReminder));
        Assert.Contains("cart_abandoned_reminder suppressed converted", life.AuditSummary());
    }

    [Fact]
    public void AnOrderRacingTheReminder_ThatArrivesAfterItWentOut_RevokesIt()
    {
        // The order happened a few minutes before the reminder was due, but its event arrived after the reminder went out.
        var life = new Life().Push(Add("s1", 0, "p1")).Clock(0.5).Clock(24.5);
        var cart = Assert.Single(life.OfType(TriggerType.CartAbandoned));
        var reminder = Assert.Single(life.OfType(TriggerType.CartAbandonedReminder));

        life.Push(Order("s2", 24.4, products: [P("p1")]));

        var revoked = life.OfType(TriggerType.TriggerRevoked);
        Assert.Equal(new[] { cart.Id, reminder.Id }.Order(StringComparer.Ordinal), revoked.Select(r => r.RevokedTriggerId!).Order(StringComparer.Ordinal));
        Assert.Equal(TriggerType.CartAbandonedReminder, revoked.Single(r => r.RevokedTriggerId == reminder.Id).RevokedType);
    }

    [Fact]
    public void TriggerRevoked_NamesTheAbandonmentTrigger_WhenTheOrderComesWithinTheWindow()
    {
        var life = new Life().Push(Add("s1", 0, "p1"), Checkout("s1", 0.1)).Clock(0.6);
        var checkout = Assert.Single(life.OfType(TriggerType.CheckoutAbandoned));

        life.Push(Order("s1", 3, products: [P("p1")]));

        var revoked = Assert.Single(life.OfType(TriggerType.TriggerRevoked));
        Assert.Equal(checkout.Id, revoked.RevokedTriggerId);
        Assert.Equal(TriggerType.CheckoutAbandoned, revoked.RevokedType);
        Assert.Equal(Life.At(3), revoked.DeadlineMs);
    }

    [Fact]
    public void TriggerRevoked_NotForAnOrderAfterTheWindow()
    {
        var life = new Life().Push(Add("s1", 0, "p1")).Clock(0.5).Push(Page("s9", 20)).Clock(24.6)
            .Push(Order("s2", 24.6, products: [P("p1")]));

        Assert.Single(life.OfType(TriggerType.CartAbandoned));
        // The reminder went out at 24.5 and the order came after it: the reminder is revoked, the day-old cart trigger is not.
        var revoked = Assert.Single(life.OfType(TriggerType.TriggerRevoked));
        Assert.Equal(TriggerType.CartAbandonedReminder, revoked.RevokedType);
    }

    [Fact]
    public void CrossSell_FourteenDaysAfterTheOrder_WithEveryProductOfIt()
    {
        var life = new Life().Push(
            Order("s1", 0, orderId: "o-1", total: 30m, products: [P("p1", 10m)]),
            Order("s1", 0.01, orderId: "o-1", total: 20m, products: [P("p2", 20m)])); // a second event of the same order

        life.Clock(14 * 24 - 0.01);
        Assert.Empty(life.OfType(TriggerType.PostPurchaseCrossSell));
        life.Clock(14 * 24);

        var crossSell = Assert.Single(life.OfType(TriggerType.PostPurchaseCrossSell));
        Assert.Equal(["p1", "p2"], crossSell.ProductsBought.Select(p => p.Id));
        Assert.Equal("o-1", crossSell.OrderId);
        Assert.Equal(1, life.Customer("u:u1").Orders);
        Assert.Equal(50m, life.Customer("u:u1").Revenue);
    }

    [Fact]
    public void Replenishment_AtTheUseCycleMinusTheLead_FromTheProductsOwnDays()
    {
        var life = new Life().Push(Order("s1", 0, products: [P("shampoo", replenishDays: 30), P("tv")]));

        life.Clock(27 * 24 - 0.01);
        Assert.Empty(life.OfType(TriggerType.Replenishment));
        life.Clock(27 * 24);

        var r = Assert.Single(life.OfType(TriggerType.Replenishment));
        Assert.Equal("shampoo", Assert.Single(r.ProductsBought).Id);
        life.Clock(200 * 24);
        Assert.Single(life.OfType(TriggerType.Replenishment)); // once per purchase; the tv has no cycle
    }

    [Fact]
    public void Replenishment_FromTheCategoryTable_LongestPrefixWins()
    {
        var life = new Life(l =>
        {
            l.ReplenishDays["beauty"] = 60;
            l.ReplenishDays["beauty.skin"] = 30;
        }).Push(Order("s1", 0, products: [P("cream", category: "beauty.skin.cream"), P("gel", category: "beauty.hair"), P("x", category: "beautyfake")]));

        life.Clock(100 * 24);

        Assert.Equal([("cream", 27.0 * 24), ("gel", 57.0 * 24)],
            life.OfType(TriggerType.Replenishment).Select(t => (t.ProductsBought[0].Id, Life.HoursOf(t.DeadlineMs))));
    }

    [Fact]
    public void Replenishment_IsCancelledByARepurchaseBeforeItsDate_AndCountsFromTheNewPurchase()
    {
        var life = new Life().Push(Order("s1", 0, products: [P("shampoo", replenishDays: 30)]))
            .Clock(20 * 24).Push(Order("s2", 20 * 24, products: [P("shampoo", replenishDays: 30)]));

        life.Clock(100 * 24);

        var r = Assert.Single(life.OfType(TriggerType.Replenishment));
        Assert.Equal((20 + 27) * 24.0, Life.HoursOf(r.DeadlineMs));
    }

    [Fact]
    public void WinBack_AfterSixtyDaysWithoutActivity_OncePerLapse()
    {
        var life = new Life().Push(Order("s1", 0, products: [P("p1")]));

        life.Clock(60 * 24 - 0.01);
        Assert.Empty(life.OfType(TriggerType.WinBack));
        life.Clock(60 * 24).Clock(100 * 24);
        Assert.Equal([60 * 24.0], life.OfType(TriggerType.WinBack).Select(t => Life.HoursOf(t.DeadlineMs)));

        life.Push(Page("s2", 100 * 24)).Clock(170 * 24);

        Assert.Equal([60 * 24.0, 160 * 24.0], life.OfType(TriggerType.WinBack).Select(t => Life.HoursOf(t.DeadlineMs)));
    }

    [Fact]
    public void WinBack_NotForACustomerWhoNeverOrdered()
    {
        var life = new Life().Push(Page("s1", 0)).Clock(100 * 24);

        Assert.Empty(life.OfType(TriggerType.WinBack));
    }

    [Fact]
    public void Vip_WhenLifetimeSpendCrossesTheThreshold_Once()
    {
        var life = new Life().Push(
            Order("s1", 0, total: 600m, products: [P("a")]),
            Order("s2", 1, total: 500m, products: [P("b")]),
            Order("s3", 2, total: 500m, products: [P("c")]));

        var vip = Assert.Single(life.OfType(TriggerType.VipReached));
        Assert.Equal(Life.At(1), vip.DeadlineMs);
    }

    [Fact]
    public void Segments_FollowTheCustomer_AndTimeAloneMovesALapsedHighValueCustomerToAtRisk()
    {
        var life = new Life().Push(Ev(EventType.SignedUp, "s0", 0));
        Assert.Equal(Segment.SubscriberNeverBought, life.Customer("u:u1").Segment);

        life.Push(Order("s1", 1, total: 200m, products: [P("a")]), Order("s2", 2, total: 200m, products: [P("b")]),
            Order("s3", 3, total: 200m, products: [P("c")]));
        Assert.Equal(Segment.LoyalHighValue, life.Customer("u:u1").Segment);

        life.Clock(3 + 90 * 24 + 1);

        var moves = life.OfType(TriggerType.SegmentChanged).Select(t => $"{t.PreviousSegment}->{t.Segment}").ToList();
        Assert.Equal(["subscriber_never_bought->non_target", "non_target->loyal_high_value", "loyal_high_value->at_risk_high_value"], moves);
        Assert.Equal(3 + 90 * 24.0, Life.HoursOf(life.OfType(TriggerType.SegmentChanged)[^1].DeadlineMs), 3);
    }

    [Fact]
    public void Segments_ProspectAndFrequentLowBasket()
    {
        var life = new Life().Push(Add("s1", 0, "p1")).Clock(0.5);
        Assert.Equal(Segment.AbandonedCartProspect, life.Customer("u:u1").Segment);

        life.Push(Order("s2", 1, total: 10m, products: [P("a")]), Order("s3", 2, total: 12m, products: [P("b")]),
            Order("s4", 3, total: 8m, products: [P("c")]));

        Assert.Equal(Segment.FrequentLowBasket, life.Customer("u:u1").Segment);
    }

    [Fact]
    public void EveryTrigger_CarriesTheSegmentAndTheLifetimeValue()
    {
        // Two orders in the first year: average 200, 2 per year (a first year counts as one), 3 years, minus 50.
        var life = new Life(l =>
        {
            l.Segments.ExpectedLifetimeYears = 3;
            l.Segments.AcquisitionCost = 50m;
        }).Push(Order("s1", 0, total: 100m, products: [P("a")]), Order("s2", 1, total: 300m, products: [P("b")]), Add("s3", 2, "p1")).Clock(2.5);

        var cart = Assert.Single(life.OfType(TriggerType.CartAbandoned));
        Assert.Equal(1150m, cart.LifetimeValue);
        Assert.Equal("non_target", cart.Segment);
        Assert.All(life.Sent, t => Assert.NotNull(t.Segment));
        Assert.All(life.Sent, t => Assert.NotNull(t.LifetimeValue));
    }
}
