namespace StreamTriggers.Decoding;

/// <summary>One decoded clickstream event, in canonical form whatever dialect it arrived in.</summary>
public sealed class TrackerEvent
{
    // Fields behind init-only properties: a decoder reuses an instance its caller is done with (Reuse), so the live
    // worker does not allocate one per event.
    private EventType _type;
    private string _sessionId = "";
    private string? _eventId;
    private ulong _eventIdHash;
    private string? _userId;
    private string? _email;
    private IReadOnlyList<ProductInfo> _products = [];
    private string? _orderId;
    private decimal? _orderTotal;
    private string? _currency;
    private string? _timeZone;
    private string? _locale;

    public required EventType Type { get => _type; init => _type = value; }

    /// <summary>Event time, Unix milliseconds UTC.</summary>
    public required long TimestampMs { get; set; }

    public required string SessionId { get => _sessionId; init => _sessionId = value; }
    public string? EventId { get => _eventId; init => _eventId = value; }

    /// <summary>
    /// <see cref="Triggers.TriggerId.StableHash(string)"/> of the event id, set by a decoder told to keep only the hash
    /// (<see cref="JsonEventDecoder.HashEventIds"/>: <see cref="EventId"/> is then null); 0 otherwise.
    /// </summary>
    public ulong EventIdHash { get => _eventIdHash; init => _eventIdHash = value; }

    /// <summary>The hash deduplication compares: <see cref="EventIdHash"/>, or the hash of <see cref="EventId"/>; 0 without an id.</summary>
    public ulong DedupHash => EventIdHash != 0 ? EventIdHash : EventId is null ? 0 : Triggers.TriggerId.StableHash(EventId);

    public string? UserId { get => _userId; init => _userId = value; }
    public string? Email { get => _email; init => _email = value; }

    /// <summary>The products the event is about: the single <c>product</c>, or every entry of <c>products</c>.</summary>
    public IReadOnlyList<ProductInfo> Products { get => _products; init => _products = value; }

    public string? OrderId { get => _orderId; init => _orderId = value; }
    public decimal? OrderTotal { get => _orderTotal; init => _orderTotal = value; }
    public string? Currency { get => _currency; init => _currency = value; }
    public string? TimeZone { get => _timeZone; init => _timeZone = value; }
    public string? Locale { get => _locale; init => _locale = value; }

    // An instance for a decoder to fill in (Reuse): the required members are set there.
    internal static TrackerEvent Blank() => new() { Type = default, TimestampMs = 0, SessionId = "" };

    // Gives a decoder's instance (blank or spare) a decoded event's values (all of them: nothing of the event before stays).
    internal TrackerEvent Reuse(EventType type, long timestampMs, string sessionId, string? eventId, ulong eventIdHash, string? userId, string? email,
        IReadOnlyList<ProductInfo> products, string? orderId, decimal? orderTotal, string? currency, string? timeZone, string? locale)
    {
        _type = type;
        TimestampMs = timestampMs;
        _sessionId = sessionId;
        _eventId = eventId;
        _eventIdHash = eventIdHash;
        _userId = userId;
        _email = email;
        _products = products;
        _orderId = orderId;
        _orderTotal = orderTotal;
        _currency = currency;
        _timeZone = timeZone;
        _locale = locale;
        return this;
    }

    // Drops what a spare instance refers to: a kept instance is old, and must not keep young strings alive (nor make a
    // collection look at them).
    internal void Clear() => Reuse(default, 0, "", null, 0, null, null, [], null, null, null, null, null);

    public override string ToString() => $"{EventNames.Canonical(Type)} {SessionId} @{Time.UnixTime.Format(TimestampMs)}";
}
