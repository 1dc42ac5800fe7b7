using StreamTriggers.Customers;
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

    /// <summary>The customer engine's counts (null with the lifecycle off).</summary>
    public CustomerCounters? Customers { get; init; }
    public long AuditWritten { get; set; }
    public long CustomersAtEnd { get; set; }
    public long CustomerTimersAtEnd { get; set; }
    public long OpenPeriodsAtEnd { get; set; }
    public TimeSpan Elapsed { get; set; }

    public long Rejections(RejectReason reason) => RejectedByReason[(int)reason];

    /// <summary>Fired by the session rules (before the sending policy).</summary>
    public long Fired(TriggerType type) => Engine.Fired[(int)type];

    /// <summary>What went out: after the sending policy with the lifecycle on, else what the session rules fired.</summary>
    public long Emitted(TriggerType type) => Customers?.Emitted[(int)type] ?? Engine.Fired[(int)type];

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
        if (Customers is null)
        {
            w.WriteLine($"  triggers              {Engine.TotalFired,12:N0}");
            foreach (var type in TriggerTypes.Session)
            {
                w.WriteLine($"    {TriggerTypes.Name(type),-20}{Fired(type),12:N0}");
            }
        }
        else
        {
            w.WriteLine($"  session triggers      {Engine.TotalFired,12:N0}  (before the sending policy)");
            w.WriteLine($"  customers             {Customers.CustomersCreated,12:N0}");
            w.WriteLine($"  triggers sent         {Customers.TotalEmitted,12:N0}");
            foreach (var type in TriggerTypes.All)
            {
                if (Emitted(type) > 0)
                {
                    w.WriteLine($"    {TriggerTypes.Name(type),-24}{Emitted(type),8:N0}");
                }
            }

            if (Customers.TotalSuppressed > 0)
            {
                w.WriteLine($"  held back             {Customers.TotalSuppressed,12:N0}");
                foreach (var type in TriggerTypes.All)
                {
                    for (int r = 1; r < CustomerCounters.Reasons; r++)
                    {
                        long n = Customers.SuppressedBy(type, (DecisionReason)r);
                        if (n > 0)
                        {
                            w.WriteLine($"    {TriggerTypes.Name(type) + " (" + TriggerDecision.ReasonName((DecisionReason)r) + ")",-36}{n,8:N0}");
                        }
                    }
                }
            }

            if (Customers.TotalDeferred > 0)
            {
                w.WriteLine($"  deferred (quiet hours){Customers.TotalDeferred,12:N0}  (released later; counted above when sent)");
            }

            if (Engine.Refired > 0)
            {
                w.WriteLine($"  fired again on identity{Engine.Refired,11:N0}");
            }

            if (CustomerTimersAtEnd > 0)
            {
                w.WriteLine($"  customer timers pending{CustomerTimersAtEnd,11:N0}  (due after the input's last event)");
            }
        }

        long suppressed = Engine.SuppressedByCooldown.Sum();
        if (suppressed > 0)
        {
            w.WriteLine($"  suppressed (cooldown) {suppressed,12:N0}");
        }

        if (AuditWritten > 0)
        {
            w.WriteLine($"  audit records         {AuditWritten,12:N0}");
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
