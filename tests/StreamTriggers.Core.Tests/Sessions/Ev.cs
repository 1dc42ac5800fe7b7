using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Time;
using StreamTriggers.Triggers;

namespace StreamTriggers.Tests.Sessions;

/// <summary>Builds events at minutes after a fixed origin, and runs them through the engine in event time.</summary>
internal static class Ev
{
    public static readonly DateTime Origin = new(2026, 11, 23, 10, 0, 0, DateTimeKind.Utc);

    public static long At(double minutes) => UnixTime.FromDateTime(Origin) + (long)(minutes * 60_000);

    public static TrackerEvent View(string session, double minute, string product, string? id = null) =>
        Make(EventType.ProductViewed, session, minute, id, [new ProductInfo { Id = product, Price = 10m }]);

    public static TrackerEvent Add(string session, double minute, string product, int quantity = 1, decimal? price = 10m, string? id = null) =>
        Make(EventType.ProductAdded, session, minute, id, [new ProductInfo { Id = product, Price = price, Quantity = quantity }]);

    public static TrackerEvent Remove(string session, double minute, string product, int quantity = 1, string? id = null) =>
        Make(EventType.ProductRemoved, session, minute, id, [new ProductInfo { Id = product, Quantity = quantity }]);

    public static TrackerEvent Checkout(string session, double minute) => Make(EventType.CheckoutStarted, session, minute, null, []);

    public static TrackerEvent Order(string session, double minute) => Make(EventType.OrderCompleted, session, minute, null, []);

    /// <summary>The event with a user id and a time zone (<c>context.timezone</c>).</summary>
    public static TrackerEvent WithContext(TrackerEvent ev, string user, string zone) => new()
    {
        Type = ev.Type,
        SessionId = ev.SessionId,
        TimestampMs = ev.TimestampMs,
        EventId = ev.EventId,
        Products = ev.Products,
        UserId = user,
        TimeZone = zone,
    };

    public static TrackerEvent Page(string session, double minute, string? id = null) => Make(EventType.PageViewed, session, minute, id, []);

    public static TrackerEvent Make(EventType type, string session, double minute, string? id, IReadOnlyList<ProductInfo> products,
        string? userId = null, string? email = null) => new()
        {
            Type = type,
            SessionId = session,
            TimestampMs = At(minute),
            EventId = id,
            Products = products,
            UserId = userId,
            Email = email,
        };
}

/// <summary>An engine driven in event time, collecting what fires.</summary>
internal sealed class Run
{
    public Run(RulesOptions? rules = null, bool recordDecisions = false)
    {
        Engine = new SessionEngine(rules ?? new RulesOptions(), decisions: recordDecisions ? DecisionLog.All : DecisionLog.None);
        Driver = new EventTimeDriver(Engine);
    }

    public SessionEngine Engine { get; }
    public EventTimeDriver Driver { get; }
    public List<Trigger> Fired { get; } = [];

    public Run Push(params TrackerEvent[] events)
    {
        foreach (var ev in events)
        {
            Driver.Push(ev, Fired);
        }

        return this;
    }

    public Run Flush()
    {
        Driver.Complete(flush: true, Fired);
        return this;
    }

    /// <summary>What fired as "type session @minute", the shape the tests state their expectations in.</summary>
    public List<string> Summary() => Fired.Select(t => $"{TriggerTypes.Name(t.Type)} {t.SessionId} @{(t.DeadlineMs - Ev.At(0)) / 60_000.0}").ToList();
}
