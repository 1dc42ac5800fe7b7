using StreamTriggers.Load;
using StreamTriggers.Worker.Operations;

namespace StreamTriggers.Worker.Tests.Load;

// The worker's GC pauses travel from the runtime's events through its /metrics text to the load tool's report.
public sealed class WorkerGcTests
{
    [Fact]
    public async Task ForcedCollections_AppearInTheMetricsText_AsTheLoadToolReadsThem()
    {
        using var metrics = new WorkerMetrics();
        using var exporter = new PrometheusExporter(WorkerMetrics.MeterName);
        var before = GcReading.Parse(exporter.Render());

        // Full blocking collections: each one a pause of generation 2. The events arrive on the listener's thread.
        var keep = new List<byte[]>();
        GcReading now = before;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && now.Since(before).Pauses.GetValueOrDefault(2)?.Count is null or < 2)
        {
            for (int i = 0; i < 1000; i++) keep.Add(new byte[100]);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            await Task.Delay(200);
            now = GcReading.Parse(exporter.Render());
        }

        var run = now.Since(before);
        Assert.True(run.Pauses.GetValueOrDefault(2)?.Count >= 2, $"gen2 pauses seen: {run.Pauses.GetValueOrDefault(2)?.Count ?? 0}");
        Assert.True(run.SumMs > 0, "paused time is positive");
        Assert.All(run.Pauses.Values, g => Assert.Equal(g.Count, g.Buckets[^1].Count)); // every pause under the largest bucket bound (10 s)
        GC.KeepAlive(keep);
    }

    [Fact]
    public void Readings_Subtract_AndAnswerPercentilesAtTheBucketBounds()
    {
        static string Text(long under10, long under50, long count, double sum, long promoted) => $$"""
            # TYPE streamtriggers_gc_pause_milliseconds histogram
            streamtriggers_gc_pause_milliseconds_bucket{generation="0",le="10"} {{under10}}
            streamtriggers_gc_pause_milliseconds_bucket{generation="0",le="50"} {{under50}}
            streamtriggers_gc_pause_milliseconds_bucket{generation="0",le="+Inf"} {{count}}
            streamtriggers_gc_pause_milliseconds_sum{generation="0"} {{sum}}
            streamtriggers_gc_pause_milliseconds_count{generation="0"} {{count}}
            streamtriggers_gc_promoted_total{generation="0"} {{promoted}}
            streamtriggers_gc_promoted_total{generation="1"} 7
            streamtriggers_events_consumed_total 12
            """;

        var first = GcReading.Parse(Text(5, 5, 5, 20, 1000));
        var last = GcReading.Parse(Text(100, 199, 200, 3000, 5000));
        var run = last.Since(first);

        Assert.Equal(195, run.Count);
        Assert.Equal(2980, run.SumMs, 6);
        Assert.Equal(4000, run.PromotedGen0);
        Assert.Equal(0, run.PromotedGen1);
        Assert.Equal(100, run.LongerThan(10)); // 195 pauses, 95 of them at most 10 ms
        Assert.Equal(1, run.LongerThan(50));
        Assert.Throws<ArgumentOutOfRangeException>(() => run.LongerThan(30)); // not a bound: unknowable, not zero
        Assert.Equal(50, run.PercentileBound(50)); // 95 of 195 under 10 ms: the median is in the (10, 50] bucket
        Assert.Equal(double.PositiveInfinity, run.PercentileBound(99.9)); // the longest pause is beyond the last bound
    }

    [Fact]
    public void LateTriggers_TravelThroughTheMetricsText_AndSubtract()
    {
        using var metrics = new WorkerMetrics();
        using var exporter = new PrometheusExporter(WorkerMetrics.MeterName);
        Assert.Null(GcReading.Parse(exporter.Render()).Late.ThresholdMs); // none yet: no line for the console

        double[] waits = new double[StreamTriggers.Worker.Pipeline.LoopTimeline.Slots];
        waits[(int)StreamTriggers.Worker.Pipeline.LoopPhase.Read] = 30 * TimeSpan.TicksPerMillisecond;
        waits[StreamTriggers.Worker.Pipeline.LoopTimeline.Gc] = 10 * TimeSpan.TicksPerMillisecond;
        metrics.Late(20, 2, waits);
        var first = GcReading.Parse(exporter.Render());
        waits[StreamTriggers.Worker.Pipeline.LoopTimeline.Gc] = 50 * TimeSpan.TicksPerMillisecond;
        metrics.Late(20, 1, waits);
        var run = GcReading.Parse(exporter.Render()).Since(first).Late;

        Assert.Equal(20, run.ThresholdMs);
        Assert.Equal(1, run.Triggers);
        Assert.Equal(30, run.WaitMs["read"], 6);
        Assert.Equal(50, run.WaitMs["gc"], 6);
        Assert.Equal([("gc", 50.0 / 80), ("read", 30.0 / 80)], run.Shares().ToArray());
        Assert.Equal("1 over 20 ms at hand-over to the producer, mean wait 80.0 ms, spent: gc 63%, read 38%", run.Line());
    }
}
