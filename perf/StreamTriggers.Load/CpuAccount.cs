using System.Globalization;
using System.Runtime.InteropServices;

namespace StreamTriggers.Load;

/// <summary>
/// Where the machine's CPU went during a run: CPU seconds per process and, inside a .NET process, per thread role (the
/// collector's threads, the JIT, librdkafka's threads, everything else), read from Linux's <c>/proc</c> at the start
/// and end of the send phase. It answers "is the machine the limit, and who holds it?" without a profiler: the worker's
/// microseconds per event, and what the tool, the embedded broker and Redis take beside it on the same cores.
/// </summary>
internal static class CpuAccount
{
    /// <summary>The processes to account for, by the name the report gives them.</summary>
    public sealed record Target(string Name, int Pid);

    /// <summary>CPU seconds so far of one process: its total (threads that exited included) and its live threads by role.</summary>
    public sealed record ProcessTimes(string Name, double TotalSeconds, IReadOnlyDictionary<string, double> ByRole);

    /// <summary>One reading: the machine's busy and total CPU seconds (all cores) and each target's times.</summary>
    public sealed record Snapshot(double MachineBusySeconds, double MachineTotalSeconds, IReadOnlyList<ProcessTimes> Processes);

    /// <summary>Every role, in the order reports show them; threads no prefix below names are app.</summary>
    public static readonly string[] RoleNames = ["app", "gc", "jit", "librdkafka", "embedded broker"];

    // Thread names (a Linux comm, at most 15 characters) to roles; the first prefix that matches wins.
    private static readonly (string Prefix, string Role)[] Roles =
    [
        (".NET Server GC", "gc"),
        (".NET BGC", "gc"),
        (".NET Background GC", "gc"),
        (".NET Tiered Com", "jit"),
        ("rdk:mock", "embedded broker"),
        ("rdk:", "librdkafka"),
    ];

    /// <summary>The role of a thread named <paramref name="comm"/>: gc, jit, librdkafka, embedded broker, or app.</summary>
    public static string RoleOf(string comm)
    {
        foreach (var (prefix, role) in Roles)
        {
            if (comm.StartsWith(prefix, StringComparison.Ordinal))
            {
                return role;
            }
        }

        return "app";
    }

    /// <summary>
    /// The name, user and system CPU ticks from a <c>/proc/.../stat</c> line, or null when it does not parse. The name
    /// is in parentheses and may itself hold spaces and parentheses: the fields start after the last ')'.
    /// </summary>
    public static (string Comm, long Ticks)? ParseStat(string line)
    {
        int open = line.IndexOf('(', StringComparison.Ordinal);
        int close = line.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }

