using System.Diagnostics;
using StreamTriggers.Worker.Pipeline;

namespace StreamTriggers.Worker.Tests.Pipeline;

// The clock idle partition loops wake on: each alarm's wake-up comes once, not before its time, in due order across
// alarms; a cleared or replaced wake-up never comes. (How late a wake-up may be is measured with the load tool, not
// here: this machine is shared.)
public class WakeClockTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AWakeUp_ComesNotBeforeItsTime()
    {
        using var alarm = WakeClock.Shared.CreateAlarm();
        var started = Stopwatch.StartNew();
        await alarm.After(TimeSpan.FromMilliseconds(30)).WaitAsync(Bound);
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(30), $"woke after {started.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Alarms_WakeInDueOrder_WhicheverWasSetFirst()
    {
        using var late = WakeClock.Shared.CreateAlarm();
        using var early = WakeClock.Shared.CreateAlarm();
        var order = new List<string>();
        var lateWake = late.After(TimeSpan.FromMilliseconds(300)).ContinueWith(_ => { lock (order) order.Add("late"); }, TaskScheduler.Default);
        var earlyWake = early.After(TimeSpan.FromMilliseconds(20)).ContinueWith(_ => { lock (order) order.Add("early"); }, TaskScheduler.Default);

        await Task.WhenAll(lateWake, earlyWake).WaitAsync(Bound);
        Assert.Equal(["early", "late"], order);
    }

    [Fact]
    public async Task AClearedWakeUp_NeverComes()
    {
        using var alarm = WakeClock.Shared.CreateAlarm();
        var cleared = alarm.After(TimeSpan.FromMilliseconds(20));
        alarm.Clear();

        await Task.Delay(150);
        Assert.False(cleared.IsCompleted);
    }

    [Fact]
    public async Task AReplacedWakeUp_NeverComes_TheNewOneDoes()
    {
        using var alarm = WakeClock.Shared.CreateAlarm();
        var replaced = alarm.After(TimeSpan.FromMilliseconds(20));
        var current = alarm.After(TimeSpan.FromMilliseconds(60));

        await current.WaitAsync(Bound);
        await Task.Delay(100);
        Assert.False(replaced.IsCompleted);
    }

    [Fact]
    public async Task ADisposedAlarm_LeavesTheOthersWaking()
    {
        var gone = WakeClock.Shared.CreateAlarm();
        var goneWake = gone.After(TimeSpan.FromMilliseconds(10));
        gone.Dispose();
        using var alarm = WakeClock.Shared.CreateAlarm();

        await alarm.After(TimeSpan.FromMilliseconds(40)).WaitAsync(Bound);
        Assert.False(goneWake.IsCompleted);
    }
}
