using StackExchange.Redis;
using StreamTriggers.IntegrationTests.Infrastructure;
using StreamTriggers.Redis;
using StreamTriggers.State;

namespace StreamTriggers.IntegrationTests;

public sealed class RedisStateStoreTests : IAsyncLifetime
{
    private static readonly PartitionId P = new("clickstream", 7);
    private RedisServer _server = null!;
    private ConnectionMultiplexer _redis = null!;
    private RedisStateStore _store = null!;

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        _redis = await _server.ConnectAsync();
        _store = new RedisStateStore(_redis, "t" + Guid.NewGuid().ToString("N")[..6], "group", TimeSpan.FromDays(7));
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Commit_ThenClaim_ReadsBackPositionDeadlinesAndSessions()
    {
        var claim = await _store.ClaimAsync(P, default);
        Assert.Null(claim.NextOffset);
        Assert.Empty(claim.Deadlines);

        Assert.True(await _store.CommitAsync(claim, [new("s-1", [1, 2, 3], 1_795_429_800_000), new("s-2", [4], null)], 1234, default));
        var next = await _store.ClaimAsync(P, default);

        Assert.Equal(claim.Epoch + 1, next.Epoch);
        Assert.Equal(1234, next.NextOffset);
        Assert.Equal([("s-1", 1_795_429_800_000L)], next.Deadlines);
        Assert.Equal([[1, 2, 3], [4], null], await _store.LoadAsync(next, ["s-1", "s-2", "nobody"], default));

        // The old claim is fenced: its commit is refused (false, not an error to retry: the epoch did change).
        Assert.False(await _store.CommitAsync(claim, [new("s-3", [9], null)], 2000, default));
        Assert.Equal([null], await _store.LoadAsync(next, ["s-3"], default));
    }

    [Fact]
    public async Task CustomerSpace_ClaimsWithoutDeadlines_PagesTimersInDueOrder_AndSharesNoKeysWithSessions()
    {
        string prefix = "c" + Guid.NewGuid().ToString("N")[..6];
        var customers = new RedisStateStore(_redis, prefix, "group", TimeSpan.FromDays(400), space: StateSpace.Customers);
        var sessions = new RedisStateStore(_redis, prefix, "group", TimeSpan.FromDays(7));
        var claim = await customers.ClaimAsync(P, default);

        // 2,500 customers, many sharing a due time (ties across page boundaries).
        var writes = Enumerable.Range(0, 2500).Select(i => new SessionWrite($"u:{i:D4}", [(byte)(i % 256)], 1_000 + (i % 7) * 100)).ToList();
        Assert.True(await customers.CommitAsync(claim, writes, 9, default));

        var again = await customers.ClaimAsync(P, default);
        Assert.Empty(again.Deadlines);      // paged, not all read on claim
        Assert.Equal(9, again.NextOffset);

        // Pages of 1,000 in due order, then by id, each continuing from the last due time read, skipping what was read at it.
        var expected = writes.Select(w => (w.SessionId, w.DeadlineMs!.Value)).OrderBy(e => e.Item2).ThenBy(e => e.SessionId, StringComparer.Ordinal).ToList();
        var paged = new List<(string, long)>();
        long from = long.MinValue + 1;
        int skip = 0;
        while (true)
        {
            var page = await customers.DueAsync(again, from, skip, long.MaxValue, 1000, default);
            paged.AddRange(page);
            if (page.Count < 1000) break;
            skip = page[^1].DueMs == from ? skip + page.Count : page.Count(e => e.DueMs == page[^1].DueMs);
            from = page[^1].DueMs;
        }

        Assert.Equal(expected, paged);
        Assert.Equal([("u:0000", 1_000L), ("u:0007", 1_000L)], await customers.DueAsync(again, 0, 0, 1_000, 2, default));
        Assert.Empty(await customers.DueAsync(again, 0, 0, 999, 10, default));

        // The session space of the same group sees none of it.
        var sessionClaim = await sessions.ClaimAsync(P, default);
        Assert.Empty(sessionClaim.Deadlines);
        Assert.Null(sessionClaim.NextOffset);
        Assert.Equal([null], await sessions.LoadAsync(sessionClaim, ["u:0001"], default));
        Assert.Equal([[1]], await customers.LoadAsync(again, ["u:0001"], default));
        Assert.Equal([7], await sessions.PartitionsAsync(default));
        Assert.NotNull(await customers.ReadSessionAsync(7, "u:0001", default));
    }

