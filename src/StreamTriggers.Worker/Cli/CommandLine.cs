using StreamTriggers.Time;

namespace StreamTriggers.Worker.Cli;

/// <summary>Thrown for a command line that cannot run; the message is shown to the user as is.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// A small <c>--name value</c> / <c>--name=value</c> / <c>--flag</c> parser. Every option must be declared by the
/// command; an unknown one is an error, so a typo never silently changes nothing.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _repeated = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public CommandLine(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string arg = e.Current;
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"unexpected argument '{arg}'");
            }

            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (!flags.Contains(name))
            {
                if (!e.MoveNext())
                {
                    throw new UsageException($"--{name} needs a value");
                }

                value = e.Current;
            }

            _values[name] = value;
            if (value is not null)
            {
                (_repeated.TryGetValue(name, out var list) ? list : _repeated[name] = []).Add(value);
            }
        }
    }

    /// <summary>Every value of an option that may be given more than once, in order.</summary>
    public IReadOnlyList<string> All(string name)
    {
        _used.Add(name);
        return _repeated.TryGetValue(name, out var list) ? list : [];
    }

    public bool Has(string name)
    {
        _used.Add(name);
        return _values.ContainsKey(name);
    }

    public string? String(string name, string? fallback = null)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var v) ? v ?? throw new UsageException($"--{name} needs a value") : fallback;
    }

    public string Required(string name) => String(name) ?? throw new UsageException($"--{name} is required");

    public int Int(string name, int fallback, int min, int max)
    {
        string? text = String(name);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? v
            : throw new UsageException($"--{name} is '{text}'; it must be a whole number from {min} to {max}");
    }

    public TimeSpan Duration(string name, TimeSpan fallback)
    {
        string? text = String(name);
        if (text is null)
        {
            return fallback;
        }

        return Time.Duration.TryParse(text, out var v)
            ? v
            : throw new UsageException($"--{name} is '{text}'; use a duration like 1500ms, 30s, 30m, 24h or 7d");
    }

    /// <summary>Fails on any option the command did not ask for.</summary>
    public void EnsureAllUsed()
    {
        foreach (var name in _values.Keys)
        {
            if (!_used.Contains(name))
            {
                throw new UsageException($"unknown option --{name}");
            }
        }
    }
}
