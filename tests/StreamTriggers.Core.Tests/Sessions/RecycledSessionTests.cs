using System.Reflection;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Sessions.Ev;

namespace StreamTriggers.Tests.Sessions;

// The live worker recycles the session objects it evicts, so short visits do not each leave an object for the
// garbage collector to copy into the older generations. These check that a reused instance is indistinguishable
// from a new one, and that the engine never reuses one something else may still hold.
public class RecycledSessionTests
{
    [Fact]
    public void AReusedInstance_HasEveryFieldOfANewOne()
    {
        // A session with everything set: identity, time zone, a cart, views, fired history, decisions, remembered ids.
        var engine = new SessionEngine(new RulesOptions { DecisionHistory = 3 }, trackChanges: true);
        var output = new List<Trigger>();
        var events = new List<TrackerEvent>
        {
            WithContext(View("old", 0, "p1", "e1"), "user-1", "Europe/Paris"),
            View("old", 1, "p2", "e2"), View("old", 2, "p3", "e3"), View("old", 2.5, "p4", "e4"), View("old", 2.7, "p5", "e5"),
            Add("old", 3, "p1", id: "e6"),
            Make(EventType.CheckoutStarted, "old", 4, "e7", []),
        };
        for (int i = 0; i < events.Count; i++) engine.Apply(events[i], 0, output, offset: i);
        engine.AdvanceTo(At(60), output); // the checkout deadline fires
        Assert.Single(output);

        var s = engine.Find("old")!;
        engine.TakeDirty([]);
        Assert.NotEqual(0, s.Decisions.Count);
        Assert.NotEmpty(s.Cart.ToArray());
        Assert.True(s.SeenIdCount > 0);
        s.UnwrittenSinceOffset = 7;
        s.UnwrittenSinceMs = 12345;
        s.InTimerIndex = true;

        engine.Recycle(s);
        Assert.Equal(1, engine.RecycledCount);
        var arraysBefore = AllInstanceFields(typeof(SessionState)).Where(f => f.FieldType.IsArray).ToDictionary(f => f.Name, f => f.GetValue(s));
        var textsBefore = AllInstanceFields(typeof(SessionState)).Where(f => f.FieldType == typeof(StreamTriggers.Buffers.OwnedText)).ToDictionary(f => f.Name, f => Chars(f.GetValue(s)!));
        var reused = s.Reuse("new");
        var fresh = new SessionState("new");

        foreach (var field in AllInstanceFields(typeof(SessionState)))
        {
            object? expected = field.GetValue(fresh), actual = field.GetValue(reused);
            if (field.Name.Contains("Owner", StringComparison.Ordinal))
            {
                Assert.Same(reused, actual);
                continue;
            }

            if (actual is StreamTriggers.Buffers.OwnedText text)
            {
                // The id's and the user id's characters: a new session's text, in the array the instance held (its
                // next value is copied in where it fits: no new object for the old instance to point to).
                Assert.Equal(((StreamTriggers.Buffers.OwnedText)expected!).ToStringOrNull(), text.ToStringOrNull());
                Assert.Same(textsBefore[field.Name], Chars(text));
                continue;
            }

            if (expected is null && actual is Array kept)
            {
                // Kept for the next visit (a new array in an old object costs every gen0 collection), emptied: its
                // count, compared like any other field, is zero, and it holds no reference to the old visit's products.
                Assert.Same(arraysBefore[field.Name], kept);
                if (!kept.GetType().GetElementType()!.IsValueType)
                {
                    Assert.All(kept.Cast<object?>(), Assert.Null);
                }

                continue;
            }

            Assert.True(Equals(expected, actual), $"{field.DeclaringType!.Name}.{field.Name}: a new session has {expected ?? "null"}, the reused one {actual ?? "null"}");
        }

        Assert.Equal(SessionCodec.Encode(fresh), SessionCodec.Encode(reused));
        Assert.Equal(4, arraysBefore.Count); // products viewed, cart, remembered ids, decisions: each one kept, above
        Assert.All(arraysBefore, kv => Assert.NotNull(kv.Value));
        Assert.Equal(2, textsBefore.Count); // the session id, the user id
        Assert.All(textsBefore, kv => Assert.NotNull(kv.Value));
    }

    private static char[]? Chars(object ownedText) => ((StreamTriggers.Buffers.OwnedText)ownedText).Buffer;

    [Fact]
    public void ASessionStillScheduledOrDirty_IsNotReused()
    {
        var engine = new SessionEngine(new RulesOptions(), trackChanges: true);
        var s = engine.Apply(View("s1", 0, "p1"), 0, [])!;

        Assert.Throws<InvalidOperationException>(() => s.Reuse("other")); // scheduled, and dirty
        Assert.Throws<InvalidOperationException>(() => engine.Recycle(s)); // unpersisted changes
        Assert.Equal(0, engine.RecycledCount);
    }

