namespace StreamTriggers.Redis;

/// <summary>Where state lives. Bound from <c>StreamTriggers:Redis</c>.</summary>
public sealed class RedisOptions
{
    public const string SectionName = "StreamTriggers:Redis";

    /// <summary>
    /// A StackExchange.Redis configuration string (<c>host:port,password=...,ssl=true</c>). Empty means no Redis: the
    /// worker keeps state in process memory (the embedded mode; nothing survives a restart).
    /// </summary>
    public string Configuration { get; set; } = string.Empty;

    /// <summary>Prefix of every key, so several deployments can share one Redis. Default <c>st</c>.</summary>
    public string KeyPrefix { get; set; } = "st";

    public IEnumerable<string> Validate(string prefix = SectionName)
    {

        if (string.IsNullOrWhiteSpace(KeyPrefix) || KeyPrefix.IndexOfAny(['{', '}', ' ']) >= 0 || KeyPrefix.Length > 32)
            yield return $"{prefix}:KeyPrefix is '{KeyPrefix}'; it must be 1 to 32 characters without braces or spaces.";
        if (!string.IsNullOrWhiteSpace(Configuration))
        {
            string? error = null;
            try
            {
                StackExchange.Redis.ConfigurationOptions.Parse(Configuration);
            }
            catch (ArgumentException ex)
            {
                error = ex.Message;
            }

            if (error is not null)
                yield return $"{prefix}:Configuration is not a StackExchange.Redis configuration string: {error}";
        }
    }
}