    [Fact]
    public async Task TimerIndex_ChangesOnlyWhenAsked_AndCustomersAreFoundByTheirSessionsState()
    {
        var store = new RedisStateStore(_redis, "h" + Guid.NewGuid().ToString("N")[..6], "group", TimeSpan.FromHours(1));
        var claim = await store.ClaimAsync(P, default);
        byte[] Encoded(string id, string? user, string? email)
        {
            var run = new Sessions.SessionEngine(new Sessions.RulesOptions(), trackChanges: true);
            run.Apply(new Decoding.TrackerEvent { Type = Decoding.EventType.PageViewed, SessionId = id, TimestampMs = 1_000, UserId = user, Email = email }, 0, []);
            return StreamTriggers.State.SessionCodec.Encode(run.Find(id)!);
        }

        Assert.True(await store.CommitAsync(claim, [new("s-1", Encoded("s-1", "u-1", "a@x.io"), 50), new("s-2", Encoded("s-2", "u-1", null), 99), new("s-3", Encoded("s-3", null, null), 98)], 1, default));
        // A later write that leaves the timer alone keeps s-1's entry (scored 50), and one that removes s-2's drops it.
        Assert.True(await store.CommitAsync(claim, [new("s-1", Encoded("s-1", "u-1", "a@x.io"), 77, TimerChanged: false), new("s-2", Encoded("s-2", "u-1", null), null)], 2, default));
        // A stale claim changes nothing.
        await store.ClaimAsync(P, default);
        Assert.False(await store.CommitAsync(claim, [new("s-1", Encoded("s-1", "u-zombie", null), null)], 3, default));

        var s1 = await store.ReadSessionAsync(P.Partition, "s-1", default);
        Assert.NotNull(s1);
        Assert.Equal(50, s1.PendingDeadlineMs);
        Assert.InRange(s1.ExpiresInMs!.Value, 3_000_000, 3_600_000);
        var s2 = await store.ReadSessionAsync(P.Partition, "s-2", default);
        Assert.NotNull(s2!.State);
        Assert.Null(s2.PendingDeadlineMs);
        Assert.Null(await store.ReadSessionAsync(P.Partition, "nobody", default));

        Assert.Equal(["s-1", "s-2"], await store.CustomerSessionsAsync(P.Partition, "u-1", default));
        Assert.Equal(["s-1"], await store.CustomerSessionsAsync(P.Partition, "a@x.io", default));
        Assert.Empty(await store.CustomerSessionsAsync(P.Partition, "u-zombie", default));
        Assert.Equal([P.Partition], await store.PartitionsAsync(default));
    }

    [Fact]
    public async Task Partitions_AreFoundByScanning_EvenWithGlobCharactersInTheGroupName()
    {
        // Unescaped, the pattern for group "gr*up[1]" would also match the other group's keys.
        string prefix = "p" + Guid.NewGuid().ToString("N")[..6];
        var store = new RedisStateStore(_redis, prefix, "gr*up[1]", TimeSpan.FromHours(1));
        var other = new RedisStateStore(_redis, prefix, "grXup1", TimeSpan.FromHours(1));
        foreach (int p in new[] { 11, 2, 5 })
        {
            await store.ClaimAsync(P with { Partition = p }, default);
        }

        await other.ClaimAsync(P with { Partition = 9 }, default);

        Assert.Equal([2, 5, 11], await store.PartitionsAsync(default));
    }

