using StackExchange.Redis;
using StreamTriggers.State;

namespace StreamTriggers.Redis;

/// <summary>
/// The durable state store on Redis. All keys of one input partition share a hash tag, <c>{prefix:group:partition}</c>,
/// so on a Redis Cluster they live in one slot: the commit of a batch (sessions, deadlines, input position) is one
/// Lua script, atomic and fenced by the partition's epoch, in one round trip. Partitions spread over the cluster.
/// </summary>
/// <remarks>
/// Keys per partition: <c>epoch</c> (claim counter), <c>pos</c> (next input offset), <c>timers</c> (sorted set:
/// session id scored by its open deadline, the durable timer index) and <c>s:&lt;session id&gt;</c> (encoded state
/// with a TTL of the retention, refreshed on every write).
/// </remarks>
public sealed class RedisStateStore : IStateStore, IAsyncDisposable
{
    // Claim: bump the epoch and read the position and every open deadline, atomically.
    private const string ClaimScript = """
        local epoch = redis.call('INCR', KEYS[1])
        local pos = redis.call('GET', KEYS[2])
        local timers = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
        return {epoch, pos or '', timers}
        """;

    // Commit: refuse unless the caller still holds the epoch; then sessions, deadlines and position together.
    // ARGV: epoch, next position ('' keeps it), ttl ms, then per session key: state ('' deletes), member, deadline ('' removes).
    private const string CommitScript = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        local ttl = ARGV[3]
        for i = 4, #KEYS do
          local a = 4 + (i - 4) * 3
          if ARGV[a] == '' then redis.call('DEL', KEYS[i]) else redis.call('SET', KEYS[i], ARGV[a], 'PX', ttl) end
          if ARGV[a + 2] == '' then redis.call('ZREM', KEYS[3], ARGV[a + 1]) else redis.call('ZADD', KEYS[3], ARGV[a + 2], ARGV[a + 1]) end
        end
        if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
        return 1
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly string _group;
    private readonly long _ttlMs;
    private readonly bool _ownsConnection;

    /// <param name="redis">The connection.</param>
    /// <param name="keyPrefix">Prefix of every key.</param>
    /// <param name="group">The consumer group: two applications reading one topic keep separate state.</param>
    /// <param name="retention">How long a session outlives its last write.</param>
    /// <param name="ownsConnection">Close <paramref name="redis"/> when the store is disposed.</param>
    public RedisStateStore(IConnectionMultiplexer redis, string keyPrefix, string group, TimeSpan retention, bool ownsConnection = false)
    {
        _ownsConnection = ownsConnection;
        _redis = redis;
        _prefix = keyPrefix;
        _group = group;
        _ttlMs = (long)retention.TotalMilliseconds;
    }

    public string Tag(PartitionId partition) => $"{{{_prefix}:{_group}:{partition.Partition}}}";

    public RedisKey SessionKey(PartitionId partition, string sessionId) => $"{Tag(partition)}:s:{sessionId}";

    public RedisKey TimersKey(PartitionId partition) => $"{Tag(partition)}:timers";

    public async Task<PartitionClaim> ClaimAsync(PartitionId partition, CancellationToken cancellationToken)
    {
        string tag = Tag(partition);
        var result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(ClaimScript,
            [$"{tag}:epoch", $"{tag}:pos", $"{tag}:timers"]).ConfigureAwait(false))!;
        long epoch = (long)result[0];
        string pos = (string)result[1]!;
        var flat = (RedisResult[])result[2]!;
        var deadlines = new List<(string, long)>(flat.Length / 2);
        for (int i = 0; i + 1 < flat.Length; i += 2)
        {
            deadlines.Add(((string)flat[i]!, (long)(double)flat[i + 1]));
        }

        return new PartitionClaim(partition, epoch, pos.Length == 0 ? null : long.Parse(pos, System.Globalization.CultureInfo.InvariantCulture), deadlines);
    }

    public async Task<byte[]?[]> LoadAsync(PartitionClaim claim, IReadOnlyList<string> sessionIds, CancellationToken cancellationToken)
    {
        if (sessionIds.Count == 0)
        {
            return [];
        }

        var keys = new RedisKey[sessionIds.Count];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = SessionKey(claim.Partition, sessionIds[i]);
        }

        var values = await _redis.GetDatabase().StringGetAsync(keys).ConfigureAwait(false);
        var result = new byte[]?[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i].IsNull ? null : (byte[])values[i]!;
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection)
        {
            await _redis.DisposeAsync().ConfigureAwait(false);
        }
    }

    public Task<TimeSpan> PingAsync(CancellationToken cancellationToken) => _redis.GetDatabase().PingAsync();

    public async Task<bool> CommitAsync(PartitionClaim claim, IReadOnlyList<SessionWrite> sessions, long? nextOffset, CancellationToken cancellationToken)
    {
        string tag = Tag(claim.Partition);
        var keys = new RedisKey[3 + sessions.Count];
        var args = new RedisValue[3 + (3 * sessions.Count)];
        keys[0] = $"{tag}:epoch";
        keys[1] = $"{tag}:pos";
        keys[2] = $"{tag}:timers";
        args[0] = claim.Epoch;
        args[1] = nextOffset is { } o ? o : RedisValue.EmptyString;
        args[2] = _ttlMs;
        for (int i = 0; i < sessions.Count; i++)
        {
            var w = sessions[i];
            keys[3 + i] = $"{tag}:s:{w.SessionId}";
            args[3 + (3 * i)] = w.State is null ? RedisValue.EmptyString : (RedisValue)w.State;
            args[4 + (3 * i)] = w.SessionId;
            args[5 + (3 * i)] = w.DeadlineMs is { } d ? d : RedisValue.EmptyString;
        }

        var result = await _redis.GetDatabase().ScriptEvaluateAsync(CommitScript, keys, args).ConfigureAwait(false);
        return (long)result == 1;
    }
}
