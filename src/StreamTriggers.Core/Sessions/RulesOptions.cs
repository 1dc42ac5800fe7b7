using StreamTriggers.Time;

namespace StreamTriggers.Sessions;

/// <summary>The session rules: when a period ends and what fires then. Bound from <c>StreamTriggers:Rules</c>.</summary>
public sealed class RulesOptions
{
    public const string SectionName = "StreamTriggers:Rules";

    /// <summary>Inactivity gap G: a session's deadline is its last activity plus this. Default 30 minutes.</summary>
    public TimeSpan Gap { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Browse threshold K: distinct products viewed in a period for <c>browse_abandoned</c>. Default 2.</summary>
    public int BrowseMinProducts { get; set; } = 2;

    /// <summary>Cooldown C: a (session, trigger type) fires at most once per this, measured between deadlines. Default 24 hours.</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Allowed lateness L: the clock is the greatest event time seen minus this (replay), or the wall clock minus
    /// this (live). Default 0; the live worker defaults it to 2 seconds.
    /// </summary>
    public TimeSpan AllowedLateness { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How long a session's state (cart, cooldowns, seen event ids) is kept after its last activity once its period
    /// has closed. Default 7 days. Must exceed the gap and the cooldown.
    /// </summary>
    public TimeSpan SessionRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How many recent <c>event_id</c>s a session with an open period remembers to drop duplicate deliveries. Default 64.</summary>
    public int MaxEventIdsPerSession { get; set; } = 64;

    /// <summary>
    /// How many of the newest <c>event_id</c>s a session keeps once its period has closed. Default 8. Tracker retries
    /// come within seconds; an idle session should cost little memory in the state store.
    /// </summary>
    public int MaxEventIdsAfterClose { get; set; } = 8;

    /// <summary>Distinct products viewed that a period keeps (for the browse threshold and trigger context). Default 20.</summary>
    public int MaxViewedProducts { get; set; } = 20;

    /// <summary>Most distinct lines a cart keeps; adds of further products are counted and not kept. Default 100.</summary>
    public int MaxCartLines { get; set; } = 100;

    /// <summary>
    /// Trigger decisions (sent, or held back and why) a session keeps in its state for <c>inspect</c>, newest first.
    /// About 8 bytes each. Default 5; 0 keeps none.
    /// </summary>
    public int DecisionHistory { get; set; } = 5;

    internal long GapMs => (long)Gap.TotalMilliseconds;
    internal long CooldownMs => (long)Cooldown.TotalMilliseconds;
    internal long LatenessMs => (long)AllowedLateness.TotalMilliseconds;
    internal long RetentionMs => (long)SessionRetention.TotalMilliseconds;

    /// <summary>Every problem with these values, each naming the configuration key, the value and what is allowed.</summary>
    public IEnumerable<string> Validate(string prefix = SectionName)
    {
        if (Gap < TimeSpan.FromSeconds(1) || Gap > TimeSpan.FromDays(30))
            yield return $"{prefix}:Gap is {Duration.Format(Gap)}; it must be between 1s and 30d.";
        if (BrowseMinProducts < 1 || BrowseMinProducts > MaxViewedProducts)
            yield return $"{prefix}:BrowseMinProducts is {BrowseMinProducts}; it must be between 1 and MaxViewedProducts ({MaxViewedProducts}).";
        if (Cooldown < TimeSpan.Zero || Cooldown > TimeSpan.FromDays(365))
            yield return $"{prefix}:Cooldown is {Duration.Format(Cooldown)}; it must be between 0s and 365d.";
        if (AllowedLateness < TimeSpan.Zero || AllowedLateness > TimeSpan.FromHours(24))
            yield return $"{prefix}:AllowedLateness is {Duration.Format(AllowedLateness)}; it must be between 0s and 24h.";
        if (SessionRetention <= Gap || SessionRetention < Cooldown || SessionRetention > TimeSpan.FromDays(400))
            yield return $"{prefix}:SessionRetention is {Duration.Format(SessionRetention)}; it must be longer than Gap ({Duration.Format(Gap)}), at least Cooldown ({Duration.Format(Cooldown)}) and at most 400d.";
        if (MaxEventIdsPerSession is < 0 or > 4096)
            yield return $"{prefix}:MaxEventIdsPerSession is {MaxEventIdsPerSession}; it must be between 0 and 4096.";
        // At least one: a late event closes its own period at once, and its immediate retry must still be recognised.
        if (MaxEventIdsPerSession > 0 && (MaxEventIdsAfterClose < 1 || MaxEventIdsAfterClose > MaxEventIdsPerSession))
            yield return $"{prefix}:MaxEventIdsAfterClose is {MaxEventIdsAfterClose}; it must be between 1 and MaxEventIdsPerSession ({MaxEventIdsPerSession}).";
        if (MaxViewedProducts is < 1 or > 1000)
            yield return $"{prefix}:MaxViewedProducts is {MaxViewedProducts}; it must be between 1 and 1000.";
        if (DecisionHistory is < 0 or > 100)
            yield return $"{prefix}:DecisionHistory is {DecisionHistory}; it must be between 0 and 100.";
        if (MaxCartLines is < 1 or > 10_000)
            yield return $"{prefix}:MaxCartLines is {MaxCartLines}; it must be between 1 and 10000.";
    }

    /// <summary>Throws with every problem listed when the options are not valid.</summary>
    public RulesOptions EnsureValid(string prefix = SectionName)
    {
        var errors = Validate(prefix).ToList();
        return errors.Count == 0 ? this : throw new ArgumentException(string.Join(Environment.NewLine, errors));
    }
}
