namespace StreamTriggers.Load;

/// <summary>
/// A high-dynamic-range histogram of non-negative values (milliseconds, stored as microseconds): exact below 128 us,
/// then 64 sub-buckets per power of two, so any recorded value is reported within 1/64 (1.6%) above itself, from 1 us
/// to years, in fixed memory (33 KiB). Negative values (a trigger published before its nominal time) are counted and recorded as zero.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Linear = 128;
    private const int SubCount = 64;
    private readonly long[] _counts = new long[Linear + (64 * SubCount)];

    public long Count { get; private set; }

    public long Negative { get; private set; }

    public double MaxMs { get; private set; }

    public void Record(double ms)
    {
        if (ms < 0)
        {
            Negative++;
            ms = 0;
        }

        long us = (long)Math.Round(ms * 1000);
        _counts[Index(us)]++;
        Count++;
        MaxMs = Math.Max(MaxMs, ms);
    }

    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Negative += other.Negative;
        MaxMs = Math.Max(MaxMs, other.MaxMs);
    }

    /// <summary>The value at <paramref name="percentile"/> (0 to 100), in ms; the top bucket's value is the exact maximum.</summary>
    public double Percentile(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * Count));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperBound(i) / 1000.0, MaxMs);
            }
        }

        return MaxMs;
    }

    /// <summary>Counts per bucket boundary, for plotting: (upper bound ms, count), non-empty buckets only.</summary>
    public IEnumerable<(double UpperMs, long Count)> Buckets()
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] > 0)
            {
                yield return (UpperBound(i) / 1000.0, _counts[i]);
            }
        }
    }

    private static int Index(long us)
    {
        if (us < Linear)
        {
            return (int)us;
        }

        int msb = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)us);
        int shift = msb - 6; // us >> shift is in [64, 127]
        return Linear + ((shift - 1) * SubCount) + (int)((us >> shift) - SubCount);
    }

    private static long UpperBound(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        int shift = ((index - Linear) / SubCount) + 1;
        long sub = (index - Linear) % SubCount;
        return ((sub + SubCount + 1) << shift) - 1;
    }
}
