namespace StreamTriggers.Decoding;

/// <summary>The canonical event names of the input contract (DESIGN.md section 5).</summary>
public enum EventType : byte
{
    PageViewed = 1,
    ProductViewed,
    ProductAdded,
    ProductRemoved,
    CheckoutStarted,
    OrderCompleted,
    SignedUp,
    Subscribed,
    Identified,
    Unsubscribed,
}
