using StreamTriggers.Load;

namespace StreamTriggers.Worker.Tests.Load;

// The load tool's histogram: the percentiles it reports must be within its stated precision of the exact ones.
public sealed class LatencyHistogramTests
{
    [Fact]
    public void Percentiles_AreWithinTheStatedPrecision_OfTheExactValues()
    {
        var r = new Random(5);
        var values = Enumerable.Range(0, 50_000).Select(_ => Math.Exp(r.NextDouble() * 12) / 100).ToArray(); // 0.01 ms to ~1.6 s
        var h = new LatencyHistogram();
        foreach (double v in values) h.Record(v);
        Array.Sort(values);

        foreach (double p in new[] { 50, 90, 99, 99.9 })
        {
            double exact = values[(int)Math.Ceiling(p / 100 * values.Length) - 1];
            double reported = h.Percentile(p);
            // Never below the exact value; at most 1/64 above it (or 1 us in the exact range).
            Assert.InRange(reported, exact - 0.0011, (exact * (1 + (1.0 / 64))) + 0.0011);
        }

        Assert.Equal(values[^1], h.Percentile(100), 6);
        Assert.Equal(values[^1], h.MaxMs, 6);
        Assert.Equal(values.Length, h.Count);
    }

    [Fact]
    public void NegativeValues_AreCountedAsEarly_AndRecordedAsZero()
    {
        var h = new LatencyHistogram();
        h.Record(-5);
        h.Record(10);

        Assert.Equal(1, h.Negative);
        Assert.Equal(0, h.Percentile(50));
        Assert.Equal(10, h.Percentile(100), 3);
    }

    [Fact]
    public void Add_MergesCountsAndExtremes()
    {
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        a.Record(1);
        b.Record(1000);
        a.Add(b);

        Assert.Equal(2, a.Count);
        Assert.Equal(1000, a.MaxMs, 3);
        Assert.InRange(a.Percentile(50), 1, 1.02);
    }
}
