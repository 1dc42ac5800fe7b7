using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.IntegrationTests.Infrastructure;
using StreamTriggers.Kafka.Mock;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Hosting;
using StreamTriggers.Worker.Pipeline;

namespace StreamTriggers.IntegrationTests;

// One session-stage partition processor fed by hand (as the consume loop feeds it), publishing through Confluent.Kafka
// to the mock cluster, state in memory: what its clock may fire, given what the consume loop knew when.
public sealed class PartitionClockTests : IDisposable
{
    private static readonly TimeSpan Gap = TimeSpan.FromSeconds(2);
    private readonly MockCluster _kafka = new();
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly TopicPartition _partition = new("clickstream", 0);

    public PartitionClockTests()
    {
        _kafka.CreateTopic("clickstream", 1);
        _kafka.CreateTopic("triggers", 1);
        _kafka.CreateTopic("clickstream-dlq", 1);
        _producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, EnableIdempotence = true, LingerMs = 1 }).Build();
    }

    public void Dispose()
    {
        _producer.Dispose();
        _kafka.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ABurstTakenInPieces_FiresWhatWasDueBeforeTheNewestKnownMessage_WithoutWaitingForTheRest(bool newestKnown)
    {
        // Cart at t0 - 10 s: due (gap 2 s, no lateness) at t0 - 8 s. Then a message the consume loop knew, at t0, to be
        // the newest the broker had, then one fetched later. The last one taken is not at the end of the partition, so
        // the partition is not caught up, and the messages' own times (t0 - 10 s .. t0 - 9 s) are before the
        // deadline: only what the consume loop knew at t0 (all input up to then taken) lets the cart fire. With no
        // such knowledge (newestKnown false) the partition must wait for more input, as a backlog replays as it
        // happened.
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var store = new InMemoryStateStore();
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store);

        run.Enqueue(Message(0, "clock-cart", "product_added", t0 - 10_000));
        run.Enqueue(Message(1, "clock-other", "page_viewed", t0 - 9_500), newestKnown ? t0 : -1);
        run.Enqueue(Message(2, "clock-third", "page_viewed", t0 - 9_000));

        string id = TriggerId.Create(TriggerType.CartAbandoned, "clock-cart", t0 - 8_000);
        if (newestKnown)
        {
            var t = (await collector.WaitForAsync([id], TimeSpan.FromSeconds(10))).Single(r => r.Id == id);
            Assert.InRange(t.ReceivedMs - t0, 0, 5_000);
        }
        else
        {
            await Task.Delay(2_000);
            Assert.Empty(collector.Received);
            Assert.Equal(0, run.Stats.Triggers(TriggerType.CartAbandoned));
        }

        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task WhatWasDueBeforeABatch_GoesOut_WhileTheBatchWaitsForItsSessionsToBeRead()
    {
        // A cart at t0 - 10 s, due at t0 - 8 s. The next batch brings a new visitor at t0, whose state must be read
        // before the batch applies: the read hangs. The cart was due before that batch's first event, so it must not
        // wait for the read.
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var store = new HangingLoadStore(hangFor: "slow-visitor");
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store);

        run.Enqueue(Message(0, "due-cart", "product_added", t0 - 10_000));
        string id = TriggerId.Create(TriggerType.CartAbandoned, "due-cart", t0 - 8_000);
        await Task.Delay(500); // the first batch is applied (its own read answers at once); nothing is due yet by its clock
        Assert.Empty(collector.Received);

        run.Enqueue(Message(1, "slow-visitor", "page_viewed", t0));
        Assert.True(await store.Hanging.WaitAsync(TimeSpan.FromSeconds(10)), "the second batch never read its session");
        var fired = await FiredWhileTheReadHangsAsync(collector, store, id);
        Assert.InRange(fired.ReceivedMs - t0, 0, 5_000);

        store.Release();
        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ADeadlineDueWithinABatch_GoesOut_WhileTheBatchWaitsForANewVisitorsRead()
    {
        // A cart at t0 - 10 s, due at t0 - 8 s, and a browser at t0 - 9.9 s, both held. The next batch: a new visitor
        // at t0 - 9 s, whose read hangs, then the browser again at t0 - 7.95 s. The browser's event moves the clock past
        // the cart's deadline; the visitor's events cannot touch the cart (nor, at t0 - 9 s + the gap, be closed by that
        // clock), so the cart must go out while the read hangs, not after it.
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var store = new HangingLoadStore(hangFor: "slow-visitor");
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store);

        run.Enqueue(Message(0, "due-cart", "product_added", t0 - 10_000));
        run.Enqueue(Message(1, "browser", "page_viewed", t0 - 9_900));
        string id = TriggerId.Create(TriggerType.CartAbandoned, "due-cart", t0 - 8_000);
        await Task.Delay(500); // the first batch is applied; by its clock (t0 - 9.9 s) nothing is due
        Assert.Empty(collector.Received);

        run.Enqueue(Message(2, "slow-visitor", "product_added", t0 - 9_000));
        run.Enqueue(Message(3, "browser", "page_viewed", t0 - 7_950));
        Assert.True(await store.Hanging.WaitAsync(TimeSpan.FromSeconds(10)), "the second batch never read its session");
        var fired = await FiredWhileTheReadHangsAsync(collector, store, id);
        Assert.InRange(fired.ReceivedMs - t0, 0, 5_000);

        // After the read the visitor's add is applied; its cart fires at t0 - 7 s once the clock gets there.
        store.Release();
        run.Enqueue(Message(4, "browser", "page_viewed", t0 - 6_000));
        string visitor = TriggerId.Create(TriggerType.CartAbandoned, "slow-visitor", t0 - 7_000);
        Assert.Contains(await collector.WaitForAsync([visitor], TimeSpan.FromSeconds(10)), r => r.Id == visitor);
        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ADeadlineFallingDueDuringARead_GoesOut_OnTimeWhileTheReadHangs()
    {
        // A cart added now is due in 2 s (the gap), and the partition is caught up: the wall clock drives it. Once the
        // cart is applied (in a batch of its own: its session's read answers at once), a new visitor arrives, whose
        // read hangs. Nothing was due when the read started; the cart falls due while it hangs, and must go out on
        // time, not when the read answers. The visitor's own event (now + the gap) bounds the clock, and the cart's
        // deadline is below that bound.
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        long due = t0 + (long)Gap.TotalMilliseconds;
        var store = new HangingLoadStore(hangFor: "slow-visitor");
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store);

        run.Enqueue(Message(0, "soon-due-cart", "product_added", t0), t0);
        string id = TriggerId.Create(TriggerType.CartAbandoned, "soon-due-cart", due);
        await WaitProcessedAsync(run, 1);

        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        run.Enqueue(Message(1, "slow-visitor", "page_viewed", now), now);
        Assert.True(await store.Hanging.WaitAsync(TimeSpan.FromSeconds(10)), "the visitor's batch never read its session");
        Assert.True(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() < due, "the read started after the deadline: the machine was too slow for this test's 2 s margin");
        Assert.Empty(collector.Received);
        var fired = await FiredWhileTheReadHangsAsync(collector, store, id);
        Assert.InRange(fired.ReceivedMs - due, 0, 1_500);

        store.Release();
        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task InputArrivingDuringARead_JoinsTheBatch_AndWhatItMakesDueGoesOut_WhileTheReadHangs()
    {
        // A cart at t0 - 10 s, due at t0 - 8 s. The next batch is a new visitor at t0 - 9.5 s, whose read hangs. While it
        // hangs, two more messages arrive: another new visitor's add at t0 - 7.9 s, then a held browser's view. They
        // move the clock past the cart's deadline (and below the first visitor's t0 - 9.5 s + the gap), so the cart must
        // go out while the read hangs, not after it and the next batch. The second visitor is read after the first
        // read and applied in order: its own cart fires at t0 - 5.9 s once the clock gets there.
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var store = new HangingLoadStore(hangFor: "slow-visitor");
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store);

        run.Enqueue(Message(0, "due-cart", "product_added", t0 - 10_000));
        run.Enqueue(Message(1, "browser", "page_viewed", t0 - 9_900));
        string id = TriggerId.Create(TriggerType.CartAbandoned, "due-cart", t0 - 8_000);
        await WaitProcessedAsync(run, 2); // applied (their reads answer at once); by its clock nothing is due
        Assert.Empty(collector.Received);

        run.Enqueue(Message(2, "slow-visitor", "page_viewed", t0 - 9_500));
        Assert.True(await store.Hanging.WaitAsync(TimeSpan.FromSeconds(10)), "the visitor's batch never read its session");
        run.Enqueue(Message(3, "late-visitor", "product_added", t0 - 7_900, "p-7"));
        run.Enqueue(Message(4, "browser", "page_viewed", t0 - 7_850));
        var fired = await FiredWhileTheReadHangsAsync(collector, store, id);
        Assert.InRange(fired.ReceivedMs - t0, 0, 5_000);

        store.Release();
        run.Enqueue(Message(5, "browser", "page_viewed", t0 - 4_000));
        string late = TriggerId.Create(TriggerType.CartAbandoned, "late-visitor", t0 - 5_900);
        var lateFired = (await collector.WaitForAsync([late], TimeSpan.FromSeconds(10))).Single(r => r.Id == late);
        Assert.Equal("p-7x1", lateFired.Cart);
        Assert.Equal(2, collector.Received.Count(r => r.Id == id || r.Id == late));
        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ANewVisitorsEvents_InOneBatch_StayOneVisit_WhileTheClockMovesOnDuringTheirRead()
    {
        // A new visitor adds a product at t0 - 10 s and another at t0 - 8.5 s (gap 2 s: one visit, due at t0 - 6.5 s),
        // both in one batch with a held session's event at t0 - 5 s, the last known at t0 to be the newest message.
        // While the visitor's session is read the partition may apply the held session's event and fire what it holds,
        // but its clock must not pass t0 - 8 s: there the visitor's first add alone would look abandoned, before its
        // second add is applied.
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var store = new HangingLoadStore(hangFor: "blocker");
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store);

        run.Enqueue(Message(0, "held", "page_viewed", t0 - 10_800));
        await Task.Delay(500); // applied: held, open until t0 - 8.8 s

        // The partition is held up in another read while the adds are queued, so they make one batch.
        run.Enqueue(Message(1, "blocker", "page_viewed", t0 - 10_500));
        Assert.True(await store.Hanging.WaitAsync(TimeSpan.FromSeconds(10)), "the blocker's batch never read its session");
        run.Enqueue(Message(2, "visitor", "product_added", t0 - 10_000, "p-1"));
        run.Enqueue(Message(3, "visitor", "product_added", t0 - 8_500, "p-2"));
        run.Enqueue(Message(4, "held", "page_viewed", t0 - 9_000), t0);
        store.Release();

        string whole = TriggerId.Create(TriggerType.CartAbandoned, "visitor", t0 - 6_500);
        string split = TriggerId.Create(TriggerType.CartAbandoned, "visitor", t0 - 8_000);
        var fired = (await collector.WaitForAsync([whole], TimeSpan.FromSeconds(10))).Single(r => r.Id == whole);
        Assert.Equal("p-1x1,p-2x1", fired.Cart);
        Assert.DoesNotContain(collector.Received, r => r.Id == split);

        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task TheNextBatch_IsApplied_AndWhatItLeavesDueGoesOut_WhileACommitsWriteHangs()
    {
        // A cart at t0 - 10 s (due at t0 - 8 s); the partition commits after every batch, and the write that holds the
        // cart hangs. The next batch, a browser at t0 - 7.95 s, moves the clock past the cart's deadline: it must be
        // applied, and the cart go out, while that write hangs. Once released, the next commit writes the closed cart
        // and the position past both messages.
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var store = new HangingCommitStore(hangFor: "written-cart");
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store, new WorkerOptions { CommitInterval = TimeSpan.Zero, OpenSessionWriteDelay = TimeSpan.Zero });

        run.Enqueue(Message(0, "written-cart", "product_added", t0 - 10_000));
        Assert.True(await store.Hanging.WaitAsync(TimeSpan.FromSeconds(10)), "the cart's session was never written");
        run.Enqueue(Message(1, "browser", "page_viewed", t0 - 7_950));
        string id = TriggerId.Create(TriggerType.CartAbandoned, "written-cart", t0 - 8_000);
        var fired = (await collector.WaitForAsync([id], TimeSpan.FromSeconds(10))).Single(r => r.Id == id);
        Assert.False(store.Released, "the trigger went out only after the commit's write");
        Assert.InRange(fired.ReceivedMs - t0, 0, 5_000);

        store.Release();
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Null(run.Failure);
        var claim = await store.ClaimAsync(new PartitionId("clickstream", 0), CancellationToken.None);
        Assert.Equal(2, claim.NextOffset);
        var stored = (await store.LoadAsync(claim, ["written-cart", "browser"], CancellationToken.None)).Select(b => SessionCodec.Decode("s", b!, 64)).ToArray();
        Assert.False(stored[0].HasOpenPeriod); // the cart fired: written closed after the write that hung
        Assert.True(stored[1].HasOpenPeriod);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task BatchesAppliedAroundTheirReads_PublishTheTriggersOfOffsetOrder(int seed)
    {
        // Forty returning visitors over 80 s of arrivals (gap 2 s), some events arriving up to 3 s after their time.
        // The partition commits every batch, so a closed visit is written and leaves memory, and the visitor's next
        // event needs a read, answered after a random delay while more input queues: batches mix held sessions with
        // sessions being read. Each commit's write also takes a random delay, while the next batches are applied: a
        // visit that left memory before its write was done would be read back without it (its cart lost). What is
        // published must be exactly what applying the messages in offset order fires.
        var rng = new Random(seed);
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000;
        var messages = new List<ConsumeResult<byte[]?, byte[]?>>();
        long arrival = t0;
        for (int i = 0; i < 400; i++)
        {
            arrival += rng.Next(0, 400);
            string type = rng.Next(6) switch { 0 => "page_viewed", 1 or 2 or 3 => "product_added", 4 => "checkout_started", _ => "order_completed" };
            long eventTime = arrival - (rng.Next(8) == 0 ? rng.Next(0, 3_000) : rng.Next(0, 50));
            messages.Add(Message(i, $"visitor-{rng.Next(40)}", type, eventTime, $"p-{rng.Next(4)}", arrival));
        }

        messages.Add(Message(400, "closer", "page_viewed", arrival + 600_000)); // moves the clock past every deadline

        var rules = new RulesOptions { Gap = Gap };
        var reference = new SessionEngine(rules);
        var decoder = new JsonEventDecoder(new DecoderLimits());
        var expected = new List<Trigger>();
        long clock = long.MinValue;
        foreach (var m in messages)
        {
            clock = Math.Max(clock, m.Message.Timestamp.UnixTimestampMs - (long)rules.AllowedLateness.TotalMilliseconds);
            Assert.True(decoder.TryDecode(m.Message.Value, out var ev, out _));
            reference.Apply(ev!, clock, expected, m.Offset);
        }

        Assert.InRange(expected.Count, 20, 400); // the traffic fires enough to compare
        var store = new DelayedStore(seed);
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store, new WorkerOptions { CommitInterval = TimeSpan.Zero, OpenSessionWriteDelay = TimeSpan.Zero });
        foreach (var m in messages)
        {
            run.Enqueue(m);
            if (rng.Next(3) == 0)
            {
                await Task.Delay(rng.Next(1, 4)); // batches of a few messages, some taken while a read is in flight
            }
        }

        await collector.WaitForAsync([.. expected.Select(t => t.Id)], TimeSpan.FromSeconds(30));
        Assert.True(store.Loads > 50, $"only {store.Loads} reads: the batches did not wait for sessions");
        Assert.True(store.Commits > 50, $"only {store.Commits} commits");
        await Task.Delay(500); // nothing more comes
        Assert.Equal(expected.Select(t => $"{t.Id} [{TestStream.CartOf(t)}]").Order(), collector.Received.Select(r => $"{r.Id} [{r.Cart}]").Order());
        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>An in-memory store whose reads and commits answer after a random delay of up to 5 ms.</summary>
    private sealed class DelayedStore(int seed) : IStateStore
    {
        private readonly InMemoryStateStore _inner = new();
        private readonly Random _rng = new(seed);
        private int _loads;
        private int _commits;

        public int Loads => Volatile.Read(ref _loads);

        public int Commits => Volatile.Read(ref _commits);

        public async Task<byte[]?[]> LoadAsync(PartitionClaim claim, IReadOnlyList<string> sessionIds, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _loads);
            int delay;
            lock (_rng) delay = _rng.Next(0, 6);
            await Task.Delay(delay, cancellationToken);
            return await _inner.LoadAsync(claim, sessionIds, cancellationToken);
        }

        public Task<PartitionClaim> ClaimAsync(PartitionId partition, CancellationToken cancellationToken) => _inner.ClaimAsync(partition, cancellationToken);

        public async Task<bool> CommitAsync(PartitionClaim claim, IReadOnlyList<SessionWrite> sessions, long? nextOffset, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _commits);
            int delay;
            lock (_rng) delay = _rng.Next(0, 6);
            await Task.Delay(delay, cancellationToken);
            return await _inner.CommitAsync(claim, sessions, nextOffset, cancellationToken);
        }

        public Task<IReadOnlyList<(string Id, long DueMs)>> DueAsync(PartitionClaim claim, long fromMs, int skip, long untilMs, int take, CancellationToken cancellationToken) =>
            _inner.DueAsync(claim, fromMs, skip, untilMs, take, cancellationToken);

        public Task<TimeSpan> PingAsync(CancellationToken cancellationToken) => _inner.PingAsync(cancellationToken);
    }

    /// <summary>An in-memory store whose read of one session hangs until released.</summary>
    private sealed class HangingLoadStore(string hangFor) : IStateStore
    {
        private readonly InMemoryStateStore _inner = new();
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SemaphoreSlim Hanging { get; } = new(0);

        public bool Released => _release.Task.IsCompleted;

        public void Release() => _release.TrySetResult();

        public async Task<byte[]?[]> LoadAsync(PartitionClaim claim, IReadOnlyList<string> sessionIds, CancellationToken cancellationToken)
        {
            if (sessionIds.Contains(hangFor))
            {
                Hanging.Release();
                await _release.Task.WaitAsync(cancellationToken);
            }

            return await _inner.LoadAsync(claim, sessionIds, cancellationToken);
        }

        public Task<PartitionClaim> ClaimAsync(PartitionId partition, CancellationToken cancellationToken) => _inner.ClaimAsync(partition, cancellationToken);

        public Task<bool> CommitAsync(PartitionClaim claim, IReadOnlyList<SessionWrite> sessions, long? nextOffset, CancellationToken cancellationToken) =>
            _inner.CommitAsync(claim, sessions, nextOffset, cancellationToken);

        public Task<IReadOnlyList<(string Id, long DueMs)>> DueAsync(PartitionClaim claim, long fromMs, int skip, long untilMs, int take, CancellationToken cancellationToken) =>
            _inner.DueAsync(claim, fromMs, skip, untilMs, take, cancellationToken);

        public Task<TimeSpan> PingAsync(CancellationToken cancellationToken) => _inner.PingAsync(cancellationToken);
    }

    /// <summary>An in-memory store whose first commit writing one session hangs until released.</summary>
    private sealed class HangingCommitStore(string hangFor) : IStateStore
    {
        private readonly InMemoryStateStore _inner = new();
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _hung;

        public SemaphoreSlim Hanging { get; } = new(0);

        public bool Released => _release.Task.IsCompleted;

        public void Release() => _release.TrySetResult();

        public async Task<bool> CommitAsync(PartitionClaim claim, IReadOnlyList<SessionWrite> sessions, long? nextOffset, CancellationToken cancellationToken)
        {
            if (sessions.Any(w => w.SessionId == hangFor) && Interlocked.Exchange(ref _hung, 1) == 0)
            {
                Hanging.Release();
                await _release.Task.WaitAsync(cancellationToken);
            }

            return await _inner.CommitAsync(claim, sessions, nextOffset, cancellationToken);
        }

        public Task<byte[]?[]> LoadAsync(PartitionClaim claim, IReadOnlyList<string> sessionIds, CancellationToken cancellationToken) =>
            _inner.LoadAsync(claim, sessionIds, cancellationToken);

        public Task<PartitionClaim> ClaimAsync(PartitionId partition, CancellationToken cancellationToken) => _inner.ClaimAsync(partition, cancellationToken);

        public Task<IReadOnlyList<(string Id, long DueMs)>> DueAsync(PartitionClaim claim, long fromMs, int skip, long untilMs, int take, CancellationToken cancellationToken) =>
            _inner.DueAsync(claim, fromMs, skip, untilMs, take, cancellationToken);

        public Task<TimeSpan> PingAsync(CancellationToken cancellationToken) => _inner.PingAsync(cancellationToken);
    }

    // Waits (at most 10 s) for trigger id, which must arrive while the store's read still hangs.
    private static async Task<ReceivedTrigger> FiredWhileTheReadHangsAsync(TriggerCollector collector, HangingLoadStore store, string id)
    {
        var fired = (await collector.WaitForAsync([id], TimeSpan.FromSeconds(10))).Single(r => r.Id == id);
        Assert.False(store.Released, "the trigger went out only after the read");
        return fired;
    }

    // Waits (at most 10 s) until the partition has applied the messages before nextOffset.
    private static async Task WaitProcessedAsync(Running run, long nextOffset)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (run.Processor.ProcessedOffset < nextOffset)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), $"offsets before {nextOffset} were never applied");
            await Task.Delay(10);
        }
    }

    // One partition processor over the given store, publishing to the mock cluster's trigger topic, started.
    private async Task<Running> StartAsync(IStateStore store, WorkerOptions? options = null)
    {
        var claim = await store.ClaimAsync(new PartitionId("clickstream", 0), CancellationToken.None);
        var run = new Running { Stats = new WorkerStats(new Worker.Operations.WorkerMetrics()) };
        run.Processor = new PartitionProcessor(_partition, claim, store,
            new TriggerPublisher(_producer, new Kafka.KafkaOptions { BootstrapServers = _kafka.BootstrapServers }, "test", NullLogger.Instance),
            options ?? new WorkerOptions(), new RulesOptions { Gap = Gap }, new LifecycleOptions { Enabled = false }, new DecoderLimits(),
            TimeProvider.System, NullLogger.Instance, run.Stats, new Worker.Operations.LogPseudonyms("k"), _ => { }, ex => run.Failure = ex);
        run.Processor.Start();
        return run;
    }

    private sealed class Running
    {
        public PartitionProcessor Processor { get; set; } = null!;
        public required WorkerStats Stats { get; init; }
        public Exception? Failure { get; set; }

        private InputBuffer Input { get; } = new();

        /// <summary>Hands a message over as the consume loop does (<paramref name="newestAtMs"/>: when it was known to be the newest, or -1).</summary>
        public void Enqueue(ConsumeResult<byte[]?, byte[]?> message, long newestAtMs = -1) =>
            Assert.True(Processor.TryEnqueue(new InputItem(Input.Copy(message), newestAtMs)));
    }

    // arrivalMs: the Kafka timestamp (the event's own time by default).
    private ConsumeResult<byte[]?, byte[]?> Message(long offset, string session, string type, long atMs, string product = "p-1", long? arrivalMs = null)
    {
        string json = $$"""{"event_id":"{{session}}-{{offset}}","type":"{{type}}","timestamp":"{{Time.UnixTime.Format(atMs)}}","session_id":"{{session}}"{{(type == "product_added" ? $",\"product\":{{\"id\":\"{product}\"}}" : "")}}}""";
        return new ConsumeResult<byte[]?, byte[]?>
        {
            TopicPartitionOffset = new TopicPartitionOffset(_partition, offset),
            Message = new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(session),
                Value = Encoding.UTF8.GetBytes(json),
                Timestamp = new Timestamp(arrivalMs ?? atMs, TimestampType.CreateTime),
            },
        };
    }
}
