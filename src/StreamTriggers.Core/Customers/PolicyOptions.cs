using StreamTriggers.Time;
using StreamTriggers.Triggers;

namespace StreamTriggers.Customers;

/// <summary>
/// The sending policy: whether a trigger may go out at all, decided when it is due. Bound from
/// <c>StreamTriggers:Policy</c>. Operational triggers (<c>segment_changed</c>, <c>trigger_revoked</c>) are never held back.
/// </summary>
public sealed class PolicyOptions
{
    public const string SectionName = "StreamTriggers:Policy";

    /// <summary>
    /// The cap family of each trigger type (types not listed have no cap). Default: browse, cart and checkout
    /// abandonment and the cart reminder form the <c>abandonment</c> family.
    /// </summary>
    public Dictionary<string, string> CapFamilies { get; set; } = new(StringComparer.Ordinal)
    {
        ["browse_abandoned"] = "abandonment",
        ["cart_abandoned"] = "abandonment",
        ["checkout_abandoned"] = "abandonment",
        ["cart_abandoned_reminder"] = "abandonment",
    };

    /// <summary>Per cap family: at most one trigger per customer within this window (0 = no cap). Default <c>abandonment</c>: 16 hours.</summary>
    public Dictionary<string, TimeSpan> FrequencyCaps { get; set; } = new(StringComparer.Ordinal)
    {
        ["abandonment"] = TimeSpan.FromHours(16),
    };

    /// <summary>Start of quiet hours, local time in the customer's time zone. Default 21:00. Equal to <see cref="QuietHoursEnd"/> turns quiet hours off.</summary>
    public TimeOnly QuietHoursStart { get; set; } = new(21, 0);

    /// <summary>End of quiet hours, local time: held triggers are released then. Default 08:00.</summary>
    public TimeOnly QuietHoursEnd { get; set; } = new(8, 0);

    /// <summary>IANA time zone for customers whose events never said theirs (<c>context.timezone</c>). Default UTC.</summary>
    public string DefaultTimeZone { get; set; } = "UTC";

    /// <summary>
    /// When several of these are due for one customer at once, only the first listed goes out; the others are
    /// suppressed. Default checkout, then cart, then browse abandonment.
    /// </summary>
    public List<string> Priority { get; set; } = ["checkout_abandoned", "cart_abandoned", "browse_abandoned"];

    public IEnumerable<string> Validate(string prefix = SectionName)
    {
        foreach (var (type, family) in CapFamilies)
        {
            if (!TriggerTypes.TryParse(type, out var t))
                yield return $"{prefix}:CapFamilies:{type} names no trigger type; known: {string.Join(", ", TriggerTypes.All.Select(TriggerTypes.Name))}.";
            else if (TriggerTypes.IsOperational(t))
                yield return $"{prefix}:CapFamilies:{type}: {type} is operational and never capped.";
            if (string.IsNullOrWhiteSpace(family))
                yield return $"{prefix}:CapFamilies:{type} is empty; it must name a family.";
        }

        foreach (var (family, window) in FrequencyCaps)
        {
            if (window < TimeSpan.Zero || window > TimeSpan.FromDays(365))
                yield return $"{prefix}:FrequencyCaps:{family} is {Duration.Format(window)}; it must be between 0s and 365d.";
        }

        if (TimeZones.Find(DefaultTimeZone) is null)
            yield return $"{prefix}:DefaultTimeZone is '{DefaultTimeZone}'; it must be an IANA time zone id such as Europe/Paris or UTC.";

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in Priority)
        {
            if (!TriggerTypes.TryParse(type, out _))
                yield return $"{prefix}:Priority lists '{type}', which names no trigger type.";
            else if (!seen.Add(type))
                yield return $"{prefix}:Priority lists '{type}' twice.";
        }
    }

    public PolicyOptions EnsureValid(string prefix = SectionName)
    {
        var errors = Validate(prefix).ToList();
        return errors.Count == 0 ? this : throw new ArgumentException(string.Join(Environment.NewLine, errors));
    }
}
