using System.Globalization;

namespace StreamTriggers.Load;

/// <summary>
/// The worker's garbage collections as its <c>/metrics</c> endpoint reports them (<c>streamtriggers_gc_pause_milliseconds</c>,
/// a histogram per generation, and <c>streamtriggers_gc_promoted_total</c>): cumulative since the worker started, so
/// a run's figures are the difference of two readings.
/// </summary>
internal sealed record GcReading(IReadOnlyDictionary<int, GcReading.Generation> Pauses, long PromotedGen0, long PromotedGen1)
{
    public static readonly GcReading Empty = new(new Dictionary<int, Generation>(), 0, 0);

    /// <summary>The late triggers the worker counted, read from the same exposition.</summary>
    public LateWait Late { get; init; } = LateWait.Empty;

    /// <summary>One generation's pauses: how many, their total, and cumulative counts at each bucket's upper bound.</summary>
    internal sealed record Generation(long Count, double SumMs, IReadOnlyList<(double Le, long Count)> Buckets);

    public long Count => Pauses.Values.Sum(g => g.Count);

    public double SumMs => Pauses.Values.Sum(g => g.SumMs);

    /// <summary>This reading minus an earlier one.</summary>
    public GcReading Since(GcReading earlier)
    {
        var pauses = new Dictionary<int, Generation>();
        foreach (var (gen, now) in Pauses)
        {
            var before = earlier.Pauses.GetValueOrDefault(gen);
            var buckets = now.Buckets.Select(b => (b.Le, b.Count - (before?.Buckets.FirstOrDefault(x => x.Le == b.Le).Count ?? 0))).ToList();
            pauses[gen] = new Generation(now.Count - (before?.Count ?? 0), now.SumMs - (before?.SumMs ?? 0), buckets);
        }

        return new GcReading(pauses, PromotedGen0 - earlier.PromotedGen0, PromotedGen1 - earlier.PromotedGen1) { Late = Late.Since(earlier.Late) };
    }

    /// <summary>Pauses of any generation longer than <paramref name="ms"/> (a bucket bound of the endpoint's histogram).</summary>
    public long LongerThan(double ms) => Pauses.Values.Sum(g => g.Count - g.Buckets.Where(b => b.Le == ms).Select(b => (long?)b.Count).FirstOrDefault()
        ?? throw new ArgumentOutOfRangeException(nameof(ms), ms, "not a bucket bound of the worker's pause histogram"));

    /// <summary>The smallest bucket bound at or under which <paramref name="percentile"/>% of all pauses fall (the histogram's resolution).</summary>
    public double PercentileBound(double percentile)
    {
        long total = Count;
        if (total == 0)
        {
            return 0;
        }

        var bounds = Pauses.Values.SelectMany(g => g.Buckets.Select(b => b.Le)).Distinct().Order();
        foreach (double le in bounds)
        {
            long under = Pauses.Values.Sum(g => g.Buckets.Where(b => b.Le == le).Select(b => b.Count).FirstOrDefault());
            if (under >= total * percentile / 100)
            {
                return le;
            }
        }

        return double.PositiveInfinity;
    }

    /// <summary>The report's figures over <paramref name="seconds"/>.</summary>
    public object ToJson(double seconds) => new
    {
        seconds = Math.Round(seconds, 1),
        // Pauses, not collections: a background gen2 collection stops the threads twice.
        pauses = Pauses.OrderBy(kv => kv.Key).ToDictionary(kv => $"gen{kv.Key}", kv => kv.Value.Count),
        mean_pause_ms_by_generation = Pauses.OrderBy(kv => kv.Key)
            .ToDictionary(kv => $"gen{kv.Key}", kv => kv.Value.Count > 0 ? Math.Round(kv.Value.SumMs / kv.Value.Count, 2) : 0),
        paused_ms = Math.Round(SumMs, 1),
        paused_share = seconds > 0 ? Math.Round(SumMs / 1000 / seconds, 4) : 0,
        mean_pause_ms = Count > 0 ? Math.Round(SumMs / Count, 2) : 0,
        p50_pause_at_most_ms = PercentileBound(50),
        p99_pause_at_most_ms = PercentileBound(99),
        pauses_over_20ms = LongerThan(20),
        pauses_over_50ms = LongerThan(50),
        promoted_gen0_mb = Math.Round(PromotedGen0 / 1048576.0, 1),
    };

    /// <summary>One line for the console.</summary>
    public string Line(double seconds) => string.Create(CultureInfo.InvariantCulture,
        $"{Count:N0} pauses ({string.Join(" ", Pauses.OrderBy(kv => kv.Key).Select(kv => $"gen{kv.Key} {kv.Value.Count:N0}"))}), {SumMs:N0} ms paused ({(seconds > 0 ? SumMs / 10 / seconds : 0):0.0}% of {seconds:0} s), mean {(Count > 0 ? SumMs / Count : 0):0.0} ms, p99 <= {PercentileBound(99):0} ms, {LongerThan(20):N0} over 20 ms, {LongerThan(50):N0} over 50 ms; {PromotedGen0 / 1048576.0:N0} MB promoted out of gen0");

