namespace StreamTriggers.Triggers;

/// <summary>What fired. The snake_case names are a contract with downstream senders.</summary>
public enum TriggerType : byte
{
    BrowseAbandoned,
    CartAbandoned,
    CheckoutAbandoned,
}

public static class TriggerTypes
{
    public static readonly TriggerType[] All = Enum.GetValues<TriggerType>();

    public static int Count => All.Length;

    public static string Name(TriggerType type) => type switch
    {
        TriggerType.BrowseAbandoned => "browse_abandoned",
        TriggerType.CartAbandoned => "cart_abandoned",
        TriggerType.CheckoutAbandoned => "checkout_abandoned",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
