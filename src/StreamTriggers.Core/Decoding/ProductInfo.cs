namespace StreamTriggers.Decoding;

/// <summary>A product as a tracker describes it. Only <see cref="Id"/> is required.</summary>
public sealed record ProductInfo
{
    public required string Id { get; init; }
    public string? Sku { get; init; }
    public string? Name { get; init; }
    public string? Category { get; init; }
    public string? Brand { get; init; }
    public decimal? Price { get; init; }
    public string? Currency { get; init; }

    /// <summary>Units the event is about; 1 when the tracker does not say.</summary>
    public int Quantity { get; init; } = 1;

    /// <summary>The product's natural use cycle in days, when the tracker knows it (replenishment).</summary>
    public int? ReplenishDays { get; init; }
}
