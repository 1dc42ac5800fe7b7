using Microsoft.Extensions.Configuration;
using StreamTriggers.Kafka;
using StreamTriggers.Redis;

namespace StreamTriggers.Worker.Tools;

/// <summary>
/// The configuration the operator tools (<c>inspect</c>, <c>topics</c>) start from: the same sources as <c>run</c>
/// (appsettings.json beside the executable, then <c>StreamTriggers__...</c> environment variables), so a tool run
/// beside a worker finds its Redis, key prefix, group and topics without flags. Flags override.
/// </summary>
internal static class ToolConfiguration
{
    public static IConfiguration Load() => new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
        .AddEnvironmentVariables()
        .Build();

    public static KafkaOptions Kafka(IConfiguration configuration) =>
        configuration.GetSection(KafkaOptions.SectionName).Get<KafkaOptions>() ?? new KafkaOptions();

    public static RedisOptions Redis(IConfiguration configuration) =>
        configuration.GetSection(RedisOptions.SectionName).Get<RedisOptions>() ?? new RedisOptions();
}
