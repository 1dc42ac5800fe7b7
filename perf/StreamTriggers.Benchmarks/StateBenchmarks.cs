using System.Text.Json;
using BenchmarkDotNet.Attributes;
using StreamTriggers.Sessions;
using StreamTriggers.State;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// Writing a session to the state store and reading it back, per session: what every commit and every load does.
/// Baseline: the same fields as a JSON document with <see cref="JsonSerializer"/> (what a first version stores).
/// Sessions come from replaying 60,000 synthetic events: open and closed periods, carts, identities, decisions.
/// </summary>
public class StateBenchmarks
{
    private SessionState[] _sessions = [];
    private SessionDto[] _dtos = [];

    [GlobalSetup]
    public void Setup()
    {
        var engine = new SessionEngine(new RulesOptions());
        var driver = new EventTimeDriver(engine);
        var fired = new List<Triggers.Trigger>();
        var events = Corpus.Events(60_000);
        foreach (var ev in events) driver.Push(ev, fired);
        _sessions = events.Select(e => e.SessionId).Distinct().Select(id => engine.Find(id)).OfType<SessionState>().Take(5_000).ToArray();
        _dtos = _sessions.Select(SessionDto.From).ToArray();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = 5_000)]
    public int JsonSerializerRoundTrip()
    {
        int bytes = 0;
        foreach (var dto in _dtos)
        {
            byte[] data = JsonSerializer.SerializeToUtf8Bytes(dto);
            bytes += data.Length;
            bytes += JsonSerializer.Deserialize<SessionDto>(data)!.Events;
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = 5_000)]
    public int SessionCodecRoundTrip()
    {
        int bytes = 0;
        foreach (var s in _sessions)
        {
            byte[] data = SessionCodec.Encode(s);
            bytes += data.Length;
            bytes += SessionCodec.Decode(s.SessionId, data, 64).PeriodEvents;
        }

        return bytes;
    }

    /// <summary>The session's fields as a first version would store them.</summary>
    public sealed class SessionDto
    {
        public string SessionId { get; set; } = "";
        public string? UserId { get; set; }
        public string? Email { get; set; }
        public long LastActivity { get; set; }
        public long? Deadline { get; set; }
        public long? PeriodStart { get; set; }
        public int Events { get; set; }
        public bool AddedToCart { get; set; }
        public bool CheckoutStarted { get; set; }
        public bool Ordered { get; set; }
        public List<ulong> SeenIds { get; set; } = [];
        public List<ProductDto> Viewed { get; set; } = [];
        public List<ProductDto> Cart { get; set; } = [];
        public Dictionary<string, long> LastFired { get; set; } = [];

        public static SessionDto From(SessionState s) => new()
        {
            SessionId = s.SessionId,
            UserId = s.UserId,
            Email = s.Email,
            LastActivity = s.LastActivityMs,
            Deadline = s.HasOpenPeriod ? s.PendingDeadlineMs : null,
            PeriodStart = s.HasOpenPeriod ? s.PeriodStartMs : null,
            Events = s.PeriodEvents,
            AddedToCart = s.PeriodAddedToCart,
            CheckoutStarted = s.PeriodCheckoutStarted,
            Ordered = s.PeriodOrdered,
            Viewed = [.. s.Viewed.Select(ProductDto.From)],
            Cart = [.. s.Cart.Select(ProductDto.From)],
            LastFired = Triggers.TriggerTypes.All.Where(t => s.LastFired(t) != SessionState.None).ToDictionary(Triggers.TriggerTypes.Name, s.LastFired),
        };
    }

    public sealed class ProductDto
    {
        public string Id { get; set; } = "";
        public string? Name { get; set; }
        public string? Category { get; set; }
        public decimal? Price { get; set; }
        public string? Currency { get; set; }
        public int Quantity { get; set; }

        public static ProductDto From(Decoding.ProductInfo p) => new() { Id = p.Id, Name = p.Name, Category = p.Category, Price = p.Price, Currency = p.Currency, Quantity = p.Quantity };
    }
}
