using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using StackExchange.Redis;

namespace StreamTriggers.Load;

/// <summary>The three contestants' rates over one backlog, and their ratios.</summary>
internal sealed class CompareResult
{
    public long Events { get; set; }
    public int Partitions { get; set; }
    public double RawPerSecond { get; set; }
    public double NaivePerSecond { get; set; }
    public long NaiveEvents { get; set; }
    public double StreamTriggersPerSecond { get; set; }
    public double MeanBatchSize { get; set; }
    public double? RedisBytesPerIdleSession { get; set; }

    /// <summary>The tool's process (the in-process worker's) GC during the StreamTriggers phase: bytes allocated per event.</summary>
    public double AllocatedBytesPerEvent { get; set; }

    /// <summary>GC pause time as a share of the StreamTriggers phase's wall time.</summary>
    public double GcPauseShare { get; set; }

    public int[] Collections { get; set; } = [0, 0, 0];

    public double VsRaw => RawPerSecond == 0 ? 0 : StreamTriggersPerSecond / RawPerSecond;
    public double VsNaive => NaivePerSecond == 0 ? 0 : StreamTriggersPerSecond / NaivePerSecond;

    public object ToJson() => new
    {
        events = Events,
        partitions = Partitions,
        raw_events_per_s = Math.Round(RawPerSecond),
        naive_events_per_s = Math.Round(NaivePerSecond),
        naive_events = NaiveEvents,
        streamtriggers_events_per_s = Math.Round(StreamTriggersPerSecond),
        streamtriggers_mean_batch = Math.Round(MeanBatchSize, 1),
        streamtriggers_vs_raw = Math.Round(VsRaw, 3),
        streamtriggers_vs_naive = Math.Round(VsNaive, 1),
        redis_bytes_per_idle_session = RedisBytesPerIdleSession is { } b ? Math.Round(b) : (double?)null,
        streamtriggers_allocated_bytes_per_event = Math.Round(AllocatedBytesPerEvent),
        streamtriggers_gc_pause_share = Math.Round(GcPauseShare, 3),
        streamtriggers_collections = new { gen0 = Collections[0], gen1 = Collections[1], gen2 = Collections[2] },
    };

    public string Lines() => string.Create(CultureInfo.InvariantCulture, $"""
        raw consumer (reads only, the ceiling)   {RawPerSecond,12:N0} events/s
        naive (one Redis GET + SET per event)    {NaivePerSecond,12:N0} events/s   ({NaiveEvents:N0} events in its time box)
        StreamTriggers (durable Redis state)     {StreamTriggersPerSecond,12:N0} events/s   (mean batch {MeanBatchSize:N0} messages)
          its GC (this process)                  {AllocatedBytesPerEvent,12:N0} bytes allocated per event, paused {GcPauseShare:P1} of the time, collections gen0/1/2 {Collections[0]}/{Collections[1]}/{Collections[2]}
        StreamTriggers / raw                     {VsRaw,12:0.000} x   (target >= {CapacityRun.TargetVsRaw})
        StreamTriggers / naive                   {VsNaive,12:0.0} x   (target >= {CapacityRun.TargetVsNaive})
        """);

    public string HtmlTable() => string.Create(CultureInfo.InvariantCulture,
        $"<h2>Compare (same backlog of {Events:N0} events, {Partitions} partitions, same broker and Redis)</h2><table><tr><th>contestant</th><th>events/s</th><th>StreamTriggers ratio</th></tr>" +
        $"<tr><td>raw consumer</td><td>{RawPerSecond:N0}</td><td>{VsRaw:0.000} x</td></tr><tr><td>naive, GET+SET per event</td><td>{NaivePerSecond:N0}</td><td>{VsNaive:0.0} x</td></tr>" +
        $"<tr><td>StreamTriggers</td><td>{StreamTriggersPerSecond:N0}</td><td>1</td></tr></table>");
}

