namespace StreamTriggers.Time;

/// <summary>
/// Event time is carried as milliseconds since the Unix epoch (UTC) everywhere in the engine: cheap to compare,
/// store and encode, and exact at the millisecond precision of the trigger contract.
/// </summary>
public static class UnixTime
{
    /// <summary>Earliest event time accepted (2000-01-01). Anything older is a tracker bug, not history.</summary>
    public const long MinAcceptedMs = 946_684_800_000;

    /// <summary>Latest event time accepted (2100-01-01).</summary>
    public const long MaxAcceptedMs = 4_102_444_800_000;

    private const long UnixEpochTicks = 621_355_968_000_000_000;

    public static DateTime ToDateTime(long unixMs) => new(UnixEpochTicks + (unixMs * TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    public static long FromDateTime(DateTime utc) => (utc.Ticks - UnixEpochTicks) / TimeSpan.TicksPerMillisecond;

    /// <summary>Formats as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, the time format of the trigger contract.</summary>
    public static string Format(long unixMs)
    {
        Span<byte> buffer = stackalloc byte[24];
        int n = Format(unixMs, buffer);
        return System.Text.Encoding.ASCII.GetString(buffer[..n]);
    }

    /// <summary>Writes <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (24 bytes) into <paramref name="destination"/>.</summary>
    public static int Format(long unixMs, Span<byte> destination)
    {
        var dt = ToDateTime(unixMs);
        Write4(destination, 0, dt.Year);
        destination[4] = (byte)'-';
        Write2(destination, 5, dt.Month);
        destination[7] = (byte)'-';
        Write2(destination, 8, dt.Day);
        destination[10] = (byte)'T';
        Write2(destination, 11, dt.Hour);
        destination[13] = (byte)':';
        Write2(destination, 14, dt.Minute);
        destination[16] = (byte)':';
        Write2(destination, 17, dt.Second);
        destination[19] = (byte)'.';
        int millis = dt.Millisecond;
        destination[20] = (byte)('0' + (millis / 100));
        destination[21] = (byte)('0' + (millis / 10 % 10));
        destination[22] = (byte)('0' + (millis % 10));
        destination[23] = (byte)'Z';
        return 24;
    }

    private static void Write2(Span<byte> d, int at, int v)
    {
        d[at] = (byte)('0' + (v / 10));
        d[at + 1] = (byte)('0' + (v % 10));
    }

    private static void Write4(Span<byte> d, int at, int v)
    {
        Write2(d, at, v / 100);
        Write2(d, at + 2, v % 100);
    }

    /// <summary>
    /// Parses an RFC 3339 date-time from UTF-8: <c>YYYY-MM-DD</c>, <c>T</c> (or <c>t</c> or a space),
    /// <c>HH:MM:SS</c>, an optional fraction (digits past milliseconds are truncated), and <c>Z</c> or
    /// <c>±HH:MM</c>. A time without an offset is rejected: its zone would be a guess.
    /// </summary>
    public static bool TryParseRfc3339(ReadOnlySpan<byte> s, out long unixMs)
    {
        unixMs = 0;
        if (s.Length < 20
            || !TryDateTimePrefix(s, out long ms)
            || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
        {
            return false;
        }

        int i = 19;
        if (s[i] == '.')
        {
            i++;
            int start = i;
            int fracMs = 0;
            while (i < s.Length && IsDigit(s[i]))
            {
                if (i - start < 3)
                {
                    fracMs = (fracMs * 10) + (s[i] - '0');
                }

                i++;
            }

            int digits = i - start;
            if (digits == 0 || digits > 9)
            {
                return false;
            }

            for (int d = digits; d < 3; d++)
            {
                fracMs *= 10;
            }

            ms += fracMs;
        }

        if (i >= s.Length)
        {
            return false;
        }

        if (s[i] == 'Z' || s[i] == 'z')
        {
            i++;
        }
        else if ((s[i] == '+' || s[i] == '-') && i + 6 == s.Length && s[i + 3] == ':'
                 && TryTwo(s, i + 1, out int oh) && TryTwo(s, i + 4, out int om) && oh <= 23 && om <= 59)
        {
            long offset = ((oh * 60) + om) * 60_000L;
            ms = s[i] == '+' ? ms - offset : ms + offset;
            i += 6;
        }
        else
        {
            return false;
        }

        if (i != s.Length)
        {
            return false;
        }

        unixMs = ms;
        return true;
    }

    /// <summary>Parses the REES46 form <c>2019-10-01 00:00:00 UTC</c>.</summary>
    public static bool TryParseRees46(ReadOnlySpan<byte> s, out long unixMs)
    {
        unixMs = 0;
        if (s.Length != 23 || s[10] != ' ' || !s[19..].SequenceEqual(" UTC"u8) || !TryDateTimePrefix(s, out long ms))
        {
            return false;
        }

        unixMs = ms;
        return true;
    }

    // Parses "YYYY-MM-DD?HH:MM:SS" (19 bytes, separator at 10 checked by callers) to Unix ms, validating ranges.
    private static bool TryDateTimePrefix(ReadOnlySpan<byte> s, out long unixMs)
    {
        unixMs = 0;
        if (s.Length < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':'
            || !TryTwo(s, 0, out int y1) || !TryTwo(s, 2, out int y2)
            || !TryTwo(s, 5, out int month) || !TryTwo(s, 8, out int day)
            || !TryTwo(s, 11, out int hour) || !TryTwo(s, 14, out int minute) || !TryTwo(s, 17, out int second))
        {
            return false;
        }

        int year = (y1 * 100) + y2;
        // Second 60 is a leap second in RFC 3339; it is held at :59.999 rather than rejected.
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 60)
        {
            return false;
        }

        long extra = 0;
        if (second == 60)
        {
            second = 59;
            extra = 999;
        }

        long days = DaysFromCivil(year, month, day);
        unixMs = (((((days * 24) + hour) * 60) + minute) * 60 + second) * 1000 + extra;
        return true;
    }

    // Howard Hinnant's days_from_civil: proleptic Gregorian date to days since 1970-01-01.
    private static long DaysFromCivil(int y, int m, int d)
    {
        y -= m <= 2 ? 1 : 0;
        long era = (y >= 0 ? y : y - 399) / 400;
        long yoe = y - (era * 400);
        long doy = ((153 * (m + (m > 2 ? -3 : 9))) + 2) / 5 + d - 1;
        long doe = (yoe * 365) + (yoe / 4) - (yoe / 100) + doy;
        return (era * 146_097) + doe - 719_468;
    }

    private static bool TryTwo(ReadOnlySpan<byte> s, int at, out int value)
    {
        byte a = s[at], b = s[at + 1];
        value = ((a - '0') * 10) + (b - '0');
        return IsDigit(a) && IsDigit(b);
    }

    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;
}
