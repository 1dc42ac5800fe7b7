using System.Buffers;
using System.Text.Json;

namespace StreamTriggers.Triggers;

/// <summary>What became of a trigger that matched: sent, or not and why. The answer to "why did (or didn't) this
/// customer get a trigger?", kept per subject for <c>inspect</c>.</summary>
public enum DecisionOutcome : byte
{
    Emitted,
    Suppressed,
    Deferred,
}

/// <summary>Why a matched trigger was not sent (or not yet). The names are what the audit and <c>inspect</c> show.</summary>
public enum DecisionReason : byte
{
    None = 0,

    /// <summary>The session fired the same type within the cooldown.</summary>
    Cooldown = 1,

    /// <summary>The customer unsubscribed and has not subscribed again.</summary>
    Consent = 2,

    /// <summary>The customer was sent a trigger of the same cap family within the family's window.</summary>
    FrequencyCap = 3,

    /// <summary>Due in the customer's quiet hours: held (deferred) until they end.</summary>
    QuietHours = 4,

    /// <summary>A higher-priority trigger for the same customer went out at the same time.</summary>
    Priority = 5,

    /// <summary>The customer ordered before a held-back abandonment trigger or reminder went out.</summary>
    Converted = 6,
}

/// <summary>
/// The compact form of a decision that a session keeps in its state (about 8 bytes encoded): the trigger id and the
/// detail text are derived from it when shown.
/// </summary>
/// <param name="Type">What matched.</param>
/// <param name="Outcome">Sent, suppressed or deferred.</param>
/// <param name="Reason">Why it was not sent (None when it was).</param>
/// <param name="DeadlineMs">The deadline that matched.</param>
/// <param name="DecidedAtMs">When the engine decided (its clock).</param>
/// <param name="RelatedMs">For a cooldown, the deadline at which the type last fired; otherwise <see cref="Sessions.SessionState.None"/>.</param>
public readonly record struct DecisionRecord(TriggerType Type, DecisionOutcome Outcome, DecisionReason Reason, long DeadlineMs, long DecidedAtMs, long RelatedMs)
{
    /// <param name="sessionId">The session it was made for.</param>
    /// <param name="triggerId">The trigger's id when the caller has it already (it is derived otherwise).</param>
    public TriggerDecision ToDecision(string sessionId, string? triggerId = null) => new(
        triggerId ?? TriggerId.Create(Type, sessionId, DeadlineMs), Type, sessionId, DeadlineMs, DecidedAtMs, Outcome,
        Reason == DecisionReason.None ? null : TriggerDecision.ReasonName(Reason),
        Reason == DecisionReason.Cooldown ? $"{TriggerTypes.Name(Type)} last fired for this session at {Time.UnixTime.Format(RelatedMs)}, within the cooldown" : null);
}

/// <summary>
/// One decision about one matched trigger. A suppressed trigger keeps the id it would have had, so a decision can be
/// matched with the trigger a sender did (or did not) receive.
/// </summary>
public sealed record TriggerDecision(
    string TriggerId,
    TriggerType Type,
    string SessionId,
    long DeadlineMs,
    long DecidedAtMs,
    DecisionOutcome Outcome,
    string? Reason = null,
    string? Detail = null,
    string? Subject = null,
    long? ReleaseAtMs = null)
{
    public static string ReasonName(DecisionReason reason) => reason switch
    {
        DecisionReason.Cooldown => "cooldown",
        DecisionReason.Consent => "consent",
        DecisionReason.FrequencyCap => "frequency_cap",
        DecisionReason.QuietHours => "quiet_hours",
        DecisionReason.Priority => "priority",
        DecisionReason.Converted => "converted",
        _ => "none",
    };

    public static string OutcomeName(DecisionOutcome outcome) => outcome switch
    {
        DecisionOutcome.Emitted => "emitted",
        DecisionOutcome.Suppressed => "suppressed",
        _ => "deferred",
    };

    /// <summary>Writes <c>{"trigger_id","type","session_id","deadline","decided_at","outcome","reason","detail","customer","release_at"}</c> (absent parts left out).</summary>
    public void WriteTo(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("trigger_id", TriggerId);
        w.WriteString("type", TriggerTypes.Name(Type));
        w.WriteString("session_id", SessionId);
        w.WriteString("deadline", Time.UnixTime.Format(DeadlineMs));
        w.WriteString("decided_at", Time.UnixTime.Format(DecidedAtMs));
        w.WriteString("outcome", OutcomeName(Outcome));
        if (Reason is not null) w.WriteString("reason", Reason);
        if (Detail is not null) w.WriteString("detail", Detail);
        if (Subject is not null) w.WriteString("customer", Subject);
        if (ReleaseAtMs is { } release) w.WriteString("release_at", Time.UnixTime.Format(release));
        w.WriteEndObject();
    }

    /// <summary>The same as one line of JSON.</summary>
    public string ToJson() => Buffers.ScratchBuffer.JsonString(this, default, static (w, d) => d.WriteTo(w));

    /// <summary>The same, as UTF-8 bytes (the audit topic's message body).</summary>
    public byte[] ToJsonUtf8() => Buffers.ScratchBuffer.Json(this, default, static (w, d) => d.WriteTo(w));
}
