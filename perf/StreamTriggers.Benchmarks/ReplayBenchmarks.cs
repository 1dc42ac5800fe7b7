using BenchmarkDotNet.Attributes;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Replay;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// The replay pipeline stage by stage, per event, over 200,000 in-memory JSON lines (20,000 concurrent sessions).
/// Baseline: only splitting the input into lines, the cost of reading the file. The ratios say how far decode and
/// engine are from being limited by reading.
/// </summary>
public class ReplayBenchmarks
{
    private const int N = 200_000;
    private byte[] _jsonLines = [];
    private readonly JsonEventDecoder _decoder = new();

    [GlobalSetup]
    public void Setup() => _jsonLines = Corpus.JsonLines(Corpus.Events(N));

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long ReadLines()
    {
        var reader = new LineReader(new MemoryStream(_jsonLines, writable: false), 65_536);
        long bytes = 0;
        while (reader.TryReadLine(out var line, out _)) bytes += line.Length;
        return bytes;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long ReadAndDecode()
    {
        var reader = new LineReader(new MemoryStream(_jsonLines, writable: false), 65_536);
        long n = 0;
        while (reader.TryReadLine(out var line, out _))
        {
            if (_decoder.TryDecode(line, out var ev, out _)) n += ev!.TimestampMs & 1;
        }

        return n;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long ReadDecodeAndEngine()
    {
        var reader = new LineReader(new MemoryStream(_jsonLines, writable: false), 65_536);
        var driver = new EventTimeDriver(new SessionEngine(new RulesOptions()));
        var fired = new List<Trigger>();
        while (reader.TryReadLine(out var line, out _))
        {
            if (_decoder.TryDecode(line, out var ev, out _)) driver.Push(ev!, fired);
            fired.Clear();
        }

        return driver.Engine.Counters.TotalFired;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long FullReplayToNullOutput()
    {
        var options = new ReplayOptions { Input = "bench.jsonl", Progress = false };
        var result = new ReplayRunner(options).Run(new MemoryStream(_jsonLines, writable: false), Stream.Null, null);
        return result.TriggersWritten;
    }
}
