namespace StreamTriggers.Customers;

/// <summary>The six customer value segments of lifecycle marketing (DESIGN.md section 1). The names are a contract.</summary>
public enum Segment : byte
{
    None = 0,
    SubscriberNeverBought,
    AbandonedCartProspect,
    LoyalHighValue,
    FrequentLowBasket,
    AtRiskHighValue,
    NonTarget,
}

public static class Segments
{
    public static string? Name(Segment segment) => segment switch
    {
        Segment.SubscriberNeverBought => "subscriber_never_bought",
        Segment.AbandonedCartProspect => "abandoned_cart_prospect",
        Segment.LoyalHighValue => "loyal_high_value",
        Segment.FrequentLowBasket => "frequent_low_basket",
        Segment.AtRiskHighValue => "at_risk_high_value",
        Segment.NonTarget => "non_target",
        _ => null,
    };

    /// <summary>
    /// The segment at <paramref name="atMs"/>, first match wins:
    /// no orders: abandoned-cart prospect (a cart or checkout was abandoned), else subscriber who never bought
    /// (signed up or subscribed), else non-target;
    /// with orders: loyal high-value (spend at least HighValue, at least FrequentOrders orders, last order within
    /// AtRiskAfter), at-risk high-value (spend at least HighValue, last order older than AtRiskAfter), frequent
    /// low-basket (at least FrequentOrders orders, average order below LowBasket, last order within AtRiskAfter),
    /// else non-target.
    /// </summary>
    public static Segment Of(CustomerState c, long atMs, SegmentOptions o)
    {
        if (c.Orders == 0)
        {
            return c.AbandonedCart ? Segment.AbandonedCartProspect
                : c.Subscribed ? Segment.SubscriberNeverBought
                : Segment.NonTarget;
        }

        bool recent = atMs - c.LastOrderMs <= o.AtRiskMs;
        bool frequent = c.Orders >= o.FrequentOrders;
        bool highValue = c.Revenue >= o.HighValue;
        if (highValue && frequent && recent)
        {
            return Segment.LoyalHighValue;
        }

        if (highValue && !recent)
        {
            return Segment.AtRiskHighValue;
        }

        if (frequent && recent && c.Revenue / c.Orders < o.LowBasket)
        {
            return Segment.FrequentLowBasket;
        }

        return Segment.NonTarget;
    }

    /// <summary>When the passing of time alone next changes the segment (the last order stops being recent), or null.</summary>
    public static long? NextBoundary(CustomerState c, long atMs, SegmentOptions o)
    {
        long boundary = c.LastOrderMs + o.AtRiskMs + 1;
        return c.Orders > 0 && boundary > atMs ? boundary : null;
    }

    /// <summary>
    /// Estimated lifetime value: average order value x orders per year x expected lifetime in years - acquisition
    /// cost. Orders per year counts the orders over the years since the first one, at least one year (so a first
    /// order is one order per year, not hundreds). Rounded to cents.
    /// </summary>
    public static decimal LifetimeValue(CustomerState c, long atMs, SegmentOptions o)
    {
        if (c.Orders == 0)
        {
            return -o.AcquisitionCost;
        }

        decimal aov = c.Revenue / c.Orders;
        double years = Math.Max(1.0, (atMs - c.FirstOrderMs) / (365.25 * 86_400_000.0));
        decimal perYear = c.Orders / (decimal)years;
        return Math.Round(aov * perYear * (decimal)o.ExpectedLifetimeYears - o.AcquisitionCost, 2, MidpointRounding.AwayFromZero);
    }
}
