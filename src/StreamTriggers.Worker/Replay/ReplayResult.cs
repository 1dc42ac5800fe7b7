using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Worker.Replay;

/// <summary>The counts of one replay: what was read, rejected and fired.</summary>
internal sealed class ReplayResult
{
    public InputFormat Format { get; set; }
    public long EventsRead { get; set; }
    public long BytesRead { get; set; }
    public long[] RejectedByReason { get; } = new long[RejectReasons.Count];
    public long Rejected => RejectedByReason.Sum();
    public required EngineCounters Engine { get; init; }
    public long TriggersWritten { get; set; }
    public long OpenPeriodsAtEnd { get; set; }
    public TimeSpan Elapsed { get; set; }

    public long Rejections(RejectReason reason) => RejectedByReason[(int)reason];

    public long Fired(TriggerType type) => Engine.Fired[(int)type];

    public void WriteSummary(TextWriter w, string inputName)
    {
        double seconds = Math.Max(Elapsed.TotalSeconds, 1e-6);
        w.WriteLine($"replay: {EventsRead:N0} events read from {inputName} ({FormatName(Format)}, {BytesRead / 1024.0 / 1024.0:N1} MiB) in {seconds:N2} s, {EventsRead / seconds:N0} events/s");
        w.WriteLine($"  applied               {Engine.EventsApplied,12:N0}");
        w.WriteLine($"  duplicates ignored    {Engine.DuplicatesIgnored,12:N0}");
        w.WriteLine($"  rejected              {Rejected,12:N0}");
        foreach (var reason in Enum.GetValues<RejectReason>())
        {
            if (Rejections(reason) > 0)
            {
                w.WriteLine($"    {RejectReasons.Name(reason),-20}{Rejections(reason),12:N0}");
            }
        }

        w.WriteLine($"  sessions              {Engine.SessionsCreated,12:N0}");
        w.WriteLine($"  triggers              {Engine.TotalFired,12:N0}");
        foreach (var type in TriggerTypes.All)
        {
            w.WriteLine($"    {TriggerTypes.Name(type),-20}{Fired(type),12:N0}");
        }

        long suppressed = Engine.SuppressedByCooldown.Sum();
        if (suppressed > 0)
        {
            w.WriteLine($"  suppressed (cooldown) {suppressed,12:N0}");
        }

        if (Engine.CartAddsDropped > 0)
        {
            w.WriteLine($"  cart adds over limit  {Engine.CartAddsDropped,12:N0}");
        }

        if (OpenPeriodsAtEnd > 0)
        {
            w.WriteLine($"  open at end of input  {OpenPeriodsAtEnd,12:N0}  (not fired; --flush fires them)");
        }
    }

    public static string FormatName(InputFormat format) => format switch
    {
        InputFormat.Rees46 => "rees46",
        InputFormat.JsonLines => "jsonl",
        _ => "auto",
    };
}
