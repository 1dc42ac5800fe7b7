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
    [InlineData(1, 200)]
    [InlineData(2, 200)]
    [InlineData(3, 200)]
    [InlineData(4, 3000)]
    [InlineData(5, 3000)]
    public void RandomOperations_MatchASortedModel(int seed, int subjects)
    {
        // Random schedules (earlier, later, equal times, a change of kind), cancels and dequeues against a sorted
        // model, in a heap several levels deep; due times from a small range so ties on time are common and the
        // order must fall back to subject, then kind. Nodes come in pairs sharing a subject (a session's and a
        // customer's timer may), the even one a session timer of either kind, the odd one a customer's: the pair
        // never ties on all three.
        var r = new Random(seed);
        var index = new TimerIndex();
        var nodes = Enumerable.Range(0, subjects).Select(i => new TimerNode("s" + (i / 2))).ToArray();
        var model = new Dictionary<TimerNode, (long Due, TimerKind Kind)>();
        for (int step = 0; step < 30_000; step++)
        {
            int n = r.Next(nodes.Length);
            var node = nodes[n];
            switch (r.Next(10))
            {
                case < 6:
                    long due = r.Next(subjects * 2);
                    var kind = n % 2 == 1 ? TimerKind.CustomerDue : r.Next(2) == 0 ? TimerKind.SessionDeadline : TimerKind.SessionExpiry;
                    index.Schedule(node, due, kind);
                    model[node] = (due, kind);
                    break;
                case < 8:
                    index.Cancel(node);
                    model.Remove(node);
                    break;
                default:
                    if (model.Count == 0) break;
                    var expected = model.OrderBy(kv => kv.Value.Due).ThenBy(kv => kv.Key.Subject, StringComparer.Ordinal).ThenBy(kv => kv.Value.Kind).First().Key;
                    Assert.True(index.TryPeek(out var top));
                    Assert.Same(expected, top);
                    var taken = index.Dequeue();
                    Assert.Same(expected, taken);
                    Assert.Equal(model[expected].Due, taken.DueMs);
                    Assert.Equal(model[expected].Kind, taken.Kind);
                    Assert.False(taken.IsScheduled);
                    model.Remove(expected);
                    break;
            }

            Assert.Equal(model.Count, index.Count);
        }

        // Draining what is left gives the model's order exactly.
        var rest = model.OrderBy(kv => kv.Value.Due).ThenBy(kv => kv.Key.Subject, StringComparer.Ordinal).ThenBy(kv => kv.Value.Kind).Select(kv => kv.Key).ToList();
        Assert.Equal(rest, Enumerable.Range(0, rest.Count).Select(_ => index.Dequeue()));
    }
}
