using System.Diagnostics.CodeAnalysis;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Customers;

/// <summary>What a session tells its customer (the names are the wire format of the customer topic).</summary>
public enum SignalKind : byte
{
    /// <summary>A session trigger (or its re-fire with identity) that the sending policy must pass.</summary>
    Candidate = 1,

    /// <summary>An order: counts, spend, products bought; cancels held-back abandonment and revokes what went out.</summary>
    Order = 2,

    /// <summary>An order in a session whose earlier trigger went out anonymously: revokes what the anonymous subject sent.</summary>
    Revoke = 3,

    /// <summary>A session became the customer's (an event in it carried a user id or email).</summary>
    Linked = 4,

    /// <summary>An identified session's period closed: the customer was active until then.</summary>
    Activity = 5,

    SignedUp = 6,
    Subscribed = 7,
    Unsubscribed = 8,
}

/// <summary>
/// One fact or candidate trigger from the session engine for the customer engine. In <c>replay</c> signals pass in
/// memory; the live worker sends them through the customer topic, keyed by <see cref="Subject"/>, so one worker owns
/// each customer however their sessions were partitioned.
/// </summary>
public sealed class CustomerSignal
{
    public CustomerSignal()
    {
    }

    /// <summary>A signal about <paramref name="session"/>'s customer as the session knows them now (subject, identity, time zone).</summary>
    [SetsRequiredMembers]
    public CustomerSignal(SignalKind kind, SessionState session, long timeMs)
    {
        Kind = kind;
        Subject = session.CustomerKey();
        SessionId = session.SessionId;
        TimeMs = timeMs;
        UserId = session.UserId;
        Email = session.Email;
        TimeZone = session.TimeZone;
    }

    public required SignalKind Kind { get; init; }

    /// <summary>The customer key (<see cref="CustomerKeys"/>): user id, else email, else the anonymous session.</summary>
    public required string Subject { get; init; }

    public required string SessionId { get; init; }

    /// <summary>When it happened (event time): the event's time, or a closed period's last activity.</summary>
    public required long TimeMs { get; init; }

    public string? UserId { get; init; }
    public string? Email { get; init; }
    public string? TimeZone { get; init; }

    /// <summary>For <see cref="SignalKind.Candidate"/>: the trigger, and when it is due (its deadline, or the identity's time for a re-fire).</summary>
    public Trigger? Trigger { get; init; }
    public long DueMs { get; init; }

    public string? OrderId { get; init; }
    public decimal? OrderTotal { get; init; }
    public string? Currency { get; init; }

    /// <summary>Products bought (order), or viewed in the session before signing up (welcome).</summary>
    public IReadOnlyList<ProductInfo> Products { get; init; } = [];

    public override string ToString() => $"{Kind} {Subject} @{Time.UnixTime.Format(TimeMs)}";
}

/// <summary>Customer keys: <c>u:</c> + user id, else <c>e:</c> + email (lower case), else <c>s:</c> + session id (anonymous).</summary>
public static class CustomerKeys
{
    public static string For(string? userId, string? email, string sessionId) =>
        For(userId is not null, userId, email, sessionId);

    /// <summary><see cref="For(string?, string?, string)"/> from characters a session holds (<paramref name="hasUserId"/>: whether it has a user id).</summary>
    internal static string For(bool hasUserId, ReadOnlySpan<char> userId, string? email, ReadOnlySpan<char> sessionId) =>
        hasUserId ? string.Concat("u:", userId)
        : email is not null ? "e:" + email.ToLowerInvariant()
        : string.Concat("s:", sessionId);

    public static string Anonymous(string sessionId) => "s:" + sessionId;

    public static bool IsAnonymous(string key) => key.StartsWith("s:", StringComparison.Ordinal);
}
