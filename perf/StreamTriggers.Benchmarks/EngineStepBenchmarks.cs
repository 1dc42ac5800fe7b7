using System.Text.Json;
using BenchmarkDotNet.Attributes;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// One engine step per event (decoded events, no I/O), over 100,000 events of 20,000 concurrent sessions.
/// Baseline: the naive step, state kept as a JSON document per session that is read, changed and written back on
/// every event (the naive implementation's work without its Redis round trips), no timers.
/// </summary>
public class EngineStepBenchmarks
{
    private const int Count = 100_000;
    private TrackerEvent[] _events = [];

    [GlobalSetup]
    public void Setup() => _events = [.. Corpus.Events(Count)];

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public int NaiveJsonStateStep()
    {
        var store = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int carts = 0;
        foreach (var ev in _events)
        {
            var state = store.TryGetValue(ev.SessionId, out var bytes) ? JsonSerializer.Deserialize<NaiveState>(bytes)! : new NaiveState();
            state.Last = ev.TimestampMs;
            state.Deadline = ev.TimestampMs + 1_800_000;
            state.Events++;
            if (ev.Type == EventType.ProductAdded) state.Cart.AddRange(ev.Products.Select(p => p.Id));
            if (ev.Type == EventType.ProductViewed) state.Viewed.AddRange(ev.Products.Select(p => p.Id));
            if (ev.Type == EventType.CheckoutStarted) state.Checkout = true;
            if (ev.Type == EventType.OrderCompleted) state.Cart.Clear();
            carts += state.Cart.Count;
            store[ev.SessionId] = JsonSerializer.SerializeToUtf8Bytes(state);
        }

        return carts;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public int SessionEngineApply()
    {
        var engine = new SessionEngine(new RulesOptions(), trackChanges: true);
        var fired = new List<Trigger>();
        var dirty = new List<SessionState>();
        foreach (var ev in _events)
        {
            engine.Apply(ev, ev.TimestampMs, fired);
        }

        engine.TakeDirty(dirty);
        return fired.Count + dirty.Count;
    }

    public sealed class NaiveState
    {
        public long Last { get; set; }
        public long Deadline { get; set; }
        public int Events { get; set; }
        public bool Checkout { get; set; }
        public List<string> Cart { get; set; } = [];
        public List<string> Viewed { get; set; } = [];
    }
}
