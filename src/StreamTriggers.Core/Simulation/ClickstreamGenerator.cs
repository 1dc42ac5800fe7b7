using StreamTriggers.Decoding;

namespace StreamTriggers.Simulation;

/// <summary>What a simulated visitor sets out to do; it decides which trigger (if any) the session should end in.</summary>
public enum VisitorIntent : byte
{
    /// <summary>Views one product and leaves: no trigger.</summary>
    Bounce,

    /// <summary>Views several products, adds nothing: browse_abandoned.</summary>
    Browse,

    /// <summary>Adds to cart and leaves: cart_abandoned.</summary>
    AbandonCart,

    /// <summary>Adds, starts checkout, leaves: checkout_abandoned.</summary>
    AbandonCheckout,

    /// <summary>Adds, checks out, buys: no trigger.</summary>
    Buy,
}

/// <summary>Shape of the synthetic traffic. Defaults are fitted to the REES46 samples in <c>../shared/data</c>.</summary>
public sealed class TrafficShape
{
    /// <summary>Sessions in flight at once.</summary>
    public int ConcurrentSessions { get; set; } = 2_000;

    /// <summary>Share of sessions per intent; normalised. REES46: ~41% single-event, ~2% carts, ~4% purchases.</summary>
    public double Bounce { get; set; } = 0.40;
    public double Browse { get; set; } = 0.53;
    public double AbandonCart { get; set; } = 0.025;
    public double AbandonCheckout { get; set; } = 0.01;
    public double Buy { get; set; } = 0.035;

    /// <summary>Mean event-time gap between two events of a session (REES46 median is tens of seconds).</summary>
    public TimeSpan MeanInterEventGap { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>
    /// Longest event-time gap inside a session (draws are capped at it). Kept below the session gap, every session is
    /// one period and ends in exactly the trigger its intent names. Default: no cap.
    /// </summary>
    public TimeSpan MaxInterEventGap { get; set; } = TimeSpan.MaxValue;

    /// <summary>Catalogue size; product ids are drawn from it with a skew towards popular products.</summary>
    public int Products { get; set; } = 20_000;

    /// <summary>Share of sessions that carry a user id (REES46: all; real sites: fewer).</summary>
    public double Identified { get; set; } = 0.6;
}

/// <summary>
/// A deterministic synthetic tracker: a seeded stream of sessions with REES46-like shape (event mix, session length,
/// inter-event gaps), interleaved in event-time order across many concurrent sessions. Every session's intent is
/// known, so a test or the load tool can say which triggers must come out.
/// </summary>
public sealed class ClickstreamGenerator
{
    private readonly TrafficShape _shape;
    private readonly Random _random;
    private readonly PriorityQueue<SessionScript, (long, long)> _active = new();
    private readonly string _prefix;
    private long _nextSession;
    private long _nextEvent;

    public ClickstreamGenerator(TrafficShape shape, int seed, long startMs, string sessionPrefix = "s")
    {
        _shape = shape;
        _random = new Random(seed);
        _prefix = sessionPrefix;
        for (int i = 0; i < shape.ConcurrentSessions; i++)
        {
            Start(startMs + (long)(_random.NextDouble() * shape.MeanInterEventGap.TotalMilliseconds * 4));
        }
    }

    /// <summary>Sessions started so far, by intent.</summary>
    public Dictionary<VisitorIntent, long> StartedByIntent { get; } = Enum.GetValues<VisitorIntent>().ToDictionary(i => i, _ => 0L);

    /// <summary>Raised when a session has sent its last event: its id, intent and last event time.</summary>
    public event Action<string, VisitorIntent, long>? SessionEnded;

    /// <summary>The next event in event-time order. The stream is endless: a finished session is replaced by a new one.</summary>
    public TrackerEvent Next()
    {
        var script = _active.Dequeue();
        var ev = script.NextEvent(this);
        if (script.Done)
        {
            SessionEnded?.Invoke(script.SessionId, script.Intent, ev.TimestampMs);
            Start(ev.TimestampMs + Gap());
        }
        else
        {
            script.AtMs = ev.TimestampMs + Gap();
            _active.Enqueue(script, (script.AtMs, script.Seq));
        }

        return ev;
    }

