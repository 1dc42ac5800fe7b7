using System.Diagnostics;
using Confluent.Kafka;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Pipeline;

namespace StreamTriggers.Load;

/// <summary>One second of a run, for the charts.</summary>
internal sealed record Sample(double Second, long Sent, long Consumed, long Lag, long Triggers, double LatenessP50, double LatenessP99, double LatenessMax, double GcPauseMs);

/// <summary>Everything a load run measured.</summary>
internal sealed class LoadResult
{
    public required string Mode { get; init; }
    public required string Environment { get; init; }
    public double SendSeconds { get; set; }
    public long EventsSent { get; set; }
    public long EventsConsumed { get; set; }
    public double MeanEventsPerSecond { get; set; }
    public double MedianEventsPerSecond { get; set; }
    public long MaxLag { get; set; }
    public int ConcurrentSessions { get; set; }
    public long SessionsStarted { get; set; }
    public long Expected { get; set; }
    public long Received { get; set; }
    public long Missing { get; set; }
    public long Duplicates { get; set; }
    public long Unexpected { get; set; }

    /// <summary>With the lifecycle: customer-level triggers (segment changes, VIP, cross-sells, ...), not checked.</summary>
    public long LifecycleTriggers { get; set; }

    /// <summary>With the lifecycle: expected session triggers the policy held back, each on the audit topic with its reason.</summary>
    public long HeldBack { get; set; }
    public long SplitSessions { get; set; }
    public List<string> MissingExamples { get; } = [];
    public LatencyHistogram Lateness { get; } = new();
    public LatencyHistogram EndToEnd { get; } = new();
    public LatencyHistogram QuietLateness { get; } = new();

    /// <summary>The lateness of the triggers due during the warmup (checked like the others, measured apart).</summary>
    public LatencyHistogram WarmupLateness { get; } = new();

    /// <summary>The seconds of sending before the measured run (<see cref="LoadOptions.Warmup"/>).</summary>
    public double WarmupSeconds { get; set; }
    public double? RedisBytesPerIdleSession { get; set; }
    public List<Sample> Timeline { get; } = [];
    public List<string> Notes { get; } = [];

    /// <summary>What a child worker wrote (its log), for worker.log beside the report; empty for other workers.</summary>
    public IReadOnlyList<string> WorkerOutput { get; set; } = [];

    /// <summary>The worker's GC over the run (sending and draining), from its /metrics; null when it could not be read.</summary>
    public GcReading? WorkerGc { get; set; }

    /// <summary>The seconds <see cref="WorkerGc"/> covers.</summary>
    public double WorkerGcSeconds { get; set; }

    /// <summary>CPU by process and thread role over the send phase; null where there is no <c>/proc</c>.</summary>
    public CpuUse? Cpu { get; set; }
}

