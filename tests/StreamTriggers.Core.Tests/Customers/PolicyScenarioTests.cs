using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Customers.E;

namespace StreamTriggers.Tests.Customers;

// Times are hours after Monday 2026-11-23 10:00 UTC; quiet hours 21:00-08:00 in the customer's zone (UTC by default).
public class PolicyScenarioTests
{
    private static List<string> Abandonment(Life life) => life.Summary()
        .Where(s => s.StartsWith("browse", StringComparison.Ordinal) || s.StartsWith("cart", StringComparison.Ordinal) || s.StartsWith("checkout", StringComparison.Ordinal))
        .ToList();

    [Fact]
    public void Consent_AfterUnsubscribed_NoMarketingTrigger_UntilSubscribedAgain()
    {
        var life = new Life().Push(Ev(EventType.Unsubscribed, "s0", 0), Add("s1", 1, "p1")).Clock(1.5);

        Assert.Empty(life.OfType(TriggerType.CartAbandoned));
        Assert.Contains("cart_abandoned suppressed consent", life.AuditSummary());
        Assert.Equal(1, life.Driver.Customers.Counters.SuppressedBy(TriggerType.CartAbandoned, DecisionReason.Consent));

        life.Push(Ev(EventType.Subscribed, "s2", 2), Add("s3", 3, "p2")).Clock(3.5);

        Assert.Single(life.OfType(TriggerType.CartAbandoned));
        Assert.Single(life.OfType(TriggerType.Welcome));
    }

    [Fact]
    public void Consent_DoesNotHoldBackOperationalTriggers()
    {
        var life = new Life().Push(Ev(EventType.Unsubscribed, "s0", 0), Add("s1", 1, "p1")).Clock(1.5);

        Assert.Empty(life.OfType(TriggerType.CartAbandoned));
        var moved = Assert.Single(life.OfType(TriggerType.SegmentChanged));
        Assert.Equal("abandoned_cart_prospect", moved.Segment);
        Assert.Equal("non_target", moved.PreviousSegment);
    }

