namespace StreamTriggers.Triggers;

/// <summary>What fired. The snake_case names are a contract with downstream senders.</summary>
public enum TriggerType : byte
{
    BrowseAbandoned,
    CartAbandoned,
    CheckoutAbandoned,
    Welcome,
    CartAbandonedReminder,
    PostPurchaseCrossSell,
    Replenishment,
    WinBack,
    VipReached,
    SegmentChanged,
    TriggerRevoked,
}

public static class TriggerTypes
{
    public static readonly TriggerType[] All = Enum.GetValues<TriggerType>();

    /// <summary>The types a session's deadline can fire (the session engine's rules).</summary>
    public static readonly TriggerType[] Session = [TriggerType.BrowseAbandoned, TriggerType.CartAbandoned, TriggerType.CheckoutAbandoned];

    public static int Count => All.Length;

    public static string Name(TriggerType type) => type switch
    {
        TriggerType.BrowseAbandoned => "browse_abandoned",
        TriggerType.CartAbandoned => "cart_abandoned",
        TriggerType.CheckoutAbandoned => "checkout_abandoned",
        TriggerType.Welcome => "welcome",
        TriggerType.CartAbandonedReminder => "cart_abandoned_reminder",
        TriggerType.PostPurchaseCrossSell => "post_purchase_cross_sell",
        TriggerType.Replenishment => "replenishment",
        TriggerType.WinBack => "win_back",
        TriggerType.VipReached => "vip_reached",
        TriggerType.SegmentChanged => "segment_changed",
        TriggerType.TriggerRevoked => "trigger_revoked",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>The type with this contract name, matched exactly.</summary>
    public static bool TryParse(string name, out TriggerType type)
    {
        foreach (var t in All)
        {
            if (string.Equals(Name(t), name, StringComparison.Ordinal))
            {
                type = t;
                return true;
            }
        }

        type = default;
        return false;
    }

    /// <summary>
    /// Operational triggers tell a sender or a CRM about a change (a segment move, a revoked message); they are not a
    /// message to the customer, so consent, frequency caps and quiet hours do not hold them back.
    /// </summary>
    public static bool IsOperational(TriggerType type) => type is TriggerType.SegmentChanged or TriggerType.TriggerRevoked;
}
