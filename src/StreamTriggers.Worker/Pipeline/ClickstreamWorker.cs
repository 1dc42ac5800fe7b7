using System.Collections.Concurrent;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Kafka;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Worker.Hosting;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>The customer stage's state store (customers and their long timers), beside the sessions' <see cref="IStateStore"/>.</summary>
internal sealed record CustomerStore(IStateStore Store);

/// <summary>
/// The consume loop: one consumer in the group, on its own thread (the client is not thread-safe), routing each
/// partition's messages to that partition's processor: a <see cref="PartitionProcessor"/> for the input topic (the
/// session stage) and, with the customer lifecycle on, a <see cref="CustomerProcessor"/> for the internal customer
/// topic (the customer stage), both topics in one subscription so the group spreads both stages over its workers. Partitions run concurrently; order is
/// kept within each. A full partition queue pauses that partition at the broker (backpressure) instead of growing
/// memory. Rebalance callbacks run on this thread: an assigned partition is claimed in the state store and resumes at
/// its stored position; a revoked one finishes and commits its batch in hand before the callback returns.
/// </summary>
internal sealed partial class ClickstreamWorker : BackgroundService
{
    private readonly KafkaOptions _kafka;
    private readonly WorkerOptions _options;
    private readonly RulesOptions _rules;
    private readonly LifecycleOptions _lifecycle;
    private readonly PolicyOptions _policy;
    private readonly IStateStore _store;
    private readonly CustomerStore _customers;
    private readonly TimeProvider _time;
    private readonly ILogger<ClickstreamWorker> _logger;
    private readonly ILoggerFactory _loggers;
    private readonly WorkerStats _stats;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Dictionary<TopicPartition, ProcessorBase> _processors = [];

    // One product table for every partition's sessions: a catalogue's popular products are held once per worker.
    private readonly ProductTable _products = new(SharedProductTableCapacity);

    /// <summary>Distinct products the worker's partitions share before the table starts afresh (about 20 MB).</summary>
    internal const int SharedProductTableCapacity = 100_000;
    private readonly Dictionary<TopicPartition, Queue<InputItem>> _overflow = [];
    private readonly ConcurrentQueue<TopicPartitionOffset> _offsetsToStore = new();
    private readonly ConcurrentDictionary<TopicPartition, long> _highWatermarks = new();
    private readonly DecoderLimits _limits;
    private readonly Operations.LogPseudonyms _pseudonyms;
    private IConsumer<InputSlice, InputSlice>? _consumer;

    // Where the consumer's deserializers put every input key and value (written on the consume loop's thread only).
    private readonly InputBuffer _input = new();
    private TriggerPublisher? _publisher;

    public ClickstreamWorker(IOptions<KafkaOptions> kafka, IOptions<WorkerOptions> options, IOptions<RulesOptions> rules, IOptions<DecoderLimits> limits,
        IOptions<LifecycleOptions> lifecycle, IOptions<PolicyOptions> policy, IStateStore store, CustomerStore customers, TimeProvider time,
        ILoggerFactory loggers, WorkerStats stats, IHostApplicationLifetime lifetime, Operations.LogPseudonyms pseudonyms)
    {
        _lifecycle = lifecycle.Value;
        _policy = policy.Value;
        _customers = customers;
        _pseudonyms = pseudonyms;
        _limits = limits.Value;
        _lifetime = lifetime;
        _kafka = kafka.Value;
        _options = options.Value;
        _rules = rules.Value;
        _store = store;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<ClickstreamWorker>();
        _stats = stats;
    }

    private long _lastLoopTick = Environment.TickCount64;
    private IAdminClient? _admin;

