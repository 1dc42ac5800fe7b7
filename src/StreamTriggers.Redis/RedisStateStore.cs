using StackExchange.Redis;
using StreamTriggers.State;

namespace StreamTriggers.Redis;

/// <summary>
/// The durable state store on Redis. All keys of one input partition share a hash tag, <c>{prefix:group:partition}</c>,
/// so on a Redis Cluster they live in one slot: a commit (sessions, timer index, input position) is one MULTI/EXEC
/// transaction, atomic and fenced by WATCH on the partition's epoch. Partitions spread over the cluster.
/// </summary>
/// <remarks>
/// Keys per partition: <c>epoch</c> (claim counter), <c>pos</c> (next input offset), <c>timers</c> (sorted set of the
/// sessions with an open period, scored by the deadline they opened with: the durable timer index, read on claim) and <c>s:&lt;session id&gt;</c> (encoded state
/// with a TTL of the retention, refreshed on every write: it includes the session's latest trigger decisions).
/// </remarks>
public sealed class RedisStateStore : IStateStore, IStateInspector, IAsyncDisposable
{
    // Claim: bump the epoch and read the position and (for sessions) every open deadline, atomically.
    private const string ClaimScript = """
        local epoch = redis.call('INCR', KEYS[1])
        local pos = redis.call('GET', KEYS[2])
        local timers = {}
        if ARGV[1] == '1' then timers = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES') end
        return {epoch, pos or '', timers}
        """;


    private readonly IConnectionMultiplexer _redis;
    private readonly IConnectionMultiplexer _commits;
    private readonly string _prefix;
    private readonly string _group;
    private readonly long _ttlMs;
    private readonly bool _ownsConnection;
    private readonly StateSpace _space;

    /// <param name="redis">The connection.</param>
    /// <param name="keyPrefix">Prefix of every key.</param>
    /// <param name="group">The consumer group: two applications reading one topic keep separate state.</param>
    /// <param name="retention">How long a session outlives its last write.</param>
    /// <param name="ownsConnection">Close <paramref name="redis"/> when the store is disposed.</param>
    /// <param name="space">Sessions (default) or customers: separate keys, and whether a claim reads every deadline.</param>
    /// <param name="commits">
    /// The connection commits go through (default: <paramref name="redis"/>). A commit's epoch check holds its
    /// connection for a round trip before the transaction is written (StackExchange.Redis sends nothing else on it
    /// meanwhile), so on a connection of their own commits do not hold up the reads the partitions wait for. Not
    /// closed by the store.
    /// </param>
    public RedisStateStore(IConnectionMultiplexer redis, string keyPrefix, string group, TimeSpan retention, bool ownsConnection = false, StateSpace? space = null,
        IConnectionMultiplexer? commits = null)
    {
        _space = space ?? StateSpace.Sessions;
        _ownsConnection = ownsConnection;
        _redis = redis;
        _commits = commits ?? redis;
        _prefix = keyPrefix;
        _group = group;
        _ttlMs = (long)retention.TotalMilliseconds;
    }

    public string Tag(PartitionId partition) => Tag(partition.Partition);

    private string Tag(int partition) => _space.Name is null ? $"{{{_prefix}:{_group}:{partition}}}" : $"{{{_prefix}:{_group}:{_space.Name}:{partition}}}";

    // The tag without its partition number and closing brace.
    private string TagStem => _space.Name is null ? $"{{{_prefix}:{_group}:" : $"{{{_prefix}:{_group}:{_space.Name}:";

    public RedisKey SessionKey(PartitionId partition, string sessionId) => ItemKey(partition.Partition, sessionId);

    // An item's key without building its string: the partition's cached prefix bytes, then the id (written as UTF-8
    // after them). Per session read or written, no key string and no tag string.
    private RedisKey ItemKey(int partition, string id) => ((RedisKey)id).Prepend(_itemPrefixes.GetOrAdd(partition, ItemPrefixFactory, this));

