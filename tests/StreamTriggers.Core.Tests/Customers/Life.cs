using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Time;
using StreamTriggers.Triggers;

namespace StreamTriggers.Tests.Customers;

/// <summary>
/// Session and customer engines driven together in event time, with a fake clock (<see cref="Clock"/>): what replay
/// does, one event or clock move at a time. Times are hours after <see cref="Origin"/> (a Monday, 10:00 UTC).
/// </summary>
internal sealed class Life
{
    public static readonly DateTime Origin = new(2026, 11, 23, 10, 0, 0, DateTimeKind.Utc);

    public Life(Action<LifecycleOptions>? lifecycle = null, Action<PolicyOptions>? policy = null, RulesOptions? rules = null)
    {
        var l = new LifecycleOptions();
        lifecycle?.Invoke(l);
        var p = new PolicyOptions();
        policy?.Invoke(p);
        Driver = new LifecycleDriver(rules ?? new RulesOptions(), l, p);
    }

    public LifecycleDriver Driver { get; }
    public List<Trigger> Sent { get; } = [];
    public List<TriggerDecision> Audit { get; } = [];

    public static long At(double hours) => UnixTime.FromDateTime(Origin) + (long)Math.Round(hours * 3_600_000);

    public static double HoursOf(long ms) => Math.Round((ms - At(0)) / 3_600_000.0, 4);

    public Life Push(params TrackerEvent[] events)
    {
        foreach (var ev in events)
        {
            Driver.Push(ev, Sent, Audit);
        }

        return this;
    }

    /// <summary>Moves the clock to <paramref name="hours"/> after the origin.</summary>
    public Life Clock(double hours)
    {
        Driver.AdvanceTo(At(hours), Sent, Audit);
        return this;
    }

    public Life ClockAt(DateTime utc)
    {
        Driver.AdvanceTo(UnixTime.FromDateTime(utc), Sent, Audit);
        return this;
    }

    public CustomerState Customer(string key) => Driver.Customers.Find(key) ?? throw new InvalidOperationException($"no customer {key}");

    public List<Trigger> OfType(TriggerType type) => Sent.Where(t => t.Type == type).ToList();

    /// <summary>What went out, as "type @hours", in order.</summary>
    public List<string> Summary() => Sent.Select(t => $"{TriggerTypes.Name(t.Type)} @{HoursOf(t.DeadlineMs)}").ToList();

    /// <summary>The audit, as "type outcome reason".</summary>
    public List<string> AuditSummary() => Audit.Select(d => $"{TriggerTypes.Name(d.Type)} {TriggerDecision.OutcomeName(d.Outcome)} {d.Reason}").ToList();
}

/// <summary>Events for the lifecycle scenarios, at hours after <see cref="Life.Origin"/>.</summary>
internal static class E
{
    public static TrackerEvent Ev(EventType type, string session, double hours, string? user = "u1", string? email = null,
        IReadOnlyList<ProductInfo>? products = null, string? orderId = null, decimal? total = null, string? tz = null, string? id = null) => new()
        {
            Type = type,
            SessionId = session,
            TimestampMs = Life.At(hours),
            UserId = user,
            Email = email,
            Products = products ?? [],
            OrderId = orderId,
            OrderTotal = total,
            TimeZone = tz,
            EventId = id,
        };

    public static ProductInfo P(string id, decimal price = 10m, string? category = null, int? replenishDays = null, int quantity = 1) =>
        new() { Id = id, Price = price, Category = category, ReplenishDays = replenishDays, Quantity = quantity };

    public static TrackerEvent View(string session, double hours, string product, string? user = "u1", string? tz = null) =>
        Ev(EventType.ProductViewed, session, hours, user, products: [P(product)], tz: tz);

    public static TrackerEvent Add(string session, double hours, string product, string? user = "u1", decimal price = 10m, string? tz = null) =>
        Ev(EventType.ProductAdded, session, hours, user, products: [P(product, price)], tz: tz);

    public static TrackerEvent Checkout(string session, double hours, string? user = "u1") => Ev(EventType.CheckoutStarted, session, hours, user);

    public static TrackerEvent Order(string session, double hours, string? user = "u1", string? orderId = null, decimal? total = null,
        IReadOnlyList<ProductInfo>? products = null, string? email = null) =>
        Ev(EventType.OrderCompleted, session, hours, user, email, products, orderId ?? $"o-{session}-{hours}", total);

    public static TrackerEvent Page(string session, double hours, string? user = "u1", string? email = null, string? tz = null) =>
        Ev(EventType.PageViewed, session, hours, user, email, tz: tz);
}
