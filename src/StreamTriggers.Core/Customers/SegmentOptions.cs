using System.Globalization;
using StreamTriggers.Time;

namespace StreamTriggers.Customers;

/// <summary>
/// Cut-offs for the six value segments (recency, frequency, monetary value) and the lifetime value estimate. Bound
/// from <c>StreamTriggers:Lifecycle:Segments</c>.
/// </summary>
public sealed class SegmentOptions
{
    /// <summary>A customer whose last order is older than this is no longer recent (at risk). Default 90 days.</summary>
    public TimeSpan AtRiskAfter { get; set; } = TimeSpan.FromDays(90);

    /// <summary>Orders that make a customer frequent. Default 3.</summary>
    public int FrequentOrders { get; set; } = 3;

    /// <summary>Lifetime spend that makes a customer high-value. Default 500.</summary>
    public decimal HighValue { get; set; } = 500m;

    /// <summary>An average order value below this is a low basket. Default 30.</summary>
    public decimal LowBasket { get; set; } = 30m;

    /// <summary>Expected customer lifetime in years, for the lifetime value estimate. Default 3.</summary>
    public double ExpectedLifetimeYears { get; set; } = 3;

    /// <summary>Acquisition cost subtracted from the lifetime value estimate. Default 0.</summary>
    public decimal AcquisitionCost { get; set; }

    internal long AtRiskMs => (long)AtRiskAfter.TotalMilliseconds;

    public IEnumerable<string> Validate(string prefix)
    {
        if (AtRiskAfter < TimeSpan.FromDays(1) || AtRiskAfter > TimeSpan.FromDays(3650))
            yield return $"{prefix}:AtRiskAfter is {Duration.Format(AtRiskAfter)}; it must be between 1d and 3650d.";
        if (FrequentOrders is < 1 or > 10_000)
            yield return $"{prefix}:FrequentOrders is {FrequentOrders}; it must be between 1 and 10000.";
        if (HighValue <= 0)
            yield return $"{prefix}:HighValue is {HighValue.ToString(CultureInfo.InvariantCulture)}; it must be greater than 0.";
        if (LowBasket <= 0)
            yield return $"{prefix}:LowBasket is {LowBasket.ToString(CultureInfo.InvariantCulture)}; it must be greater than 0.";
        if (ExpectedLifetimeYears is <= 0 or > 100 || double.IsNaN(ExpectedLifetimeYears))
            yield return $"{prefix}:ExpectedLifetimeYears is {ExpectedLifetimeYears.ToString(CultureInfo.InvariantCulture)}; it must be greater than 0 and at most 100.";
        if (AcquisitionCost < 0)
            yield return $"{prefix}:AcquisitionCost is {AcquisitionCost.ToString(CultureInfo.InvariantCulture)}; it must be 0 or more.";
    }
}
