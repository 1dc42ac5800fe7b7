using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Kafka;
using StreamTriggers.Kafka.Mock;
using StreamTriggers.Kafka.Native;
using StreamTriggers.Redis;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Worker.Embedded;
using StreamTriggers.Worker.Pipeline;

namespace StreamTriggers.Worker.Hosting;

/// <summary>
/// <c>streamtriggers run</c>: the live worker. Configuration from appsettings.json, environment variables
/// (<c>StreamTriggers__Kafka__BootstrapServers</c>) and the command line (<c>--StreamTriggers:Kafka:BootstrapServers=host:9092</c>).
/// Without Kafka configured it runs embedded: an in-process Kafka-protocol cluster, in-memory state, a synthetic tracker.
/// </summary>
internal static class RunCommand
{
    public const string Usage = """
        streamtriggers run [--StreamTriggers:Section:Key=value ...]

        Runs the live worker: consumes the clickstream topic, keeps state in Redis, fires deadlines on the wall
        clock, publishes triggers. Configuration keys (see README, "Configuration"), e.g.:

          --StreamTriggers:Kafka:BootstrapServers=broker:9092   (empty: embedded mode, nothing to install)
          --StreamTriggers:Redis:Configuration=redis:6379       (empty: state in process memory)
          --StreamTriggers:Rules:Gap=00:30:00

        Ctrl-C (SIGTERM) stops it cleanly: partitions finish and commit their batch in hand.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var host = Build(args, out var embedded);
        try
        {
            ValidateAll(host.Services);
            await host.RunAsync().ConfigureAwait(false);
            return Environment.ExitCode; // 1 when a partition processor failed and stopped the worker
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("streamtriggers run: invalid configuration:").ConfigureAwait(false);
            foreach (var failure in ex.Failures)
            {
                await Console.Error.WriteLineAsync("  " + failure).ConfigureAwait(false);
            }

            return 2;
        }
        finally
        {
            host.Dispose();
            embedded?.Dispose();
        }
    }

    /// <summary>Validates every options class, so one start reports every bad key, not only the first class's.</summary>
    public static void ValidateAll(IServiceProvider services)
    {
        var failures = new List<string>();
        void Check<T>()
            where T : class
        {
            try
            {
                _ = services.GetRequiredService<IOptions<T>>().Value;
            }
            catch (OptionsValidationException ex)
            {
                failures.AddRange(ex.Failures);
            }
        }

        Check<KafkaOptions>();
        Check<RedisOptions>();
        Check<RulesOptions>();
        Check<WorkerOptions>();
        Check<EmbeddedOptions>();
        Check<DecoderLimits>();
        Check<LifecycleOptions>();
        Check<PolicyOptions>();
        Check<Operations.OperationsOptions>();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException("StreamTriggers", typeof(RunCommand), failures);
        }
    }

    public static IHost Build(string[] args, out MockCluster? embedded, Action<IServiceCollection>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
        embedded = null;
        var kafka = builder.Configuration.GetSection(KafkaOptions.SectionName).Get<KafkaOptions>() ?? new KafkaOptions();
        LibRdKafka.EnsureLoaded();
        if (kafka.IsEmbedded)
        {
            embedded = StartEmbeddedCluster(kafka);
            // Defaults that make the embedded demo visible within seconds; anything configured still wins.
            var defaults = new Dictionary<string, string?>
            {
                ["StreamTriggers:Rules:Gap"] = "00:00:10",
                // Lifecycle delays of minutes instead of days, so reminders and cross-sells show up in a demo.
                ["StreamTriggers:Lifecycle:ReminderDelay"] = "00:01:00",
                ["StreamTriggers:Lifecycle:CrossSellDelay"] = "00:02:00",
                ["StreamTriggers:Kafka:Settings:fetch.wait.max.ms"] = MockCluster.FetchWaitMaxMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Logging:LogLevel:Default"] = "Warning",
            };
            builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = defaults });
            builder.Configuration.AddInMemoryCollection([new("StreamTriggers:Kafka:BootstrapServers", embedded.BootstrapServers)]);
            builder.Services.AddSingleton(embedded);
            builder.Services.AddOptions<EmbeddedOptions>().BindConfiguration(EmbeddedOptions.SectionName);
            builder.Services.AddHostedService<SyntheticTracker>();
            builder.Services.AddHostedService<TriggerConsole>();
        }

        AddWorker(builder.Services);
        configure?.Invoke(builder.Services);
        return builder.Build();
    }

    /// <summary>Registers the worker and its options; shared by <c>run</c> and the integration tests' in-process hosts.</summary>
    public static void AddWorker(IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<Operations.WorkerMetrics>();
        services.AddSingleton<WorkerStats>();
        services.AddOptions<KafkaOptions>().BindConfiguration(KafkaOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<KafkaOptions>>(new OptionsValidator<KafkaOptions>(o => o.Validate()));
        services.AddOptions<RedisOptions>().BindConfiguration(RedisOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RedisOptions>>(new OptionsValidator<RedisOptions>(o => o.Validate()));
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WorkerOptions>>(new OptionsValidator<WorkerOptions>(o => o.Validate()));
        // The live default lateness is 2 s (replay's is 0): configure first, then let configuration override it.
        services.AddOptions<RulesOptions>().Configure(o => o.AllowedLateness = TimeSpan.FromSeconds(2)).BindConfiguration(RulesOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RulesOptions>>(new OptionsValidator<RulesOptions>(o => o.Validate()));
        services.AddOptions<DecoderLimits>().BindConfiguration(DecoderLimits.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DecoderLimits>>(new OptionsValidator<DecoderLimits>(o => o.Validate()));
        services.AddOptions<LifecycleOptions>().BindConfiguration(LifecycleOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LifecycleOptions>>(new OptionsValidator<LifecycleOptions>(o => o.Validate()));
        services.AddOptions<PolicyOptions>().BindConfiguration(PolicyOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PolicyOptions>>(new OptionsValidator<PolicyOptions>(o => o.Validate()));
        // Redis connections for both stages' stores (null: embedded, state in process memory): one for reads and claims,
        // one for commits (a commit's epoch check holds its connection for a round trip; reads must not queue behind it).
        services.AddSingleton(sp =>
        {
            var redis = sp.GetRequiredService<IOptions<RedisOptions>>().Value;
            if (string.IsNullOrWhiteSpace(redis.Configuration))
            {
                return new RedisConnection(null, null);
            }

            var config = ConfigurationOptions.Parse(redis.Configuration);
            // Start even while Redis is down: the partitions wait and retry instead of the process failing.
            config.AbortOnConnectFail = false;
            var reads = ConnectionMultiplexer.Connect(config);
            var commits = config.Clone();
            commits.ClientName = (config.ClientName ?? "streamtriggers") + "-commits";
            return new RedisConnection(reads, ConnectionMultiplexer.Connect(commits));
        });
        services.AddSingleton<IStateStore>(sp => NewStore(sp, StateSpace.Sessions, sp.GetRequiredService<IOptions<RulesOptions>>().Value.SessionRetention));
        services.AddSingleton(sp => new CustomerStore(NewStore(sp, StateSpace.Customers, sp.GetRequiredService<IOptions<LifecycleOptions>>().Value.CustomerRetention)));
        services.AddSingleton(sp => new Operations.LogPseudonyms(sp.GetRequiredService<IOptions<WorkerOptions>>().Value.LogPseudonymKey));
        services.AddSingleton<ClickstreamWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<ClickstreamWorker>());
        services.AddOptions<Operations.OperationsOptions>().BindConfiguration(Operations.OperationsOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<Operations.OperationsOptions>>(new OptionsValidator<Operations.OperationsOptions>(o => o.Validate()));
        services.AddHostedService<Operations.OperationsServer>();
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(45));
    }

    private static IStateStore NewStore(IServiceProvider sp, StateSpace space, TimeSpan retention)
    {
        var connection = sp.GetRequiredService<RedisConnection>().Multiplexer;
        if (connection is null)
        {
            return new InMemoryStateStore(space);
        }

        var redis = sp.GetRequiredService<IOptions<RedisOptions>>().Value;
        return new RedisStateStore(connection, redis.KeyPrefix, sp.GetRequiredService<IOptions<KafkaOptions>>().Value.GroupId, retention, space: space,
            commits: sp.GetRequiredService<RedisConnection>().Commits);
    }

    /// <summary>The worker's Redis connections (reads and claims; commits), closed with the host (null in embedded mode).</summary>
    private sealed class RedisConnection(IConnectionMultiplexer? multiplexer, IConnectionMultiplexer? commits) : IDisposable
    {
        public IConnectionMultiplexer? Multiplexer => multiplexer;

        public IConnectionMultiplexer? Commits => commits;

        public void Dispose()
        {
            commits?.Dispose();
            multiplexer?.Dispose();
        }
    }

    private static MockCluster StartEmbeddedCluster(KafkaOptions kafka)
    {
        var cluster = new MockCluster(brokers: 1);
        foreach (var topic in kafka.Topics)
        {
            cluster.CreateTopic(topic, kafka.EmbeddedPartitions);
        }

        return cluster;
    }
}