    private void Start(long atMs)
    {
        var intent = PickIntent();
        StartedByIntent[intent]++;
        long n = _nextSession++;
        var script = new SessionScript(
            $"{_prefix}{n:x}",
            _random.NextDouble() < _shape.Identified ? $"u{_random.Next(1, 5_000_000)}" : null,
            intent,
            Steps(intent))
        {
            AtMs = atMs,
            Seq = n,
        };
        _active.Enqueue(script, (atMs, n));
    }

    private VisitorIntent PickIntent()
    {
        double total = _shape.Bounce + _shape.Browse + _shape.AbandonCart + _shape.AbandonCheckout + _shape.Buy;
        double x = _random.NextDouble() * total;
        if ((x -= _shape.Bounce) < 0) return VisitorIntent.Bounce;
        if ((x -= _shape.Browse) < 0) return VisitorIntent.Browse;
        if ((x -= _shape.AbandonCart) < 0) return VisitorIntent.AbandonCart;
        if ((x -= _shape.AbandonCheckout) < 0) return VisitorIntent.AbandonCheckout;
        return VisitorIntent.Buy;
    }

    // A session's script as event types; views come first, as in the REES46 sessions.
    private List<EventType> Steps(VisitorIntent intent)
    {
        var steps = new List<EventType>();
        int views = intent == VisitorIntent.Bounce ? 1 : 2 + Geometric(0.3);
        for (int i = 0; i < views; i++) steps.Add(EventType.ProductViewed);
        if (intent is VisitorIntent.AbandonCart or VisitorIntent.AbandonCheckout or VisitorIntent.Buy)
        {
            int adds = 1 + Geometric(0.6);
            for (int i = 0; i < adds; i++) steps.Add(EventType.ProductAdded);
        }

        if (intent is VisitorIntent.AbandonCheckout or VisitorIntent.Buy) steps.Add(EventType.CheckoutStarted);
        if (intent == VisitorIntent.Buy) steps.Add(EventType.OrderCompleted);
        return steps;
    }

    private int Geometric(double p)
    {
        int n = 0;
        while (n < 40 && _random.NextDouble() > p) n++;
        return n;
    }

    private long Gap() => Math.Min(1 + (long)(-Math.Log(1 - _random.NextDouble()) * _shape.MeanInterEventGap.TotalMilliseconds),
        _shape.MaxInterEventGap == TimeSpan.MaxValue ? long.MaxValue : (long)_shape.MaxInterEventGap.TotalMilliseconds);

    private ProductInfo Product()
    {
        // Squaring a uniform draw skews towards low ids: a few products are popular, as in any catalogue.
        double u = _random.NextDouble();
        int id = (int)(u * u * _shape.Products);
        return new ProductInfo
        {
            Id = $"p{id}",
            Name = $"Product {id}",
            Category = Categories[id % Categories.Length],
            Price = 5m + (id % 400) + ((id % 100) / 100m),
            Currency = "EUR",
        };
    }

    private static readonly string[] Categories =
        ["electronics.smartphone", "appliances.kitchen", "computers.notebook", "apparel.shoes", "furniture.living_room", "beauty.skin_care"];

    private sealed class SessionScript(string sessionId, string? userId, VisitorIntent intent, List<EventType> steps)
    {
        private readonly HashSet<string> _viewed = [];
        private int _step;
        private ProductInfo? _lastViewed;

        public string SessionId { get; } = sessionId;
        public VisitorIntent Intent { get; } = intent;
        public long AtMs { get; set; }
        public long Seq { get; init; }
        public bool Done => _step >= steps.Count;

        public TrackerEvent NextEvent(ClickstreamGenerator g)
        {
            var type = steps[_step++];
            IReadOnlyList<ProductInfo> products = [];
            if (type == EventType.ProductViewed)
            {
                // Distinct products per session, so a Browse visitor really meets the browse threshold.
                do
                {
                    _lastViewed = g.Product();
                }
                while (!_viewed.Add(_lastViewed.Id));

                products = [_lastViewed];
            }
            else if (type == EventType.ProductAdded)
            {
                products = [_lastViewed ?? g.Product()];
            }

            return new TrackerEvent
            {
                Type = type,
                TimestampMs = AtMs,
                SessionId = SessionId,
                EventId = $"e{g._nextEvent++:x}",
                UserId = userId,
                Products = products,
                OrderId = type == EventType.OrderCompleted ? $"o-{SessionId}" : null,
            };
        }
    }
}
