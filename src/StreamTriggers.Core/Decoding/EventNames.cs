using System.Collections.Frozen;
using System.Text;

namespace StreamTriggers.Decoding;

/// <summary>
/// Maps tracker event names (canonical, Segment, GA4, Snowplow, Klaviyo-style, REES46) onto <see cref="EventType"/>,
/// without regard to case.
/// </summary>
public static class EventNames
{
    private const int MaxNameChars = 64;

    private static readonly FrozenDictionary<string, EventType> Names = new Dictionary<string, EventType>(StringComparer.OrdinalIgnoreCase)
    {
        ["page_viewed"] = EventType.PageViewed,
        ["Page Viewed"] = EventType.PageViewed,
        ["page_view"] = EventType.PageViewed,

        ["product_viewed"] = EventType.ProductViewed,
        ["Product Viewed"] = EventType.ProductViewed,
        ["view_item"] = EventType.ProductViewed,
        ["product_view"] = EventType.ProductViewed,
        ["view"] = EventType.ProductViewed,
        ["Viewed Product"] = EventType.ProductViewed,

        ["product_added"] = EventType.ProductAdded,
        ["Product Added"] = EventType.ProductAdded,
        ["add_to_cart"] = EventType.ProductAdded,
        ["cart"] = EventType.ProductAdded,
        ["Added to Cart"] = EventType.ProductAdded,

        ["product_removed"] = EventType.ProductRemoved,
        ["Product Removed"] = EventType.ProductRemoved,
        ["remove_from_cart"] = EventType.ProductRemoved,

        ["checkout_started"] = EventType.CheckoutStarted,
        ["Checkout Started"] = EventType.CheckoutStarted,
        ["begin_checkout"] = EventType.CheckoutStarted,
        ["Started Checkout"] = EventType.CheckoutStarted,

        ["order_completed"] = EventType.OrderCompleted,
        ["Order Completed"] = EventType.OrderCompleted,
        ["purchase"] = EventType.OrderCompleted,
        ["transaction"] = EventType.OrderCompleted,
        ["Placed Order"] = EventType.OrderCompleted,

        ["signed_up"] = EventType.SignedUp,
        ["Signed Up"] = EventType.SignedUp,
        ["sign_up"] = EventType.SignedUp,

        ["subscribed"] = EventType.Subscribed,
        ["Subscribed"] = EventType.Subscribed,
        ["newsletter_subscribed"] = EventType.Subscribed,

        ["identified"] = EventType.Identified,
        ["Identified"] = EventType.Identified,
        ["identify"] = EventType.Identified,
        ["login"] = EventType.Identified,

        ["unsubscribed"] = EventType.Unsubscribed,
        ["Unsubscribed"] = EventType.Unsubscribed,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, EventType>.AlternateLookup<ReadOnlySpan<char>> Lookup =
        Names.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Every accepted name, for documentation and tests.</summary>
    public static IEnumerable<string> All => Names.Keys;

    public static bool TryParse(ReadOnlySpan<char> name, out EventType type) => Lookup.TryGetValue(name, out type);

    /// <summary>Looks up a UTF-8 name without allocating a string.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Name, out EventType type)
    {
        type = default;
        if (utf8Name.Length > MaxNameChars * 3)
        {
            return false;
        }

        Span<char> chars = stackalloc char[utf8Name.Length];
        if (!Encoding.UTF8.TryGetChars(utf8Name, chars, out int written))
        {
            return false;
        }

        return written <= MaxNameChars && Lookup.TryGetValue(chars[..written], out type);
    }

    /// <summary>The canonical snake_case name.</summary>
    public static string Canonical(EventType type) => type switch
    {
        EventType.PageViewed => "page_viewed",
        EventType.ProductViewed => "product_viewed",
        EventType.ProductAdded => "product_added",
        EventType.ProductRemoved => "product_removed",
        EventType.CheckoutStarted => "checkout_started",
        EventType.OrderCompleted => "order_completed",
        EventType.SignedUp => "signed_up",
        EventType.Subscribed => "subscribed",
        EventType.Identified => "identified",
        EventType.Unsubscribed => "unsubscribed",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