    /// <summary>How long ago the consume loop last went round (liveness).</summary>
    public TimeSpan SinceLastLoop => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastLoopTick));

    /// <summary>Asks a broker for the input topic's metadata: true when one answered within <paramref name="timeout"/>.</summary>
    public bool BrokerReachable(TimeSpan timeout)
    {
        try
        {
            var metadata = _admin?.GetMetadata(_kafka.InputTopic, timeout);
            return metadata is { Brokers.Count: > 0 } && metadata.Topics.Any(t => !t.Error.IsError);
        }
        catch (KafkaException)
        {
            return false;
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => ConsumeLoop(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void ConsumeLoop(CancellationToken stop)
    {
        var producer = new ProducerBuilder<byte[]?, byte[]?>(ProducerConfig()).Build();
        _publisher = new TriggerPublisher(producer, _kafka, _options.Source, _loggers.CreateLogger<TriggerPublisher>());
        _admin = new DependentAdminClientBuilder(producer.Handle).Build();
        var slices = new SliceDeserializer(_input);
        _consumer = new ConsumerBuilder<InputSlice, InputSlice>(ConsumerConfig())
            .SetKeyDeserializer(slices)
            .SetValueDeserializer(slices)
            .SetPartitionsAssignedHandler((_, partitions) => OnAssigned(partitions))
            .SetPartitionsRevokedHandler((_, partitions) => OnRevoked(partitions.Select(p => p.TopicPartition), lost: false))
            .SetPartitionsLostHandler((_, partitions) => OnRevoked(partitions.Select(p => p.TopicPartition), lost: true))
            .SetErrorHandler((_, e) => LogKafkaError(_logger, e.Code.ToString(), e.Reason, e.IsFatal))
            .Build();

        try
        {
            _consumer.Subscribe(_lifecycle.Enabled ? [_kafka.InputTopic, _kafka.CustomerTopic] : [_kafka.InputTopic]);
            LogStarted(_logger, _kafka.InputTopic, _kafka.GroupId, _kafka.TriggerTopic, Kafka.Native.LibRdKafka.LoadedPath ?? "?");
            long nextSummary = Environment.TickCount64 + 60_000;
            while (!stop.IsCancellationRequested)
            {
                Volatile.Write(ref _lastLoopTick, Environment.TickCount64);
                if (Environment.TickCount64 >= nextSummary)
                {
                    nextSummary += 60_000;
                    LogSummary(_logger, _stats.Summary());
                }

                StorePendingOffsets();
                DrainOverflow();
                ConsumeResult<InputSlice, InputSlice>? result;
                try
                {
                    result = _consumer.Consume(TimeSpan.FromMilliseconds(50));
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    LogKafkaError(_logger, ex.Error.Code.ToString(), ex.Error.Reason, false);
                    continue;
                }

                if (result is null)
                {
                    continue;
                }

                // result.TopicPartition is a new object per call; without the lifecycle the topic is not marshalled.
                var tp = Canonical(result.Topic ?? _kafka.InputTopic, result.Partition.Value);
                // The deserializers copied the key and value into the input buffer (see InputBuffer).
                var message = result.IsPartitionEOF ? default : InputBuffer.Take(result);
                if (!_processors.TryGetValue(tp, out var processor))
                {
                    InputBuffer.Release(message);
                    continue; // revoked since it was fetched; the next owner reads it from the committed position
                }

                Route(processor, tp, result.IsPartitionEOF
                    ? InputItem.EndOfPartition(_time.GetUtcNow().ToUnixTimeMilliseconds())
                    : new InputItem(message, NewestAt(tp, result.Offset.Value + 1)));
            }
        }
        finally
        {
            Shutdown();
        }
    }

    // One TopicPartition per partition ever consumed (a handful), instead of one per message.
    private readonly Dictionary<(string Topic, int Partition), TopicPartition> _topicPartitions = [];

    private TopicPartition Canonical(string topic, int partition)
    {
        if (!_topicPartitions.TryGetValue((topic, partition), out var tp))
        {
            tp = new TopicPartition(topic, partition);
            _topicPartitions[(topic, partition)] = tp;
        }

        return tp;
    }

    /// <summary>
    /// When the message before <paramref name="next"/> was the newest the broker had: now (Unix ms); otherwise -1.
    /// librdkafka reports the end of a partition only after a further, empty fetch: in a busy partition that rarely
    /// happens. The high watermark of the last fetch response (cached, no round trip) says at once whether this
    /// message was the newest. It only grows, so while a message is below the last one read, it is not the newest
    /// and librdkafka need not be asked. The answer travels with the message, so a partition that takes it knows
    /// at once that it is caught up.
    /// </summary>
    private long NewestAt(TopicPartition tp, long next)
    {
        if (_highWatermarks.TryGetValue(tp, out long known) && next < known)
        {
            return -1;
        }

        long high = _consumer!.GetWatermarkOffsets(tp).High.Value;
        _highWatermarks[tp] = high;
        return high >= 0 && next >= high ? _time.GetUtcNow().ToUnixTimeMilliseconds() : -1;
    }

    private void Route(ProcessorBase processor, TopicPartition tp, InputItem item)
    {
        if (_overflow.TryGetValue(tp, out var queue))
        {
            queue.Enqueue(item);
        }
        else if (!processor.TryEnqueue(item))
        {
            _overflow[tp] = new Queue<InputItem>([item]);
            _consumer!.Pause([tp]);
        }
    }

    private void DrainOverflow()
    {
        if (_overflow.Count == 0)
        {
            return;
        }

        // Called on every turn of the loop while any partition is paused: no copy of the dictionary per turn.
        List<TopicPartition>? drained = null;
        foreach (var (tp, queue) in _overflow)
        {
            if (!_processors.TryGetValue(tp, out var processor))
            {
                (drained ??= []).Add(tp);
                continue;
            }

            while (queue.TryPeek(out var item) && processor.TryEnqueue(item))
            {
                queue.Dequeue();
            }

            if (queue.Count == 0)
            {
                (drained ??= []).Add(tp);
                _consumer!.Resume([tp]);
            }
        }

        foreach (var tp in drained ?? [])
        {
            _overflow.Remove(tp);
        }
    }

    private void StorePendingOffsets()
    {
        while (_offsetsToStore.TryDequeue(out var tpo))
        {
            if (!_processors.ContainsKey(tpo.TopicPartition))
            {
                continue;
            }

            try
            {
                _consumer!.StoreOffset(tpo);
            }
            catch (KafkaException ex)
            {
                // The Kafka-side offset only serves lag monitoring: the position of record is in the state store.
                LogKafkaError(_logger, ex.Error.Code.ToString(), ex.Error.Reason, false);
            }
        }
    }

    private List<TopicPartitionOffset> OnAssigned(List<TopicPartition> partitions)
    {
        var result = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var tp in partitions)
        {
            bool customers = tp.Topic == _kafka.CustomerTopic;
            var claim = ClaimWithRetry(customers ? _customers.Store : _store, tp);
            ProcessorBase processor = customers
                ? new CustomerProcessor(tp, claim, _customers.Store, _publisher!, _options, _rules, _lifecycle, _policy, _time,
                    _loggers.CreateLogger<CustomerProcessor>(), _stats, _pseudonyms, _offsetsToStore.Enqueue, OnProcessorFailed)
                : new PartitionProcessor(tp, claim, _store, _publisher!, _options, _rules, _lifecycle, _limits, _time,
                    _loggers.CreateLogger<PartitionProcessor>(), _stats, _pseudonyms, _offsetsToStore.Enqueue, OnProcessorFailed, _products);
            _processors[tp] = processor;
            processor.Start();
            _stats.PartitionAssigned();
            _stats.Metrics.Track(tp.Topic, tp.Partition.Value, () =>
            {
                long high = _highWatermarks.GetValueOrDefault(tp, -1);
                long processed = processor.ProcessedOffset;
                return (processor.PendingTimers, high < 0 ? 0 : Math.Max(0, high - Math.Max(processed, 0)));
            });
            result.Add(new TopicPartitionOffset(tp, claim.NextOffset is { } next ? new Offset(next) : Offset.Unset));
        }

        return result;
    }

    private void OnProcessorFailed(Exception exception)
    {
        Environment.ExitCode = 1;
        _lifetime.StopApplication();
    }

    private PartitionClaim ClaimWithRetry(IStateStore store, TopicPartition tp)
    {
        var delay = _options.RetryBackoff;
        while (true)
        {
            try
            {
                return store.ClaimAsync(new PartitionId(tp.Topic, tp.Partition.Value), CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException or TimeoutException)
            {
                LogClaimRetry(_logger, tp.ToString(), delay.TotalMilliseconds, ex.Message);
                Thread.Sleep(delay);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private void OnRevoked(IEnumerable<TopicPartition> partitions, bool lost)
    {
        var stopping = new List<Task>();
        foreach (var tp in partitions)
        {
            _overflow.Remove(tp);
            if (_processors.Remove(tp, out var processor))
            {
                var stop = lost ? processor.AbortAsync() : processor.StopAsync(_options.ShutdownTimeout);
                stopping.Add(stop.ContinueWith(_ => processor.Dispose(), TaskScheduler.Default));
                _stats.PartitionRevoked(lost);
                _stats.Metrics.Untrack(tp.Topic, tp.Partition.Value);
                _highWatermarks.TryRemove(tp, out _);
            }
        }

        // Blocking here is the point: the partition is handed over only after its batch in hand is committed.
        Task.WhenAll(stopping).Wait(_options.ShutdownTimeout + TimeSpan.FromSeconds(1));
        StorePendingOffsets();
        if (_logger.IsEnabled(LogLevel.Information))
        {
            LogRevoked(_logger, string.Join(",", partitions.Select(p => p.Partition.Value)), lost);
        }
    }

    private void Shutdown()
    {
        OnRevoked([.. _processors.Keys], lost: false);
        var consumer = _consumer;
        var producer = _publisher?.Producer;
        // librdkafka's close and flush can hang on an unhealthy broker: each is bounded.
        var close = Task.Run(() =>
        {
            try
            {
                consumer?.Close();
            }
            catch (KafkaException ex)
            {
                LogKafkaError(_logger, ex.Error.Code.ToString(), ex.Error.Reason, false);
            }
        });
        if (!close.Wait(_options.ShutdownTimeout))
        {
            LogShutdownStepTimeout(_logger, "consumer close", _options.ShutdownTimeout.TotalSeconds);
        }

        var flush = Task.Run(() => producer?.Flush(_options.ShutdownTimeout));
        if (!flush.Wait(_options.ShutdownTimeout + TimeSpan.FromSeconds(1)))
        {
            LogShutdownStepTimeout(_logger, "producer flush", _options.ShutdownTimeout.TotalSeconds);
        }

        if (close.IsCompleted)
        {
            consumer?.Dispose();
        }

        _input.Close(); // nothing consumes any more: the buffer's current chunk goes back once its messages are released

        _admin?.Dispose();

        if (flush.IsCompleted)
        {
            producer?.Dispose();
        }
    }

    private ConsumerConfig ConsumerConfig()
    {
        var config = new ConsumerConfig(new Dictionary<string, string>(_kafka.Settings))
        {
            BootstrapServers = _kafka.BootstrapServers,
            GroupId = _kafka.GroupId,
            EnableAutoCommit = true,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            EnablePartitionEof = true,
        };

        // Reading the input topic alone, each message's topic is known: Confluent.Kafka need not build its name as a
        // new string per message (headers and timestamps are still read).
        if (!_lifecycle.Enabled && config.Get("dotnet.consumer.consume.result.fields") is null)
        {
            config.ConsumeResultFields = "headers,timestamp";
        }

        return config;
    }

    private static readonly string[] ConsumerOnly =
    [
        "fetch.", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms", "auto.offset.reset", "auto.commit.",
        "enable.auto.commit", "enable.partition.eof", "partition.assignment.strategy", "isolation.level", "group.", "queued.",
    ];

    private ProducerConfig ProducerConfig()
    {
        // Settings are shared; the consumer-only ones would make librdkafka warn on the producer.
        var settings = _kafka.Settings.Where(kv => !ConsumerOnly.Any(p => kv.Key.StartsWith(p, StringComparison.Ordinal)))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var config = new ProducerConfig(settings)
        {
            BootstrapServers = _kafka.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
        };
        config.LingerMs ??= 2;

        // Delivery reports are read for their status only (a failure is retried from the message as given): without
        // headers and timestamps Confluent.Kafka does not rebuild them per message.
        config.DeliveryReportFields ??= "key,value,status";
        return config;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "consuming {InputTopic} in group {GroupId}, triggers to {TriggerTopic} (librdkafka {Library})")]
    private static partial void LogStarted(ILogger logger, string inputTopic, string groupId, string triggerTopic, string library);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "totals: {Summary}")]
    private static partial void LogSummary(ILogger logger, string summary);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "partitions {Partitions} revoked (lost: {Lost})")]
    private static partial void LogRevoked(ILogger logger, string partitions, bool lost);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "kafka {Code}: {Reason} (fatal: {Fatal})")]
    private static partial void LogKafkaError(ILogger logger, string code, string reason, bool fatal);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "claiming {Partition} failed; retrying in {DelayMs} ms: {Message}")]
    private static partial void LogClaimRetry(ILogger logger, string partition, double delayMs, string message);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "shutdown step '{Step}' did not finish within {Seconds} s; abandoning it")]
    private static partial void LogShutdownStepTimeout(ILogger logger, string step, double seconds);
}
