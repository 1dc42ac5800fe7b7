using System.Text;
using Confluent.Kafka;
using StreamTriggers.IntegrationTests.Infrastructure;
using StreamTriggers.Kafka.Mock;
using StreamTriggers.Triggers;

namespace StreamTriggers.IntegrationTests;

// Real redis-server, the Kafka protocol through Confluent.Kafka against librdkafka's mock cluster. Each test has its
// own cluster, consumer group and key prefix. Gap 2 s, allowed lateness 1 s throughout.
public sealed class LiveWorkerTests : IAsyncLifetime
{
    private static readonly TimeSpan Gap = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Lateness = TimeSpan.FromSeconds(1);
    private RedisServer _redis = null!;
    private MockCluster _kafka = null!;
    private WorkerSettings _settings = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _kafka = new MockCluster(brokers: 3);
        _kafka.CreateTopic("clickstream", 6, 3);
        _kafka.CreateTopic("triggers", 3, 3);
        _kafka.CreateTopic("clickstream-dlq", 1, 3);
        _settings = new WorkerSettings(_kafka.BootstrapServers, _redis.Configuration, "g" + Guid.NewGuid().ToString("N")[..8], Gap);
    }

    public async Task DisposeAsync()
    {
        _kafka.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task EventsIn_TriggersOut_WithTheReplayIdsAndCarts_OnTime()
    {
        var stream = TestStream.Generate(seed: 1, concurrentSessions: 80, TimeSpan.FromSeconds(4), "e2e-");
        var expected = stream.Expected(Gap);
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        await using var worker = await InProcessWorker.StartAsync(_settings);

        await stream.ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None);
        var received = await collector.WaitForAsync(expected.Keys, TimeSpan.FromSeconds(30));

        AssertSameTriggers(expected, received, allowDuplicates: false);
        Assert.Contains(received, t => t.Type == "cart_abandoned");
        Assert.Contains(received, t => t.Type == "checkout_abandoned");
        Assert.Contains(received, t => t.Type == "browse_abandoned");
        Assert.All(received, t => Assert.Equal("io.streamtriggers." + t.Type, t.CloudEventType));
        // Fired on the wall clock at deadline + lateness; a generous bound for a shared 2-core machine.
        Assert.All(received, t => Assert.InRange(t.ReceivedMs - (t.DeadlineMs + (long)Lateness.TotalMilliseconds), -50, 1500));
    }

    [Fact]
    public async Task QuietPartition_FiresOnTime_WithoutAnotherEvent()
    {
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        await using var worker = await InProcessWorker.StartAsync(_settings);
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string json = $$$"""{"event_id":"q1","type":"product_added","timestamp":"{{{Time.UnixTime.Format(t0)}}}","session_id":"quiet-1","user_id":"u-1","product":{"id":"p-1","price":10}}""";
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "quiet-1", Value = json });
        }

        string id = TriggerId.Create(TriggerType.CartAbandoned, "quiet-1", t0 + (long)Gap.TotalMilliseconds);
        var t = (await collector.WaitForAsync([id], TimeSpan.FromSeconds(20))).Single(r => r.Id == id);

        long due = t0 + (long)(Gap + Lateness).TotalMilliseconds;
        Assert.InRange(t.ReceivedMs - due, -50, 1000);
        Assert.Equal("p-1x1", t.Cart);
    }

    [Fact]
    public async Task ChangesWaitForTheCommitInterval_AndACleanStopCommitsThem()
    {
        // A one-minute interval: within the test only the clean stop can write the position and the session.
        await using var worker = await InProcessWorker.StartAsync(_settings, "--StreamTriggers:Worker:CommitInterval=00:01:00");
        var stats = (StreamTriggers.Worker.Pipeline.WorkerStats)worker.Services.GetService(typeof(StreamTriggers.Worker.Pipeline.WorkerStats))!;
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            for (int i = 0; i < 5; i++)
            {
                string json = $$$"""{"event_id":"ci{{{i}}}","type":"product_viewed","timestamp":"{{{Time.UnixTime.Format(t0)}}}","session_id":"commit-{{{i}}}","product":{"id":"p{{{i}}}"}}""";
                await producer.ProduceAsync("clickstream", new Message<string, string> { Key = $"commit-{i}", Value = json });
            }
        }

        var until = DateTime.UtcNow.AddSeconds(20);
        while (stats.Events < 5)
        {
            Assert.True(DateTime.UtcNow < until, $"the worker consumed {stats.Events} of 5 events within 20 s");
            await Task.Delay(100);
        }

        await using var redis = await _redis.ConnectAsync();
        var db = redis.GetDatabase();
        var positions = Enumerable.Range(0, 6).Select(p => (StackExchange.Redis.RedisKey)$"{{{_settings.Group}:{_settings.Group}:{p}}}:pos").ToArray();
        var sessions = Enumerable.Range(0, 5).Select(i => $"commit-{i}").ToArray();
        Assert.All(await db.StringGetAsync(positions), v => Assert.True(v.IsNull, "a position was committed before the interval"));

        await worker.StopAsync();

        long committed = (await db.StringGetAsync(positions)).Where(v => !v.IsNull).Sum(v => (long)v);
        Assert.Equal(5, committed);
        var timers = Enumerable.Range(0, 6).SelectMany(p => db.SortedSetRangeByRank($"{{{_settings.Group}:{_settings.Group}:{p}}}:timers").Select(m => (string)m!)).Order();
        Assert.Equal(sessions, timers);
    }

    [Fact]
    public async Task DebugLog_HasOneLinePerTriggerAndRejection_WithUserIdsAndEmailsPseudonymised()
    {
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        await using var worker = await InProcessWorker.StartAsync(_settings, "--Logging:LogLevel:StreamTriggers=Debug", "--StreamTriggers:Worker:LogPseudonymKey=test-key");
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string good = $$$"""{"event_id":"p1","type":"product_added","timestamp":"{{{Time.UnixTime.Format(t0)}}}","session_id":"pii-1","user_id":"u-secret-77","email":"secret.person@example.com","product":{"id":"p-1"}}""";
        string bad = """{"type":"product_added","timestamp":"2026-11-23T10:00:00Z","session_id":"pii-2","user_id":"u-secret-77","email":"not-an-address"}""";
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "pii-1", Value = good });
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "pii-2", Value = bad });
        }

        string id = TriggerId.Create(TriggerType.CartAbandoned, "pii-1", t0 + (long)Gap.TotalMilliseconds);
        await collector.WaitForAsync([id], TimeSpan.FromSeconds(20));
        await worker.StopAsync();

        string log = worker.Log.ReadAll();
        var pseudonyms = new StreamTriggers.Worker.Operations.LogPseudonyms("test-key");
        Assert.Contains($"trigger cart_abandoned {id} emitted: session pii-1 user {pseudonyms.Of("u-secret-77")} email {pseudonyms.Of("secret.person@example.com")}", log, StringComparison.Ordinal);
        Assert.Matches(@"input clickstream/\d/\d+ rejected \(invalid_value\): email is not an address", log);
        Assert.DoesNotContain("u-secret-77", log, StringComparison.Ordinal);
        Assert.DoesNotContain("secret.person", log, StringComparison.Ordinal);
        Assert.DoesNotContain("not-an-address", log, StringComparison.Ordinal);
        // The trigger itself carries the identity intact.
        Assert.Contains(collector.Received, t => t.Id == id);
    }

    [Fact]
    public async Task BadInput_GoesToTheDeadLetterTopic_WithReasonAndOriginalBytes_AndTheStreamGoesOn()
    {
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        await using var worker = await InProcessWorker.StartAsync(_settings, "--StreamTriggers:Limits:MaxEventBytes=256");
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        byte[][] bad =
        [
            Encoding.UTF8.GetBytes("{\"type\":\"product_added\",\"timestamp\":"),
            Encoding.UTF8.GetBytes("{\"type\":\"rocket_launched\",\"timestamp\":\"2026-11-23T10:00:00Z\",\"session_id\":\"s\"}"),
            [0xFF, 0xFE, 0x00, 0x01],
            Encoding.UTF8.GetBytes($"{{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:00:00Z\",\"session_id\":\"s\",\"properties\":{{\"pad\":\"{new string('x', 300)}\"}}}}"),
        ];
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            foreach (var b in bad) await producer.ProduceAsync("clickstream", new Message<string, byte[]> { Key = "s", Value = b, Headers = [new Header("trace", [7])] });
            string good = $$$"""{"type":"add_to_cart","timestamp":"{{{Time.UnixTime.Format(t0)}}}","session_id":"s","product":{"id":"p"}}""";
            await producer.ProduceAsync("clickstream", new Message<string, byte[]> { Key = "s", Value = Encoding.UTF8.GetBytes(good) });
        }

        await collector.WaitForAsync([TriggerId.Create(TriggerType.CartAbandoned, "s", t0 + (long)Gap.TotalMilliseconds)], TimeSpan.FromSeconds(20));

        using var dlq = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "dlq-reader", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        dlq.Subscribe("clickstream-dlq");
        var letters = new List<ConsumeResult<string, byte[]>>();
        var until = DateTime.UtcNow.AddSeconds(15);
        while (letters.Count < 4 && DateTime.UtcNow < until)
        {
            if (dlq.Consume(TimeSpan.FromMilliseconds(200)) is { } r) letters.Add(r);
        }

        Assert.Equal(4, letters.Count);
        Assert.Equal(bad, letters.Select(l => l.Message.Value));
        Assert.Equal(["malformed_json", "unknown_event_type", "malformed_json", "event_too_large"], letters.Select(l => Encoding.UTF8.GetString(l.Message.Headers.GetLastBytes("streamtriggers-reason"))));
        Assert.All(letters, l => Assert.Equal([7], l.Message.Headers.GetLastBytes("trace")));
        Assert.All(letters, l => Assert.StartsWith("clickstream/", Encoding.UTF8.GetString(l.Message.Headers.GetLastBytes("streamtriggers-source")), StringComparison.Ordinal));
        Assert.Equal("s", letters[0].Message.Key);
    }

    [Fact]
    public async Task KilledWithSigkill_AndRestarted_LosesNoTrigger_AndAppliesNoEventTwice()
    {
        var stream = TestStream.Generate(seed: 2, concurrentSessions: 100, TimeSpan.FromSeconds(9), "kill-");
        var expected = stream.Expected(Gap);
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var worker = WorkerProcess.Start(_settings);
        var random = new Random(2);
        int kills = 0;
        try
        {
            await stream.ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None, async _ =>
            {
                // At random points while the stream flows: SIGKILL, then a new process resumes from the stored position.
                if (random.Next(3) == 0)
                {
                    await Task.Delay(random.Next(50, 400));
                    worker.Kill();
                    kills++;
                    worker.Dispose();
                    worker = WorkerProcess.Start(_settings);
                }
            });

            var received = await collector.WaitForAsync(expected.Keys, TimeSpan.FromSeconds(60));
            Assert.True(kills >= 2, $"only {kills} kills happened");
            AssertSameTriggers(expected, received, allowDuplicates: true);
        }
        finally
        {
            worker.Dispose();
        }
    }

    [Fact]
    public async Task OpenSessions_StayUnwritten_HoldingThePositionBack_AndAfterSigkill_TheReplayRebuildsThem_AndSkipsWhatStoredSessionsHold()
    {
        // Open sessions are written only when their period closes (the write delay is longer than the test). Per
        // partition: a session kept open by a view every 700 ms and, after its first view in the log, a cart session
        // that closes (fires, is written). No event has an event_id, so only the stored offsets keep the replay from
        // applying the cart again.
        string[] args = ["--StreamTriggers:Worker:OpenSessionWriteDelay=00:01:00"];
        int port = RedisServer.FreePort();
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var worker = WorkerProcess.Start(_settings, args);
        var sent = new List<Decoding.TrackerEvent>();
        var firstOpenOffset = new long[6];
        var cartOffset = new long[6];
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, EnableIdempotence = true, LingerMs = 2 }).Build();
        async Task<long> Send(int partition, Decoding.TrackerEvent ev)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
            {
                Decoding.TrackerEventJson.Write(json, ev);
            }

            sent.Add(ev);
            var result = await producer.ProduceAsync(new TopicPartition("clickstream", partition),
                new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(ev.SessionId), Value = buffer.WrittenSpan.ToArray() });
            return result.Offset.Value;
        }

        static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        static Decoding.TrackerEvent Event(Decoding.EventType type, string session, string product) =>
            new() { Type = type, TimestampMs = Now(), SessionId = session, Products = [new Decoding.ProductInfo { Id = product }] };

        try
        {
            for (int p = 0; p < 6; p++)
            {
                firstOpenOffset[p] = await Send(p, Event(Decoding.EventType.ProductViewed, $"open-{p}", "v0"));
                cartOffset[p] = await Send(p, Event(Decoding.EventType.ProductAdded, $"cart-{p}", $"c{p}"));
            }

            // Keep the open sessions open (gap 2 s) while the carts fire and are written.
            var carts = Enumerable.Range(0, 6).Select(p => $"cart-{p}").ToHashSet();
            var until = DateTime.UtcNow.AddSeconds(30);
            for (int round = 1; ; round++)
            {
                await Task.Delay(700);
                for (int p = 0; p < 6; p++) await Send(p, Event(Decoding.EventType.ProductViewed, $"open-{p}", $"v{round}"));
                if (collector.Received.Count(t => carts.Contains(t.SessionId)) == 6 && round >= 6) break;
                Assert.True(DateTime.UtcNow < until, "the six cart triggers did not come out within 30 s");
            }

            // Stored: each closed cart session with the offset of its event; no open session; the position held at
            // the open session's first event.
            await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
            await using var store = new Redis.RedisStateStore(redis, _settings.Group, _settings.Group, TimeSpan.FromDays(7));
            var db = redis.GetDatabase();
            for (int p = 0; p < 6; p++)
            {
                var cart = await store.ReadSessionAsync(p, $"cart-{p}", CancellationToken.None);
                Assert.True(cart?.State is not null, $"cart-{p} was not written after its period closed");
                Assert.Equal(cartOffset[p], State.SessionCodec.Decode($"cart-{p}", cart!.State, 64).AppliedOffset);
                Assert.Null(await store.ReadSessionAsync(p, $"open-{p}", CancellationToken.None));
                long position = (long)await db.StringGetAsync($"{store.Tag(new State.PartitionId("clickstream", p))}:pos");
                Assert.Equal(firstOpenOffset[p], position);
            }

            worker.Kill();
            worker.Dispose();
            worker = WorkerProcess.Start(_settings, [.. args, $"--StreamTriggers:Operations:Port={port}"]);

            // The restart replays from the held position: the open sessions are rebuilt from the log and fire once
            // with every product viewed; the carts' events are read again and skipped (no second cart, nothing else).
            var expected = TestStream.ExpectedFrom(sent.OrderBy(e => e.TimestampMs), Gap);
            Assert.Equal(12, expected.Count);
            var received = await collector.WaitForAsync(expected.Keys, TimeSpan.FromSeconds(60));
            AssertSameTriggers(expected, received, allowDuplicates: false);
            for (int p = 0; p < 6; p++)
            {
                var cart = await store.ReadSessionAsync(p, $"cart-{p}", CancellationToken.None);
                Assert.Equal(1, State.SessionCodec.Decode($"cart-{p}", cart!.State, 64).Cart.Single().Quantity);
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            string metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
            Assert.Contains("streamtriggers_events_replayed_total 6", metrics, StringComparison.Ordinal);
        }
        finally
        {
            worker.Dispose();
        }
    }

    [Fact]
    public async Task TwoWorkersInOneGroup_PartitionsMovingMidStream_LoseAndDoubleNothing()
    {
        var stream = TestStream.Generate(seed: 3, concurrentSessions: 100, TimeSpan.FromSeconds(8), "move-");
        var expected = stream.Expected(Gap);
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var first = await InProcessWorker.StartAsync(_settings);
        WorkerProcess? second = null;
        Task? firstStopped = null;
        try
        {
            await stream.ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None, i =>
            {
                if (i == 2000) second = WorkerProcess.Start(_settings);           // partitions spread over two workers
                if (i == 5000) firstStopped = Task.Run(() => first.StopAsync());  // and all move to the second
                return Task.CompletedTask;
            });
            await firstStopped!.WaitAsync(TimeSpan.FromSeconds(60));

            var received = await collector.WaitForAsync(expected.Keys, TimeSpan.FromSeconds(60));
            AssertSameTriggers(expected, received, allowDuplicates: true);
        }
        finally
        {
            second?.Dispose();
            await first.DisposeAsync();
        }
    }

    [Fact]
    public async Task RedisDownForAWhile_TheWorkerWaits_ThenLosesNothing()
    {
        var stream = TestStream.Generate(seed: 4, concurrentSessions: 80, TimeSpan.FromSeconds(7), "redis-");
        var expected = stream.Expected(Gap);
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        await using var worker = await InProcessWorker.StartAsync(_settings);

        // The outage runs beside the stream (the tracker does not pause because Redis is down): partitions stall on
        // their state writes, queue up, then work the backlog off at the events' arrival times.
        Task? outage = null;
        await stream.ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None, i =>
        {
            if (i == 1500)
            {
                outage = Task.Run(async () =>
                {
                    await _redis.StopAsync();
                    await Task.Delay(3000);
                    await _redis.StartProcessAsync();
                });
            }

            return Task.CompletedTask;
        });
        await outage!.WaitAsync(TimeSpan.FromSeconds(30));

        var received = await WithLog(worker, () => collector.WaitForAsync(expected.Keys, TimeSpan.FromSeconds(60)));
        AssertSameTriggers(expected, received, allowDuplicates: true);
    }

    [Fact]
    public async Task InjectedBrokerErrors_AreRiddenOut()
    {
        var stream = TestStream.Generate(seed: 5, concurrentSessions: 80, TimeSpan.FromSeconds(6), "faults-");
        var expected = stream.Expected(Gap);
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        // The injected errors and latency hit every client, the test's tracker too: its events can reach the broker
        // a second or more late, and a deadline already past lateness fires on the wall clock (as it should). A
        // lateness above the injected delays keeps "live equals replay" the right oracle for the worker.
        await using var worker = await InProcessWorker.StartAsync(_settings, "--StreamTriggers:Rules:AllowedLateness=00:00:04");
        collector.Describe = id => expected[id] is var e ? $"{e.Type} {e.SessionId} deadline {Time.UnixTime.Format(e.DeadlineMs)} cart [{TestStream.CartOf(e)}]" : id;

        await stream.ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None, i =>
        {
            if (i == 1000)
            {
                // Produce errors and a slow broker: the worker's publishing retries, nothing changes downstream.
                // (Fetch errors stall the worker's view of a partition; see the test after this one.)
                _kafka.PushRequestErrors(KafkaApi.Produce, ErrorCode.NotLeaderForPartition, ErrorCode.RequestTimedOut, ErrorCode.NotEnoughReplicas, ErrorCode.LeaderNotAvailable);
                _kafka.SetRoundTripDelay(1, TimeSpan.FromMilliseconds(150));
            }

            if (i == 2500)
            {
                _kafka.SetRoundTripDelay(1, TimeSpan.Zero);
            }

            return Task.CompletedTask;
        });

        // The injected produce errors hit the test's tracker too, and the mock broker has acknowledged a retried
        // message without appending it (seen: an event missing from the log after a successful delivery report).
        // The worker is held to the log: the replay of exactly what the input topic holds.
        var inLog = TestStream.ReadBack(_kafka.BootstrapServers, "clickstream", 6);
        Assert.True(inLog.Count >= stream.Events.Count - 10, $"the log holds {inLog.Count} of {stream.Events.Count} events");
        expected = TestStream.ExpectedFrom(inLog, Gap);
        try
        {
            var received = await collector.WaitForAsync(expected.Keys, TimeSpan.FromSeconds(60));
            AssertSameTriggers(expected, received, allowDuplicates: true);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; tracker deliveries over 2 s: {stream.SlowDeliveries.Count} ({string.Join("; ", stream.SlowDeliveries.Take(5))}); " +
                $"{await DescribeStoredSessionAsync(stream, expected.Values.First(e => !collector.Received.Any(r => r.Id == e.Id)).SessionId)}", ex);
        }
    }

    [Fact]
    public async Task FetchErrors_WhileADeadlineIsPending_TheTriggerStillArrivesOnce()
    {
        await using var worker = await InProcessWorker.StartAsync(_settings);
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string ts = Time.UnixTime.Format(t0);
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "fetch-1", Value = $$$"""{"event_id":"f1","type":"add_to_cart","timestamp":"{{{ts}}}","session_id":"fetch-1","product":{"id":"p-3"}}""" });
            await Task.Delay(500);
            _kafka.PushRequestErrors(KafkaApi.Fetch, ErrorCode.NotLeaderForPartition, ErrorCode.UnknownTopicOrPart, ErrorCode.NotLeaderForPartition, ErrorCode.UnknownTopicOrPart);
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "fetch-2", Value = $$$"""{"event_id":"f2","type":"add_to_cart","timestamp":"{{{ts}}}","session_id":"fetch-2","product":{"id":"p-4"}}""" });
        }

        string[] ids = [TriggerId.Create(TriggerType.CartAbandoned, "fetch-1", t0 + (long)Gap.TotalMilliseconds), TriggerId.Create(TriggerType.CartAbandoned, "fetch-2", t0 + (long)Gap.TotalMilliseconds)];
        await WithLog(worker, () => collector.WaitForAsync(ids, TimeSpan.FromSeconds(30)));
        await Task.Delay(1000);

        Assert.Equal(ids.Order(), collector.Received.Select(r => r.Id).Order());
        Assert.Equal(["p-3x1", "p-4x1"], collector.Received.OrderBy(r => r.SessionId).Select(r => r.Cart));
    }

    [Fact]
    public async Task AllBrokersDown_WhenATriggerComesDue_ItIsPublishedWhenTheyReturn()
    {
        await using var worker = await InProcessWorker.StartAsync(_settings);
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string json = $$$"""{"event_id":"b1","type":"product_added","timestamp":"{{{Time.UnixTime.Format(t0)}}}","session_id":"outage-1","product":{"id":"p-9","quantity":2}}""";
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "outage-1", Value = json });
        }

        // The event is consumed; then every broker goes away across the deadline (t0 + 2 s gap + 1 s lateness).
        await Task.Delay(700);
        for (int b = 1; b <= _kafka.Brokers; b++) _kafka.SetBrokerDown(b);
        await Task.Delay(4000);
        for (int b = 1; b <= _kafka.Brokers; b++) _kafka.SetBrokerUp(b);

        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        string id = TriggerId.Create(TriggerType.CartAbandoned, "outage-1", t0 + (long)Gap.TotalMilliseconds);
        await WithLog(worker, () => collector.WaitForAsync([id], TimeSpan.FromSeconds(30)));
        await Task.Delay(1000);

        var t = Assert.Single(collector.Received);
        Assert.Equal(id, t.Id);
        Assert.Equal("p-9x2", t.Cart);
    }

    [Fact]
    public async Task ATriggerNotYetAcknowledged_HoldsItsSessionAndPositionBack_UntilTheBrokerAcknowledgesIt()
    {
        // The partition publishes without waiting for the broker's acks and goes on; its commit must wait for them.
        // Brokers down across the deadline: the trigger cannot be acknowledged, so the closed session and the position
        // past its event must not reach Redis (a crash then would lose the trigger), however many commit intervals pass.
        await using var worker = await InProcessWorker.StartAsync(_settings, "--StreamTriggers:Worker:CommitInterval=00:00:00.200");
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string json = $$$"""{"event_id":"k1","type":"product_added","timestamp":"{{{Time.UnixTime.Format(t0)}}}","session_id":"acked-1","product":{"id":"p-4"}}""";
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "acked-1", Value = json });
        }

        await Task.Delay(700);
        for (int b = 1; b <= _kafka.Brokers; b++) _kafka.SetBrokerDown(b);
        await using var mux = await _redis.ConnectAsync();
        var db = mux.GetDatabase();
        var store = new Redis.RedisStateStore(mux, _settings.Group, _settings.Group, TimeSpan.FromDays(7));
        var sessionKeys = Enumerable.Range(0, 6).Select(p => store.SessionKey(new State.PartitionId("clickstream", p), "acked-1")).ToArray();
        var positions = Enumerable.Range(0, 6).Select(p => (StackExchange.Redis.RedisKey)$"{{{_settings.Group}:{_settings.Group}:{p}}}:pos").ToArray();

        // Deadline + lateness at t0 + 3 s; by t0 + 4.5 s the trigger has been handed to the producer and several
        // commit intervals have passed.
        await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, t0 + 4500 - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())));
        var stats = (StreamTriggers.Worker.Pipeline.WorkerStats)worker.Services.GetService(typeof(StreamTriggers.Worker.Pipeline.WorkerStats))!;
        Assert.Equal(1, stats.Events);
        Assert.All(await db.StringGetAsync(sessionKeys), v => Assert.True(v.IsNull, "the session was written before its trigger was acknowledged"));
        Assert.All(await db.StringGetAsync(positions), v => Assert.True(v.IsNull, "the position was written before the trigger was acknowledged"));

        for (int b = 1; b <= _kafka.Brokers; b++) _kafka.SetBrokerUp(b);
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        string id = TriggerId.Create(TriggerType.CartAbandoned, "acked-1", t0 + (long)Gap.TotalMilliseconds);
        await WithLog(worker, () => collector.WaitForAsync([id], TimeSpan.FromSeconds(30)));

        // Acknowledged: the next commit writes the closed session and the position past the event.
        var until = DateTime.UtcNow.AddSeconds(15);
        while ((await db.StringGetAsync(positions)).Where(v => !v.IsNull).Sum(v => (long)v) < 1)
        {
            Assert.True(DateTime.UtcNow < until, "the position was not committed within 15 s of the acknowledgement");
            await Task.Delay(100);
        }

        var stored = (await db.StringGetAsync(sessionKeys)).Single(v => !v.IsNull);
        Assert.False(State.SessionCodec.Decode("acked-1", (byte[])stored!, 64).HasOpenPeriod);
    }

    // For failure messages: the session's events as sent, and its state as stored in Redis.
    private async Task<string> DescribeStoredSessionAsync(TestStream stream, string sessionId)
    {
        var sent = stream.Events.Where(e => e.SessionId == sessionId).Select(e => $"{e.EventId} {e.Type} {Time.UnixTime.Format(e.TimestampMs)}");
        // What the input topic actually holds for the session (does the log have every event the tracker was told it has?).
        var inLog = new List<string>();
        using (var reader = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "diag-" + Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Earliest, EnablePartitionEof = true }).Build())
        {
            reader.Subscribe("clickstream");
            int eofs = 0;
            var until = DateTime.UtcNow.AddSeconds(20);
            while (eofs < 6 && DateTime.UtcNow < until)
            {
                var r = reader.Consume(TimeSpan.FromMilliseconds(200));
                if (r is null) continue;
                if (r.IsPartitionEOF) { eofs++; continue; }
                if (r.Message.Key == sessionId) inLog.Add($"{r.Offset.Value}:{r.Message.Value[..Math.Min(24, r.Message.Value.Length)]}");
            }
        }

        sent = sent.Append($"in the log: {string.Join(" | ", inLog)}");
        await using var mux = await _redis.ConnectAsync();
        var store = new Redis.RedisStateStore(mux, _settings.Group, _settings.Group, TimeSpan.FromDays(7));
        foreach (int p in Enumerable.Range(0, 6))
        {
            var key = store.SessionKey(new State.PartitionId("clickstream", p), sessionId);
            var bytes = (byte[]?)await mux.GetDatabase().StringGetAsync(key);
            if (bytes is not null)
            {
                var s = State.SessionCodec.Decode(sessionId, bytes, 64);
                var ids = string.Join(",", s.SeenIds().Select(h => stream.Events.FirstOrDefault(e => e.EventId is { } id && TriggerId.StableHash(id) == h)?.EventId ?? h.ToString("x", System.Globalization.CultureInfo.InvariantCulture)));
                return $"session {sessionId} sent [{string.Join("; ", sent)}]; stored in partition {p}: last activity {Time.UnixTime.Format(s.LastActivityMs)}, open {s.HasOpenPeriod}, ids [{ids}]";
            }
        }

        return $"session {sessionId} sent [{string.Join("; ", sent)}]; not in Redis";
    }

    private static async Task<T> WithLog<T>(InProcessWorker worker, Func<Task<T>> wait)
    {
        try
        {
            return await wait();
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + Environment.NewLine + "worker log tail:" + Environment.NewLine + worker.Log.Tail(), ex);
        }
    }

    // Every expected trigger arrived with its cart; nothing unexpected arrived. Re-emits after a crash carry the
    // same id and the same content (allowed where the test crashes or moves partitions).
    private static void AssertSameTriggers(Dictionary<string, Trigger> expected, List<ReceivedTrigger> received, bool allowDuplicates)
    {
        var unexpected = received.Where(r => !expected.ContainsKey(r.Id)).ToList();
        Assert.True(unexpected.Count == 0, $"{unexpected.Count} unexpected triggers, e.g. {unexpected.FirstOrDefault()}");
        foreach (var r in received)
        {
            var e = expected[r.Id];
            Assert.Equal(TriggerTypes.Name(e.Type), r.Type);
            Assert.Equal(e.SessionId, r.SessionId);
            Assert.Equal(TestStream.CartOf(e), r.Cart);
        }

        Assert.Equal(expected.Count, received.Select(r => r.Id).Distinct().Count());
        if (!allowDuplicates)
        {
            Assert.Equal(expected.Count, received.Count);
        }
    }
}
