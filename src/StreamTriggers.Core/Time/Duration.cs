using System.Globalization;

namespace StreamTriggers.Time;

/// <summary>
/// Parses and formats the short duration syntax used on the command line and in configuration:
/// <c>1500ms</c>, <c>30s</c>, <c>30m</c>, <c>24h</c>, <c>7d</c>, or a .NET <see cref="TimeSpan"/> (<c>00:30:00</c>).
/// </summary>
public static class Duration
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim();
        int unitStart = s.Length;
        while (unitStart > 0 && char.IsAsciiLetter(s[unitStart - 1]))
        {
            unitStart--;
        }

        if (unitStart == s.Length)
        {
            // No unit: accept the TimeSpan form ("00:30:00") but not a bare number, whose unit would be a guess.
            return s.Contains(':', StringComparison.Ordinal)
                && TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out value)
                && value >= TimeSpan.Zero;
        }

        if (unitStart == 0
            || !double.TryParse(s.AsSpan(0, unitStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)
            || double.IsNaN(number) || double.IsInfinity(number))
        {
            return false;
        }

        double ms;
        switch (s[unitStart..].ToLowerInvariant())
        {
            case "ms": ms = number; break;
            case "s": ms = number * 1_000; break;
            case "m": ms = number * 60_000; break;
            case "h": ms = number * 3_600_000; break;
            case "d": ms = number * 86_400_000; break;
            default: return false;
        }

        if (ms > TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(Math.Round(ms));
        return true;
    }

    public static TimeSpan Parse(string text, string name) =>
        TryParse(text, out var value)
            ? value
            : throw new FormatException($"{name}: '{text}' is not a duration; use forms like 1500ms, 30s, 30m, 24h, 7d.");

    /// <summary>Formats in the shortest exact unit, the inverse of <see cref="TryParse"/>.</summary>
    public static string Format(TimeSpan value)
    {
        long ms = (long)value.TotalMilliseconds;
        if (ms != 0 && ms % 86_400_000 == 0) return $"{ms / 86_400_000}d";
        if (ms != 0 && ms % 3_600_000 == 0) return $"{ms / 3_600_000}h";
        if (ms != 0 && ms % 60_000 == 0) return $"{ms / 60_000}m";
        if (ms % 1_000 == 0) return $"{ms / 1_000}s";
        return $"{ms}ms";
    }
}
