using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Tests.Customers;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Customers.E;

namespace StreamTriggers.Tests.State;

public class SignalCodecTests
{
    // Signals of every kind, as the session engine makes them: sign-up, consent changes, views, an anonymous cart
    // that fires and then gets an identity (re-fire, revoke), an order with products, a checkout.
    private static List<CustomerSignal> Signals()
    {
        var rules = new RulesOptions { Gap = TimeSpan.FromMinutes(30) };
        var engine = new SessionEngine(rules, lifecycle: new LifecycleOptions());
        var fired = new List<Trigger>();
        TrackerEvent[] events =
        [
            Ev(EventType.SignedUp, "s0", 0, email: "Ana@Example.com", tz: "Europe/Paris"),
            View("s0", 0.1, "p9"),
            Ev(EventType.Unsubscribed, "s0", 0.2),
            Ev(EventType.Subscribed, "s0", 0.3),
            Add("anon", 1, "p1", user: null, price: 19.99m),
            Order("s1", 2, total: 1200m, products: [P("shampoo", 12.5m, "beauty.hair", replenishDays: 30), P("tv", 1187.5m)]),
            Checkout("s2", 3),
        ];
        foreach (var ev in events)
        {
            engine.AdvanceTo(ev.TimestampMs, fired);
            engine.Apply(ev, ev.TimestampMs, fired);
        }

        engine.AdvanceTo(Life.At(1.9), fired);
        engine.Apply(Page("anon", 1.95, user: "u7"), Life.At(1.95), fired);
        engine.Apply(Order("anon", 1.96, user: "u7", orderId: "o-7"), Life.At(1.96), fired);
        engine.AdvanceTo(Life.At(10), fired);

        var signals = new List<CustomerSignal>();
        engine.TakeSignals(signals);
        return signals;
    }

    [Fact]
    public void EverySignalKind_RoundTripsToTheSameBytes()
    {
        var signals = Signals();
        var kinds = signals.Select(s => s.Kind).ToHashSet();
        foreach (var kind in Enum.GetValues<SignalKind>())
        {
            Assert.Contains(kind, kinds);
        }

        foreach (var s in signals)
        {
            byte[] bytes = SignalCodec.Encode(s);
            var back = SignalCodec.Decode(bytes);
            Assert.Equal(bytes, SignalCodec.Encode(back));
            Assert.Equal((s.Kind, s.Subject, s.SessionId, s.TimeMs, s.DueMs, s.UserId, s.Email, s.TimeZone, s.OrderId, s.OrderTotal, s.Currency),
                (back.Kind, back.Subject, back.SessionId, back.TimeMs, back.DueMs, back.UserId, back.Email, back.TimeZone, back.OrderId, back.OrderTotal, back.Currency));
            Assert.Equal(s.Products.Select(p => (p.Id, p.Price, p.Quantity, p.Category, p.ReplenishDays)), back.Products.Select(p => (p.Id, p.Price, p.Quantity, p.Category, p.ReplenishDays)));
            Assert.Equal(s.Trigger?.Id, back.Trigger?.Id);
            Assert.Equal(s.Trigger?.Cart.Count, back.Trigger?.Cart.Count);
        }
    }

    [Fact]
    public void DecodedSignals_DriveTheCustomerEngineExactlyLikeTheOriginals()
    {
        var signals = Signals();
        var decoded = signals.Select(s => SignalCodec.Decode(SignalCodec.Encode(s))).ToList();

        static List<string> Run(List<CustomerSignal> input)
        {
            var engine = new CustomerEngine(new LifecycleOptions(), new PolicyOptions { QuietHoursStart = default, QuietHoursEnd = default });
            var sent = new List<Trigger>();
            var audit = new List<TriggerDecision>();
            engine.Apply(input, Life.At(10), sent, audit);
            engine.AdvanceTo(Life.At(100 * 24), sent, audit);
            return [.. sent.Select(t => System.Text.Encoding.UTF8.GetString(CloudEvent.Serialize(t, "test"))), .. audit.Select(d => d.ToJson())];
        }

        var expected = Run(signals);
        Assert.True(expected.Count >= 5, $"the scenario should send several triggers, sent {expected.Count}");
        Assert.Equal(expected, Run(decoded));
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 9, 1 })]                  // unknown version
    [InlineData(new byte[] { 1, 99 })]                 // unknown kind
    [InlineData(new byte[] { 1, 1, 2, (byte)'u' })]    // truncated
    public void Garbage_IsAFormatException(byte[] bytes) =>
        Assert.Throws<FormatException>(() => SignalCodec.Decode(bytes));
}