/// <summary>
/// Sends synthetic clickstream at a fixed rate (or as fast as the worker keeps up), reads the triggers, and holds
/// them to what the tool expects: every abandoned session's trigger, once, on time.
/// </summary>
internal static class LoadRun
{
    public static async Task<LoadResult> RunAsync(Harness h, LoadOptions o, Action<string> status)
    {
        var result = new LoadResult { Mode = o.Rate > 0 ? $"fixed rate {o.Rate:N0}/s" : "as fast as the worker keeps up", Environment = h.Describe };
        // The embedded cluster deletes the oldest input beyond ~5 MB per partition, read or not: a worker further
        // behind than that would skip events (and their triggers would be missing through no fault of its own).
        long lagLimit = o.Embedded ? EmbeddedLagLimit(o) : long.MaxValue;
        long maxLag = Math.Min(o.MaxLag, lagLimit);
        if (o.Rate == 0 && maxLag < o.MaxLag)
        {
            result.Notes.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"--max-lag {o.MaxLag:N0} lowered to {maxLag:N0} events: the embedded cluster keeps only ~5 MB of each of the {o.Partitions - o.QuietPartitions} busy partitions"));
        }

        h.CreateTopic(o.InputTopic, o.Partitions);
        h.CreateTopic(o.TriggerTopic, 4);
        long? memoryBefore = await h.RedisUsedMemoryAsync().ConfigureAwait(false);
        WorkerStats? stats = o.ExternalWorker || o.ChildWorker ? null : await h.StartWorkerAsync(o.InputTopic, o.TriggerTopic, o.Group).ConfigureAwait(false);
        if (o.ChildWorker)
        {
            h.StartWorkerProcess(o.InputTopic, o.TriggerTopic, o.Group);
        }

        using var external = stats is null ? new GroupProgress(h.Bootstrap, o.Group, o.InputTopic) : null;
        Func<long> consumed = stats is not null ? () => stats.Events : () => external!.Consumed;
        using var watcher = new TriggerWatcher(h.Bootstrap, o.TriggerTopic);
        using var audit = o.Lifecycle ? new TriggerWatcher(h.Bootstrap, o.InputTopic + "-audit", audit: true) : null;
        var heldBack = new HashSet<string>(StringComparer.Ordinal);
        var source = new TrafficSource(o, seed: 42, sessionPrefix: $"L{DateTime.UtcNow:HHmmss}-");
        result.ConcurrentSessions = source.ConcurrentSessions;

        var expected = new Dictionary<string, Expectation>(StringComparer.Ordinal);
        var quiet = new HashSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long latenessMs = (long)o.Lateness.TotalMilliseconds;
        long lastDue = 0;
        // Triggers due before this (Unix ms) belong to the warmup: everything until the warmup ends, then its end.
        long measuredFromMs = o.Warmup > TimeSpan.Zero ? long.MaxValue : long.MinValue;
        var second = new LatencyHistogram();
        long triggersThisSecond = 0;

        void Collect()
        {
            foreach (var r in audit?.Drain() ?? [])
            {
                heldBack.Add(r.Id);
            }

            foreach (var r in watcher.Drain())
            {
                if (o.Lifecycle && !(TriggerTypes.TryParse(r.Type, out var type) && TriggerTypes.Session.Contains(type)))
                {
                    result.LifecycleTriggers++;
                    continue;
                }

                if (!seen.Add(r.Id))
                {
                    result.Duplicates++;
                    continue;
                }

                result.Received++;
                if (expected.Remove(r.Id, out var e))
                {
                    double lateness = r.PublishedMs - (e.DeadlineMs + latenessMs);
                    second.Record(lateness);
                    if (e.DeadlineMs + latenessMs < measuredFromMs)
                    {
                        result.WarmupLateness.Record(lateness);
                    }
                    else
                    {
                        result.Lateness.Record(lateness);
                        result.EndToEnd.Record(r.ReceivedMs - (e.DeadlineMs + latenessMs));
                        if (quiet.Remove(r.Id))
                        {
                            result.QuietLateness.Record(lateness);
                        }
                    }
                }
                else if (!source.Split.Contains(r.SessionId))
                {
                    result.Unexpected++;
                }

                triggersThisSecond++;
            }
        }

        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = h.Bootstrap,
            Acks = Acks.Leader,
            // Fewer, larger message sets: librdkafka's mock broker finds a fetch offset by scanning a partition's
            // message sets one by one, so thousands of tiny ones make every fetch slow. 20 ms is well inside the
            // allowed lateness and does not move event times (they are stamped when created).
            LingerMs = 20,
            BatchSize = 1_000_000,
            QueueBufferingMaxMessages = 1_000_000,
        }).SetLogHandler((_, _) => { }).Build();

        // The worker's GC pauses come from its /metrics (its own process, or this one when it runs in process).
        await using var gcProbe = h.WorkerMetricsUrl is { } url ? new WorkerGcProbe(url) : null;
        GcReading? gcFirst = null;
        for (var until = DateTime.UtcNow.AddSeconds(15); gcProbe is not null && gcFirst is null && DateTime.UtcNow < until;)
        {
            gcFirst = await gcProbe.ReadAsync().ConfigureAwait(false);
            if (gcFirst is null) await Task.Delay(250).ConfigureAwait(false);
        }

        if (gcProbe is not null && gcFirst is null)
        {
            result.Notes.Add($"the worker's /metrics ({gcProbe.Url}) did not answer: GC pauses in the timeline are this process's"
                + (h.ChildExited() is { } exited ? $"; {exited}" : string.Empty));
        }

        var gcClock = Stopwatch.StartNew();
        var gcPrevious = gcFirst;
        var cpuTargets = h.CpuTargets().ToList();
        var cpuFirst = CpuAccount.Take(cpuTargets);
        long consumedFirst = consumed();
        var clock = Stopwatch.StartNew();
        var measuredFrom = TimeSpan.Zero;
        bool warmingUp = o.Warmup > TimeSpan.Zero;
        long sent = 0;
        long lastConsumed = 0;
        double nextSample = 1;
        var perSecond = new List<double>();
        var gcPause = GC.GetTotalPauseDuration();
        int quietFrom = o.Partitions - o.QuietPartitions;
        while (clock.Elapsed < o.Warmup + o.Duration)
        {
            if (warmingUp && clock.Elapsed >= o.Warmup)
            {
                // The measured run starts: every account (CPU, the worker's GC and late triggers, throughput) from here.
                warmingUp = false;
                measuredFrom = clock.Elapsed;
                measuredFromMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                result.WarmupSeconds = measuredFrom.TotalSeconds;
                cpuFirst = CpuAccount.Take(cpuTargets);
                consumedFirst = consumed();
                perSecond.Clear();
                if (gcFirst is not null && await gcProbe!.ReadAsync().ConfigureAwait(false) is { } atStart)
                {
                    gcFirst = atStart;
                    gcClock.Restart();
                }
            }

            double elapsed = clock.Elapsed.TotalSeconds;
            long allowed = o.Rate > 0 ? (long)(o.Rate * elapsed) : long.MaxValue;
            long lag = sent - consumed();
            if (sent >= allowed || (o.Rate == 0 && lag > maxLag))
            {
                Thread.Sleep(1);
            }
            else
            {
                long n = Math.Min(allowed - sent, 2000);
                long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                for (long i = 0; i < n; i++)
                {
                    var (message, partition) = source.Next(now, out var exp);
                    TrafficSource.Send(producer, new TopicPartition(o.InputTopic, partition), message);

                    sent++;
                    if (exp is { } x)
                    {
                        expected[x.Id] = x.What;
                        result.Expected++;
                        lastDue = Math.Max(lastDue, x.What.DeadlineMs + latenessMs);
                        if (partition >= quietFrom)
                        {
                            quiet.Add(x.Id);
                        }
                    }
                }
            }

            if (clock.Elapsed.TotalSeconds >= nextSample)
            {
                Collect();
                long c = consumed();
                perSecond.Add(c - lastConsumed);
                var pause = GC.GetTotalPauseDuration();
                double pausedMs = (pause - gcPause).TotalMilliseconds;
                gcPause = pause;
                if (gcFirst is not null && gcProbe!.Latest is { } reading)
                {
                    // The probe reads once a second in the background: each sample gets what its newest reading adds.
                    pausedMs = reading.SumMs - gcPrevious!.SumMs;
                    gcPrevious = reading;
                }

                var sample = new Sample(nextSample, sent, c, sent - c, triggersThisSecond, second.Percentile(50), second.Percentile(99), second.Count == 0 ? 0 : second.MaxMs,
                    pausedMs);
                result.Timeline.Add(sample);
                result.MaxLag = Math.Max(result.MaxLag, sample.Lag);
                status($"{nextSample,4:0}s{(warmingUp ? " warmup" : string.Empty)}  sent {sent,11:N0}  consumed {c,11:N0} ({c - lastConsumed,8:N0}/s)  lag {sample.Lag,9:N0}  triggers {result.Received,8:N0}  lateness p99 {sample.LatenessP99,7:N1} ms max {sample.LatenessMax,7:N1} ms  GC pauses {sample.GcPauseMs,5:N0} ms");
                lastConsumed = c;
                second = new LatencyHistogram();
                triggersThisSecond = 0;
                nextSample += 1;
            }
        }

        result.SendSeconds = (clock.Elapsed - measuredFrom).TotalSeconds;
        result.Cpu = CpuAccount.Between(cpuFirst, CpuAccount.Take(cpuTargets), result.SendSeconds, consumed() - consumedFirst);
        result.EventsSent = sent;
        foreach (var (id, what, partition) in source.EndOpenSessions())
        {
            expected[id] = what;
            result.Expected++;
            lastDue = Math.Max(lastDue, what.DeadlineMs + latenessMs);
            if (partition >= quietFrom)
            {
                quiet.Add(id);
            }
        }

        producer.Flush(TimeSpan.FromSeconds(30));

        // Let the worker finish the backlog and every expected deadline pass, then collect the last triggers.
        var drainUntil = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < drainUntil && (consumed() < sent || DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() < lastDue + 3000 || expected.Keys.Any(id => !heldBack.Contains(id))))
        {
            await Task.Delay(200).ConfigureAwait(false);
            Collect();
            if (consumed() >= sent && DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > lastDue + 10_000)
            {
                break;
            }

            status($"drain  consumed {consumed(),11:N0} of {sent:N0}  triggers {result.Received,8:N0}  waiting for {expected.Count:N0}");
        }

        Collect();
        result.EventsConsumed = consumed();
        // Held back by the policy and audited is accounted for; anything else that did not come is missing.
        foreach (var id in expected.Keys.Where(heldBack.Contains).ToList())
        {
            expected.Remove(id);
            result.HeldBack++;
        }

        result.Missing = expected.Count;
        result.MissingExamples.AddRange(expected.Take(5).Select(kv => $"{TriggerTypes.Name(kv.Value.Type)} {kv.Key} deadline {Time.UnixTime.Format(kv.Value.DeadlineMs)}"));
        result.SplitSessions = source.Split.Count;
        result.SessionsStarted = source.Started.Values.Sum();
        // Without a warmup the first seconds (the worker starting up) are left out of the median.
        var steady = perSecond.Skip(o.Warmup > TimeSpan.Zero ? 0 : Math.Min(3, perSecond.Count / 4)).ToList();
        result.MedianEventsPerSecond = Median(steady);
        result.MeanEventsPerSecond = perSecond.Count == 0 ? 0 : perSecond.Sum() / (double)perSecond.Count;

        if (memoryBefore is { } before && await h.RedisUsedMemoryAsync().ConfigureAwait(false) is { } after && result.SessionsStarted > 0)
        {
            // Every session is idle by now (all deadlines passed); includes the per-partition index and history keys.
            result.RedisBytesPerIdleSession = (after - before) / (double)result.SessionsStarted;
        }

        if (gcFirst is not null && await gcProbe!.ReadAsync().ConfigureAwait(false) is { } gcLast)
        {
            result.WorkerGc = gcLast.Since(gcFirst);
            result.WorkerGcSeconds = gcClock.Elapsed.TotalSeconds;
        }

        if (result.MaxLag > lagLimit)
        {
            result.Notes.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the worker fell {result.MaxLag:N0} events behind, more than the embedded cluster keeps (~{lagLimit:N0}): input it had not read may have been deleted, and with it triggers"));
        }

        if (o.ChildWorker && result.EventsConsumed == 0 && result.EventsSent > 0)
        {
            result.Notes.Add("the worker consumed nothing: " + (h.ChildExited() ?? "its process was still running") + "; its output is in worker.log");
        }

        await h.StopWorkersAsync().ConfigureAwait(false);
        result.WorkerOutput = h.ChildOutput();
        return result;
    }

    /// <summary>
    /// How many events the embedded cluster keeps unread over the busy partitions: about 5 MB each (librdkafka's mock
    /// broker), at up to 400 bytes per synthetic event with its record overhead.
    /// </summary>
    internal static long EmbeddedLagLimit(LoadOptions o) => (long)(o.Partitions - o.QuietPartitions) * 5_000_000 / 400;

    public static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

