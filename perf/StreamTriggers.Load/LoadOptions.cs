using StreamTriggers.Worker.Cli;

namespace StreamTriggers.Load;

/// <summary>What one load run does. Parsed from the command line; every option has a default that runs here.</summary>
internal sealed record LoadOptions
{
    public const string Usage = """
        streamtriggers-load [options]

        Streams synthetic clickstream (shaped like the REES46 samples) into the input topic, reads the trigger topic,
        and reports sustained events/s, consumer lag, trigger lateness (p50/p99/p99.9/max) and expected against
        received triggers. By default everything runs here: an embedded Kafka-protocol cluster, a throwaway
        redis-server (AOF, fsync every second) and one worker in this process.

          --rate N                 events/s to send; 0 (default) = as fast as the worker keeps up (lag <= --max-lag)
          --duration DURATION      how long to send and measure, after the warmup (default 30s)
          --warmup DURATION        send at the same rate for this long first (default 10s): every session starts at
                                   once, so the first deadlines all fall together, and the worker is still compiling
                                   its code. Triggers due then are checked like the others (missing, duplicates)
                                   but their lateness is reported apart; 0s measures from the first event
          --sessions N             concurrent visitor sessions (default 20000)
          --browse X --abandon-cart X --abandon-checkout X --buy X --bounce X
                                   shares of visitor intents (defaults from REES46: .53 .025 .01 .035 .40)
          --partitions N           input topic partitions (default 16): the embedded cluster creates this many; on a
                                   real cluster it must be the input topic's count (sessions are routed by it)
          --quiet-partitions N     partitions that get only one new session a second (default 1)
          --gap DURATION           the worker's session gap (default 5s; in-session gaps stay below it)
          --lateness DURATION      the worker's allowed lateness (default 1s)
          --max-lag N              in as-fast-as-possible mode, pause sending while the worker is this far behind
                                   (default 200000; on the embedded cluster at most what it keeps, ~5 MB per
                                   busy partition, about 12,500 events each)
          --bootstrap SERVERS      use this Kafka cluster instead of the embedded one
          --worker inprocess|process|external
                                   run the worker in this process (default), as a child process of its own
                                   ('streamtriggers run': its own GC, as in production), or measure one already
                                   running against --bootstrap (its gap and lateness must match --gap, --lateness)
          --worker-metrics URL     an external worker's /metrics (e.g. http://worker:9464/metrics): the report then
                                   has its GC pauses too (the tool reads them from the workers it starts itself)
          --redis auto|none|CONFIG state for the in-process worker: auto (default) starts redis-server from PATH,
                                   none keeps state in memory, anything else is a StackExchange.Redis configuration
          --input-topic T --trigger-topic T --group G
                                   names (defaults: load-clickstream, load-triggers, a fresh group per run)
          --lifecycle on|off       run the worker's customer stage too (default off: the session stage alone); on
                                   opens the policy (no quiet hours, no frequency cap) so every expected trigger
                                   may go out
          --capacity               answer "how much can one worker take, and how late are triggers at that load?"
                                   in one command: a run as fast as the worker keeps up, then one at
                                   --capacity-share of its median rate (same broker, Redis and topics; the second
                                   worker in a group of its own, from the end of the input),
                                   then the issue's targets, each met or not (with --compare, its ratios too)
          --capacity-share X       the second run's share of the maximum (default 0.5)
          --compare                run raw consumer, naive per-event Redis and StreamTriggers over the same backlog
          --events N               backlog size for --compare (default 400000)
          --naive-seconds N        time box for the naive contestant (default 20)
          --set KEY=VALUE          a worker setting for this run (repeatable), e.g. --set
                                   StreamTriggers:Worker:CommitInterval=00:00:01 or
                                   StreamTriggers:Kafka:Settings:fetch.min.bytes=65536
          --report DIR             where report.json and report.html go (default perf/results/<mode>-<time>)
          --no-progress            no live status line
        """;

