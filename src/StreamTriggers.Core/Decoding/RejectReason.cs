namespace StreamTriggers.Decoding;

/// <summary>Why an input was rejected. The snake_case names are what the dead-letter topic and counters carry.</summary>
public enum RejectReason : byte
{
    MalformedJson,
    MalformedCsv,
    MissingType,
    MissingTimestamp,
    MissingSessionId,
    MissingProduct,
    UnknownEventType,
    InvalidTimestamp,
    WrongFieldType,
    InvalidValue,
    FieldTooLong,
    TooManyItems,
    EventTooLarge,

    /// <summary>A message on the internal customer topic that is not a customer signal this worker reads.</summary>
    UnreadableSignal,
}

public static class RejectReasons
{
    public static readonly int Count = Enum.GetValues<RejectReason>().Length;

    public static string Name(RejectReason reason) => reason switch
    {
        RejectReason.MalformedJson => "malformed_json",
        RejectReason.MalformedCsv => "malformed_csv",
        RejectReason.MissingType => "missing_type",
        RejectReason.MissingTimestamp => "missing_timestamp",
        RejectReason.MissingSessionId => "missing_session_id",
        RejectReason.MissingProduct => "missing_product",
        RejectReason.UnknownEventType => "unknown_event_type",
        RejectReason.InvalidTimestamp => "invalid_timestamp",
        RejectReason.WrongFieldType => "wrong_field_type",
        RejectReason.InvalidValue => "invalid_value",
        RejectReason.FieldTooLong => "field_too_long",
        RejectReason.TooManyItems => "too_many_items",
        RejectReason.EventTooLarge => "event_too_large",
        RejectReason.UnreadableSignal => "unreadable_signal",
        _ => reason.ToString(),
    };
}

/// <summary>A rejected input: the reason, and the field or detail that caused it.</summary>
public readonly record struct Rejection(RejectReason Reason, string Detail)
{
    public override string ToString() => $"{RejectReasons.Name(Reason)}: {Detail}";
}
