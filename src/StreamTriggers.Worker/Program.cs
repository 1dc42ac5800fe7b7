using StreamTriggers.Worker.Cli;
using StreamTriggers.Worker.Hosting;
using StreamTriggers.Worker.Replay;

namespace StreamTriggers.Worker;

internal static class Program
{
    private const string Usage = """
        streamtriggers: real-time behavioural triggers from clickstream

        usage: streamtriggers <command> [options]

        commands:
          run       the live worker: Kafka in, Redis state, triggers out (embedded when no Kafka is configured)
          replay    run recorded clickstream (JSON lines or REES46 CSV) through the engine in event time
          inspect   what is stored for a session or customer: state, pending timers, trigger decisions
          topics    create the input, trigger, dead-letter and audit topics on a Kafka cluster
          help      this text, or 'help <command>'

        'streamtriggers <command> --help' shows a command's options.
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.Out.WriteLine(args.Length > 1 ? CommandUsage(args[1]) ?? Usage : Usage);
            return args.Length == 0 ? 2 : 0;
        }

        string command = args[0];
        var rest = args.Skip(1).ToArray();
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            Console.Out.WriteLine(CommandUsage(command) ?? Usage);
            return 0;
        }

        try
        {
            return command switch
            {
                "replay" => ReplayCommand.Run(rest),
                "run" => await RunCommand.RunAsync(rest).ConfigureAwait(false),
                "inspect" => await Tools.InspectCommand.RunAsync(rest, Console.Out).ConfigureAwait(false),
                "topics" => await Tools.TopicsCommand.RunAsync(rest, Console.Out).ConfigureAwait(false),
                _ => throw new UsageException($"unknown command '{command}'"),
            };
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"streamtriggers {command}: {ex.Message}");
            Console.Error.WriteLine($"see 'streamtriggers {command} --help'");
            return 2;
        }
    }

    private static string? CommandUsage(string command) => command switch
    {
        "replay" => ReplayCommand.Usage,
        "run" => RunCommand.Usage,
        "inspect" => Tools.InspectCommand.Usage,
        "topics" => Tools.TopicsCommand.Usage,
        _ => null,
    };
}
