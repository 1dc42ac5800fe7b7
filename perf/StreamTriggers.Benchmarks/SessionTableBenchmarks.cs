using BenchmarkDotNet.Attributes;
using StreamTriggers.Timers;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// The engine's index of held sessions: every event looks its session up by the id's characters (the decoder's span),
/// and one event in ten belongs to a new visit, which replaces a finished one. Baseline: the
/// <c>Dictionary&lt;string, T&gt;</c> the engine used before, looked up through its span lookup; against it the
/// <see cref="SubjectTable{T}"/>, which holds no id string of its own (the point of it is the garbage collector's
/// work, which this does not measure: this checks the lookups cost no more).
/// </summary>
public class SessionTableBenchmarks
{
    private const int Operations = 200_000;
    private const int Sessions = 20_000;
    private TimerNode[] _held = [];
    private TimerNode[] _arriving = [];
    private string[] _heldIds = []; // the nodes' ids as strings: a node's Subject is a new string per read
    private string[] _arrivingIds = [];
    private int[] _pick = [];

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        _heldIds = Enumerable.Range(0, Sessions).Select(_ => Guid.NewGuid().ToString()).ToArray();
        _arrivingIds = Enumerable.Range(0, Operations / 10).Select(_ => Guid.NewGuid().ToString()).ToArray();
        _held = _heldIds.Select(id => new TimerNode(id)).ToArray();
        _arriving = _arrivingIds.Select(id => new TimerNode(id)).ToArray();
        _pick = Enumerable.Range(0, Operations).Select(_ => r.Next(Sessions)).ToArray();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public int Dictionary()
    {
        var held = (TimerNode[])_held.Clone();
        var ids = (string[])_heldIds.Clone();
        var table = new Dictionary<string, TimerNode>(StringComparer.Ordinal);
        for (int j = 0; j < held.Length; j++) table.Add(ids[j], held[j]);
        var lookup = table.GetAlternateLookup<ReadOnlySpan<char>>();
        int found = 0;
        for (int i = 0; i < Operations; i++)
        {
            int k = _pick[i];
            if (lookup.TryGetValue(ids[k].AsSpan(), out _)) found++;
            if (i % 10 == 0)
            {
                table.Remove(ids[k]);
                held[k] = _arriving[i / 10];
                ids[k] = _arrivingIds[i / 10];
                table.Add(ids[k], held[k]);
            }
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public int SubjectTable()
    {
        var held = (TimerNode[])_held.Clone();
        var table = new SubjectTable<TimerNode>();
        foreach (var n in held) table.Add(n);
        int found = 0;
        for (int i = 0; i < Operations; i++)
        {
            int k = _pick[i];
            if (table.TryGetValue(held[k].SubjectSpan, out _)) found++;
            if (i % 10 == 0)
            {
                table.Remove(held[k].SubjectSpan);
                held[k] = _arriving[i / 10];
                table.Add(held[k]);
            }
        }

        return found;
    }
}
