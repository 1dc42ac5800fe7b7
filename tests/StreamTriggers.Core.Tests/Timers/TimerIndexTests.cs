using StreamTriggers.Timers;

namespace StreamTriggers.Tests.Timers;

public class TimerIndexTests
{
    [Fact]
    public void Dequeues_InDueThenSubjectOrder()
    {
        var index = new TimerIndex();
        index.Schedule(20, "b", TimerKind.SessionDeadline);
        index.Schedule(10, "z", TimerKind.SessionDeadline);
        index.Schedule(20, "a", TimerKind.SessionDeadline);
        index.Schedule(20, "a", TimerKind.SessionExpiry);

        var order = new List<TimerEntry>();
        while (index.TryPeekDue(20, out _))
        {
            order.Add(index.Dequeue());
        }

        Assert.Equal(
            [new(10, "z", TimerKind.SessionDeadline), new(20, "a", TimerKind.SessionDeadline), new(20, "a", TimerKind.SessionExpiry), new(20, "b", TimerKind.SessionDeadline)],
            order);
    }

    [Fact]
    public void TryPeekDue_IsFalse_BeforeTheEarliestDueTime()
    {
        var index = new TimerIndex();
        Assert.False(index.TryPeekDue(long.MaxValue, out _));

        index.Schedule(100, "a", TimerKind.SessionDeadline);
        Assert.False(index.TryPeekDue(99, out _));
        Assert.True(index.TryPeekDue(100, out var e));
        Assert.Equal(100, e.DueMs);
    }

    [Fact]
    public void Compact_KeepsOnlyLiveEntries_InOrder()
    {
        var index = new TimerIndex();
        for (int i = 0; i < 100; i++)
        {
            index.Schedule(1000 - i, "s" + (i % 5), TimerKind.SessionDeadline);
        }

        index.Compact(e => e.DueMs % 2 == 0);

        Assert.Equal(50, index.Count);
        long previous = long.MinValue;
        while (index.TryPeek(out _))
        {
            var e = index.Dequeue();
            Assert.True(e.DueMs >= previous);
            Assert.Equal(0, e.DueMs % 2);
            previous = e.DueMs;
        }
    }
}
