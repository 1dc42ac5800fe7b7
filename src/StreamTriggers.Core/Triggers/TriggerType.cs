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

    /// <summary>The type named <paramref name="name"/> (its contract name); false for any other text.</summary>
    public static bool TryParse(string? name, out TriggerType type)
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
}
