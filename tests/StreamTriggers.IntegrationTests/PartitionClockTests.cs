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
        var fired = (await collector.WaitForAsync([id], TimeSpan.FromSeconds(10))).Single(r => r.Id == id);
        Assert.False(store.Released, "the trigger went out only after the read");
        Assert.InRange(fired.ReceivedMs - t0, 0, 5_000);

        store.Release();
        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ANewVisitorsEvents_InOneBatch_StayOneVisit_WhileTheClockMovesOnDuringTheirRead()
    {
        // A new visitor adds a product at t0 - 10 s and another at t0 - 8.5 s (gap 2 s: one visit, due at t0 - 6.5 s),
        // both in one batch, the last known at t0 to be the newest message. While the visitor's session is read the
        // partition may fire what it holds up to the clock, but not past t0 - 8 s: there the visitor's first add
        // alone would look abandoned, before its second add is applied.
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var store = new HangingLoadStore(hangFor: "blocker");
        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        var run = await StartAsync(store);

        // The partition is held up in another read while both adds are queued, so they make one batch.
        run.Enqueue(Message(0, "blocker", "page_viewed", t0 - 10_500));
        Assert.True(await store.Hanging.WaitAsync(TimeSpan.FromSeconds(10)), "the first batch never read its session");
        run.Enqueue(Message(1, "visitor", "product_added", t0 - 10_000, "p-1"));
        run.Enqueue(Message(2, "visitor", "product_added", t0 - 8_500, "p-2"), t0);
        store.Release();

        string whole = TriggerId.Create(TriggerType.CartAbandoned, "visitor", t0 - 6_500);
        string split = TriggerId.Create(TriggerType.CartAbandoned, "visitor", t0 - 8_000);
        var fired = (await collector.WaitForAsync([whole], TimeSpan.FromSeconds(10))).Single(r => r.Id == whole);
        Assert.Equal("p-1x1,p-2x1", fired.Cart);
        Assert.DoesNotContain(collector.Received, r => r.Id == split);

        Assert.Null(run.Failure);
        await run.Processor.StopAsync(TimeSpan.FromSeconds(10));
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

    // One partition processor over the given store, publishing to the mock cluster's trigger topic, started.
    private async Task<Running> StartAsync(IStateStore store)
    {
        var claim = await store.ClaimAsync(new PartitionId("clickstream", 0), CancellationToken.None);
        var run = new Running { Stats = new WorkerStats(new Worker.Operations.WorkerMetrics()) };
        run.Processor = new PartitionProcessor(_partition, claim, store,
            new TriggerPublisher(_producer, new Kafka.KafkaOptions { BootstrapServers = _kafka.BootstrapServers }, "test", NullLogger.Instance),
            new WorkerOptions(), new RulesOptions { Gap = Gap }, new LifecycleOptions { Enabled = false }, new DecoderLimits(),
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

    private ConsumeResult<byte[]?, byte[]?> Message(long offset, string session, string type, long atMs, string product = "p-1")
    {
        string json = $$"""{"event_id":"{{session}}-{{offset}}","type":"{{type}}","timestamp":"{{Time.UnixTime.Format(atMs)}}","session_id":"{{session}}"{{(type == "product_added" ? $",\"product\":{{\"id\":\"{product}\"}}" : "")}}}""";
        return new ConsumeResult<byte[]?, byte[]?>
        {
            TopicPartitionOffset = new TopicPartitionOffset(_partition, offset),
            Message = new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(session),
                Value = Encoding.UTF8.GetBytes(json),
                Timestamp = new Timestamp(atMs, TimestampType.CreateTime),
            },
        };
    }
}
