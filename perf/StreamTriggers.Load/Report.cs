using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace StreamTriggers.Load;

/// <summary>Writes a run's <c>report.json</c> (for scripts and comparisons) and <c>report.html</c> (charts, no scripts or network).</summary>
internal static class Report
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Dictionary<string, object?> Summary(LatencyHistogram h) => new()
    {
        ["count"] = h.Count,
        ["p50_ms"] = Round(h.Percentile(50)),
        ["p99_ms"] = Round(h.Percentile(99)),
        ["p99_9_ms"] = Round(h.Percentile(99.9)),
        ["max_ms"] = Round(h.Count == 0 ? 0 : h.MaxMs),
        ["early"] = h.Negative,
    };

    public static object Json(LoadResult r, LoadOptions o, CompareResult? compare) => new Dictionary<string, object?>
    {
        ["tool"] = "streamtriggers-load",
        ["started"] = DateTime.UtcNow.ToString("O", C),
        ["machine"] = new { cores = Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription, dotnet = Environment.Version.ToString() },
        ["runtime_settings"] = RuntimeSettings(Environment.GetEnvironmentVariables()),
        ["environment"] = r.Environment,
        ["mode"] = r.Mode,
        ["options"] = new { rate = o.Rate, duration_s = o.Duration.TotalSeconds, warmup_s = o.Warmup.TotalSeconds, sessions = o.Sessions, concurrent_sessions = r.ConcurrentSessions, partitions = o.Partitions, quiet_partitions = o.QuietPartitions, gap_s = o.Gap.TotalSeconds, lateness_s = o.Lateness.TotalSeconds, max_lag = o.MaxLag, lifecycle = o.Lifecycle },
        ["throughput"] = new { events_sent = r.EventsSent, events_consumed = r.EventsConsumed, send_seconds = Round(r.SendSeconds), mean_events_per_s = Round(r.MeanEventsPerSecond), median_events_per_s = Round(r.MedianEventsPerSecond), max_lag = r.MaxLag },
        ["triggers"] = new { expected = r.Expected, received = r.Received, missing = r.Missing, duplicates = r.Duplicates, unexpected = r.Unexpected, split_sessions = r.SplitSessions, held_back = r.HeldBack, lifecycle_triggers = r.LifecycleTriggers, missing_examples = r.MissingExamples },
        ["lateness_publish"] = Summary(r.Lateness),
        ["lateness_received"] = Summary(r.EndToEnd),
        ["lateness_quiet_partitions"] = Summary(r.QuietLateness),
        ["lateness_warmup"] = Summary(r.WarmupLateness),
        ["redis_bytes_per_idle_session"] = r.RedisBytesPerIdleSession is { } b ? Round(b) : null,
        ["sessions_started"] = r.SessionsStarted,
        ["worker_gc"] = r.WorkerGc?.ToJson(r.WorkerGcSeconds),
        ["late_at_worker"] = r.WorkerGc?.Late is { ThresholdMs: not null } late ? late.ToJson() : null,
        ["cpu"] = r.Cpu?.ToJson(),
        ["compare"] = compare?.ToJson(),
        ["timeline"] = r.Timeline.Select(s => new { s.Second, warmup = s.Second <= r.WarmupSeconds, s.Sent, s.Consumed, s.Lag, s.Triggers, p50_ms = Round(s.LatenessP50), p99_ms = Round(s.LatenessP99), max_ms = Round(s.LatenessMax), gc_pause_ms = Round(s.GcPauseMs) }),
        ["notes"] = r.Notes,
    };

    /// <summary>
    /// The runtime's GC and thread-pool settings given by environment (<c>DOTNET_GCGen0MaxBudget</c>, <c>DOTNET_gcServer</c>,
    /// ...; the worker a run starts inherits them), so a report says which configuration it measured. Names are as set:
    /// the runtime reads them case-sensitively on Linux.
    /// </summary>
    internal static SortedDictionary<string, string> RuntimeSettings(System.Collections.IDictionary environment)
    {
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in environment)
        {
            if (e.Key is string name && e.Value is string value
                && (name.StartsWith("DOTNET_", StringComparison.Ordinal) || name.StartsWith("COMPlus_", StringComparison.Ordinal))
                && (name.Contains("GC", StringComparison.OrdinalIgnoreCase) || name.Contains("ThreadPool", StringComparison.Ordinal)))
            {
                settings[name] = value;
            }
        }

        return settings;
    }

    public static void Write(string directory, LoadResult r, LoadOptions o, CompareResult? compare)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "report.json"), JsonSerializer.Serialize(Json(r, o, compare), Indented));
        File.WriteAllText(Path.Combine(directory, "report.html"), Html(r, o, compare));
    }

    private static double Round(double v) => Math.Round(v, 2);

    // Where the worker's late triggers waited, as one stacked bar with a legend: what to fix first.
    internal static string LateWaitBar(LateWait late)
    {
        if (late.ThresholdMs is not { } over)
        {
            return string.Empty;
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<h2>Where late triggers waited (at the worker)</h2><p>{late.Triggers:N0} triggers were handed to the producer more than {over:0.#} ms after their deadline + allowed lateness");
        if (late.Triggers == 0)
        {
            return sb.Append(".</p>").ToString();
        }

        sb.Append(CultureInfo.InvariantCulture, $", {late.TotalMs / late.Triggers:0.0} ms after their due time on average. Their partitions meanwhile (<i>idle</i>: waiting for input or the timer's wake-up; <i>gc</i>: every thread stopped):</p>");
        string[] colours = ["#9e9e9e", "#1565c0", "#2e7d32", "#f9a825", "#ef6c00", "#6d4c41", "#c62828", "#bdbdbd"]; // one per worker phase, in its order
        const double BarWidth = 480;
        sb.Append("<svg width=\"").Append(BarWidth).Append("\" height=\"18\">");
        var legend = new StringBuilder();
        double x = 0;
        foreach (var (phase, share) in late.Shares())
        {
            string colour = colours[Math.Max(0, Array.IndexOf(StreamTriggers.Worker.Pipeline.LoopTimeline.SlotNames, phase)) % colours.Length];
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.#}\" y=\"1\" width=\"{share * BarWidth:0.#}\" height=\"16\" fill=\"{colour}\"><title>{E(phase)} {share:P0}</title></rect>");
            legend.Append(CultureInfo.InvariantCulture, $"<span style=\"color:{colour}\">&#9632;</span> {E(phase)} {share * 100:0}% &nbsp; ");
            x += share * BarWidth;
        }

        return sb.Append("</svg><p>").Append(legend).Append("</p>").ToString();
    }

    // Cores per process, split by thread role, as a stacked bar per process: who holds the machine.
    internal static string CpuTable(CpuUse cpu)
    {
        var roles = CpuAccount.RoleNames;
        string[] colours = ["#1565c0", "#c62828", "#f9a825", "#2e7d32", "#6d4c41"]; // one per role, in its order
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<h2>Where the CPU went (send phase)</h2><p>The machine was {cpu.MachineBusyShare:P0} busy over {cpu.Seconds:0.#} s ({cpu.Cores} cores); {cpu.Events:N0} events consumed in that time. Cores used on average (1.00 = one core all the time), by thread role.</p>");
        sb.Append("<table><tr><th>process</th><th>cores</th>");
        foreach (var role in roles)
        {
            sb.Append("<th>").Append(E(role)).Append("</th>");
        }

        sb.Append("<th>us per event</th><th></th></tr>");
        const double BarWidth = 240;
        foreach (var p in cpu.Processes)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(p.Name)}</td><td>{p.Cores:0.00}</td>");
            foreach (var role in roles)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<td>{(p.ByRole.TryGetValue(role, out double c) ? c.ToString("0.00", CultureInfo.InvariantCulture) : "")}</td>");
            }

            sb.Append(CultureInfo.InvariantCulture, $"<td>{(cpu.MicrosecondsPerEvent(p.Name) is { } us ? us.ToString("0.0", CultureInfo.InvariantCulture) : "")}</td><td><svg width=\"{BarWidth}\" height=\"14\">");
            double x = 0;
            for (int i = 0; i < roles.Length; i++)
            {
                double w = p.ByRole.GetValueOrDefault(roles[i]) / Math.Max(1, cpu.Cores) * BarWidth;
                if (w > 0)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.#}\" y=\"1\" width=\"{w:0.#}\" height=\"12\" fill=\"{colours[i]}\"><title>{E(roles[i])}</title></rect>");
                    x += w;
                }
            }

            sb.Append("</svg></td></tr>");
        }

        return sb.Append("</table>").ToString();
    }

    /// <summary>The start of a self-contained page, up to and including <c>&lt;body&gt;</c>: one style for every report.</summary>
    internal static string Head(string title) =>
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + E(title) + "</title><style>" +
        "body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}table{border-collapse:collapse;margin:8px 0 20px}" +
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}" +
        ".ok{color:#1a7f37}.bad{color:#c62828}svg{background:#fafafa;border:1px solid #ddd;margin-bottom:20px}</style></head><body>";

    private static string Html(LoadResult r, LoadOptions o, CompareResult? compare)
    {
        var sb = new StringBuilder(Head("StreamTriggers load report"));
        sb.Append(CultureInfo.InvariantCulture, $"<h1>StreamTriggers load report</h1><p>{E(r.Mode)}, {o.Duration.TotalSeconds:0} s measured after {r.WarmupSeconds:0} s of warmup, {r.ConcurrentSessions:N0} concurrent sessions, {o.Partitions} partitions ({o.QuietPartitions} quiet), gap {o.Gap.TotalSeconds:0.###} s, allowed lateness {o.Lateness.TotalSeconds:0.###} s.<br>{E(r.Environment)}. {Environment.ProcessorCount} cores, {E(System.Runtime.InteropServices.RuntimeInformation.OSDescription)}.</p>");

        sb.Append("<h2>Throughput</h2><table><tr><th>events sent</th><th>consumed</th><th>median events/s</th><th>mean events/s</th><th>max lag</th></tr>");
        sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{r.EventsSent:N0}</td><td>{r.EventsConsumed:N0}</td><td>{r.MedianEventsPerSecond:N0}</td><td>{r.MeanEventsPerSecond:N0}</td><td>{r.MaxLag:N0}</td></tr></table>");

        string cls = r.Missing == 0 && r.Duplicates == 0 ? "ok" : "bad";
        sb.Append("<h2>Triggers</h2><table><tr><th>expected</th><th>received</th><th>missing</th><th>duplicate ids</th><th>unexpected</th><th>split sessions</th></tr>");
        sb.Append(CultureInfo.InvariantCulture, $"<tr class=\"{cls}\"><td>{r.Expected:N0}</td><td>{r.Received:N0}</td><td>{r.Missing:N0}</td><td>{r.Duplicates:N0}</td><td>{r.Unexpected:N0}</td><td>{r.SplitSessions:N0}</td></tr></table>");

        sb.Append("<h2>Trigger lateness</h2><p>Publish time minus (deadline + allowed lateness); \"received\" is at this tool's consumer; \"warmup\" is the triggers due before the measured run (every session starts at once, so their deadlines fall together), not in the other rows.</p><table><tr><th></th><th>count</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>");
        foreach (var (name, h) in new[] { ("published", r.Lateness), ("received", r.EndToEnd), ("quiet partitions", r.QuietLateness), ("warmup", r.WarmupLateness) })
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{name}</td><td>{h.Count:N0}</td><td>{h.Percentile(50):N1}</td><td>{h.Percentile(99):N1}</td><td>{h.Percentile(99.9):N1}</td><td>{(h.Count == 0 ? 0 : h.MaxMs):N1}</td></tr>");
        }

        sb.Append("</table>");
        if (r.RedisBytesPerIdleSession is { } bytes)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<p>Redis memory per idle tracked session: <b>{bytes:N0} bytes</b> (used_memory growth over {r.SessionsStarted:N0} sessions, all idle at the end).</p>");
        }

        if (r.WorkerGc is { } gc)
        {
            sb.Append("<p>The worker's garbage collections (from its <code>/metrics</code>; a trigger due during a pause is late by the rest of it): ")
              .Append(E(gc.Line(r.WorkerGcSeconds))).Append(".</p>");
            sb.Append(LateWaitBar(gc.Late));
        }

        if (r.Cpu is { } cpu)
        {
            sb.Append(CpuTable(cpu));
        }

        if (compare is not null)
        {
            sb.Append(compare.HtmlTable());
        }

        var t = r.Timeline;
        sb.Append("<h2>Throughput over time</h2>");
        sb.Append(LineChart("events/s", [("consumed by the worker", "#1565c0", Rates(t, s => s.Consumed)), ("sent", "#9e9e9e", Rates(t, s => s.Sent))]));
        sb.Append("<h2>Consumer lag over time</h2>");
        sb.Append(LineChart("events", [("lag", "#ef6c00", t.Select(s => (s.Second, (double)s.Lag)).ToList())]));
        sb.Append("<h2>Trigger lateness over time</h2>");
        sb.Append(LineChart("ms", [("max", "#c62828", t.Select(s => (s.Second, s.LatenessMax)).ToList()), ("p99", "#ef6c00", t.Select(s => (s.Second, s.LatenessP99)).ToList()), ("p50", "#2e7d32", t.Select(s => (s.Second, s.LatenessP50)).ToList())]));
        sb.Append(r.WorkerGc is not null && o.ChildWorker
            ? "<h2>GC pauses per second (the worker's process)</h2>"
            : r.WorkerGc is not null && o.ExternalWorker ? "<h2>GC pauses per second (the external worker)</h2>" : "<h2>GC pauses per second (this process: tool and in-process worker)</h2>");
        sb.Append(LineChart("ms", [("GC pause", "#6a1b9a", t.Select(s => (s.Second, s.GcPauseMs)).ToList())]));
        sb.Append("<h2>Lateness histogram</h2>");
        sb.Append(Histogram(r.Lateness));
        sb.Append("</body></html>");
        return sb.ToString();
    }

    private static List<(double, double)> Rates(List<Sample> t, Func<Sample, long> total)
    {
        var points = new List<(double, double)>();
        long previous = 0;
        foreach (var s in t)
        {
            points.Add((s.Second, total(s) - previous));
            previous = total(s);
        }

        return points;
    }

    private static string LineChart(string unit, List<(string Name, string Color, List<(double X, double Y)> Points)> series)
    {
        const int W = 960, H = 260, L = 70, B = 30, T = 20;
        var all = series.SelectMany(s => s.Points).ToList();
        if (all.Count == 0)
        {
            return "<p>(no samples)</p>";
        }

        double maxX = Math.Max(1, all.Max(p => p.X));
        double maxY = Nice(all.Max(p => p.Y));
        var sb = new StringBuilder().Append(CultureInfo.InvariantCulture, $"<svg width=\"{W}\" height=\"{H}\" xmlns=\"http://www.w3.org/2000/svg\">");
        for (int i = 0; i <= 4; i++)
        {
            double y = T + ((H - T - B) * (1 - (i / 4.0)));
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{L}\" x2=\"{W - 10}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" stroke=\"#e0e0e0\"/><text x=\"{L - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\" font-size=\"11\">{maxY * i / 4:#,0.##}</text>");
        }

        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L}\" y=\"{H - 6}\" font-size=\"11\">0 s</text><text x=\"{W - 10}\" y=\"{H - 6}\" font-size=\"11\" text-anchor=\"end\">{maxX:0} s</text><text x=\"12\" y=\"14\" font-size=\"11\">{E(unit)}</text>");
        int legend = L + 10;
        foreach (var (name, color, points) in series)
        {
            string path = string.Join(" ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{L + ((W - L - 10) * p.X / maxX):0.#},{T + ((H - T - B) * (1 - (Math.Min(p.Y, maxY) / maxY))):0.#}")));
            sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" points=\"{path}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{legend}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{legend + 14}\" y=\"15\" font-size=\"11\">{E(name)}</text>");
            legend += 30 + (name.Length * 7);
        }

        return sb.Append("</svg>").ToString();
    }

    private static string Histogram(LatencyHistogram h)
    {
        if (h.Count == 0)
        {
            return "<p>(no triggers)</p>";
        }

        // Log-spaced bins from 0.1 ms up to the maximum.
        var edges = new List<double> { 0.1 };
        while (edges[^1] < h.MaxMs) edges.Add(edges[^1] * 1.5);
        var counts = new long[edges.Count];
        foreach (var (upper, count) in h.Buckets())
        {
            int i = edges.FindIndex(e => upper <= e);
            counts[i < 0 ? edges.Count - 1 : i] += count;
        }

        const int W = 960, H = 220, L = 70, B = 40, T = 10;
        long max = Math.Max(1, counts.Max());
        double bw = (W - L - 10) / (double)edges.Count;
        var sb = new StringBuilder().Append(CultureInfo.InvariantCulture, $"<svg width=\"{W}\" height=\"{H}\" xmlns=\"http://www.w3.org/2000/svg\"><text x=\"12\" y=\"14\" font-size=\"11\">triggers</text>");
        for (int i = 0; i < edges.Count; i++)
        {
            double height = (H - T - B) * counts[i] / (double)max;
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{L + (i * bw):0.#}\" y=\"{H - B - height:0.#}\" width=\"{Math.Max(1, bw - 2):0.#}\" height=\"{height:0.#}\" fill=\"#1565c0\"><title>&lt;= {edges[i]:0.##} ms: {counts[i]:N0}</title></rect>");
            if (i % 3 == 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L + (i * bw):0.#}\" y=\"{H - B + 14}\" font-size=\"10\">{edges[i]:0.#}</text>");
            }
        }

        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{W - 10}\" y=\"{H - 8}\" font-size=\"11\" text-anchor=\"end\">lateness, ms (log scale)</text><text x=\"{L - 6}\" y=\"{T + 10}\" font-size=\"11\" text-anchor=\"end\">{max:N0}</text>");
        return sb.Append("</svg>").ToString();
    }

    private static double Nice(double v)
    {
        if (v <= 0)
        {
            return 1;
        }

        double p = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (double m in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (v <= m * p) return m * p;
        }

        return 10 * p;
    }

    internal static string E(string s) => WebUtility.HtmlEncode(s);
}
