using StreamTriggers.Decoding;

namespace StreamTriggers.Triggers;

/// <summary>One trigger: what fired, for whom, at which deadline, with the context a sender personalises from.</summary>
public sealed class Trigger
{
    public required string Id { get; init; }
    public required TriggerType Type { get; init; }
    public required string SessionId { get; init; }
    public string? UserId { get; init; }
    public string? Email { get; init; }

    /// <summary>The deadline that fired, Unix ms.</summary>
    public required long DeadlineMs { get; init; }

    /// <summary>When the engine noticed: the clock at firing, never before the deadline. The live worker sets wall time.</summary>
    public long DetectedAtMs { get; set; }

    public long LastActivityMs { get; init; }
    public long PeriodStartMs { get; init; }
    public int PeriodEvents { get; init; }
    public IReadOnlyList<ProductInfo> Cart { get; init; } = [];
    public decimal CartValue { get; init; }
    public string? Currency { get; init; }
    public IReadOnlyList<ProductInfo> ProductsViewed { get; init; } = [];

    /// <summary>The key downstream partitions by: the customer when known, else the session.</summary>
    public string Key => UserId ?? Email ?? SessionId;

    public override string ToString() => $"{TriggerTypes.Name(Type)} {SessionId} @{Time.UnixTime.Format(DeadlineMs)} ({Id})";
}
