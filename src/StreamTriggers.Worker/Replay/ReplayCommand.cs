using Microsoft.Extensions.Configuration;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Worker.Cli;

namespace StreamTriggers.Worker.Replay;

/// <summary><c>streamtriggers replay</c>: recorded clickstream in, triggers out, in event time.</summary>
internal static class ReplayCommand
{
    public const string Usage = """
        streamtriggers replay --input PATH [options]

        Runs recorded clickstream through the trigger engine in event time and writes one trigger per line.

          --input PATH              JSON lines (one event per line) or REES46 CSV; '-' for stdin; .gz is read
          --format auto|jsonl|rees46  input format (default auto: by file name, else by the first line)
          --output PATH|-           where triggers go (default '-', stdout)
          --dead-letter PATH        write rejected lines with their reason here (JSON lines)
          --audit PATH              write every trigger held back (suppressed or deferred) with its reason (JSON lines)
          --lifecycle on|off        customer state, lifecycle triggers and the sending policy (default on);
                                    off: the session triggers only, each as soon as it fires
          --config PATH             a JSON file with the worker's StreamTriggers:Rules, :Lifecycle and :Policy
                                    sections (delays, replenishment table, segments, caps, quiet hours); flags win
          --quiet-hours HH:MM-HH:MM|off  quiet hours in the customer's time zone (default 21:00-08:00)
          --gap DURATION            inactivity gap that ends a session period (default 30m)
          --browse-min-products N   distinct products viewed for browse_abandoned (default 2)
          --cooldown DURATION       a session fires a trigger type at most once per this (default 24h)
          --lateness DURATION       allowed lateness: the clock is the greatest event time minus this (default 0s)
          --retention DURATION      how long a closed session's state is kept after its last activity (default 7d)
          --max-event-bytes N       largest accepted event line (default 65536)
          --max-string-bytes N      longest accepted string value, UTF-8 bytes (default 512)
          --max-items N             most products in one event (default 100)
          --flush                   at the end of the input, fire every open period's deadline
          --no-progress             no live progress line on stderr

        Durations: 1500ms, 30s, 30m, 24h, 7d. A summary (events, rejections by reason, triggers by type) goes to stderr.
        """;

    private static readonly HashSet<string> Flags = ["flush", "no-progress"];

    public static ReplayOptions Parse(IEnumerable<string> args)
    {
        var cl = new CommandLine(args, Flags);
        var configuration = cl.String("config") is { } configPath ? LoadConfig(configPath) : null;
        var defaults = configuration?.GetSection(RulesOptions.SectionName).Get<RulesOptions>() ?? new RulesOptions();
        var lifecycle = configuration?.GetSection(LifecycleOptions.SectionName).Get<LifecycleOptions>() ?? new LifecycleOptions();
        var policy = configuration?.GetSection(PolicyOptions.SectionName).Get<PolicyOptions>() ?? new PolicyOptions();
        if (cl.String("lifecycle") is { } mode)
        {
            lifecycle.Enabled = mode switch
            {
                "on" => true,
                "off" => false,
                _ => throw new UsageException($"--lifecycle is '{mode}'; it must be on or off"),
            };
        }

        if (cl.String("quiet-hours") is { } quiet)
        {
            (policy.QuietHoursStart, policy.QuietHoursEnd) = ParseQuietHours(quiet);
        }

        var rules = new RulesOptions
        {
            Gap = cl.Duration("gap", defaults.Gap),
            BrowseMinProducts = cl.Int("browse-min-products", defaults.BrowseMinProducts, 1, 1000),
            Cooldown = cl.Duration("cooldown", defaults.Cooldown),
            AllowedLateness = cl.Duration("lateness", defaults.AllowedLateness),
            SessionRetention = cl.Duration("retention", defaults.SessionRetention),
        };
        var d = new DecoderLimits();
        var limits = new DecoderLimits
        {
            MaxEventBytes = cl.Int("max-event-bytes", d.MaxEventBytes, 256, 16 * 1024 * 1024),
            MaxStringBytes = cl.Int("max-string-bytes", d.MaxStringBytes, 16, 65_536),
            MaxItems = cl.Int("max-items", d.MaxItems, 1, 10_000),
        };
        var options = new ReplayOptions
        {
            Input = cl.Required("input"),
            Format = LineDecoder.Parse(cl.String("format")),
            Output = cl.String("output", "-")!,
            DeadLetter = cl.String("dead-letter"),
            Audit = cl.String("audit"),
            Flush = cl.Has("flush"),
            Progress = !cl.Has("no-progress"),
            Rules = rules,
            Limits = limits,
            Lifecycle = lifecycle,
            Policy = policy,
        };
        cl.EnsureAllUsed();

        // Replay names options by their flags, not their configuration keys.
        var errors = rules.Validate("replay").Select(e => e
            .Replace("replay:Gap", "--gap", StringComparison.Ordinal)
            .Replace("replay:BrowseMinProducts", "--browse-min-products", StringComparison.Ordinal)
            .Replace("replay:Cooldown", "--cooldown", StringComparison.Ordinal)
            .Replace("replay:AllowedLateness", "--lateness", StringComparison.Ordinal)
            .Replace("replay:SessionRetention", "--retention", StringComparison.Ordinal)).ToList();
        errors.AddRange(lifecycle.Validate());
        errors.AddRange(policy.Validate());
        return errors.Count == 0 ? options : throw new UsageException(string.Join(Environment.NewLine, errors));
    }

    private static IConfiguration LoadConfig(string path) =>
        File.Exists(path)
            ? new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(path), optional: false).Build()
            : throw new UsageException($"--config: no file at '{path}'");

    private static (TimeOnly Start, TimeOnly End) ParseQuietHours(string value)
    {
        if (value == "off")
        {
            return (TimeOnly.MinValue, TimeOnly.MinValue);
        }

        var parts = value.Split('-');
        if (parts.Length == 2
            && TimeOnly.TryParseExact(parts[0], "HH:mm", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var start)
            && TimeOnly.TryParseExact(parts[1], "HH:mm", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var end))
        {
            return (start, end);
        }

        throw new UsageException($"--quiet-hours is '{value}'; it must be HH:MM-HH:MM (for example 21:00-08:00) or off");
    }

    public static int Run(IEnumerable<string> args)
    {
        var options = Parse(args);

        // A replay is a batch job: no background collections (the live worker's default, for its lateness), which
        // cost a replay page faults per event and throughput; the same collector the replay figures were measured with.
        System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch;
        var result = new ReplayRunner(options).Run();
        result.WriteSummary(Console.Error, options.Input == "-" ? "stdin" : Path.GetFileName(options.Input));
        return 0;
    }
}
