namespace StreamTriggers.Customers;

/// <summary>
/// Quiet hours in a customer's local time: whether an instant falls inside them and when they end. Handles a window
/// that crosses midnight (21:00-08:00) and daylight-saving changes: the end is the first instant whose local time is
/// at or after the end time, so a spring-forward gap moves it to the first valid local time, and in an autumn
/// fall-back overlap the first (earlier) occurrence is used.
/// </summary>
public readonly struct QuietHours
{
    private readonly TimeOnly _start;
    private readonly TimeOnly _end;

    public QuietHours(TimeOnly start, TimeOnly end)
    {
        _start = start;
        _end = end;
    }

    public bool Enabled => _start != _end;

    /// <summary>Whether <paramref name="utcMs"/> is inside quiet hours in <paramref name="zone"/>.</summary>
    public bool Contains(long utcMs, TimeZoneInfo zone)
    {
        if (!Enabled)
        {
            return false;
        }

        var local = TimeOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(DateTime.UnixEpoch.AddMilliseconds(utcMs), zone));
        return _start < _end ? local >= _start && local < _end : local >= _start || local < _end;
    }

    /// <summary>The first instant at or after <paramref name="utcMs"/> that is outside quiet hours (Unix ms UTC).</summary>
    public long ReleaseAt(long utcMs, TimeZoneInfo zone)
    {
        if (!Contains(utcMs, zone))
        {
            return utcMs;
        }

        var utc = DateTime.UnixEpoch.AddMilliseconds(utcMs);
        var local = TimeZoneInfo.ConvertTimeFromUtc(utc, zone);
        // The end is today (local) when we are before it, else tomorrow.
        var day = TimeOnly.FromDateTime(local) < _end ? local.Date : local.Date.AddDays(1);
        var endLocal = DateTime.SpecifyKind(day + _end.ToTimeSpan(), DateTimeKind.Unspecified);
        long candidate = ToUtcMs(endLocal, zone);

        // A DST change between now and the end can shift the end by the change; step until outside, by minutes,
        // which also lands on the first valid minute after a spring-forward gap.
        while (Contains(candidate, zone) || candidate < utcMs)
        {
            candidate += 60_000;
        }

        return candidate;
    }

    private static long ToUtcMs(DateTime local, TimeZoneInfo zone)
    {
        // Inside a spring-forward gap the local time does not exist: move to the first minute after the gap.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }

        DateTime utc;
        if (zone.IsAmbiguousTime(local))
        {
            // The earlier of the two instants: the larger offset (summer time) gives the earlier UTC time.
            var offsets = zone.GetAmbiguousTimeOffsets(local);
            var offset = offsets.Max();
            utc = DateTime.SpecifyKind(local - offset, DateTimeKind.Utc);
        }
        else
        {
            utc = TimeZoneInfo.ConvertTimeToUtc(local, zone);
        }

        return (long)(utc - DateTime.UnixEpoch).TotalMilliseconds;
    }
}
