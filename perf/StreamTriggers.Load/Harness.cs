using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;
using StreamTriggers.Kafka.Mock;
using StreamTriggers.Kafka.Native;
using StreamTriggers.Worker.Hosting;
using StreamTriggers.Worker.Pipeline;

namespace StreamTriggers.Load;

/// <summary>
/// What a run measures against: the Kafka cluster (embedded or given), Redis (a throwaway redis-server, a given one,
/// or none) and, unless the worker is external, StreamTriggers workers hosted in this process.
/// </summary>
internal sealed class Harness : IAsyncDisposable
{
    private readonly List<IHost> _workers = [];
    private readonly List<Process> _children = [];
    private readonly List<string> _childOutput = [];
    private readonly HashSet<string> _topics = new(StringComparer.Ordinal);
    private const int MaxChildOutputLines = 5000;
    private MockCluster? _cluster;
    private Process? _redisProcess;
    private string? _redisDir;

    private Harness(LoadOptions options)
    {
        Options = options;
        WorkerMetricsUrl = options.WorkerMetrics;
    }

    public LoadOptions Options { get; }

    public string Bootstrap { get; private set; } = string.Empty;

    /// <summary>The StackExchange.Redis configuration, or null for in-memory state.</summary>
    public string? RedisConfiguration { get; private set; }

    /// <summary>The <c>/metrics</c> address of the worker the tool started last (or <c>--worker-metrics</c> for an external one).</summary>
    public string? WorkerMetricsUrl { get; private set; }

    /// <summary>The processes whose CPU a run accounts for: this one (the tool, the embedded broker, an in-process worker), the child workers, the redis-server started here.</summary>
    public IEnumerable<CpuAccount.Target> CpuTargets()
    {
        string self = Options.ChildWorker || Options.ExternalWorker ? "tool" : "tool + worker";
        yield return new CpuAccount.Target(Options.Embedded ? self + " + embedded broker" : self, Environment.ProcessId);
        for (int i = 0; i < _children.Count; i++)
        {
            yield return new CpuAccount.Target(_children.Count == 1 ? "worker" : $"worker {i + 1}", _children[i].Id);
        }

        if (_redisProcess is { HasExited: false } redis)
        {
            yield return new CpuAccount.Target("redis-server", redis.Id);
        }
    }

    public string Describe => $"Kafka {(Options.Embedded ? "embedded (librdkafka mock cluster, in process)" : Bootstrap)}; " +
        $"Redis {(RedisConfiguration is null ? "none (in-memory state)" : _redisProcess is null ? RedisConfiguration : $"redis-server {RedisConfiguration} (AOF, fsync every second)")}; " +
        $"worker {(Options.ExternalWorker ? "external" : Options.ChildWorker ? "in a child process" : "in process")}";

    public static async Task<Harness> StartAsync(LoadOptions options)
    {
        LibRdKafka.EnsureLoaded();
        var h = new Harness(options);
        if (options.Embedded)
        {
            h._cluster = new MockCluster(brokers: 1);
            h.Bootstrap = h._cluster.BootstrapServers;
        }
        else
        {
            h.Bootstrap = options.Bootstrap;
        }

        if (!options.ExternalWorker)
        {
            h.RedisConfiguration = options.Redis switch
            {
                "none" => null,
                "auto" => await h.StartRedisAsync().ConfigureAwait(false),
                var config => config,
            };
        }

        return h;
    }

    /// <summary>
    /// Creates a topic on the embedded cluster, once: a later run in the same process (<c>--capacity</c>) uses the same
    /// one. On a real cluster, topics must exist: see 'streamtriggers topics'.
    /// </summary>
    public void CreateTopic(string name, int partitions)
    {
        if (_cluster is not null && _topics.Add(name))
        {
            _cluster.CreateTopic(name, partitions);
        }
    }

