using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Customers.E;

namespace StreamTriggers.Tests.Customers;

// An anonymous session's cart or checkout trigger fires again, once, when identity arrives within 24 hours.
public class IdentityRefireTests
{
    [Fact]
    public void AnonymousCartTrigger_FiresAgainWithTheIdentity_WhenIdentityArrivesAfterTheDeadline()
    {
        var life = new Life().Push(Add("s1", 0, "p1", user: null)).Clock(0.5);
        var first = Assert.Single(life.OfType(TriggerType.CartAbandoned));
        Assert.Null(first.UserId);

        life.Push(Page("s1", 2, user: "u1", email: "ana@example.com"));

        var carts = life.OfType(TriggerType.CartAbandoned);
        Assert.Equal(2, carts.Count);
        var again = carts[1];
        Assert.Equal("u1", again.UserId);
        Assert.Equal("ana@example.com", again.Email);
        Assert.Equal(first.Id, again.RefireOf);
        Assert.NotEqual(first.Id, again.Id);
        Assert.Equal(first.DeadlineMs, again.DeadlineMs);
        Assert.Equal("p1", Assert.Single(again.Cart).Id);
        Assert.Equal(Life.At(2), again.DetectedAtMs);
    }

    [Fact]
    public void Refire_HappensOnce()
    {
        var life = new Life().Push(Add("s1", 0, "p1", user: null)).Clock(0.5)
            .Push(Page("s1", 2, user: "u1"), Page("s1", 3, user: null, email: "ana@example.com"));

        Assert.Equal(2, life.OfType(TriggerType.CartAbandoned).Count);
        Assert.Equal(1, life.Driver.Sessions.Counters.Refired);
    }

    [Fact]
    public void Refire_NotWhenIdentityComesAfterTheWindow()
    {
        var life = new Life().Push(Add("s1", 0, "p1", user: null)).Clock(0.5).Push(Page("s1", 24.6, user: "u1"));

        Assert.Single(life.OfType(TriggerType.CartAbandoned));
    }

    [Fact]
    public void Refire_NotWhenTheIdentityComesWithTheOrder_WhichRevokesTheAnonymousTrigger()
    {
        var life = new Life().Push(Add("s1", 0, "p1", user: null)).Clock(0.5).Push(Order("s1", 2, user: null, email: "ana@example.com"));

        var first = Assert.Single(life.OfType(TriggerType.CartAbandoned));
        var revoked = Assert.Single(life.OfType(TriggerType.TriggerRevoked));
        Assert.Equal(first.Id, revoked.RevokedTriggerId);
    }

    [Fact]
    public void IdentityBeforeTheDeadline_TheTriggerCarriesItAndDoesNotFireAgain()
    {
        var life = new Life().Push(Add("s1", 0, "p1", user: null), Page("s1", 0.2, user: "u1")).Clock(0.7).Push(Page("s1", 2, user: "u1"));

        var cart = Assert.Single(life.OfType(TriggerType.CartAbandoned));
        Assert.Equal("u1", cart.UserId);
    }

    [Fact]
    public void CheckoutTrigger_IsTheOneFiredAgain()
    {
        var life = new Life().Push(Add("s1", 0, "p1", user: null), Checkout("s1", 0.1, user: null)).Clock(0.6).Push(Page("s1", 1, user: "u1"));

        var checkouts = life.OfType(TriggerType.CheckoutAbandoned);
        Assert.Equal(2, checkouts.Count);
        Assert.Equal("u1", checkouts[1].UserId);
    }

    [Fact]
    public void RefiredCartTrigger_GetsItsReminder()
    {
        var life = new Life().Push(Add("s1", 0, "p1", user: null)).Clock(0.5).Push(Page("s1", 2, user: "u1")).Clock(30);

        var reminder = Assert.Single(life.OfType(TriggerType.CartAbandonedReminder));
        Assert.Equal("u1", reminder.UserId);
        Assert.Equal(Life.At(24.5), reminder.DeadlineMs);
    }
}