    private static readonly Func<int, RedisStateStore, RedisKey> ItemPrefixFactory =
        (partition, store) => (RedisKey)System.Text.Encoding.UTF8.GetBytes($"{store.Tag(partition)}:{store._space.ItemPrefix}");

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, RedisKey> _itemPrefixes = new();

    public RedisKey TimersKey(PartitionId partition) => $"{Tag(partition)}:timers";

    public async Task<PartitionClaim> ClaimAsync(PartitionId partition, CancellationToken cancellationToken)
    {
        string tag = Tag(partition);
        var result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(ClaimScript,
            [$"{tag}:epoch", $"{tag}:pos", $"{tag}:timers"], [_space.DeadlinesOnClaim ? "1" : "0"]).ConfigureAwait(false))!;
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
            keys[i] = ItemKey(claim.Partition.Partition, sessionIds[i]);
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
        // A MULTI/EXEC transaction guarded by WATCH on the epoch (StackExchange.Redis conditions): Redis runs the
        // writes as native commands, about three times cheaper per SET than the same writes from a Lua script,
        // and refuses the whole transaction when another worker claimed the partition in between.
        string tag = Tag(claim.Partition);
        var transaction = _commits.GetDatabase().CreateTransaction();
        transaction.AddCondition(Condition.StringEqual($"{tag}:epoch", claim.Epoch));
        var ttl = TimeSpan.FromMilliseconds(_ttlMs);
        List<SortedSetEntry>? added = null;
        List<RedisValue>? removed = null;
        foreach (var w in sessions)
        {
            // Fire-and-forget inside the transaction: no task per write (EXEC's result is the one awaited).
            var key = ItemKey(claim.Partition.Partition, w.SessionId);
            _ = w.State is null
                ? transaction.KeyDeleteAsync(key, CommandFlags.FireAndForget)
                : transaction.StringSetAsync(key, w.State, w.TimeToLive ?? ttl, When.Always, CommandFlags.FireAndForget);
            if (w.TimerChanged && w.DeadlineMs is { } deadline)
            {
                (added ??= []).Add(new SortedSetEntry(w.SessionId, deadline));
            }
            else if (w.TimerChanged)
            {
                (removed ??= []).Add(w.SessionId);
            }
        }

        if (added is not null)
        {
            _ = transaction.SortedSetAddAsync($"{tag}:timers", [.. added]);
        }

        if (removed is not null)
        {
            _ = transaction.SortedSetRemoveAsync($"{tag}:timers", [.. removed]);
        }

        if (nextOffset is { } offset)
        {
            _ = transaction.StringSetAsync($"{tag}:pos", offset);
        }

        if (await transaction.ExecuteAsync().ConfigureAwait(false))
        {
            return true;
        }

        // Not executed. Another worker's claim changes the epoch: that is a fence. But StackExchange.Redis also reports a
        // transaction whose condition it could not check as not executed: a server restarting from its append-only
        // file answers LOADING meanwhile (seen in a CI run of the Redis-outage test: a partition stopped as fenced, and
        // its triggers were lost). Only a changed epoch is a fence; otherwise the write failed, and is retried.
        var epoch = await _commits.GetDatabase().StringGetAsync($"{tag}:epoch").ConfigureAwait(false);
        if (epoch.TryParse(out long current) && current == claim.Epoch)
        {
#pragma warning disable CS0618 // the overload taking CommandFlags is for the library's own messages
            throw new RedisConnectionException(ConnectionFailureType.None, $"the commit's transaction on {tag} was not executed, and its epoch {claim.Epoch} is unchanged");
#pragma warning restore CS0618
        }

