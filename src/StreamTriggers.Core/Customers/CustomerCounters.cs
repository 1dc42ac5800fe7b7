using StreamTriggers.Triggers;

namespace StreamTriggers.Customers;

/// <summary>What the customer engine decided, by trigger type (and reason), since it started.</summary>
public sealed class CustomerCounters
{
    public const int Reasons = 7;

    public long[] Emitted { get; } = new long[TriggerTypes.Count];
    public long[] Deferred { get; } = new long[TriggerTypes.Count];

    /// <summary>Indexed [type * <see cref="Reasons"/> + reason].</summary>
    public long[] Suppressed { get; } = new long[TriggerTypes.Count * Reasons];

    public long SignalsApplied { get; set; }
    public long DuplicateSignals { get; set; }
    public long CustomersCreated { get; set; }
    public long CustomersExpired { get; set; }

    public long SuppressedBy(TriggerType type, DecisionReason reason) => Suppressed[(int)type * Reasons + (int)reason];

    public long TotalEmitted => Emitted.Sum();
    public long TotalSuppressed => Suppressed.Sum();
    public long TotalDeferred => Deferred.Sum();
}
