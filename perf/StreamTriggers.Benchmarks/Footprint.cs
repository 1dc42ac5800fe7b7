using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Triggers;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// What an open session costs the worker's heap: 200,000 REES46-shaped events (50,000 concurrent sessions, none
/// closing) decoded from JSON and applied as the live worker applies them, then the managed heap's growth over the
/// sessions held, beside the size of their stored encoding. Not a BenchmarkDotNet benchmark: it measures what stays
/// alive, not time or allocation. <c>dotnet run -c Release --project perf/StreamTriggers.Benchmarks -- --footprint</c>
/// </summary>
internal static class Footprint
{
    public static void Run()
    {
        var messages = Corpus.Json(Corpus.Events(200_000, concurrentSessions: 50_000));
        var engine = new SessionEngine(new RulesOptions { Gap = TimeSpan.FromHours(1) }, trackChanges: true, DecisionLog.HeldBack);
        var decoder = new JsonEventDecoder();
        var triggers = new List<Trigger>();
        var dirty = new List<SessionState>();

        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < messages.Length; i++)
        {
            if (decoder.TryDecode(messages[i], out var ev, out _))
            {
                engine.Apply(ev!, Corpus.Start, triggers, offset: i);
            }
        }

        engine.TakeDirty(dirty);
        dirty.Clear();
        dirty.TrimExcess();
        long after = GC.GetTotalMemory(forceFullCollection: true);

        long encoded = 0;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in messages)
        {
            if (decoder.TryDecode(m, out var ev, out _) && ids.Add(ev!.SessionId) && engine.Find(ev.SessionId) is { } s)
            {
                encoded += SessionCodec.Encode(s).Length;
            }
        }

        GC.KeepAlive(messages);
        Console.WriteLine($"{engine.SessionCount:N0} open sessions from {messages.Length:N0} events");
        Console.WriteLine($"managed heap per open session  {(after - before) / (double)engine.SessionCount,8:N0} bytes (state, id, product lists, seen ids, engine index)");
        Console.WriteLine($"stored encoding per session    {encoded / (double)ids.Count,8:N0} bytes (SessionCodec, as written to Redis)");
    }
}
