using StreamTriggers.Customers;
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
    public void AnEqualTimeZone_KeepsTheInstanceHeld_TheIdsAreNotHeldAsTheEventsStrings_ANewValueReplacesIt()
    {
        var engine = new SessionEngine(new RulesOptions());
        var output = new List<Trigger>();
        string zone = string.Concat("Europe/", "Paris");
        var eventStrings = ApplyAndForget(engine, output, zone);
        engine.Apply(WithContext(Page("s1", 1), new string('u', 12), string.Concat("Europe/", "Paris")), 0, output);

        var s = engine.Find("s1")!;
        Assert.Equal(new string('u', 12), s.UserId);
        Assert.Equal("s1", s.SessionId);
        Assert.Same(zone, s.TimeZone);

        // The session holds its id's and user id's characters, not the first event's strings: once the event is gone
        // they are collected (a new visit's strings in a reused, old session would cost every gen0 collection).
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.All(eventStrings, w => Assert.False(w.TryGetTarget(out _), "the session still holds an event's id string"));
        GC.KeepAlive(s);

        engine.Apply(WithContext(Page("s1", 2), "someone-else", "Asia/Tokyo"), 0, output);
        Assert.Equal("someone-else", s.UserId);
        Assert.Equal("Asia/Tokyo", s.TimeZone);

        engine.Apply(Page("s1", 3), 0, output); // an event without identity keeps what the session knows
        Assert.Equal("someone-else", s.UserId);
    }

    [Fact]
    public void TheCustomerKey_BuiltFromTheCharactersHeld_IsTheKeyOfTheIdentityItsStringsGive()
    {
        // Anonymous, then an email, then a user id (which wins over the email), then a reused instance: each time the
        // key the session builds from the characters it holds is CustomerKeys.For of its strings.
        var engine = new SessionEngine(new RulesOptions(), trackChanges: true);
        var output = new List<Trigger>();
        engine.Apply(Page("anon-1", 0), 0, output);
        var s = engine.Find("anon-1")!;
        Assert.Equal("s:anon-1", s.CustomerKey());

        var withEmail = Page("anon-1", 1);
        engine.Apply(new TrackerEvent { Type = withEmail.Type, SessionId = "anon-1", TimestampMs = withEmail.TimestampMs, Products = [], Email = "Ann@Example.com" }, 0, output);
        Assert.Equal("e:ann@example.com", s.CustomerKey());
        engine.Apply(WithContext(Page("anon-1", 2), "user-42", "UTC"), 0, output);
        Assert.Equal(CustomerKeys.For(s.UserId, s.Email, s.SessionId), s.CustomerKey());
        Assert.Equal("u:user-42", s.CustomerKey());
        engine.TakeDirty([]);
        engine.Recycle(s);
        engine.Apply(Page("other-7", 3), 0, output);
        Assert.Same(s, engine.Find("other-7"));
        Assert.Equal("s:other-7", s.CustomerKey());
        Assert.False(s.HasIdentity);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference<string>[] ApplyAndForget(SessionEngine engine, List<Trigger> output, string zone)
    {
        string session = string.Concat("s", "1"), user = new('u', 12);
        var ev = WithContext(Page(session, 0), user, zone);
        engine.Apply(ev, 0, output);
        return [new(session), new(user)];
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
        Assert.Empty(s.Cart.ToArray());
        var back = SessionCodec.Decode("s1", SessionCodec.Encode(s), 64);
        Assert.Empty(back.Cart.ToArray());
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

    private static int IndexOf(byte[] data, byte[] pattern)
    {
        for (int i = 0; i + pattern.Length <= data.Length; i++)
        {
            if (data.AsSpan(i, pattern.Length).SequenceEqual(pattern)) return i;
        }

        return -1;
    }

    // The event-id ring keeps its first four ids inline and the rest in an array grown up to the capacity; whatever
    // the capacity, it must remember exactly the newest ids, oldest first, through trims and codec round trips.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(64)]
    public void TheEventIdRing_RemembersExactlyTheNewestIds_AtAnyCapacity(int capacity)
    {
        var random = new Random(capacity);
        var s = new SessionState("ring");
        var model = new List<ulong>();
        for (int step = 0; step < 400; step++)
        {
            if (step % 97 == 96)
            {
                int keep = random.Next(0, capacity + 1);
                s.TrimEventIds(keep, keepArrays: random.Next(2) == 0);
                model = model.Skip(Math.Max(0, model.Count - keep)).ToList();
            }
            else if (step % 53 == 52)
            {
                s = SessionCodec.Decode("ring", SessionCodec.Encode(s), capacity);
            }
            else
            {
                // Ids from a small range, so repeats (duplicates within the window, and ids evicted from it) are common.
                ulong id = (ulong)random.Next(0, capacity * 3 + 2) * 0x9E3779B97F4A7C15UL;
                bool expectedNew = !model.Contains(id);
                Assert.Equal(expectedNew, s.RememberEventId(id, capacity));
                if (expectedNew)
                {
                    model.Add(id);
                    if (model.Count > capacity) model.RemoveAt(0);
                }
            }

            Assert.Equal(model, s.SeenIds());
        }
    }

    [Fact]
    public void DecisionHistory_IsNewestFirst_AndKeepsAtMostTheLimit()
    {
        var s = new SessionState("d");
        var records = Enumerable.Range(0, 5).Select(i => new DecisionRecord(TriggerType.CartAbandoned, DecisionOutcome.Emitted, DecisionReason.None, i * 1000L, i * 1000L + 5, 0)).ToArray();
        foreach (var r in records) s.AddDecision(r, keep: 3);

        Assert.Equal([records[4], records[3], records[2]], s.Decisions);
        s.AddDecision(records[0], keep: 0); // keeping none changes nothing
        Assert.Equal(3, s.Decisions.Count);

        var restored = SessionCodec.Decode("d", SessionCodec.Encode(s), 16);
        Assert.Equal(s.Decisions, restored.Decisions);
    }
}
