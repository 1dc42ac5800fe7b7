using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Sessions.Ev;

namespace StreamTriggers.Tests.Sessions;

// A worker holds every open session in memory; each object one keeps is work for the GC while every thread waits.
// These pin the compact form's behaviour: the session is its own timer, lists are exact arrays, repeats share.
public class CompactSessionTests
{
    [Fact]
    public void TheSession_IsItsOwnTimer_AndFiresAsBefore()
    {
        var run = new Run().Push(Add("s1", 0, "p1"));
        var s = run.Engine.Find("s1")!;

        Assert.Same(s, s.Timer);
        Assert.Same(s, s.Timer.Owner);
        Assert.Equal("s1", s.Timer.Subject);
        Assert.True(s.Timer.IsScheduled);

        run.Flush();
        Assert.Equal(TriggerType.CartAbandoned, Assert.Single(run.Fired).Type);
    }

    [Fact]
    public void AnEqualIdentityOrTimeZone_KeepsTheInstanceHeld_ANewValueReplacesIt()
    {
        var engine = new SessionEngine(new RulesOptions());
        var output = new List<Trigger>();
        string user = new('u', 12);
        string zone = string.Concat("Europe/", "Paris");
        engine.Apply(WithContext(Page("s1", 0), user, zone), 0, output);
        engine.Apply(WithContext(Page("s1", 1), new string('u', 12), string.Concat("Europe/", "Paris")), 0, output);

        var s = engine.Find("s1")!;
        Assert.Same(user, s.UserId);
        Assert.Same(zone, s.TimeZone);

        engine.Apply(WithContext(Page("s1", 2), "someone-else", "Asia/Tokyo"), 0, output);
        Assert.Equal("someone-else", s.UserId);
        Assert.Equal("Asia/Tokyo", s.TimeZone);

        engine.Apply(Page("s1", 3), 0, output); // an event without identity keeps what the session knows
        Assert.Equal("someone-else", s.UserId);
    }

    [Fact]
    public void CartLines_KeepTheirOrder_ThroughRemovalsAnywhere_AndAnOrderEmptiesTheCart()
    {
        var run = new Run().Push(Add("s1", 0, "a"), Add("s1", 1, "b"), Add("s1", 2, "c"), Add("s1", 3, "d", quantity: 2));
        var s = run.Engine.Find("s1")!;

        run.Push(Remove("s1", 4, "b"));
        Assert.Equal(["a", "c", "d"], s.Cart.Select(p => p.Id));
        run.Push(Remove("s1", 5, "d"));
        Assert.Equal(["a", "c", "d"], s.Cart.Select(p => p.Id));
        Assert.Equal(1, s.Cart[2].Quantity);
        run.Push(Remove("s1", 6, "a"), Remove("s1", 6.5, "d"));
        Assert.Equal(["c"], s.Cart.Select(p => p.Id));

        run.Push(Order("s1", 7));
        Assert.Empty(s.Cart);
        var back = SessionCodec.Decode("s1", SessionCodec.Encode(s), 64);
        Assert.Empty(back.Cart);
        Assert.Equal(s.Viewed.Select(p => p.Id), back.Viewed.Select(p => p.Id));
    }

    [Fact]
    public void AStoredListCount_LargerThanTheDataLeft_IsRejected_NotAllocated()
    {
        var s = new Run().Push(View("s1", 0, "p1"), View("s1", 1, "p2")).Engine.Find("s1")!;
        var bytes = SessionCodec.Encode(s);
        var viewed = SessionCodec.Decode("s1", bytes, 64).Viewed;
        Assert.Equal(["p1", "p2"], viewed.Select(p => p.Id));

        // The viewed list's count is the byte before the first product id's length prefix; make it absurd.
        int at = IndexOf(bytes, [2, 3, (byte)'p', (byte)'1']);
        Assert.True(at >= 0, "the viewed list's count was found");
        var corrupt = bytes[..at].Concat(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x07 }).Concat(bytes[(at + 1)..]).ToArray();
        Assert.Throws<FormatException>(() => SessionCodec.Decode("s1", corrupt, 64));
    }

    private static TrackerEvent WithContext(TrackerEvent ev, string user, string zone) => new()
    {
        Type = ev.Type,
        SessionId = ev.SessionId,
        TimestampMs = ev.TimestampMs,
        UserId = user,
        TimeZone = zone,
    };

    private static int IndexOf(byte[] data, byte[] pattern)
    {
        for (int i = 0; i + pattern.Length <= data.Length; i++)
        {
            if (data.AsSpan(i, pattern.Length).SequenceEqual(pattern)) return i;
        }

        return -1;
    }
}
