using StreamTriggers.Timers;

namespace StreamTriggers.Tests.Timers;

public class TimerIndexTests
{
    [Fact]
    public void Dequeues_InDueThenSubjectThenKindOrder()
    {
        var index = new TimerIndex();
        var b = new TimerNode("b");
        var z = new TimerNode("z");
        var a = new TimerNode("a");
        var a2 = new TimerNode("a");
        index.Schedule(b, 20, TimerKind.SessionDeadline);
        index.Schedule(z, 10, TimerKind.SessionDeadline);
        index.Schedule(a2, 20, TimerKind.SessionExpiry);
        index.Schedule(a, 20, TimerKind.SessionDeadline);

        var order = new List<TimerNode>();
        while (index.TryPeekDue(20, out _))
        {
            order.Add(index.Dequeue());
        }

        Assert.Equal([z, a, a2, b], order);
        Assert.All(order, n => Assert.False(n.IsScheduled));
    }

    [Fact]
    public void TryPeekDue_IsFalse_BeforeTheEarliestDueTime()
    {
        var index = new TimerIndex();
        Assert.False(index.TryPeekDue(long.MaxValue, out _));

        index.Schedule(new TimerNode("a"), 100, TimerKind.SessionDeadline);
        Assert.False(index.TryPeekDue(99, out _));
        Assert.True(index.TryPeekDue(100, out var n));
        Assert.Equal(100, n.DueMs);
    }

    [Fact]
    public void Rescheduling_MovesTheNode_WithoutAddingOne()
    {
        var index = new TimerIndex();
        var a = new TimerNode("a");
        var b = new TimerNode("b");
        index.Schedule(a, 10, TimerKind.SessionDeadline);
        index.Schedule(b, 20, TimerKind.SessionDeadline);

        index.Schedule(a, 30, TimerKind.SessionDeadline);
        Assert.Equal(2, index.Count);
        Assert.Same(b, index.Dequeue());

        index.Schedule(b, 5, TimerKind.SessionExpiry);
        Assert.Same(b, index.Dequeue());
        Assert.Equal(TimerKind.SessionExpiry, b.Kind);
        index.Cancel(a);
        index.Cancel(a);
        Assert.Equal(0, index.Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomOperations_MatchASortedModel(int seed)
    {
        var r = new Random(seed);
        var index = new TimerIndex();
        var nodes = Enumerable.Range(0, 200).Select(i => new TimerNode("s" + i)).ToArray();
        var model = new Dictionary<TimerNode, long>();
        for (int step = 0; step < 20_000; step++)
        {
            var node = nodes[r.Next(nodes.Length)];
            switch (r.Next(10))
            {
                case < 6:
                    long due = r.Next(1000);
                    index.Schedule(node, due, TimerKind.SessionDeadline);
                    model[node] = due;
                    break;
                case < 8:
                    index.Cancel(node);
                    model.Remove(node);
                    break;
                default:
                    if (model.Count == 0) break;
                    var expected = model.OrderBy(kv => kv.Value).ThenBy(kv => kv.Key.Subject, StringComparer.Ordinal).First().Key;
                    Assert.Same(expected, index.Dequeue());
                    model.Remove(expected);
                    break;
            }

            Assert.Equal(model.Count, index.Count);
        }
    }
}