    [Fact]
    public async Task Commits_GoThroughTheirOwnConnection_AndAreReadBackThroughTheOther()
    {
        // A commit's epoch check holds its connection for a round trip; the worker gives commits a connection of their
        // own so the partitions' reads never queue behind one. Redis's CLIENT LIST says which connection ran what.
        await using var reads = await ConnectionMultiplexer.ConnectAsync(_server.Configuration + ",name=st-reads");
        await using var commits = await ConnectionMultiplexer.ConnectAsync(_server.Configuration + ",name=st-commits");
        await using var probe = await ConnectionMultiplexer.ConnectAsync(_server.Configuration + ",allowAdmin=true,name=probe");
        var store = new RedisStateStore(reads, "c" + Guid.NewGuid().ToString("N")[..6], "group", TimeSpan.FromDays(7), commits: commits);

        var claim = await store.ClaimAsync(P, default);
        Assert.True(await store.CommitAsync(claim, [new("s-1", [1, 2], 10)], 3, default));
        Assert.Equal([[1, 2], null], await store.LoadAsync(claim, ["s-1", "nobody"], default));

        var clients = await probe.GetServer(probe.GetEndPoints()[0]).ClientListAsync();
        Assert.Contains(clients, c => c.Name == "st-commits" && c.LastCommand == "exec");
        Assert.Contains(clients, c => c.Name == "st-reads" && c.LastCommand == "mget");
        Assert.DoesNotContain(clients, c => c.Name == "st-reads" && c.LastCommand == "exec");
        Assert.Equal(3, (await store.ClaimAsync(P, default)).NextOffset);
    }

    [Fact]
    public async Task AStaleClaim_IsFenced_AndChangesNothing()
    {
        var zombie = await _store.ClaimAsync(P, default);
        var owner = await _store.ClaimAsync(P, default);

        Assert.True(await _store.CommitAsync(owner, [new("s-1", [1], 10)], 5, default));
        Assert.False(await _store.CommitAsync(zombie, [new("s-1", [9], null), new("s-9", [9], 99)], 500, default));

        var now = await _store.ClaimAsync(P, default);
        Assert.Equal(5, now.NextOffset);
        Assert.Equal([("s-1", 10L)], now.Deadlines);
        Assert.Equal([[1], null], await _store.LoadAsync(now, ["s-1", "s-9"], default));
    }

    [Fact]
    public async Task Sessions_CarryTheRetentionAsTtl_AndShareTheirPartitionsSlot()
    {
        var claim = await _store.ClaimAsync(P, default);
        await _store.CommitAsync(claim, [new("s-1", [1], null), new("s-2", [2], 5)], 1, default);
        var db = _redis.GetDatabase();

        var ttl = await db.KeyTimeToLiveAsync(_store.SessionKey(P, "s-1"));
        Assert.InRange(ttl!.Value, TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(7));
        // One hash tag per partition: every key of the partition maps to one cluster slot (atomic commit on a
        // cluster), and partitions spread over slots. A cluster hashes only what is between the first { and }.
        static string Tag(RedisKey key)
        {
            string k = key!;
            int open = k.IndexOf('{', StringComparison.Ordinal);
            return k[open..(k.IndexOf('}', open) + 1)];
        }

        var tags = new[] { _store.SessionKey(P, "s-1"), _store.SessionKey(P, "s-2"), _store.TimersKey(P) }.Select(Tag).Distinct().ToList();
        Assert.Single(tags);
        Assert.NotEqual(tags[0], Tag(_store.TimersKey(P with { Partition = 8 })));
    }

    [Fact]
    public async Task RetriedCommit_IsIdempotent()
    {
        // A commit whose reply was lost is sent again: the same writes, the same result.
        var claim = await _store.ClaimAsync(P, default);
        SessionWrite[] writes = [new("s-1", [1], 10), new("s-2", null, null)];
        Assert.True(await _store.CommitAsync(claim, writes, 7, default));
        Assert.True(await _store.CommitAsync(claim, writes, 7, default));

        var next = await _store.ClaimAsync(P, default);
        Assert.Equal(7, next.NextOffset);
        Assert.Equal([("s-1", 10L)], next.Deadlines);
    }
}
