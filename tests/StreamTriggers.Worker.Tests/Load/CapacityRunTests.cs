using StreamTriggers.Load;
using StreamTriggers.Worker.Cli;

namespace StreamTriggers.Worker.Tests.Load;

// The load tool's --capacity: the maximum rate, then lateness at a share of it, held to the issue's targets.
public sealed class CapacityRunTests
{
    private static LoadResult Run(double median, double p99, double max, long missing = 0, long duplicates = 0, double? redis = null)
    {
        var r = new LoadResult { Mode = "test", Environment = "test", MedianEventsPerSecond = median, Expected = 100, Received = 100 - missing + duplicates, Missing = missing, Duplicates = duplicates, RedisBytesPerIdleSession = redis };
        // 990 triggers at 1 ms, 10 at p99's value... and one at max: the histogram's p99 and max are then these.
        for (int i = 0; i < 989; i++) r.Lateness.Record(1);
        for (int i = 0; i < 10; i++) r.Lateness.Record(p99);
        r.Lateness.Record(max);
        return r;
    }

    [Fact]
    public void Evaluate_HoldsEachTargetToItsBound_AndSaysWhatARunDidNotMeasure()
    {
        var checks = CapacityRun.Evaluate(Run(160_000, 1, 1, redis: 250), Run(80_000, 19, 99, redis: 200), 0.5, compare: null);

        Assert.Equal(7, checks.Count);
        Assert.True(checks.Single(c => c.Name.StartsWith("sustained", StringComparison.Ordinal)).Met);
        Assert.True(checks.Single(c => c.Name.Contains("p99 at 50 %", StringComparison.Ordinal)).Met);
        Assert.True(checks.Single(c => c.Name.Contains("max at 50 %", StringComparison.Ordinal)).Met);
        Assert.True(checks.Single(c => c.Name.StartsWith("every expected", StringComparison.Ordinal)).Met);
        var redis = checks.Single(c => c.Name.StartsWith("Redis", StringComparison.Ordinal));
        Assert.True(redis.Met);
        Assert.Contains("250", redis.Measured, StringComparison.Ordinal); // the larger of the two runs'
        // Without --compare the ratios are not measured: neither met nor failed.
        Assert.All(checks.Where(c => c.Name.Contains("against", StringComparison.Ordinal)), c => Assert.Null(c.Met));
    }

    [Fact]
    public void Evaluate_FailsATargetMissedInEitherRun()
    {
        var compare = new CompareResult { RawPerSecond = 500_000, NaivePerSecond = 10_000, StreamTriggersPerSecond = 140_000 };
        var checks = CapacityRun.Evaluate(Run(140_000, 1, 1, duplicates: 1, redis: 310), Run(70_000, 22, 120), 0.5, compare);

        Assert.All(checks.Where(c => !c.Name.Contains("naive", StringComparison.Ordinal)), c => Assert.False(c.Met, c.Name));
        Assert.True(checks.Single(c => c.Name.Contains("naive", StringComparison.Ordinal)).Met); // 14x
        Assert.Equal("NOT MET", checks[0].Verdict);
    }

    [Fact]
    public void LatenessBars_ColourTheTargetedFiguresByTheirBound_AndSayWhenNothingWasDue()
    {
        // p99 within its 20 ms (green), max beyond its 100 ms (red), the others untargeted (blue).
        string svg = CapacityRun.LatenessBars(Run(1, p99: 15, max: 250).Lateness);

        string Fill(string name) => System.Text.RegularExpressions.Regex.Match(svg, $"fill=\"(#[0-9a-f]+)\"><title>{name} ").Groups[1].Value;
        Assert.Equal("#2e7d32", Fill("p99"));
        Assert.Equal("#c62828", Fill("max"));
        Assert.Equal("#1565c0", Fill("p50"));
        Assert.Contains("<title>target 20 ms</title>", svg, StringComparison.Ordinal);
        Assert.Contains("<title>target 100 ms</title>", svg, StringComparison.Ordinal);
        Assert.Contains("no trigger was due", CapacityRun.LatenessBars(new LatencyHistogram()), StringComparison.Ordinal);
    }

    [Fact]
    public void Options_CapacityFindsItsOwnRate_AndTakesAShareBetweenZeroAndOne()
    {
        Assert.Equal(0.5, LoadOptions.Parse(["--capacity"]).CapacityShare);
        Assert.Equal(0.25, LoadOptions.Parse(["--capacity", "--capacity-share", "0.25"]).CapacityShare);
        Assert.Throws<UsageException>(() => LoadOptions.Parse(["--capacity", "--rate", "1000"]));
        Assert.Throws<UsageException>(() => LoadOptions.Parse(["--capacity", "--capacity-share", "1"]));
        Assert.Throws<UsageException>(() => LoadOptions.Parse(["--capacity", "--capacity-share", "0"]));
    }

    [Fact]
    public async Task TwoRunsOnOneBroker_TheSecondAtHalfTheFirstsMedian_SeesOnlyItsOwnEventsAndTriggers()
    {
        // End to end on the embedded cluster, state in memory, short runs. The second run shares the first one's
        // topics: its worker must start at the end of the input (it would re-read the first run's events, consuming
        // more than was sent) and its trigger reader at the end of the trigger topic (the first run's triggers would
        // be unexpected).
        var o = LoadOptions.Parse(["--capacity", "--duration", "2s", "--warmup", "1s", "--sessions", "300", "--partitions", "4", "--redis", "none", "--no-progress"]);
        await using var h = await Harness.StartAsync(o);

        var result = await CapacityRun.RunAsync(h, o, compare: null, _ => { }).WaitAsync(TimeSpan.FromMinutes(4));

        Assert.True(result.Max.MedianEventsPerSecond > 0);
        Assert.Equal(Math.Round(result.Max.MedianEventsPerSecond * 0.5), result.Rate);
        foreach (var run in new[] { result.Max, result.AtShare })
        {
            Assert.True(run.Expected > 0);
            Assert.True(run.Missing == 0, $"{run.Mode}: {run.Missing} of {run.Expected} triggers missing (received {run.Received}, unexpected {run.Unexpected}); consumed {run.EventsConsumed} of {run.EventsSent} events; {string.Join("; ", run.Notes)}; e.g. {string.Join(", ", run.MissingExamples)}");
            Assert.Equal(0, run.Duplicates);
            Assert.Equal(0, run.Unexpected);
            Assert.Equal(run.EventsSent, run.EventsConsumed);
        }

        Assert.Equal(result.AtShare.Expected, result.AtShare.Received);
        // No Redis here: neither its memory nor the throughput target (durable state) is measured.
        Assert.Null(result.Targets.Single(t => t.Name.StartsWith("Redis", StringComparison.Ordinal)).Met);
        Assert.Null(result.Targets.Single(t => t.Name.StartsWith("sustained", StringComparison.Ordinal)).Met);
        Assert.Contains("capacity", CapacityRun.Html(result, "max", "at-50pct"), StringComparison.Ordinal);
    }
}