    [Fact]
    public void ANewVisit_TakesARecycledInstance_AndClearingTheEngineDropsThem()
    {
        var engine = new SessionEngine(new RulesOptions(), trackChanges: true);
        var output = new List<Trigger>();
        var first = engine.Apply(View("a", 0, "p1"), 0, output)!;
        engine.AdvanceTo(At(60), output); // closed
        engine.TakeDirty([]);
        engine.Recycle(first);

        var second = engine.Apply(View("b", 61, "p2"), At(60), output)!;
        Assert.Same(first, second);
        Assert.Equal("b", second.SessionId);
        Assert.Equal(["p2"], second.Viewed.Select(p => p.Id));
        Assert.Null(engine.Find("a"));
        Assert.Same(second, engine.Find("b"));

        engine.AdvanceTo(At(120), output);
        engine.TakeDirty([]);
        engine.Recycle(second);
        engine.Clear();
        Assert.Equal(0, engine.RecycledCount);
    }

    // The live worker's engine lets closed sessions go once written and reuses them, so a closed period keeps its
    // cleared list for the next visit (no new array in an old object); replay's holds closed sessions for their
    // retention, so it releases the list (most never open another period).
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AClosedPeriodKeepsItsClearedViewedList_OnlyInAnEngineThatReusesSessions(bool trackChanges)
    {
        var engine = new SessionEngine(new RulesOptions(), trackChanges);
        var output = new List<Trigger>();
        var s = engine.Apply(View("a", 0, "p1"), 0, output)!;
        engine.Apply(View("a", 1, "p2"), 0, output);
        engine.AdvanceTo(At(60), output); // the period closes (browse abandoned)

        var list = (ProductInfo?[]?)typeof(SessionState).GetField("_viewed", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(s);
        Assert.Equal(0, s.Viewed.Count);
        if (trackChanges)
        {
            Assert.NotNull(list);
            Assert.All(list, Assert.Null);
        }
        else
        {
            Assert.Null(list);
        }
    }

    /// <summary>
    /// Two engines fed the same random stream (late events, redeliveries, revisits), both dropping every written,
    /// closed session as the worker does: one evicts (a new object for the next visit), one recycles. Whatever a
    /// reused instance kept from its last visit would show in the triggers or in the stored state.
    /// </summary>
    [Theory]
    [MemberData(nameof(SessionEnginePropertyTests.Seeds), MemberType = typeof(SessionEnginePropertyTests))]
    public void Recycling_GivesTheSameTriggersAndStates_AsEvicting(int seed)
    {
        var (rules, events) = SessionEnginePropertyTests.Generate(seed);
        rules.DecisionHistory = 4;
        var (evictedFired, evictedStates, _) = Drive(rules, events, recycle: false);
        var (recycledFired, recycledStates, _) = Drive(rules, events, recycle: true);

        Assert.Equal(evictedFired, recycledFired);
        Assert.Equal(evictedStates, recycledStates);
    }

    [Fact] // else the comparison above shows nothing
    public void Recycling_IsExercised_ByTheRandomStreams()
    {
        int reused = 0;
        for (int seed = 1; seed <= 60; seed++)
        {
            var (rules, events) = SessionEnginePropertyTests.Generate(seed);
            reused += Drive(rules, events, recycle: true).Reused;
        }

        Assert.True(reused > 100, $"only {reused} instances reused over 60 streams");
    }

    private static (List<string> Fired, List<string> States, int Reused) Drive(RulesOptions rules, List<TrackerEvent> events, bool recycle)
    {
        var engine = new SessionEngine(rules, trackChanges: true, decisions: DecisionLog.All);
        var output = new List<Trigger>();
        var states = new List<string>();
        var seen = new HashSet<SessionState>(ReferenceEqualityComparer.Instance);
        int reused = 0;
        long clock = long.MinValue;
        long offset = 0;
        foreach (var ev in events)
        {
            clock = Math.Max(clock, ev.TimestampMs - rules.LatenessMs);
            if (engine.Apply(ev, clock, output, offset++) is { } s && !seen.Add(s))
            {
                reused++;
            }

            // Persist what changed, then drop the closed ones, as the worker does after a commit.
            var dirty = new List<SessionState>();
            engine.TakeDirty(dirty);
            foreach (var d in dirty.DistinctBy(d => d.SessionId))
            {
                states.Add($"{d.SessionId}:{Convert.ToHexString(SessionCodec.Encode(d))}");
                if (!d.HasOpenPeriod && ReferenceEquals(engine.Find(d.SessionId), d))
                {
                    if (recycle) engine.Recycle(d); else engine.Evict(d);
                }
            }
        }

        var fired = output.Select(t => $"{t.Id} {t.Type} {t.SessionId} {t.DeadlineMs} {t.PeriodEvents} {t.UserId} "
            + $"{string.Join(",", t.Cart.Select(l => $"{l.Id}x{l.Quantity}"))} {string.Join(",", t.ProductsViewed.Select(p => p.Id))}").ToList();
        return (fired, states, reused);
    }

    private static IEnumerable<FieldInfo> AllInstanceFields(Type type)
    {
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
        {
            foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                yield return f;
            }
        }
    }
}