    [Fact]
    public void FrequencyCap_TheAbandonmentFamily_OnePerSixteenHours_AcrossSessionsAndTypes()
    {
        var life = new Life(policy: p => p.QuietHoursEnd = p.QuietHoursStart).Push(Add("s1", 0, "p1")).Clock(0.5)
            .Push(View("s2", 2, "p1"), View("s2", 2.1, "p2")).Clock(2.6)
            .Push(Add("s3", 15.9, "p3")).Clock(16.4)
            .Push(Add("s4", 16.1, "p3")).Clock(16.6);

        Assert.Equal(["cart_abandoned @0.5", "cart_abandoned @16.6"], Abandonment(life));
        Assert.Equal(["browse_abandoned suppressed frequency_cap", "cart_abandoned suppressed frequency_cap"], life.AuditSummary());
        var capped = life.Audit[0];
        Assert.Equal("u:u1", capped.Subject);
        Assert.Contains("cart_abandoned went out at", capped.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void FrequencyCap_IsConfigurablePerType()
    {
        // Browse in a family of its own with a one-hour cap; the rest of the abandonment family keeps 16 hours.
        var life = new Life(policy: p =>
        {
            p.CapFamilies["browse_abandoned"] = "browse";
            p.FrequencyCaps["browse"] = TimeSpan.FromHours(1);
        }).Push(Add("s1", 0, "p1")).Clock(0.5)
            .Push(View("s2", 2, "p1"), View("s2", 2.1, "p2")).Clock(2.6)
            .Push(View("s3", 2.7, "p1"), View("s3", 2.8, "p2")).Clock(3.3);

        Assert.Equal(["cart_abandoned @0.5", "browse_abandoned @2.6"], Abandonment(life));
        Assert.Equal(["browse_abandoned suppressed frequency_cap"], life.AuditSummary());
    }

    [Fact]
    public void QuietHours_HoldTheTrigger_AndReleaseItWhenTheyEnd_InTheCustomersTimeZone()
    {
        // 10:00 UTC is 05:00 in New York: inside quiet hours until 08:00 local, 13:00 UTC.
        var life = new Life().Push(Add("s1", 0, "p1", tz: "America/New_York")).Clock(0.5);

        Assert.Empty(life.OfType(TriggerType.CartAbandoned));
        var deferred = Assert.Single(life.Audit);
        Assert.Equal(DecisionOutcome.Deferred, deferred.Outcome);
        Assert.Equal("quiet_hours", deferred.Reason);
        Assert.Equal(Life.At(3), deferred.ReleaseAtMs);
        Assert.Equal(1, life.Driver.Customers.Counters.Deferred[(int)TriggerType.CartAbandoned]);

        life.Clock(2.99);
        Assert.Empty(life.OfType(TriggerType.CartAbandoned));
        life.Clock(3);

        var cart = Assert.Single(life.OfType(TriggerType.CartAbandoned));
        Assert.Equal(Life.At(0.5), cart.DeadlineMs);
        Assert.Equal(Life.At(3), cart.ReleasedAtMs);
        Assert.Equal(Life.At(3), cart.DetectedAtMs);
    }

    [Fact]
    public void QuietHours_CrossingMidnight_ReleaseTheNextMorning()
    {
        // Deadline 21:30 UTC: held until 08:00 UTC the next day (hour 22).
        var life = new Life().Push(Add("s1", 11, "p1")).Clock(11.5).Clock(21.99);
        Assert.Empty(life.OfType(TriggerType.CartAbandoned));

        life.Clock(22);

        Assert.Equal(Life.At(22), Assert.Single(life.OfType(TriggerType.CartAbandoned)).ReleasedAtMs);
    }

    [Fact]
    public void QuietHours_NotAppliedToOperationalTriggers()
    {
        var life = new Life().Push(Add("s1", 0, "p1")).Clock(0.5).Push(Order("s2", 12, products: [P("p1")]));

        var revoked = Assert.Single(life.OfType(TriggerType.TriggerRevoked));
        Assert.Null(revoked.ReleasedAtMs);
        Assert.Equal(Life.At(12), revoked.DetectedAtMs);
    }

    [Fact]
    public void QuietHours_AnOrderBeforeTheRelease_DropsTheHeldTrigger()
    {
        var life = new Life().Push(Add("s1", 11, "p1")).Clock(11.5).Push(Order("s1", 15, products: [P("p1")])).Clock(30);

        Assert.Empty(life.OfType(TriggerType.CartAbandoned));
        Assert.Empty(life.OfType(TriggerType.TriggerRevoked));
        Assert.Equal(["cart_abandoned deferred quiet_hours", "cart_abandoned suppressed converted"], life.AuditSummary());
    }

    [Fact]
    public void QuietHours_AcrossTheAutumnClockChange_ReleaseAtEightLocal()
    {
        // Paris, Saturday 2026-10-24 22:00 CEST (20:00 UTC); clocks go back at 03:00 on Sunday: 08:00 CET is 07:00 UTC.
        double h = Hours(new DateTime(2026, 10, 24, 19, 30, 0, DateTimeKind.Utc));
        var life = new Life().Push(Add("s1", h, "p1", tz: "Europe/Paris")).Clock(h + 0.5).ClockAt(new DateTime(2026, 10, 25, 7, 0, 0, DateTimeKind.Utc));

        Assert.Equal(Life.At(Hours(new DateTime(2026, 10, 25, 7, 0, 0, DateTimeKind.Utc))), Assert.Single(life.OfType(TriggerType.CartAbandoned)).ReleasedAtMs);
    }

    [Fact]
    public void QuietHours_AcrossTheSpringClockChange_ReleaseAtEightLocal()
    {
        // Paris, Saturday 2026-03-28 22:00 CET (21:00 UTC); clocks go forward at 02:00 on Sunday: 08:00 CEST is 06:00 UTC.
        double h = Hours(new DateTime(2026, 3, 28, 20, 30, 0, DateTimeKind.Utc));
        var life = new Life().Push(Add("s1", h, "p1", tz: "Europe/Paris")).Clock(h + 0.5).ClockAt(new DateTime(2026, 3, 29, 6, 0, 0, DateTimeKind.Utc));

        Assert.Equal(Life.At(Hours(new DateTime(2026, 3, 29, 6, 0, 0, DateTimeKind.Utc))), Assert.Single(life.OfType(TriggerType.CartAbandoned)).ReleasedAtMs);
    }

    [Fact]
    public void QuietHours_AnUnknownTimeZone_FallsBackToTheDefault()
    {
        var life = new Life(policy: p => p.DefaultTimeZone = "Asia/Tokyo").Push(Add("s1", 0, "p1", tz: "Mars/Olympus_Mons")).Clock(0.5);

        // 10:30 UTC is 19:30 in Tokyo: not quiet, so it goes out at once.
        Assert.Single(life.OfType(TriggerType.CartAbandoned));
        Assert.Null(life.Customer("u:u1").TimeZone);
    }

    [Fact]
    public void Priority_CheckoutBeatsCartBeatsBrowse_WhenDueAtOnce()
    {
        // Three sessions of one customer go quiet at 22:00 UTC; all are held, and all are released at 08:00 together.
        var life = new Life().Push(
            View("s1", 11.9, "p1"), View("s1", 11.95, "p2"),
            Add("s2", 11.95, "p3"),
            Add("s3", 11.9, "p4"), Checkout("s3", 11.95)).Clock(22);

        Assert.Equal(["checkout_abandoned @12.45"], Abandonment(life));
        Assert.Contains("cart_abandoned suppressed priority", life.AuditSummary());
        Assert.Contains("browse_abandoned suppressed priority", life.AuditSummary());
        Assert.Contains("checkout_abandoned", life.Audit.Single(d => d.Reason == "priority" && d.Type == TriggerType.CartAbandoned).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Priority_InOneStepWithoutQuietHours()
    {
        var life = new Life().Push(Add("s2", 0, "p3"), Add("s3", 0, "p4"), Checkout("s3", 0), View("s1", 0, "p1"), View("s1", 0, "p2")).Clock(0.5);

        Assert.Equal(["checkout_abandoned @0.5"], Abandonment(life));
        Assert.Equal(2, life.Audit.Count(d => d.Reason == "priority"));
    }

    [Fact]
    public void Priority_DoesNotHoldBackTypesOutsideTheList()
    {
        var life = new Life().Push(View("s1", 0, "p1", user: null), Add("s1", 0, "p2", user: null), Ev(EventType.SignedUp, "s1", 0)).Clock(0.5);

        Assert.Single(life.OfType(TriggerType.Welcome));
        Assert.Single(life.OfType(TriggerType.CartAbandoned));
    }

    [Fact]
    public void EveryHeldBackTrigger_IsAudited_AndCounted()
    {
        var life = new Life().Push(Ev(EventType.Unsubscribed, "s0", 0), Add("s1", 1, "p1")).Clock(1.5)
            .Push(Ev(EventType.Subscribed, "s2", 2), Add("s3", 12, "p1")).Clock(12.5).Clock(22)
            .Push(Add("s4", 23, "p2")).Clock(23.5);

        var counters = life.Driver.Customers.Counters;
        Assert.Equal(counters.TotalSuppressed + counters.TotalDeferred, life.Audit.Count);
        Assert.Equal(["cart_abandoned suppressed consent", "cart_abandoned deferred quiet_hours", "cart_abandoned suppressed frequency_cap"], life.AuditSummary());
    }

    private static double Hours(DateTime utc) => (utc - Life.Origin).TotalHours;
}
