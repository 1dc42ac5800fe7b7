using System.Buffers;
using System.Text.Json;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Tests.Sessions;

// Invariants over random streams (seeded, so a failure names a reproducible seed): out-of-order and duplicate
// deliveries, random rules. Each seed is one case.
public class SessionEnginePropertyTests
{
    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (int seed = 1; seed <= 150; seed++) data.Add(seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Engine_AgreesWithTheNaiveReferenceModel(int seed)
    {
        var (rules, events) = Generate(seed);
        var run = new Run(rules).Push([.. events]).Flush();
        var model = new ReferenceModel(rules);
        foreach (var ev in events) model.Push(ev);
        model.Flush();

        var actual = run.Fired.Select(t => (t.Type, t.SessionId, t.DeadlineMs,
            string.Join(",", t.Cart.Select(l => $"{l.Id}x{l.Quantity}")), string.Join(",", t.ProductsViewed.Select(p => p.Id)))).ToList();
        Assert.Equal(model.Fired, actual);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void SameInput_GivesByteIdenticalOutput(int seed)
    {
        var (rules, events) = Generate(seed);

        Assert.Equal(Serialize(new Run(rules).Push([.. events]).Flush().Fired), Serialize(new Run(rules).Push([.. events]).Flush().Fired));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void TriggerIds_AreUnique_AndCooldownHolds(int seed)
    {
        var (rules, events) = Generate(seed);
        var fired = new Run(rules).Push([.. events]).Flush().Fired;

        Assert.Equal(fired.Count, fired.Select(t => t.Id).Distinct().Count());
        foreach (var group in fired.GroupBy(t => (t.SessionId, t.Type)))
        {
            var deadlines = group.Select(t => t.DeadlineMs).Order().ToList();
            for (int i = 1; i < deadlines.Count; i++)
            {
                Assert.True(deadlines[i] - deadlines[i - 1] >= (long)rules.Cooldown.TotalMilliseconds, $"cooldown broken for {group.Key}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RedeliveringEveryEvent_RightAfterItself_ChangesNothing(int seed)
    {
        var (rules, events) = Generate(seed, everyEventHasId: true);
        var doubled = events.SelectMany(e => new[] { e, e }).ToArray();

        var once = new Run(rules).Push([.. events]).Flush();
        var twice = new Run(rules).Push(doubled).Flush();

        Assert.Equal(Serialize(once.Fired), Serialize(twice.Fired));
        // Each copy is one more duplicate; the generator's own later redeliveries are duplicates in both runs.
        Assert.Equal(events.Count + once.Engine.Counters.DuplicatesIgnored, twice.Engine.Counters.DuplicatesIgnored);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void InOrderInput_WithoutLateness_FiresInDeadlineOrder(int seed)
    {
        var (rules, events) = Generate(seed);
        rules.AllowedLateness = TimeSpan.Zero;
        var sorted = events.OrderBy(e => e.TimestampMs).ToArray();
        var fired = new Run(rules).Push(sorted).Flush().Fired;

        for (int i = 1; i < fired.Count; i++)
        {
            var (a, b) = (fired[i - 1], fired[i]);
            Assert.True(a.DeadlineMs < b.DeadlineMs || (a.DeadlineMs == b.DeadlineMs && string.CompareOrdinal(a.SessionId, b.SessionId) < 0),
                $"{a} before {b}");
        }
    }

    private static string Serialize(List<Trigger> triggers)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(buffer, TriggerJson.WriterOptions);
        foreach (var t in triggers) TriggerJson.WriteData(writer, t);
        writer.Flush();
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal static (RulesOptions Rules, List<TrackerEvent> Events) Generate(int seed, bool everyEventHasId = false)
    {
        var r = new Random(seed);
        var rules = new RulesOptions
        {
            Gap = TimeSpan.FromMinutes(r.Next(3) switch { 0 => 5, 1 => 30, _ => 17 }),
            BrowseMinProducts = r.Next(1, 4),
            Cooldown = TimeSpan.FromMinutes(r.Next(4) switch { 0 => 0, 1 => 45, 2 => 180, _ => 1440 }),
            AllowedLateness = TimeSpan.FromMinutes(r.Next(3) switch { 0 => 0, 1 => 2, _ => 10 }),
            MaxEventIdsPerSession = r.Next(2) == 0 ? 3 : 64,
            MaxEventIdsAfterClose = r.Next(1, 3),
            SessionRetention = TimeSpan.FromDays(300),
        };

        var events = new List<TrackerEvent>();
        int sessions = r.Next(1, 9);
        double clock = 0;
        int count = r.Next(1, 400);
        for (int i = 0; i < count; i++)
        {
            if (events.Count > 0 && r.Next(20) == 0)
            {
                events.Add(events[r.Next(events.Count)]); // a redelivery, possibly much later
                continue;
            }

            clock += r.Next(4) == 0 ? r.Next(0, 60) : r.NextDouble() * 3;
            double minute = r.Next(10) == 0 ? clock - (r.NextDouble() * 40) : clock; // some late events
            string session = "s" + r.Next(sessions);
            string product = "p" + r.Next(6);
            string? id = everyEventHasId || r.Next(3) > 0 ? $"e{i}" : null;
            int quantity = r.Next(4) == 0 ? r.Next(2, 4) : 1;
            var ev = r.Next(12) switch
            {
                < 5 => Ev.View(session, minute, product, id),
                5 or 6 => Ev.Add(session, minute, product, quantity, id: id),
                7 => Ev.Remove(session, minute, product, quantity, id),
                8 => Ev.Make(EventType.CheckoutStarted, session, minute, id, []),
                9 => Ev.Make(EventType.OrderCompleted, session, minute, id, []),
                _ => Ev.Page(session, minute, id),
            };
            events.Add(ev);
        }

        return (rules, events);
    }
}
