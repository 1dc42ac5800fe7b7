namespace StreamTriggers.Decoding;

/// <summary>One decoded clickstream event, in canonical form whatever dialect it arrived in.</summary>
public sealed class TrackerEvent
{
    public required EventType Type { get; init; }

    /// <summary>Event time, Unix milliseconds UTC.</summary>
    public required long TimestampMs { get; set; }

    public required string SessionId { get; init; }
    public string? EventId { get; init; }

    /// <summary>
    /// <see cref="Triggers.TriggerId.StableHash(string)"/> of the event id, set by a decoder told to keep only the hash
    /// (<see cref="JsonEventDecoder.HashEventIds"/>: <see cref="EventId"/> is then null); 0 otherwise.
    /// </summary>
    public ulong EventIdHash { get; init; }

    /// <summary>The hash deduplication compares: <see cref="EventIdHash"/>, or the hash of <see cref="EventId"/>; 0 without an id.</summary>
    public ulong DedupHash => EventIdHash != 0 ? EventIdHash : EventId is null ? 0 : Triggers.TriggerId.StableHash(EventId);

    public string? UserId { get; init; }
    public string? Email { get; init; }

    /// <summary>The products the event is about: the single <c>product</c>, or every entry of <c>products</c>.</summary>
    public IReadOnlyList<ProductInfo> Products { get; init; } = [];

    public string? OrderId { get; init; }
    public decimal? OrderTotal { get; init; }
    public string? Currency { get; init; }
    public string? TimeZone { get; init; }
    public string? Locale { get; init; }

    public override string ToString() => $"{EventNames.Canonical(Type)} {SessionId} @{Time.UnixTime.Format(TimestampMs)}";
}
