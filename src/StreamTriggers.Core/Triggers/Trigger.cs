using StreamTriggers.Decoding;

namespace StreamTriggers.Triggers;

/// <summary>One trigger: what fired, for whom, at which deadline, with the context a sender personalises from.</summary>
public sealed class Trigger
{
    /// <summary>A time the trigger does not have.</summary>
    public const long NoTime = long.MinValue;

    public required string Id { get; init; }
    public required TriggerType Type { get; init; }
    public required string SessionId { get; init; }
    public string? UserId { get; init; }
    public string? Email { get; init; }

    /// <summary>The deadline that fired (for lifecycle triggers: the time they were due), Unix ms.</summary>
    public required long DeadlineMs { get; init; }

    /// <summary>When the engine noticed: the clock at firing, never before the deadline. The live worker sets wall time.</summary>
    public long DetectedAtMs { get; set; }

    public long LastActivityMs { get; init; } = NoTime;

    /// <summary>The session period the trigger is about; <see cref="NoTime"/> (written as null) for customer-level triggers.</summary>
    public long PeriodStartMs { get; init; } = NoTime;
    public int PeriodEvents { get; init; }
    public IReadOnlyList<ProductInfo> Cart { get; init; } = [];
    public decimal CartValue { get; init; }
    public string? Currency { get; init; }
    public IReadOnlyList<ProductInfo> ProductsViewed { get; init; } = [];

    /// <summary>Products bought, for the order-driven triggers (cross-sell, replenishment, VIP).</summary>
    public IReadOnlyList<ProductInfo> ProductsBought { get; init; } = [];

    public string? OrderId { get; init; }

    /// <summary>For <c>trigger_revoked</c>: the id of the trigger a sender should cancel, and its type.</summary>
    public string? RevokedTriggerId { get; init; }
    public TriggerType? RevokedType { get; init; }

    /// <summary>For a trigger fired again once the anonymous session it fired for was identified: the first one's id.</summary>
    public string? RefireOf { get; init; }

    /// <summary>For <c>segment_changed</c>: the segment the customer left.</summary>
    public string? PreviousSegment { get; init; }

    /// <summary>The customer's value segment when the trigger went out (null when customer state is off).</summary>
    public string? Segment { get; set; }

    /// <summary>The customer's estimated lifetime value when the trigger went out (null when customer state is off).</summary>
    public decimal? LifetimeValue { get; set; }

    /// <summary>When quiet hours held the trigger back: the time it was released, Unix ms.</summary>
    public long? ReleasedAtMs { get; set; }

    /// <summary>The key downstream partitions by: the customer when known, else the session.</summary>
    public string Key => UserId ?? Email ?? SessionId;

    public override string ToString() => $"{TriggerTypes.Name(Type)} {SessionId} @{Time.UnixTime.Format(DeadlineMs)} ({Id})";
}
