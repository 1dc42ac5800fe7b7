using BenchmarkDotNet.Attributes;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// The live worker's churn of visits: 100,000 events of 20,000 concurrent sessions, applied with a 10 s gap (so
/// visits close as the stream goes on), and every 1,000 events a commit that drops the written, closed sessions from
/// memory, as the worker does. Baseline: evicting them (the next visit allocates a new session); against it:
/// recycling them (the next visit reuses the instance). The allocation column is what the worker's garbage collector
/// no longer has to promote for each visit.
/// </summary>
public class SessionChurnBenchmarks
{
    private const int Count = 100_000;
    private const int CommitEvery = 1_000;
    private TrackerEvent[] _events = [];

    [GlobalSetup]
    public void Setup() => _events = [.. Corpus.Events(Count)];

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public int EvictClosedSessions() => Run(recycle: false);

    [Benchmark(OperationsPerInvoke = Count)]
    public int RecycleClosedSessions() => Run(recycle: true);

    private int Run(bool recycle)
    {
        var engine = new SessionEngine(new RulesOptions { Gap = TimeSpan.FromSeconds(10) }, trackChanges: true);
        var fired = new List<Trigger>();
        var dirty = new List<SessionState>();
        for (int i = 0; i < _events.Length; i++)
        {
            engine.Apply(_events[i], _events[i].TimestampMs, fired);
            if (i % CommitEvery == CommitEvery - 1)
            {
                dirty.Clear();
                engine.TakeDirty(dirty);
                foreach (var s in dirty)
                {
                    if (!s.HasOpenPeriod && ReferenceEquals(engine.Find(s.SessionId), s))
                    {
                        if (recycle) engine.Recycle(s); else engine.Evict(s);
                    }
                }
            }
        }

        return fired.Count + engine.SessionCount;
    }
}