    /// <summary>Reads the GC series out of a Prometheus text exposition.</summary>
    public static GcReading Parse(string text)
    {
        var count = new Dictionary<int, long>();
        var sum = new Dictionary<int, double>();
        var buckets = new Dictionary<int, List<(double, long)>>();
        long promoted0 = 0, promoted1 = 0;
        long late = 0;
        double? lateOver = null;
        var lateWait = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            int brace = line.IndexOf('{', StringComparison.Ordinal);
            int close = line.LastIndexOf('}');
            int space = line.LastIndexOf(' ');
            if (brace < 0 || close < brace || space < close
                || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            {
                continue;
            }

            string name = line[..brace];
            var labels = Labels(line[(brace + 1)..close]);
            if (name == "streamtriggers_trigger_late_total")
            {
                late += (long)value;
                lateOver = labels.TryGetValue("over_ms", out var over) && double.TryParse(over, NumberStyles.Float, CultureInfo.InvariantCulture, out double o) ? o : lateOver;
                continue;
            }

            if (name == "streamtriggers_trigger_late_wait_milliseconds_total" && labels.TryGetValue("phase", out var phase))
            {
                lateWait[phase] = value;
                continue;
            }

            if (!labels.TryGetValue("generation", out var g) || !int.TryParse(g, CultureInfo.InvariantCulture, out int gen))
            {
                continue;
            }

            switch (name)
            {
                case "streamtriggers_gc_pause_milliseconds_count":
                    count[gen] = (long)value;
                    break;
                case "streamtriggers_gc_pause_milliseconds_sum":
                    sum[gen] = value;
                    break;
                case "streamtriggers_gc_pause_milliseconds_bucket" when labels.TryGetValue("le", out var le) && le != "+Inf":
                    (buckets.TryGetValue(gen, out var list) ? list : buckets[gen] = []).Add((double.Parse(le, CultureInfo.InvariantCulture), (long)value));
                    break;
                case "streamtriggers_gc_promoted_total" when gen == 0:
                    promoted0 = (long)value;
                    break;
                case "streamtriggers_gc_promoted_total" when gen == 1:
                    promoted1 = (long)value;
                    break;
            }
        }

        var pauses = count.ToDictionary(kv => kv.Key, kv => new Generation(kv.Value, sum.GetValueOrDefault(kv.Key),
            buckets.TryGetValue(kv.Key, out var b) ? b : []));
        return new GcReading(pauses, promoted0, promoted1) { Late = new LateWait(lateOver, late, lateWait) };
    }

    private static Dictionary<string, string> Labels(string s)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in s.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                labels[part[..eq]] = part[(eq + 1)..].Trim('"');
            }
        }

        return labels;
    }
}

/// <summary>
/// The triggers a worker handed to its producer later than its <c>LateTriggerThreshold</c>
/// (<c>streamtriggers_trigger_late_total</c>, labelled <c>over_ms</c>), and where their partitions were while they
/// waited (<c>streamtriggers_trigger_late_wait_milliseconds_total</c> by <c>phase</c>): cumulative, so a run's figures
/// are the difference of two readings.
/// </summary>
internal sealed record LateWait(double? ThresholdMs, long Triggers, IReadOnlyDictionary<string, double> WaitMs)
{
    public static readonly LateWait Empty = new(null, 0, new Dictionary<string, double>());

    /// <summary>The wait of all of them together (ms).</summary>
    public double TotalMs => WaitMs.Values.Sum();

    /// <summary>This reading minus an earlier one.</summary>
    public LateWait Since(LateWait earlier) => new(ThresholdMs ?? earlier.ThresholdMs, Triggers - earlier.Triggers,
        WaitMs.ToDictionary(kv => kv.Key, kv => kv.Value - earlier.WaitMs.GetValueOrDefault(kv.Key), StringComparer.Ordinal));

    /// <summary>Phases by their share of the wait, largest first (those with none left out).</summary>
    public IEnumerable<(string Phase, double Share)> Shares()
    {
        double total = TotalMs;
        return total <= 0 ? [] : WaitMs.Where(kv => kv.Value > 0).OrderByDescending(kv => kv.Value).Select(kv => (kv.Key, kv.Value / total));
    }

    public object ToJson() => new
    {
        over_ms = ThresholdMs,
        triggers = Triggers,
        mean_wait_ms = Triggers > 0 ? Math.Round(TotalMs / Triggers, 2) : 0,
        wait_ms_by_phase = WaitMs.Where(kv => kv.Value > 0).OrderByDescending(kv => kv.Value).ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 1)),
    };

    /// <summary>One line for the console; null when the worker exports no such series (an older worker).</summary>
    public string? Line() => ThresholdMs is not { } over ? null
        : Triggers == 0 ? string.Create(CultureInfo.InvariantCulture, $"none over {over:0.#} ms at hand-over to the producer")
        : string.Create(CultureInfo.InvariantCulture,
            $"{Triggers:N0} over {over:0.#} ms at hand-over to the producer, mean wait {TotalMs / Triggers:0.0} ms, spent: {string.Join(", ", Shares().Select(s => $"{s.Phase} {s.Share * 100:0}%"))}");
}

/// <summary>Reads a worker's <c>/metrics</c> once a second in the background; <see cref="Latest"/> is the newest reading.</summary>
internal sealed class WorkerGcProbe : IAsyncDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private volatile GcReading? _latest;

    public WorkerGcProbe(string url)
    {
        Url = url;
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                _latest = await ReadAsync().ConfigureAwait(false) ?? _latest;
                try
                {
                    await Task.Delay(1000, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
    }

    public string Url { get; }

    /// <summary>The newest reading, or null while none has succeeded (the worker is still starting).</summary>
    public GcReading? Latest => _latest;

    /// <summary>Reads the endpoint now; null when it does not answer.</summary>
    public async Task<GcReading?> ReadAsync()
    {
        try
        {
            return GcReading.Parse(await _http.GetStringAsync(Url, _stop.Token).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _http.Dispose();
    }
}
