using BenchmarkDotNet.Attributes;
using StreamTriggers.Timers;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// The session-deadline workload: every event moves its session's deadline, and due deadlines fire in order.
/// Baseline: a SortedSet keyed (due, subject) with remove-then-add, the obvious exact index. Both look the
/// session's timer up by id, as the engine does its session.
/// </summary>
public class TimerIndexBenchmarks
{
    private const int Moves = 200_000;
    private const int Sessions = 20_000;
    private string[] _subjects = [];
    private long[] _due = [];

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        _subjects = Enumerable.Range(0, Sessions).Select(i => $"s{i:x}").ToArray();
        _due = new long[Moves];
        long t = 0;
        for (int i = 0; i < Moves; i++)
        {
            t += r.Next(0, 20);
            _due[i] = t + 1_800_000;
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Moves)]
    public int SortedSetRemoveAdd()
    {
        var set = new SortedSet<(long Due, string Subject)>();
        var current = new Dictionary<string, long>();
        int fired = 0;
        for (int i = 0; i < Moves; i++)
        {
            string s = _subjects[i % Sessions];
            if (current.TryGetValue(s, out long old)) set.Remove((old, s));
            set.Add((_due[i], s));
            current[s] = _due[i];
            long now = _due[i] - 1_800_000;
            while (set.Count > 0 && set.Min.Due <= now)
            {
                var min = set.Min;
                set.Remove(min);
                current.Remove(min.Subject);
                fired++;
            }
        }

        return fired;
    }

    [Benchmark(OperationsPerInvoke = Moves)]
    public int IndexedBinaryHeap()
    {
        var index = new BinaryTimerIndex();
        var nodes = new Dictionary<string, TimerNode>();
        foreach (var s in _subjects) nodes[s] = new TimerNode(s);
        int fired = 0;
        for (int i = 0; i < Moves; i++)
        {
            index.Schedule(nodes[_subjects[i % Sessions]], _due[i], TimerKind.SessionDeadline);
            long now = _due[i] - 1_800_000;
            while (index.TryPeekDue(now, out _))
            {
                index.Dequeue();
                fired++;
            }
        }

        return fired;
    }

    [Benchmark(OperationsPerInvoke = Moves)]
    public int IndexedHeap()
    {
        var index = new TimerIndex();
        var nodes = new Dictionary<string, TimerNode>();
        foreach (var s in _subjects) nodes[s] = new TimerNode(s);
        int fired = 0;
        for (int i = 0; i < Moves; i++)
        {
            index.Schedule(nodes[_subjects[i % Sessions]], _due[i], TimerKind.SessionDeadline);
            long now = _due[i] - 1_800_000;
            while (index.TryPeekDue(now, out _))
            {
                index.Dequeue();
                fired++;
            }
        }

        return fired;
    }
}