    public double Rate { get; init; }
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Sending before the measured <see cref="Duration"/>: its triggers are checked, their lateness reported apart.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(10);
    public int Sessions { get; init; } = 20_000;
    public double Browse { get; init; } = 0.53;
    public double AbandonCart { get; init; } = 0.025;
    public double AbandonCheckout { get; init; } = 0.01;
    public double Buy { get; init; } = 0.035;
    public double Bounce { get; init; } = 0.40;
    public int Partitions { get; init; } = 16;
    public int QuietPartitions { get; init; } = 1;
    public TimeSpan Gap { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan Lateness { get; init; } = TimeSpan.FromSeconds(1);
    public long MaxLag { get; init; } = 200_000;
    public string Bootstrap { get; init; } = string.Empty;
    public bool ExternalWorker { get; init; }

    /// <summary>Run the worker as a child process (<c>streamtriggers run</c>) instead of in this process.</summary>
    public bool ChildWorker { get; init; }

    /// <summary>An external worker's <c>/metrics</c> address, for its GC pauses.</summary>
    public string? WorkerMetrics { get; init; }
    public string Redis { get; init; } = "auto";
    public string InputTopic { get; init; } = "load-clickstream";
    public string TriggerTopic { get; init; } = "load-triggers";
    public string Group { get; init; } = "load-" + Guid.NewGuid().ToString("N")[..8];
    public bool Compare { get; init; }

    /// <summary>Measure the maximum rate, then the lateness at <see cref="CapacityShare"/> of it, and hold both to the targets.</summary>
    public bool Capacity { get; init; }

    /// <summary>The share of the measured maximum the second <see cref="Capacity"/> run sends at.</summary>
    public double CapacityShare { get; init; } = 0.5;

    /// <summary>
    /// Run the worker with the customer lifecycle (both stages, the production default), its policy opened up so
    /// every expected session trigger may go out: quiet hours off, no frequency cap. Lifecycle triggers are counted
    /// apart; a session trigger the policy still held back (priority) is read from the audit topic.
    /// </summary>
    public bool Lifecycle { get; init; }
    public int Events { get; init; } = 400_000;
    public int NaiveSeconds { get; init; } = 20;
    public string? ReportDirectory { get; init; }
    public bool Progress { get; init; } = true;

    /// <summary>Worker settings given with <c>--set</c>, as configuration keys and values.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> WorkerSettings { get; init; } = [];

    public bool Embedded => Bootstrap.Length == 0;

    public static LoadOptions Parse(string[] args)
    {
        var cl = new CommandLine(args, new HashSet<string> { "compare", "capacity", "no-progress" });
        var d = new LoadOptions();
        string worker = cl.String("worker", "inprocess")!;
        var o = new LoadOptions
        {
            Rate = cl.Int("rate", 0, 0, 10_000_000),
            Duration = cl.Duration("duration", d.Duration),
            Warmup = cl.Duration("warmup", d.Warmup),
            Sessions = cl.Int("sessions", d.Sessions, 1, 5_000_000),
            Browse = Share(cl, "browse", d.Browse),
            AbandonCart = Share(cl, "abandon-cart", d.AbandonCart),
            AbandonCheckout = Share(cl, "abandon-checkout", d.AbandonCheckout),
            Buy = Share(cl, "buy", d.Buy),
            Bounce = Share(cl, "bounce", d.Bounce),
            Partitions = cl.Int("partitions", d.Partitions, 1, 1024),
            QuietPartitions = cl.Int("quiet-partitions", d.QuietPartitions, 0, 1023),
            Gap = cl.Duration("gap", d.Gap),
            Lateness = cl.Duration("lateness", d.Lateness),
            MaxLag = cl.Int("max-lag", (int)d.MaxLag, 1000, 100_000_000),
            Bootstrap = cl.String("bootstrap", string.Empty)!,
            ExternalWorker = worker switch
            {
                "inprocess" or "process" => false,
                "external" => true,
                _ => throw new UsageException($"--worker is '{worker}'; use inprocess, process or external"),
            },
            ChildWorker = worker == "process",
            WorkerMetrics = cl.String("worker-metrics"),
            Redis = cl.String("redis", d.Redis)!,
            InputTopic = cl.String("input-topic", d.InputTopic)!,
            TriggerTopic = cl.String("trigger-topic", d.TriggerTopic)!,
            Group = cl.String("group", d.Group)!,
            Compare = cl.Has("compare"),
            Capacity = cl.Has("capacity"),
            CapacityShare = Share(cl, "capacity-share", d.CapacityShare),
            Lifecycle = cl.String("lifecycle", "off") switch
            {
                "on" => true,
                "off" => false,
                var v => throw new UsageException($"--lifecycle is '{v}'; use on or off"),
            },
            Events = cl.Int("events", d.Events, 1000, 100_000_000),
            NaiveSeconds = cl.Int("naive-seconds", d.NaiveSeconds, 1, 3600),
            ReportDirectory = cl.String("report"),
            Progress = !cl.Has("no-progress"),
            WorkerSettings = [.. cl.All("set").Select(Setting)],
        };
        cl.EnsureAllUsed();
        if (o.QuietPartitions >= o.Partitions)
        {
            throw new UsageException("--quiet-partitions must leave at least one busy partition");
        }

        if (o.ExternalWorker && o.Embedded)
        {
            throw new UsageException("--worker external needs --bootstrap: an external worker cannot reach the embedded cluster");
        }

        if (o.Compare && (o.ExternalWorker || o.ChildWorker))
        {
            throw new UsageException("--compare runs its contestants in this process; use --worker inprocess");
        }

        if (o.Capacity && o.Rate > 0)
        {
            throw new UsageException("--capacity finds the rate itself (its maximum, then --capacity-share of it); leave out --rate");
        }

        if (o.Capacity && o.CapacityShare is <= 0.0 or >= 1.0)
        {
            throw new UsageException("--capacity-share must be above 0 and below 1");
        }

        if (o.Gap < TimeSpan.FromSeconds(1))
        {
            throw new UsageException("--gap must be at least 1s (sessions keep their in-session gaps below it)");
        }

        return o;
    }

    private static KeyValuePair<string, string> Setting(string text)
    {
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || !(text.StartsWith("StreamTriggers:", StringComparison.Ordinal) || text.StartsWith("Logging:", StringComparison.Ordinal)))
        {
            throw new UsageException($"--set is '{text}'; use KEY=VALUE with a StreamTriggers: or Logging: key");
        }

        return new(text[..eq], text[(eq + 1)..]);
    }

    private static double Share(CommandLine cl, string name, double fallback)
    {
        string? text = cl.String(name);
        if (text is null)
        {
            return fallback;
        }

        return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v) && v is >= 0 and <= 1
            ? v
            : throw new UsageException($"--{name} is '{text}'; it must be a share from 0 to 1");
    }
}
