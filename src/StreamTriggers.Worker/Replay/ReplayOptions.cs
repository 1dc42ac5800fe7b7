using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;

namespace StreamTriggers.Worker.Replay;

/// <summary>What one <c>replay</c> run reads, how, and where it writes.</summary>
internal sealed class ReplayOptions
{
    /// <summary>Input path, or <c>-</c> for standard input. A <c>.gz</c> file is decompressed.</summary>
    public required string Input { get; init; }

    public InputFormat Format { get; init; } = InputFormat.Auto;

    /// <summary>Output path for triggers, or <c>-</c> for standard output.</summary>
    public string Output { get; init; } = "-";

    /// <summary>Optional path for rejected input lines with their reason.</summary>
    public string? DeadLetter { get; init; }

    /// <summary>Optional path for the audit: every trigger held back (suppressed or deferred) with its reason, as JSON lines.</summary>
    public string? Audit { get; init; }

    public bool Flush { get; init; }

    /// <summary>Show a live progress line on stderr (when it is a terminal).</summary>
    public bool Progress { get; init; } = true;

    public RulesOptions Rules { get; init; } = new();

    public DecoderLimits Limits { get; init; } = new();

    /// <summary>Customer state, lifecycle triggers and the sending policy (<see cref="LifecycleOptions.Enabled"/> false: session triggers only).</summary>
    public LifecycleOptions Lifecycle { get; init; } = new();

    public PolicyOptions Policy { get; init; } = new();
}