    /// <summary>Each partition of <paramref name="topic"/> at its end (high watermark) now, as <paramref name="client"/> reads it.</summary>
    internal static List<TopicPartitionOffset> EndOffsets<TKey, TValue>(string bootstrap, string topic, IConsumer<TKey, TValue> client)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).SetLogHandler((_, _) => { }).Build();
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var meta = admin.GetMetadata(topic, TimeSpan.FromSeconds(5)).Topics.FirstOrDefault();
            if (meta is { Error.IsError: false, Partitions.Count: > 0 })
            {
                return [.. meta.Partitions.OrderBy(p => p.PartitionId).Select(p =>
                {
                    var tp = new TopicPartition(topic, p.PartitionId);
                    return new TopicPartitionOffset(tp, client.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High);
                })];
            }

            if (DateTime.UtcNow > until)
            {
                throw new InvalidOperationException($"topic '{topic}' has no partitions to read ({meta?.Error.Reason ?? "no metadata"}); on a real cluster create it first ('streamtriggers topics')");
            }

            Thread.Sleep(200);
        }
    }

    /// <summary>
    /// Commits, for a consumer group no worker has used yet, the end of each topic now: a worker started in it reads
    /// only what is sent from here on, where a new group would otherwise begin at the start of the topic.
    /// </summary>
    public void StartGroupAtEnd(string group, params string[] topics)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = Bootstrap, GroupId = group, EnableAutoCommit = false })
            .SetLogHandler((_, _) => { }).Build();
        consumer.Commit([.. topics.SelectMany(t => EndOffsets(Bootstrap, t, consumer))]);
    }

    /// <summary>Starts a worker in this process on the given topics and group; its counters are the returned stats.</summary>
    public async Task<WorkerStats> StartWorkerAsync(string inputTopic, string triggerTopic, string group)
    {
        var host = RunCommand.Build([.. WorkerArgs(inputTopic, triggerTopic, group)], out _);
        RunCommand.ValidateAll(host.Services);
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        _workers.Add(host);
        return host.Services.GetRequiredService<WorkerStats>();
    }

    /// <summary>
    /// Starts <c>streamtriggers run</c> as a child process on the given topics and group: its own heap and GC, as in
    /// production. Its Kafka offsets are committed every second so the group's progress shows the lag.
    /// </summary>
    public void StartWorkerProcess(string inputTopic, string triggerTopic, string group)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "streamtriggers.dll"));
        psi.ArgumentList.Add("run");
        foreach (var a in WorkerArgs(inputTopic, triggerTopic, group))
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add("--StreamTriggers:Kafka:Settings:auto.commit.interval.ms=1000");
        // Its own lines at Information (assignments, startup), kept for worker.log beside the report: the console
        // logger writes every level to stdout, so a worker that failed to start says why there.
        psi.ArgumentList.Add("--Logging:LogLevel:StreamTriggers=Information");
        lock (_childOutput)
        {
            _childOutput.Clear(); // each run's worker.log is its own worker's
        }

        var child = Process.Start(psi)!;
        child.OutputDataReceived += (_, e) => KeepChildLine(e.Data);
        child.ErrorDataReceived += (_, e) =>
        {
            KeepChildLine(e.Data);
            // The commit interval setting reaches the worker's producer too, which warns that it ignores it.
            if (e.Data is not null && !e.Data.Contains("CONFWARN", StringComparison.Ordinal)) Console.Error.WriteLine($"worker: {e.Data}");
        };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        _children.Add(child);
    }

    private void KeepChildLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_childOutput)
        {
            if (_childOutput.Count == MaxChildOutputLines)
            {
                _childOutput.RemoveAt(0);
            }

            _childOutput.Add(line);
        }
    }

    /// <summary>What the child workers wrote (stdout and stderr, the last <see cref="MaxChildOutputLines"/> lines).</summary>
    public IReadOnlyList<string> ChildOutput()
    {
        lock (_childOutput)
        {
            return [.. _childOutput];
        }
    }

    /// <summary>A child worker that is no longer running, and how it ended; null while they all run (or none was started).</summary>
    public string? ChildExited() =>
        _children.FirstOrDefault(c => c.HasExited) is { } gone ? $"the worker process (pid {gone.Id}) exited with code {gone.ExitCode}" : null;

    private List<string> WorkerArgs(string inputTopic, string triggerTopic, string group)
    {
        int metricsPort = FreePort();
        WorkerMetricsUrl = $"http://127.0.0.1:{metricsPort}/metrics";
        string dlq = inputTopic + "-dlq";
        CreateTopic(dlq, 1);
        CreateTopic(inputTopic + "-audit", 1);
        var args = new List<string>
        {
            $"--StreamTriggers:Kafka:BootstrapServers={Bootstrap}",
            $"--StreamTriggers:Kafka:GroupId={group}",
            $"--StreamTriggers:Kafka:InputTopic={inputTopic}",
            $"--StreamTriggers:Kafka:TriggerTopic={triggerTopic}",
            $"--StreamTriggers:Kafka:DeadLetterTopic={dlq}",
            $"--StreamTriggers:Kafka:AuditTopic={inputTopic}-audit",
            $"--StreamTriggers:Kafka:CustomerTopic={CustomerTopic(inputTopic)}",
            $"--StreamTriggers:Lifecycle:Enabled={Options.Lifecycle}",
            $"--StreamTriggers:Rules:Gap={Options.Gap}",
            $"--StreamTriggers:Rules:AllowedLateness={Options.Lateness}",
            // The operations endpoint on a free port: the tool reads the worker's GC pauses from its /metrics.
            "--StreamTriggers:Operations:Enabled=true",
            $"--StreamTriggers:Operations:Port={metricsPort}",
            "--Logging:LogLevel:Default=Warning",
        };
        if (Options.Embedded)
        {
            args.Add($"--StreamTriggers:Kafka:Settings:fetch.wait.max.ms={MockCluster.FetchWaitMaxMs}");
        }

        if (Options.Lifecycle)
        {
            // Both stages, the policy opened up: the tool checks the session triggers it knows must come out, and
            // quiet hours (by time of day) or frequency caps (users recur) would hold some back by design.
            CreateTopic(CustomerTopic(inputTopic), Options.Partitions);
            args.Add("--StreamTriggers:Policy:QuietHoursStart=00:00");
            args.Add("--StreamTriggers:Policy:QuietHoursEnd=00:00");
            args.Add("--StreamTriggers:Policy:FrequencyCaps:abandonment=00:00:00");
        }

        if (RedisConfiguration is not null)
        {
            args.Add($"--StreamTriggers:Redis:Configuration={RedisConfiguration}");
        }

        // Last, so they override the tool's own choices above.
        args.AddRange(Options.WorkerSettings.Select(kv => $"--{kv.Key}={kv.Value}"));
        return args;
    }

    /// <summary>The customer topic of the workers the tool starts on <paramref name="inputTopic"/> (their lifecycle stage reads it too).</summary>
    internal static string CustomerTopic(string inputTopic) => inputTopic + "-customers";

    /// <summary>Redis's <c>used_memory</c> in bytes, or null without Redis.</summary>
    public async Task<long?> RedisUsedMemoryAsync()
    {
        if (RedisConfiguration is null)
        {
            return null;
        }

        var config = ConfigurationOptions.Parse(RedisConfiguration);
        config.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(config).ConfigureAwait(false);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var info = await server.InfoAsync("memory").ConfigureAwait(false);
        var used = info.SelectMany(g => g).First(kv => kv.Key == "used_memory").Value;
        return long.Parse(used, CultureInfo.InvariantCulture);
    }

    public async Task StopWorkersAsync()
    {
        foreach (var child in _children)
        {
            if (!child.HasExited)
            {
                // SIGTERM: the worker commits what is pending and exits.
                using var kill = Process.Start("kill", ["-TERM", child.Id.ToString(CultureInfo.InvariantCulture)]);
                await kill.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        foreach (var child in _children)
        {
            await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            child.Dispose();
        }

        _children.Clear();
        foreach (var w in _workers)
        {
            await w.StopAsync().WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            w.Dispose();
        }

        _workers.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await StopWorkersAsync().ConfigureAwait(false);
        _cluster?.Dispose();
        if (_redisProcess is { HasExited: false })
        {
            _redisProcess.Kill();
            await _redisProcess.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        _redisProcess?.Dispose();
        if (_redisDir is not null)
        {
            try
            {
                Directory.Delete(_redisDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task<string> StartRedisAsync()
    {
        string binary = new[] { "/usr/bin", "/usr/local/bin", "/usr/sbin" }.Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':'))
            .Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists)
            ?? throw new Worker.Cli.UsageException("redis-server is not installed (apt-get install redis-server); or pass --redis host:port, or --redis none");
        int port = FreePort();
        _redisDir = Directory.CreateTempSubdirectory("st-load-redis-").FullName;
        var psi = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _redisDir, "--save", "",
                     "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no", "--protected-mode", "no" })
        {
            psi.ArgumentList.Add(a);
        }

        _redisProcess = Process.Start(psi)!;
        _redisProcess.OutputDataReceived += (_, _) => { };
        _redisProcess.ErrorDataReceived += (_, _) => { };
        _redisProcess.BeginOutputReadLine();
        _redisProcess.BeginErrorReadLine();
        string config = $"127.0.0.1:{port}";
        var until = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync(config + ",connectTimeout=500").ConfigureAwait(false);
                await probe.GetDatabase().PingAsync().ConfigureAwait(false);
                return config;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }
}
