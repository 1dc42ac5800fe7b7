using System.Buffers;
using System.Text.Json;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Simulation;
using StreamTriggers.Triggers;

namespace StreamTriggers.Tests.Simulation;

public class ClickstreamGeneratorTests
{
    private static readonly long Start = StreamTriggers.Time.UnixTime.FromDateTime(new DateTime(2026, 11, 23, 0, 0, 0, DateTimeKind.Utc));

    [Fact]
    public void EveryGeneratedEvent_RoundTripsThroughJson()
    {
        var gen = new ClickstreamGenerator(new TrafficShape { ConcurrentSessions = 50 }, seed: 7, Start);
        var decoder = new JsonEventDecoder();
        var buffer = new ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(buffer);
        for (int i = 0; i < 5_000; i++)
        {
            var ev = gen.Next();
            buffer.ResetWrittenCount();
            writer.Reset(buffer);
            TrackerEventJson.Write(writer, ev);
            writer.Flush();

            Assert.True(decoder.TryDecode(buffer.WrittenSpan, out var back, out var rejection), rejection.ToString());
            Assert.Equal((ev.Type, ev.TimestampMs, ev.SessionId, ev.EventId, ev.UserId, ev.OrderId), (back!.Type, back.TimestampMs, back.SessionId, back.EventId, back.UserId, back.OrderId));
            Assert.Equal(ev.Products, back.Products);
        }
    }

    [Fact]
    public void EventsComeInEventTimeOrder_AndTheSameSeedGivesTheSameStream()
    {
        var a = new ClickstreamGenerator(new TrafficShape(), seed: 3, Start);
        var b = new ClickstreamGenerator(new TrafficShape(), seed: 3, Start);
        long previous = long.MinValue;
        for (int i = 0; i < 20_000; i++)
        {
            var x = a.Next();
            var y = b.Next();
            Assert.True(x.TimestampMs >= previous);
            Assert.Equal((x.SessionId, x.TimestampMs, x.Type), (y.SessionId, y.TimestampMs, y.Type));
            previous = x.TimestampMs;
        }
    }

    [Fact]
    public void EachIntent_EndsInItsTrigger_WhenRunThroughTheEngine()
    {
        // The load tool relies on this: it predicts triggers from intents.
        var gen = new ClickstreamGenerator(new TrafficShape { ConcurrentSessions = 300, Bounce = 1, Browse = 1, AbandonCart = 1, AbandonCheckout = 1, Buy = 1 }, seed: 11, Start);
        var ended = new Dictionary<string, VisitorIntent>();
        gen.SessionEnded += (session, intent, _) => ended[session] = intent;
        var engine = new SessionEngine(new RulesOptions { Gap = TimeSpan.FromMinutes(30) });
        var driver = new EventTimeDriver(engine);
        var fired = new List<Trigger>();
        for (int i = 0; i < 30_000; i++) driver.Push(gen.Next(), fired);
        driver.Complete(flush: true, fired);

        var byType = fired.ToDictionary(t => t.SessionId, t => t.Type);
        Assert.True(ended.Count > 1000);
        foreach (var (session, intent) in ended)
        {
            TriggerType? expected = intent switch
            {
                VisitorIntent.Browse => TriggerType.BrowseAbandoned,
                VisitorIntent.AbandonCart => TriggerType.CartAbandoned,
                VisitorIntent.AbandonCheckout => TriggerType.CheckoutAbandoned,
                _ => null,
            };
            Assert.Equal(expected, byType.TryGetValue(session, out var t) ? t : null);
        }
    }
}
