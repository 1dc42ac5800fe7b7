using System.Globalization;
using StreamTriggers.Time;

namespace StreamTriggers.Customers;

/// <summary>
/// The customer lifecycle: which moments fire and when, and how value segments and lifetime value are computed.
/// Bound from <c>StreamTriggers:Lifecycle</c>.
/// </summary>
public sealed class LifecycleOptions
{
    public const string SectionName = "StreamTriggers:Lifecycle";

    /// <summary>
    /// Keep customer state and run the lifecycle triggers and the sending policy. Default true. Off, only the session
    /// triggers go out, each as soon as it fires (replay's <c>--lifecycle off</c>).
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>cart_abandoned_reminder</c>: this long after a <c>cart_abandoned</c> that no order followed. Default 24 hours.</summary>
    public TimeSpan ReminderDelay { get; set; } = TimeSpan.FromHours(24);

    /// <summary><c>post_purchase_cross_sell</c>: this long after an order. Default 14 days.</summary>
    public TimeSpan CrossSellDelay { get; set; } = TimeSpan.FromDays(14);

    /// <summary><c>replenishment</c> fires this long before a product bought is expected to run out. Default 3 days.</summary>
    public TimeSpan ReplenishmentLead { get; set; } = TimeSpan.FromDays(3);

    /// <summary>
    /// Use cycle in days per product category, for products whose events carry no <c>replenish_days</c>. The longest
    /// key that is the category or a prefix of it at a separator (<c>.</c> or <c>/</c>) wins: <c>cosmetics</c> covers
    /// <c>cosmetics.skin.cream</c>. Empty by default: only products that say their cycle are replenished.
    /// </summary>
    public Dictionary<string, int> ReplenishDays { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary><c>win_back</c>: a customer with an order and no activity for this long. Default 60 days.</summary>
    public TimeSpan WinBackAfter { get; set; } = TimeSpan.FromDays(60);

    /// <summary><c>vip_reached</c>: lifetime spend at or above this, once per customer. Default 1000.</summary>
    public decimal VipThreshold { get; set; } = 1000m;

    /// <summary>An anonymous session's cart or checkout trigger fires again, once, when identity arrives within this. Default 24 hours.</summary>
    public TimeSpan IdentityRefireWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary><c>trigger_revoked</c>: an order within this after a cart or checkout trigger revokes it. Default 24 hours.</summary>
    public TimeSpan RevokeWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a customer's state is kept after their last activity. Default 400 days.</summary>
    public TimeSpan CustomerRetention { get; set; } = TimeSpan.FromDays(400);

    /// <summary>Distinct products bought a customer keeps (for replenishment), newest purchases first. Default 50.</summary>
    public int MaxProductsBought { get; set; } = 50;

    /// <summary>Sessions linked to a customer that are kept, newest first. Default 10.</summary>
    public int MaxLinkedSessions { get; set; } = 10;

    /// <summary>Trigger decisions a customer keeps for <c>inspect</c>, newest first. Default 10.</summary>
    public int DecisionHistory { get; set; } = 10;

    public SegmentOptions Segments { get; set; } = new();

    /// <summary>
    /// The cycle for a product: its own <c>replenish_days</c>, else the longest matching category prefix in
    /// <see cref="ReplenishDays"/>, else null (not replenished).
    /// </summary>
    public int? CycleDays(Decoding.ProductInfo p)
    {
        if (p.ReplenishDays is { } own)
        {
            return own;
        }

        if (p.Category is not { } category || ReplenishDays.Count == 0)
        {
            return null;
        }

        int? best = null;
        int bestLength = -1;
        foreach (var (key, days) in ReplenishDays)
        {
            bool matches = category.Length == key.Length
                ? string.Equals(category, key, StringComparison.OrdinalIgnoreCase)
                : category.Length > key.Length && category.StartsWith(key, StringComparison.OrdinalIgnoreCase) && category[key.Length] is '.' or '/';
            if (matches && key.Length > bestLength)
            {
                best = days;
                bestLength = key.Length;
            }
        }

        return best;
    }

    internal long ReminderMs => (long)ReminderDelay.TotalMilliseconds;
    internal long CrossSellMs => (long)CrossSellDelay.TotalMilliseconds;
    internal long LeadMs => (long)ReplenishmentLead.TotalMilliseconds;
    internal long WinBackMs => (long)WinBackAfter.TotalMilliseconds;
    internal long RefireMs => (long)IdentityRefireWindow.TotalMilliseconds;
    internal long RevokeMs => (long)RevokeWindow.TotalMilliseconds;
    internal long RetentionMs => (long)CustomerRetention.TotalMilliseconds;

    public IEnumerable<string> Validate(string prefix = SectionName)
    {
        foreach (var error in Check(prefix + ":ReminderDelay", ReminderDelay, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30))) yield return error;
        foreach (var error in Check(prefix + ":CrossSellDelay", CrossSellDelay, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365))) yield return error;
        foreach (var error in Check(prefix + ":ReplenishmentLead", ReplenishmentLead, TimeSpan.Zero, TimeSpan.FromDays(365))) yield return error;
        foreach (var error in Check(prefix + ":WinBackAfter", WinBackAfter, TimeSpan.FromDays(1), TimeSpan.FromDays(365))) yield return error;
        foreach (var error in Check(prefix + ":IdentityRefireWindow", IdentityRefireWindow, TimeSpan.Zero, TimeSpan.FromDays(30))) yield return error;
        foreach (var error in Check(prefix + ":RevokeWindow", RevokeWindow, TimeSpan.Zero, TimeSpan.FromDays(30))) yield return error;
        if (CustomerRetention <= WinBackAfter || CustomerRetention <= CrossSellDelay || CustomerRetention > TimeSpan.FromDays(3650))
            yield return $"{prefix}:CustomerRetention is {Duration.Format(CustomerRetention)}; it must be longer than WinBackAfter ({Duration.Format(WinBackAfter)}) and CrossSellDelay ({Duration.Format(CrossSellDelay)}) and at most 3650d.";
        if (VipThreshold <= 0)
            yield return $"{prefix}:VipThreshold is {VipThreshold.ToString(CultureInfo.InvariantCulture)}; it must be greater than 0.";
        foreach (var (category, days) in ReplenishDays)
        {
            if (string.IsNullOrWhiteSpace(category) || days is < 1 or > 3650)
                yield return $"{prefix}:ReplenishDays:{category} is {days}; a category's cycle must be between 1 and 3650 days.";
        }

        if (MaxProductsBought is < 1 or > 1000)
            yield return $"{prefix}:MaxProductsBought is {MaxProductsBought}; it must be between 1 and 1000.";
        if (MaxLinkedSessions is < 1 or > 1000)
            yield return $"{prefix}:MaxLinkedSessions is {MaxLinkedSessions}; it must be between 1 and 1000.";
        if (DecisionHistory is < 0 or > 100)
            yield return $"{prefix}:DecisionHistory is {DecisionHistory}; it must be between 0 and 100.";
        foreach (var error in Segments.Validate(prefix + ":Segments")) yield return error;
    }

    public LifecycleOptions EnsureValid(string prefix = SectionName)
    {
        var errors = Validate(prefix).ToList();
        return errors.Count == 0 ? this : throw new ArgumentException(string.Join(Environment.NewLine, errors));
    }

    private static IEnumerable<string> Check(string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
            yield return $"{key} is {Duration.Format(value)}; it must be between {Duration.Format(min)} and {Duration.Format(max)}.";
    }
}