/// <summary>
/// <c>--compare</c>: one backlog of synthetic events in the input topic, read in turn by (1) a consumer that only
/// counts (the ceiling), (2) the naive per-event implementation most teams write first, (3) a StreamTriggers worker;
/// same process, broker and Redis.
/// </summary>
internal static class CompareRun
{
    public static async Task<CompareResult> RunAsync(Harness h, LoadOptions o, Action<string> status)
    {
        // The embedded cluster keeps ~5 MB per partition: enough partitions that the backlog fits (~250 B an event).
        int partitions = Math.Max(o.Partitions, (int)Math.Ceiling(o.Events * 250.0 / 3_000_000));
        string topic = o.InputTopic + "-compare";
        h.CreateTopic(topic, partitions);
        var result = new CompareResult { Events = o.Events, Partitions = partitions };

        status($"producing a backlog of {o.Events:N0} events into {topic} ({partitions} partitions)");
        var source = new TrafficSource(new LoadOptions { Sessions = o.Sessions, Partitions = partitions, QuietPartitions = 0, Gap = o.Gap }, seed: 7, sessionPrefix: $"C{DateTime.UtcNow:HHmmss}-");
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = h.Bootstrap, Acks = Acks.Leader, LingerMs = 5, BatchSize = 1_000_000 })
                   .SetLogHandler((_, _) => { }).Build())
        {
            for (int i = 0; i < o.Events; i++)
            {
                var (message, partition) = source.Next(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), out _);
                TrafficSource.Send(producer, new TopicPartition(topic, partition), message);
            }

            producer.Flush(TimeSpan.FromSeconds(60));
        }

        long sessions = source.Started.Values.Sum();
        result.RawPerSecond = RawConsumer(h.Bootstrap, topic, o.Events, status);
        if (h.RedisConfiguration is not null)
        {
            (result.NaivePerSecond, result.NaiveEvents) = await NaiveAsync(h.Bootstrap, h.RedisConfiguration, topic, o, status).ConfigureAwait(false);
        }

        long? before = await h.RedisUsedMemoryAsync().ConfigureAwait(false);
        var stats = await h.StartWorkerAsync(topic, topic + "-triggers", "st-compare-" + Guid.NewGuid().ToString("N")[..6]).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var gcBefore = (Allocated: GC.GetTotalAllocatedBytes(), Pause: GC.GetTotalPauseDuration(), Counts: new[] { GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2) });
        TimeSpan? first = null;
        var until = DateTime.UtcNow.AddMinutes(10);
        while (stats.Events < o.Events && DateTime.UtcNow < until)
        {
            await Task.Delay(10).ConfigureAwait(false);
            if (first is null && stats.Events > 0) first = clock.Elapsed;
            if (clock.ElapsedMilliseconds % 1000 < 10) status($"StreamTriggers  {stats.Events,11:N0} of {o.Events:N0}");
        }

        result.AllocatedBytesPerEvent = (GC.GetTotalAllocatedBytes() - gcBefore.Allocated) / (double)Math.Max(1, stats.Events);
        result.GcPauseShare = (GC.GetTotalPauseDuration() - gcBefore.Pause) / clock.Elapsed;
        result.Collections = [.. Enumerable.Range(0, 3).Select(g => GC.CollectionCount(g) - gcBefore.Counts[g])];
        var elapsed = clock.Elapsed - (first ?? TimeSpan.Zero);
        result.StreamTriggersPerSecond = stats.Events / Math.Max(0.001, elapsed.TotalSeconds);
        result.MeanBatchSize = stats.Batches == 0 ? 0 : stats.Events / (double)stats.Batches;

        // Wait until every period has closed, then weigh what the sessions left in Redis.
        await Task.Delay(o.Gap + o.Lateness + TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        if (before is { } b && await h.RedisUsedMemoryAsync().ConfigureAwait(false) is { } after)
        {
            result.RedisBytesPerIdleSession = (after - b) / (double)sessions;
        }

        await h.StopWorkersAsync().ConfigureAwait(false);
        return result;
    }

    // Each contestant reads the backlog from its start in a group of its own.
    private static IConsumer<byte[], byte[]> Subscribe(string bootstrap, string topic, string contestant)
    {
        var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = $"{contestant}-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
        }).SetLogHandler((_, _) => { }).Build();
        consumer.Subscribe(topic);
        return consumer;
    }

    private static double RawConsumer(string bootstrap, string topic, long events, Action<string> status)
    {
        using var consumer = Subscribe(bootstrap, topic, "raw");
        long n = 0;
        Stopwatch? clock = null;
        var until = DateTime.UtcNow.AddMinutes(5);
        while (n < events && DateTime.UtcNow < until)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is null) continue;
            clock ??= Stopwatch.StartNew();
            n++;
            if (n % 100_000 == 0) status($"raw consumer    {n,11:N0} of {events:N0}");
        }

        double seconds = clock?.Elapsed.TotalSeconds ?? 0;
        consumer.Close();
        return n / Math.Max(0.001, seconds);
    }

    // What a team writes first: per event, deserialize, read the session from Redis, change it, write it back.
    private static async Task<(double PerSecond, long Events)> NaiveAsync(string bootstrap, string redisConfiguration, string topic, LoadOptions o, Action<string> status)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisConfiguration).ConfigureAwait(false);
        var db = redis.GetDatabase();
        using var consumer = Subscribe(bootstrap, topic, "naive");
        long n = 0;
        Stopwatch? clock = null;
        var box = TimeSpan.FromSeconds(o.NaiveSeconds);
        long gapMs = (long)o.Gap.TotalMilliseconds;
        while (n < o.Events && (clock is null || clock.Elapsed < box))
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is null) continue;
            clock ??= Stopwatch.StartNew();
            var ev = JsonSerializer.Deserialize<NaiveEvent>(r.Message.Value)!;
            string key = "naive:" + ev.session_id;
            var stored = await db.StringGetAsync(key).ConfigureAwait(false);
            var state = stored.IsNull ? new NaiveState() : JsonSerializer.Deserialize<NaiveState>((string)stored!)!;
            state.last = ev.timestamp;
            state.events++;
            if (ev.type == "product_added" && ev.product?.id is { } id) state.cart.Add(id);
            if (ev.type == "checkout_started") state.checkout = true;
            if (ev.type == "order_completed") state.cart.Clear();
            state.deadline = DateTimeOffset.Parse(ev.timestamp, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds() + gapMs;
            await db.StringSetAsync(key, JsonSerializer.Serialize(state), TimeSpan.FromDays(7)).ConfigureAwait(false);
            n++;
            if (n % 10_000 == 0) status($"naive           {n,11:N0} in {clock.Elapsed.TotalSeconds:0} s of {box.TotalSeconds:0} s");
        }

        double seconds = clock?.Elapsed.TotalSeconds ?? 0;
        consumer.Close();
        return (n / Math.Max(0.001, seconds), n);
    }

#pragma warning disable IDE1006, CA1812 // JSON shapes, named as on the wire; created by the serializer.
    private sealed class NaiveEvent
    {
        public string type { get; set; } = "";
        public string timestamp { get; set; } = "";
        public string session_id { get; set; } = "";
        public NaiveProduct? product { get; set; }
    }

    private sealed class NaiveProduct
    {
        public string? id { get; set; }
    }

    private sealed class NaiveState
    {
        public string last { get; set; } = "";
        public int events { get; set; }
        public List<string> cart { get; set; } = [];
        public bool checkout { get; set; }
        public long deadline { get; set; }
    }
#pragma warning restore IDE1006, CA1812
}
