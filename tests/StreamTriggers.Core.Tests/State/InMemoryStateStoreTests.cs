using StreamTriggers.State;

namespace StreamTriggers.Tests.State;

public class InMemoryStateStoreTests
{
    private static readonly PartitionId P = new("clickstream", 3);

    [Fact]
    public async Task Commit_StoresSessionsDeadlinesAndPosition_AndAClaimReadsThemBack()
    {
        var store = new InMemoryStateStore();
        var claim = await store.ClaimAsync(P, default);
        Assert.Null(claim.NextOffset);

        Assert.True(await store.CommitAsync(claim, [new("a", [1], 100), new("b", [2], null)], 42, default));
        var again = await store.ClaimAsync(P, default);

        Assert.Equal(42, again.NextOffset);
        Assert.Equal([("a", 100L)], again.Deadlines);
        Assert.Equal([[1], [2], null], await store.LoadAsync(again, ["a", "b", "c"], default));
    }

    [Fact]
    public async Task CustomerSpace_ClaimsWithoutDeadlines_AndPagesTimersInDueOrderThenId()
    {
        var store = new InMemoryStateStore(StateSpace.Customers);
        var claim = await store.ClaimAsync(P, default);
        Assert.True(await store.CommitAsync(claim, [new("u:b", [1], 200), new("u:a", [2], 200), new("u:c", [3], 100), new("u:d", [4], null)], 1, default));

        var again = await store.ClaimAsync(P, default);
        Assert.Empty(again.Deadlines);
        Assert.Equal([("u:c", 100L), ("u:a", 200L), ("u:b", 200L)], await store.DueAsync(again, long.MinValue, 0, long.MaxValue, 10, default));
        Assert.Equal([("u:b", 200L)], await store.DueAsync(again, 200, 1, long.MaxValue, 10, default));
        Assert.Equal([("u:c", 100L)], await store.DueAsync(again, 0, 0, 199, 10, default));
    }

    [Fact]
    public async Task AnOlderClaim_IsFenced_AndWritesNothing()
    {
        var store = new InMemoryStateStore();
        var first = await store.ClaimAsync(P, default);
        var second = await store.ClaimAsync(P, default);

        Assert.False(await store.CommitAsync(first, [new("a", [1], 5)], 10, default));
        Assert.True(await store.CommitAsync(second, [new("b", [2], null)], 11, default));
        Assert.Equal([null, [2]], await store.LoadAsync(second, ["a", "b"], default));
        Assert.Equal(11, (await store.ClaimAsync(P, default)).NextOffset);
    }

    [Fact]
    public async Task NullState_DeletesTheSession_AndNullDeadline_RemovesTheTimer()
    {
        var store = new InMemoryStateStore();
        var claim = await store.ClaimAsync(P, default);
        await store.CommitAsync(claim, [new("a", [1], 5)], null, default);
        await store.CommitAsync(claim, [new("a", null, null)], null, default);

        Assert.Equal([null], await store.LoadAsync(claim, ["a"], default));
        Assert.Empty((await store.ClaimAsync(P, default)).Deadlines);
    }
}