        // After the name: state (field 3), ppid, ..., utime (field 14), stime (field 15).
        var fields = line[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out long user)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out long system))
        {
            return null;
        }

        return (line[(open + 1)..close], user + system);
    }

    /// <summary>Busy and total ticks from <c>/proc/stat</c>'s first line (idle and iowait are not busy), or null.</summary>
    public static (long Busy, long Total)? ParseMachine(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5 || fields[0] != "cpu")
        {
            return null;
        }

        long total = 0, idle = 0;
        // user nice system idle iowait irq softirq steal (guest time is already inside user)
        for (int i = 1; i < Math.Min(fields.Length, 9); i++)
        {
            if (!long.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out long v))
            {
                return null;
            }

            total += v;
            if (i is 4 or 5)
            {
                idle += v;
            }
        }

        return (total - idle, total);
    }

    /// <summary>A reading of the machine and of <paramref name="targets"/>, or null where there is no <c>/proc</c> (not Linux).</summary>
    public static Snapshot? Take(IEnumerable<Target> targets)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/stat"))
        {
            return null;
        }

        double tick = 1.0 / TicksPerSecond;
        var machine = ParseMachine(File.ReadLines("/proc/stat").First());
        if (machine is null)
        {
            return null;
        }

        var processes = new List<ProcessTimes>();
        foreach (var target in targets)
        {
            if (TryRead($"/proc/{target.Pid}/stat") is not { } total)
            {
                continue; // gone
            }

            var byRole = new Dictionary<string, double>();
            string[] threads;
            try
            {
                threads = Directory.GetDirectories($"/proc/{target.Pid}/task");
            }
            catch (IOException)
            {
                threads = [];
            }

            foreach (var thread in threads)
            {
                if (TryRead(Path.Combine(thread, "stat")) is { } t)
                {
                    string role = RoleOf(t.Comm);
                    byRole[role] = byRole.GetValueOrDefault(role) + t.Ticks * tick;
                }
            }

            processes.Add(new ProcessTimes(target.Name, total.Ticks * tick, byRole));
        }

        return new Snapshot(machine.Value.Busy * tick, machine.Value.Total * tick, processes);
    }

    private static (string Comm, long Ticks)? TryRead(string path)
    {
        try
        {
            return ParseStat(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // the process or thread ended between listing and reading
        }
    }

    // USER_HZ: the unit of /proc's times (100 on every mainstream Linux; asked, not assumed, where libc answers).
    private static readonly long TicksPerSecond = ClockTicks();

    private static long ClockTicks()
    {
        try
        {
            long hz = SysConf(2); // _SC_CLK_TCK
            return hz > 0 ? hz : 100;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 100;
        }
    }

    [DllImport("libc", EntryPoint = "sysconf")]
    private static extern long SysConf(int name);

    /// <summary>What a run's window used, from two readings <paramref name="wallSeconds"/> apart, over <paramref name="events"/> events.</summary>
    public static CpuUse? Between(Snapshot? first, Snapshot? last, double wallSeconds, long events)
    {
        if (first is null || last is null || wallSeconds <= 0)
        {
            return null;
        }

        var processes = new List<CpuUse.Process>();
        foreach (var now in last.Processes)
        {
            if (first.Processes.FirstOrDefault(p => p.Name == now.Name) is not { } before)
            {
                continue;
            }

            double total = Math.Max(0, now.TotalSeconds - before.TotalSeconds);
            // App is what the named roles leave of the process's total: that includes threads that ended inside the
            // window (counted in the total, in no thread's reading).
            var roles = new Dictionary<string, double>();
            foreach (var (role, seconds) in now.ByRole)
            {
                double used = seconds - before.ByRole.GetValueOrDefault(role);
                if (role != "app" && used > 0)
                {
                    roles[role] = used;
                }
            }

            roles["app"] = Math.Max(0, total - roles.Values.Sum());
            processes.Add(new CpuUse.Process(now.Name, total / wallSeconds,
                roles.Where(kv => kv.Value > 0).OrderByDescending(kv => kv.Value).ToDictionary(kv => kv.Key, kv => kv.Value / wallSeconds)));
        }

        double machineTotal = last.MachineTotalSeconds - first.MachineTotalSeconds;
        double busy = machineTotal > 0 ? Math.Clamp((last.MachineBusySeconds - first.MachineBusySeconds) / machineTotal, 0, 1) : 0;
        return new CpuUse(wallSeconds, Environment.ProcessorCount, busy, events, processes);
    }
}

/// <summary>CPU used over a run's window: cores per process and role, the machine's busy share, and per event.</summary>
internal sealed record CpuUse(double Seconds, int Cores, double MachineBusyShare, long Events, IReadOnlyList<CpuUse.Process> Processes)
{
    /// <summary>One process: cores used on average (1.0 = one core all the time) and the same split by thread role.</summary>
    public sealed record Process(string Name, double Cores, IReadOnlyDictionary<string, double> ByRole);

    /// <summary>CPU microseconds per event the process named <paramref name="name"/> spent (optionally one role's), or null.</summary>
    public double? MicrosecondsPerEvent(string name, string? role = null)
    {
        if (Events <= 0 || Processes.FirstOrDefault(p => p.Name == name) is not { } p)
        {
            return null;
        }

        double cores = role is null ? p.Cores : p.ByRole.GetValueOrDefault(role);
        return cores * Seconds / Events * 1e6;
    }

    public object ToJson() => new
    {
        seconds = Math.Round(Seconds, 1),
        cores = Cores,
        machine_busy_share = Math.Round(MachineBusyShare, 3),
        events = Events,
        processes = Processes.ToDictionary(p => p.Name, p => new
        {
            cores = Math.Round(p.Cores, 3),
            by_role = p.ByRole.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 3)),
            us_per_event = MicrosecondsPerEvent(p.Name) is { } us ? Math.Round(us, 2) : (double?)null,
        }),
    };

    /// <summary>One line per process for the console, the machine first.</summary>
    public IEnumerable<string> Lines()
    {
        yield return string.Create(CultureInfo.InvariantCulture,
            $"machine {MachineBusyShare:P0} busy of {Cores} cores over {Seconds:0.#} s; {Events:N0} events consumed in it");
        foreach (var p in Processes)
        {
            // A process with no .NET or librdkafka threads (redis-server) has no split worth a list.
            string roles = p.ByRole.Keys.Any(role => role != "app")
                ? " (" + string.Join(", ", p.ByRole.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:0.00}"))) + ")"
                : "";
            string perEvent = MicrosecondsPerEvent(p.Name) is { } us ? string.Create(CultureInfo.InvariantCulture, $"; {us:0.0} us per event") : "";
            yield return string.Create(CultureInfo.InvariantCulture, $"{p.Name}: {p.Cores:0.00} cores{roles}{perEvent}");
        }
    }
}
