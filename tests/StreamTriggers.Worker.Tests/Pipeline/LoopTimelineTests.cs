using StreamTriggers.Worker.Pipeline;

namespace StreamTriggers.Worker.Tests.Pipeline;

// A late trigger's wait, split by where its partition's loop was: phases by overlap, GC pauses apart.
public sealed class LoopTimelineTests
{
    private long _gcTicks;

    private LoopTimeline Timeline(int capacity = 16) => new(capacity, () => _gcTicks);

    [Fact]
    public void AWait_IsSplitByThePhasesItOverlaps_OnlyFromItsStart()
    {
        var t = Timeline();
        t.Enter(LoopPhase.Idle, 0);
        t.Enter(LoopPhase.Read, 100);
        t.Enter(LoopPhase.Apply, 400);
        t.Enter(LoopPhase.Commit, 450);
        Span<double> w = stackalloc double[LoopTimeline.Slots];

        t.Split(50, 600, w); // due at 50: 50 of idle, 300 of read, 50 of apply, 150 of commit

        Assert.Equal([50, 300, 50, 0, 0, 150, 0, 0], w.ToArray());
    }

    [Fact]
    public void GcPauses_AreCountedApart_ProRataToTheOverlapOfThePhaseTheyFellIn()
    {
        var t = Timeline();
        t.Enter(LoopPhase.Read, 0);
        _gcTicks = 40; // a 40-tick pause during the read (0..200)
        t.Enter(LoopPhase.Apply, 200);
        _gcTicks = 50; // a 10-tick pause during apply (200..300, up to now)
        Span<double> w = stackalloc double[LoopTimeline.Slots];

        t.Split(100, 300, w); // half the read overlaps the wait: half its pause

        Assert.Equal(80, w[(int)LoopPhase.Read], 9);
        Assert.Equal(90, w[(int)LoopPhase.Apply], 9);
        Assert.Equal(30, w[LoopTimeline.Gc], 9);
        Assert.Equal(200, w.ToArray().Sum(), 9); // the whole wait, nothing twice
    }

    [Fact]
    public void AWaitOlderThanTheHistory_CountsTheRestAsUnrecorded_AndRepeatedPhasesAreOneEntry()
    {
        var t = Timeline(capacity: 2);
        t.Enter(LoopPhase.Idle, 0);
        t.Enter(LoopPhase.Apply, 100);
        t.Enter(LoopPhase.Apply, 150); // still apply: no new entry, the idle entry stays
        Assert.Equal(LoopPhase.Apply, t.Current);
        Span<double> w = stackalloc double[LoopTimeline.Slots];
        t.Split(0, 200, w);
        Assert.Equal([100, 0, 100, 0, 0, 0, 0, 0], w.ToArray());

        t.Enter(LoopPhase.Acks, 200); // the ring of two drops idle
        w.Clear();
        t.Split(0, 300, w);
        Assert.Equal([0, 0, 100, 0, 100, 0, 0, 100], w.ToArray());
    }
}