/// <summary>An external worker's progress: the group's committed offsets against the input topic (sampled each second).</summary>
internal sealed class GroupProgress : IDisposable
{
    private readonly IAdminClient _admin;
    private readonly string _group;
    private readonly string _topic;
    private readonly Timer _timer;
    private readonly long _baseline;
    private long _committed;

    /// <remarks>The worker should be caught up when the run starts: progress counts from the group's position then.</remarks>
    public GroupProgress(string bootstrap, string group, string topic)
    {
        _group = group;
        _topic = topic;
        _admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).SetLogHandler((_, _) => { }).Build();
        Sample();
        _baseline = Interlocked.Read(ref _committed);
        _timer = new Timer(_ => Sample(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Events the group has committed past since the run started, summed over partitions.</summary>
    public long Consumed => Interlocked.Read(ref _committed) - _baseline;

    public void Dispose()
    {
        _timer.Dispose();
        _admin.Dispose();
    }

    private void Sample()
    {
        try
        {
            var meta = _admin.GetMetadata(_topic, TimeSpan.FromSeconds(5));
            var partitions = meta.Topics[0].Partitions.Select(p => new TopicPartition(_topic, p.PartitionId)).ToList();
            var offsets = _admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(_group, partitions)]).GetAwaiter().GetResult();
            long sum = offsets.SelectMany(g => g.Partitions).Where(p => p.Offset.Value > 0).Sum(p => p.Offset.Value);
            Interlocked.Exchange(ref _committed, sum);
        }
        catch (KafkaException)
        {
        }
    }
}
