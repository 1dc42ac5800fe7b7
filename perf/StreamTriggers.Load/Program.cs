using System.Globalization;
using StreamTriggers.Load;
using StreamTriggers.Worker.Cli;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(LoadOptions.Usage);
    return 0;
}

LoadOptions o;
try
{
    o = LoadOptions.Parse(args);
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"streamtriggers-load: {ex.Message}");
    return 2;
}

bool live = o.Progress && !Console.IsErrorRedirected;
void Status(string line)
{
    if (live)
    {
        Console.Error.Write($"\r{line,-140}\r");
    }
}

await using var harness = await Harness.StartAsync(o);
Console.WriteLine($"streamtriggers-load: {harness.Describe}");
CompareResult? compare = null;
if (o.Compare)
{
    compare = await CompareRun.RunAsync(harness, o, Status);
    Status(string.Empty);
    Console.WriteLine(compare.Lines());
    if (compare.RedisBytesPerIdleSession is { } bytes)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Redis memory per idle session            {bytes,12:N0} bytes   (target <= {CapacityRun.TargetRedisBytes})"));
    }
}

string dir = o.ReportDirectory ?? Path.Combine("perf", "results", $"{(o.Capacity ? "capacity" : o.Compare ? "compare" : o.Rate > 0 ? "rate" : "max")}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
if (o.Capacity)
{
    var capacity = await CapacityRun.RunAsync(harness, o, compare, Status);
    Status(string.Empty);
    string atName = $"at-{Math.Round(o.CapacityShare * 100)}pct";
    Console.WriteLine("run 1 of 2: the maximum");
    Print(capacity.Max, o, Path.Combine(dir, "max"));
    Console.WriteLine();
    Console.WriteLine($"run 2 of 2: {o.CapacityShare:P0} of it");
    Print(capacity.AtShare, o with { Rate = capacity.Rate }, Path.Combine(dir, atName));
    Console.WriteLine();
    Console.WriteLine(CapacityRun.Lines(capacity));
    CapacityRun.Write(dir, capacity, "max", atName);
    Console.WriteLine($"report: {Path.Combine(dir, "report.html")} (the targets, linking both runs' reports), {Path.Combine(dir, "capacity.json")}");
    return capacity.Max.Missing + capacity.AtShare.Missing == 0 && capacity.Max.Duplicates + capacity.AtShare.Duplicates == 0 ? 0 : 1;
}

var result = await LoadRun.RunAsync(harness, o, Status);
Status(string.Empty);
Print(result, o, dir, compare);
return result.Missing == 0 && result.Duplicates == 0 ? 0 : 1;

// One run's figures on the console, and its report.json, report.html (and worker.log) in its directory.
static void Print(LoadResult result, LoadOptions o, string dir, CompareResult? compare = null)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
        {result.Mode}: sent {result.EventsSent:N0} events in {result.SendSeconds:0.0} s; worker consumed {result.EventsConsumed:N0}
        throughput        median {result.MedianEventsPerSecond:N0} events/s per second sampled, mean {result.MeanEventsPerSecond:N0}; max lag {result.MaxLag:N0}
        triggers          expected {result.Expected:N0}, received {result.Received:N0}, missing {result.Missing:N0}, duplicate ids {result.Duplicates:N0}, unexpected {result.Unexpected:N0} (split sessions {result.SplitSessions:N0}){(o.Lifecycle ? $"; held back by the policy (audited) {result.HeldBack:N0}, lifecycle triggers {result.LifecycleTriggers:N0}" : "")}
        lateness          p50 {result.Lateness.Percentile(50):N1} ms  p99 {result.Lateness.Percentile(99):N1} ms  p99.9 {result.Lateness.Percentile(99.9):N1} ms  max {(result.Lateness.Count == 0 ? 0 : result.Lateness.MaxMs):N1} ms  ({result.Lateness.Count:N0} triggers, publish time - (deadline + lateness))
        quiet partitions  p99 {result.QuietLateness.Percentile(99):N1} ms  max {(result.QuietLateness.Count == 0 ? 0 : result.QuietLateness.MaxMs):N1} ms  ({result.QuietLateness.Count:N0} triggers)
        """));
    if (result.WarmupSeconds > 0)
    {
        var w = result.WarmupLateness;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"warmup            {result.WarmupSeconds:0} s before the above, not in it: p50 {w.Percentile(50):N1} ms  p99 {w.Percentile(99):N1} ms  max {(w.Count == 0 ? 0 : w.MaxMs):N1} ms  ({w.Count:N0} triggers due then)"));
    }
    if (result.RedisBytesPerIdleSession is { } perSession)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Redis memory      {perSession:N0} bytes per idle session ({result.SessionsStarted:N0} sessions)"));
    }

    if (result.WorkerGc is { } gc)
    {
        Console.WriteLine($"worker GC         {gc.Line(result.WorkerGcSeconds)}");
        if (gc.Late.Line() is { } late)
        {
            Console.WriteLine($"late at worker    {late}");
        }
    }

    foreach (var line in result.Cpu?.Lines() ?? [])
    {
        Console.WriteLine($"CPU               {line}");
    }

    foreach (var example in result.MissingExamples)
    {
        Console.WriteLine($"  missing: {example}");
    }

    Report.Write(dir, result, o, compare);
    if (result.WorkerOutput.Count > 0)
    {
        File.WriteAllLines(Path.Combine(dir, "worker.log"), result.WorkerOutput);
    }

    foreach (var note in result.Notes)
    {
        Console.WriteLine($"note: {note}");
    }

    Console.WriteLine($"report: {Path.Combine(dir, "report.json")}, {Path.Combine(dir, "report.html")}{(result.WorkerOutput.Count > 0 ? ", worker.log" : "")}");
}
