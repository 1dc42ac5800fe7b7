using System.Globalization;
using System.Text;
using System.Text.Json;

namespace StreamTriggers.Load;

/// <summary>One of the performance targets, as measured in a run: what was measured, what it should be, and whether it is.</summary>
/// <param name="Met">Null when the run could not measure it (e.g. the ratios without <c>--compare</c>, Redis memory without Redis).</param>
internal sealed record TargetCheck(string Name, string Measured, string Target, bool? Met)
{
    public string Verdict => Met switch { true => "met", false => "NOT MET", null => "not measured" };
}

/// <summary>Both runs of <c>--capacity</c> and the targets they are held to.</summary>
internal sealed class CapacityResult
{
    public required LoadResult Max { get; init; }
    public required LoadResult AtShare { get; init; }
    public required double Share { get; init; }

    /// <summary>The second run's rate: <see cref="Share"/> of the first run's median.</summary>
    public required double Rate { get; init; }
    public CompareResult? Compare { get; init; }
    public required IReadOnlyList<TargetCheck> Targets { get; init; }

    public DateTime StartedUtc { get; init; }
}

/// <summary>
/// <c>--capacity</c>: "how much can one worker take, and how late are triggers at that load?" in one command. It runs
/// as fast as the worker keeps up, then at a share (half by default) of the median rate that run sustained, on the
/// same broker, Redis and topics (the second worker, in a group of its own, starts at the end of the input), and holds
/// the two to the targets. The second run's rate comes from the first, so both are measured on the machine as it is
/// now: on a shared, noisy machine a rate measured in another sitting may be far from half of this one's maximum.
/// </summary>
internal static class CapacityRun
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The issue's targets for one worker with durable Redis state (on the 2-core machine, everything sharing it).</summary>
    public const double TargetEventsPerSecond = 150_000, TargetVsRaw = 0.3, TargetVsNaive = 10, TargetP99Ms = 20, TargetMaxMs = 100, TargetRedisBytes = 300;

    public static async Task<CapacityResult> RunAsync(Harness h, LoadOptions o, CompareResult? compare, Action<string> status)
    {
        var started = DateTime.UtcNow;
        var max = await LoadRun.RunAsync(h, o with { Rate = 0 }, s => status("[1/2 maximum] " + s)).ConfigureAwait(false);
        double rate = Math.Max(1, Math.Round(max.MedianEventsPerSecond * o.CapacityShare));
        var second = o with { Rate = rate };
        if (!o.ExternalWorker)
        {
            // A worker of its own in a group of its own, starting at the end of the input: rejoining the first run's
            // group would wait for the coordinator to expire its old member, and a new group would re-read the input.
            second = second with { Group = o.Group + "-2" };
            h.StartGroupAtEnd(second.Group, o.Lifecycle ? [o.InputTopic, Harness.CustomerTopic(o.InputTopic)] : [o.InputTopic]);
        }

        var atShare = await LoadRun.RunAsync(h, second, s => status($"[2/2 at {o.CapacityShare:P0}] " + s)).ConfigureAwait(false);
        if (max.MedianEventsPerSecond < 1)
        {
            atShare.Notes.Add("the maximum run sustained no events per second, so the second run's rate is meaningless (see the first run's notes)");
        }

        return new CapacityResult { Max = max, AtShare = atShare, Share = o.CapacityShare, Rate = rate, Compare = compare, Targets = Evaluate(max, atShare, o.CapacityShare, compare, durableState: h.RedisConfiguration is not null || o.ExternalWorker), StartedUtc = started };
    }

    /// <summary>Each target against what the two runs (and the comparison, when run) measured.</summary>
    /// <param name="durableState">Whether the worker kept its state in Redis: the throughput targets are for durable state, so a run with in-memory state does not count for them.</param>
    public static List<TargetCheck> Evaluate(LoadResult max, LoadResult atShare, double share, CompareResult? compare, bool durableState = true)
    {
        var c = CultureInfo.InvariantCulture;
        string at = share.ToString("P0", c);
        var checks = new List<TargetCheck>
        {
            new("sustained throughput, one worker, durable state",
                string.Create(c, $"{max.MedianEventsPerSecond:N0} events/s (median){(durableState ? "" : "; in-memory state, so it does not count")}"),
                string.Create(c, $">= {TargetEventsPerSecond:N0} events/s"), durableState ? max.MedianEventsPerSecond >= TargetEventsPerSecond : null),
            Ratio("throughput against the raw consumer", compare?.VsRaw, TargetVsRaw, "0.000"),
            Ratio("throughput against the naive implementation", compare?.VsNaive, TargetVsNaive, "0.0"),
            Lateness($"trigger lateness p99 at {at} of the maximum", atShare, h => h.Percentile(99), TargetP99Ms, "p99"),
            Lateness($"trigger lateness max at {at} of the maximum", atShare, h => h.MaxMs, TargetMaxMs, "max"),
        };

        long missing = max.Missing + atShare.Missing, duplicates = max.Duplicates + atShare.Duplicates;
        checks.Add(new("every expected trigger, once (both runs, quiet partitions included)",
            string.Create(c, $"{max.Received + atShare.Received:N0} of {max.Expected + atShare.Expected:N0} received{(max.HeldBack + atShare.HeldBack > 0 ? $", {max.HeldBack + atShare.HeldBack:N0} held back by the policy (audited)" : "")}; {missing:N0} missing, {duplicates:N0} duplicate ids"),
            "0 missing, 0 duplicate ids", missing == 0 && duplicates == 0));

        // The larger of the two runs' figures: a target holds only if it holds in both.
        double? redis = new[] { max.RedisBytesPerIdleSession, atShare.RedisBytesPerIdleSession }.Max();
        checks.Add(redis is { } bytes
            ? new("Redis memory per idle tracked session", string.Create(c, $"{bytes:N0} bytes"), string.Create(c, $"<= {TargetRedisBytes:N0} bytes"), bytes <= TargetRedisBytes)
            : new("Redis memory per idle tracked session", "no Redis in this run", string.Create(c, $"<= {TargetRedisBytes:N0} bytes"), null));
        return checks;
    }

    // A ratio from --compare against its target; not measured without it.
    private static TargetCheck Ratio(string name, double? ratio, double target, string format)
    {
        string bound = string.Create(CultureInfo.InvariantCulture, $">= {target} x");
        return ratio is { } x
            ? new(name, x.ToString(format, CultureInfo.InvariantCulture) + " x", bound, x >= target)
            : new(name, "run with --compare", bound, null);
    }

    private static TargetCheck Lateness(string name, LoadResult r, Func<LatencyHistogram, double> pick, double target, string what)
    {
        var c = CultureInfo.InvariantCulture;
        string bound = string.Create(c, $"<= {target:0} ms");
        if (r.Lateness.Count == 0)
        {
            return new(name, "no trigger was due in the measured run", bound, null);
        }

        double ms = pick(r.Lateness);
        return new(name, string.Create(c, $"{what} {ms:N1} ms ({r.Lateness.Count:N0} triggers; quiet partitions max {(r.QuietLateness.Count == 0 ? 0 : r.QuietLateness.MaxMs):N1} ms)"), bound, ms <= target);
    }

    public static string Lines(CapacityResult r)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"capacity          one worker sustained {r.Max.MedianEventsPerSecond:N0} events/s (median); at {r.Share:P0} of it ({r.Rate:N0} events/s) triggers were late by p50 {r.AtShare.Lateness.Percentile(50):N1} ms, p99 {r.AtShare.Lateness.Percentile(99):N1} ms, max {(r.AtShare.Lateness.Count == 0 ? 0 : r.AtShare.Lateness.MaxMs):N1} ms");
        sb.AppendLine();
        int width = r.Targets.Max(t => t.Name.Length);
        int measured = r.Targets.Max(t => t.Measured.Length);
        int target = r.Targets.Max(t => t.Target.Length);
        foreach (var t in r.Targets)
        {
            sb.Append("target            ").Append(t.Name.PadRight(width)).Append("  ").Append(t.Measured.PadRight(measured)).Append("  ")
              .Append(t.Target.PadRight(target)).Append("  ").Append(t.Verdict).AppendLine();
        }

        return sb.ToString().TrimEnd();
    }

    public static object Json(CapacityResult r, string maxDirectory, string atShareDirectory) => new Dictionary<string, object?>
    {
        ["tool"] = "streamtriggers-load --capacity",
        ["started"] = r.StartedUtc.ToString("O", CultureInfo.InvariantCulture),
        ["environment"] = r.Max.Environment,
        ["max_events_per_s"] = Math.Round(r.Max.MedianEventsPerSecond),
        ["share"] = r.Share,
        ["rate_at_share"] = r.Rate,
        ["lateness_at_share"] = Report.Summary(r.AtShare.Lateness),
        ["lateness_quiet_partitions_at_share"] = Report.Summary(r.AtShare.QuietLateness),
        ["targets"] = r.Targets.Select(t => new { name = t.Name, measured = t.Measured, target = t.Target, met = t.Met }),
        ["compare"] = r.Compare?.ToJson(),
        ["reports"] = new { max = Path.Combine(maxDirectory, "report.json"), at_share = Path.Combine(atShareDirectory, "report.json") },
    };

    /// <summary>Writes <c>capacity.json</c> and <c>report.html</c> (the targets, linking both runs' reports) into <paramref name="directory"/>.</summary>
    public static void Write(string directory, CapacityResult r, string maxName, string atShareName)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "capacity.json"), JsonSerializer.Serialize(Json(r, maxName, atShareName), Indented));
        File.WriteAllText(Path.Combine(directory, "report.html"), Html(r, maxName, atShareName));
    }

    /// <summary>
    /// The lateness percentiles as bars on a logarithmic scale (1 ms to the largest), with the p99 and max targets
    /// drawn across: how far each is from its bound, at a glance.
    /// </summary>
    internal static string LatenessBars(LatencyHistogram h)
    {
        if (h.Count == 0)
        {
            return "<p>(no trigger was due in the measured run)</p>";
        }

        var c = CultureInfo.InvariantCulture;
        (string Name, double Ms, double? Target)[] rows = [("p50", h.Percentile(50), null), ("p99", h.Percentile(99), TargetP99Ms), ("p99.9", h.Percentile(99.9), null), ("max", h.MaxMs, TargetMaxMs)];
        const int Left = 60, Width = 600, Row = 26;
        double top = Math.Max(1000, rows.Max(r => r.Ms));
        double X(double ms) => Left + (Width * Math.Log10(Math.Max(1, ms)) / Math.Log10(top));
        var sb = new StringBuilder().Append(c, $"<svg width=\"{Left + Width + 80}\" height=\"{(rows.Length * Row) + 30}\" xmlns=\"http://www.w3.org/2000/svg\">");
        for (double tick = 1; tick <= top; tick *= 10)
        {
            sb.Append(c, $"<line x1=\"{X(tick):0.#}\" y1=\"0\" x2=\"{X(tick):0.#}\" y2=\"{rows.Length * Row}\" stroke=\"#ddd\"/><text x=\"{X(tick):0.#}\" y=\"{(rows.Length * Row) + 16}\" font-size=\"11\" text-anchor=\"middle\">{tick:0} ms</text>");
        }

        for (int i = 0; i < rows.Length; i++)
        {
            var (name, ms, target) = rows[i];
            double y = i * Row;
            string colour = target is { } t ? (ms <= t ? "#2e7d32" : "#c62828") : "#1565c0";
            sb.Append(c, $"<text x=\"{Left - 8}\" y=\"{y + 17}\" font-size=\"12\" text-anchor=\"end\">{name}</text>");
            sb.Append(c, $"<rect x=\"{Left}\" y=\"{y + 5}\" width=\"{Math.Max(1, X(ms) - Left):0.#}\" height=\"16\" fill=\"{colour}\"><title>{name} {ms:N1} ms</title></rect>");
            sb.Append(c, $"<text x=\"{X(ms) + 6:0.#}\" y=\"{y + 17}\" font-size=\"12\">{ms:N1} ms</text>");
            if (target is { } bound)
            {
                sb.Append(c, $"<line x1=\"{X(bound):0.#}\" y1=\"{y + 1}\" x2=\"{X(bound):0.#}\" y2=\"{y + Row - 1}\" stroke=\"#000\" stroke-width=\"2\" stroke-dasharray=\"3,2\"><title>target {bound:0} ms</title></line>");
            }
        }

        return sb.Append("</svg><p>Bars on a logarithmic scale; the dashed lines are the targets (p99 20 ms, max 100 ms): green within, red beyond.</p>").ToString();
    }

    internal static string Html(CapacityResult r, string maxName, string atShareName)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder(Report.Head("StreamTriggers capacity"));
        sb.Append(c, $"<h1>StreamTriggers capacity</h1><p>{Report.E(r.Max.Environment)}. {Environment.ProcessorCount} cores.</p>");
        sb.Append(c, $"<p>One worker sustained <b>{r.Max.MedianEventsPerSecond:N0} events/s</b> (median of the seconds measured; <a href=\"{Report.E(maxName)}/report.html\">that run's report</a>). ");
        sb.Append(c, $"At {r.Share:P0} of it, {r.Rate:N0} events/s, its triggers were late by p50 {r.AtShare.Lateness.Percentile(50):N1} ms, p99 {r.AtShare.Lateness.Percentile(99):N1} ms, max {(r.AtShare.Lateness.Count == 0 ? 0 : r.AtShare.Lateness.MaxMs):N1} ms (<a href=\"{Report.E(atShareName)}/report.html\">that run's report</a>, with the lateness over time and its histogram).</p>");
        sb.Append("<h2>Targets</h2><table><tr><th>target</th><th>measured</th><th>should be</th><th></th></tr>");
        foreach (var t in r.Targets)
        {
            string cls = t.Met switch { true => "ok", false => "bad", null => string.Empty };
            sb.Append(c, $"<tr class=\"{cls}\"><td>{Report.E(t.Name)}</td><td>{Report.E(t.Measured)}</td><td>{Report.E(t.Target)}</td><td>{t.Verdict}</td></tr>");
        }

        sb.Append("</table>");
        sb.Append(c, $"<h2>Lateness at {r.Share:P0} of the maximum, against the targets</h2>");
        sb.Append(LatenessBars(r.AtShare.Lateness));
        if (r.Compare is not null)
        {
            sb.Append(r.Compare.HtmlTable());
        }

        return sb.Append("</body></html>").ToString();
    }
}