        return false;
    }

    public async Task<IReadOnlyList<(string Id, long DueMs)>> DueAsync(PartitionClaim claim, long fromMs, int skip, long untilMs, int take, CancellationToken cancellationToken)
    {
        var entries = await _redis.GetDatabase().SortedSetRangeByScoreWithScoresAsync($"{Tag(claim.Partition)}:timers", fromMs, untilMs,
            Exclude.None, Order.Ascending, skip, take).ConfigureAwait(false);
        return [.. entries.Select(e => ((string)e.Element!, (long)e.Score))];
    }

    public async Task<IReadOnlyList<int>> PartitionsAsync(CancellationToken cancellationToken)
    {
        // Every claimed partition has an epoch key (a session partition's tag ends in its number; another space's
        // tags have the space name before it and do not parse as a number here).
        string stem = TagStem;
        string pattern = Escape(stem) + "*}:epoch";
        int skip = stem.Length;
        var found = new SortedSet<int>();
        await foreach (var key in ScanAsync(pattern, cancellationToken).ConfigureAwait(false))
        {
            string k = key!;
            int end = k.IndexOf('}', skip);
            if (end > skip && int.TryParse(k.AsSpan(skip, end - skip), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int p))
            {
                found.Add(p);
            }
        }

        return [.. found];
    }

    public async Task<StoredSession?> ReadSessionAsync(int partition, string sessionId, CancellationToken cancellationToken)
    {
        string tag = Tag(partition);
        var db = _redis.GetDatabase();
        var state = db.StringGetAsync($"{tag}:{_space.ItemPrefix}{sessionId}");
        var ttl = db.KeyTimeToLiveAsync($"{tag}:{_space.ItemPrefix}{sessionId}");
        var deadline = db.SortedSetScoreAsync($"{tag}:timers", sessionId);
        await Task.WhenAll(state, ttl, deadline).ConfigureAwait(false);
        var s = await state.ConfigureAwait(false);
        var d = await deadline.ConfigureAwait(false);
        if (s.IsNull && d is null)
        {
            return null;
        }

        var expires = await ttl.ConfigureAwait(false);
        return new StoredSession(partition, sessionId, s.IsNull ? null : (byte[])s!, d is { } score ? (long)score : null,
            expires is { } e ? (long)e.TotalMilliseconds : null);
    }

    public async Task<IReadOnlyList<string>> CustomerSessionsAsync(int partition, string customer, CancellationToken cancellationToken)
    {
        // No index (it would cost more memory per session than the session): read the partition's sessions in pages.
        string tag = Tag(partition);
        int skip = tag.Length + 1 + _space.ItemPrefix.Length;
        var found = new List<string>();
        var db = _redis.GetDatabase();
        var page = new List<RedisKey>(1000);
        await foreach (var key in ScanAsync(Escape(tag) + ":" + Escape(_space.ItemPrefix) + "*", cancellationToken).ConfigureAwait(false))
        {
            page.Add(key);
            if (page.Count == 1000)
            {
                await MatchAsync(db, page, customer, skip, found).ConfigureAwait(false);
                page.Clear();
            }
        }

        await MatchAsync(db, page, customer, skip, found).ConfigureAwait(false);
        return [.. found.Order(StringComparer.Ordinal)];
    }

    // Keys matching a pattern on every primary: a cluster spreads the partitions' slots over its nodes.
    private async IAsyncEnumerable<RedisKey> ScanAsync(string pattern, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var endpoint in _redis.GetEndPoints())
        {
            var server = _redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                yield return key;
            }
        }
    }

    private static async Task MatchAsync(IDatabase db, List<RedisKey> keys, string customer, int skip, List<string> found)
    {
        if (keys.Count == 0)
        {
            return;
        }

        var values = await db.StringGetAsync([.. keys]).ConfigureAwait(false);
        for (int i = 0; i < keys.Count; i++)
        {
            string id = ((string)keys[i]!)[skip..];
            if (!values[i].IsNull && SessionCodec.Matches(id, (byte[])values[i]!, customer))
            {
                found.Add(id);
            }
        }
    }

    // Glob metacharacters in a prefix or group name must match literally in SCAN's pattern.
    private static string Escape(string value)
    {
        var sb = new System.Text.StringBuilder(value.Length);
        foreach (char c in value)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        return sb.ToString();
    }
}
