using System.Runtime.InteropServices;
using StreamTriggers.Kafka.Native;

namespace StreamTriggers.Kafka.Mock;

/// <summary>Kafka protocol request types, for fault injection.</summary>
public enum KafkaApi : short
{
    Produce = 0,
    Fetch = 1,
    ListOffsets = 2,
    Metadata = 3,
    OffsetCommit = 8,
    OffsetFetch = 9,
    FindCoordinator = 10,
    JoinGroup = 11,
    Heartbeat = 12,
    SyncGroup = 14,
    InitProducerId = 22,
}

/// <summary>
/// librdkafka's built-in mock cluster: a real Kafka-protocol server on loopback with consumer groups, commits and
/// idempotent produce, for the embedded mode, tests and benchmarks. It keeps only a few MB per partition, so
/// consume while producing and use enough partitions. Fault injection: brokers down/up, round-trip delay, request
/// errors.
/// </summary>
public sealed class MockCluster : IDisposable
{
    /// <summary>
    /// The <c>fetch.wait.max.ms</c> for clients of this cluster. The mock broker holds a fetch for its full wait when
    /// nothing was there at the request, even if data arrives meanwhile (a real broker answers at once): with
    /// librdkafka's default 500 ms, every hop through a topic that is not busy every millisecond (the customer topic,
    /// the trigger topic for a reader) would cost ~250 ms on average.
    /// </summary>
    public const int FetchWaitMaxMs = 10;

    private readonly IntPtr _handle;
    private readonly IntPtr _cluster;
    private readonly Lock _lock = new();
    private bool _disposed;

    public MockCluster(int brokers = 1)
    {
        LibRdKafka.EnsureLoaded();
        IntPtr conf = NativeMethods.ConfNew();
        var err = Marshal.AllocHGlobal(512);
        try
        {
            // The owning handle is a producer that never produces: it only hosts the cluster's threads.
            NativeMethods.ConfSet(conf, "log_level", "3", err, 512);
            _handle = NativeMethods.New(NativeMethods.RdKafkaProducer, conf, err, 512);
            if (_handle == IntPtr.Zero)
            {
                throw new InvalidOperationException("rd_kafka_new failed: " + Marshal.PtrToStringUTF8(err));
            }

            _cluster = NativeMethods.MockClusterNew(_handle, brokers);
            if (_cluster == IntPtr.Zero)
            {
                NativeMethods.Destroy(_handle);
                throw new InvalidOperationException("rd_kafka_mock_cluster_new failed");
            }

            Brokers = brokers;
            BootstrapServers = Marshal.PtrToStringUTF8(NativeMethods.MockClusterBootstraps(_cluster))!;
            // Consumer groups form without the default 3 s wait, so tests and the embedded mode start promptly.
            NativeMethods.MockGroupInitialRebalanceDelayMs(_cluster, 0);
        }
        finally
        {
            Marshal.FreeHGlobal(err);
        }
    }

    public string BootstrapServers { get; }

    public int Brokers { get; }

    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        int rc = Call(() => NativeMethods.MockTopicCreate(_cluster, topic, partitions, Math.Min(replicationFactor, Brokers)));
        if (rc != 0)
        {
            throw new InvalidOperationException($"creating mock topic '{topic}' failed with librdkafka error {rc}");
        }
    }

    /// <summary>Brokers are numbered from 1.</summary>
    public void SetBrokerDown(int brokerId) => Call(() => NativeMethods.MockBrokerSetDown(_cluster, brokerId));

    public void SetBrokerUp(int brokerId) => Call(() => NativeMethods.MockBrokerSetUp(_cluster, brokerId));

    public void SetRoundTripDelay(int brokerId, TimeSpan rtt) => Call(() => NativeMethods.MockBrokerSetRtt(_cluster, brokerId, (int)rtt.TotalMilliseconds));

    /// <summary>The next <paramref name="errors"/>.Length requests of <paramref name="api"/> fail with these librdkafka error codes.</summary>
    public void PushRequestErrors(KafkaApi api, params Confluent.Kafka.ErrorCode[] errors) =>
        Call(() =>
        {
            NativeMethods.MockPushRequestErrorsArray(_cluster, (short)api, (UIntPtr)errors.Length, [.. errors.Select(e => (int)e)]);
            return 0;
        });

    public void ClearRequestErrors(KafkaApi api) => Call(() =>
    {
        NativeMethods.MockClearRequestErrors(_cluster, (short)api);
        return 0;
    });

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            NativeMethods.MockClusterDestroy(_cluster);
            NativeMethods.Destroy(_handle);
        }
    }

    private int Call(Func<int> action)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return action();
        }
    }
}
