using StreamTriggers.Tests.Sessions;
using StreamTriggers.Triggers;
using static StreamTriggers.Tests.Sessions.Ev;

namespace StreamTriggers.Tests.Triggers;

public class TriggerDecisionTests
{
    [Fact]
    public void Engine_RecordsEveryMatch_EmittedWithTheTriggerId_SuppressedWithTheIdItWouldHaveHad_AndWhy()
    {
        var run = new Run(recordDecisions: true).Push(
            View("s1", 0, "p1"), View("s1", 1, "p2"),       // deadline 31: emitted
            View("s1", 120, "p3"), View("s1", 121, "p4"),   // deadline 151: suppressed by cooldown
            View("s2", 0, "p1"))                             // one product: no match, no decision
            .Flush();
        var decisions = new List<TriggerDecision>();
        run.Engine.TakeDecisions(decisions);

        Assert.Equal(2, decisions.Count);
        var emitted = decisions[0];
        Assert.Equal((DecisionOutcome.Emitted, run.Fired.Single().Id, At(31)), (emitted.Outcome, emitted.TriggerId, emitted.DeadlineMs));
        Assert.Null(emitted.Reason);
        var suppressed = decisions[1];
        Assert.Equal(DecisionOutcome.Suppressed, suppressed.Outcome);
        Assert.Equal(TriggerId.Create(TriggerType.BrowseAbandoned, "s1", At(151)), suppressed.TriggerId);
        Assert.Equal("cooldown", suppressed.Reason);
        Assert.Equal("browse_abandoned last fired for this session at 2026-11-23T10:31:00.000Z, within the cooldown", suppressed.Detail);

        // The session keeps them too (newest first), in its stored state, for 'inspect'.
        var kept = run.Engine.Find("s1")!.Decisions;
        Assert.Equal([suppressed, emitted], kept.Select(d => d.ToDecision("s1") with { DecidedAtMs = 0 }).Select(d => decisions.Single(x => x.TriggerId == d.TriggerId)));
        var restored = StreamTriggers.State.SessionCodec.Decode("s1", StreamTriggers.State.SessionCodec.Encode(run.Engine.Find("s1")!), 64);
        Assert.Equal(kept, restored.Decisions);
        Assert.Equal(suppressed.Detail, restored.Decisions[0].ToDecision("s1").Detail);

        // Taken means taken.
        decisions.Clear();
        run.Engine.TakeDecisions(decisions);
        Assert.Empty(decisions);
    }

    [Fact]
    public void Session_KeepsOnlyTheNewestDecisions()
    {
        // Five periods of two views each, 25 h apart: five browse_abandoned; the session keeps the newest three.
        var rules = new StreamTriggers.Sessions.RulesOptions { DecisionHistory = 3 };
        var events = Enumerable.Range(0, 5).SelectMany(i => new[] { View("s1", i * 1500, $"a{i}"), View("s1", (i * 1500) + 1, $"b{i}") }).ToArray();
        var run = new Run(rules).Push(events).Flush();

        Assert.Equal(5, run.Fired.Count);
        Assert.Equal(run.Fired.TakeLast(3).Reverse().Select(t => t.Id), run.Engine.Find("s1")!.Decisions.Select(d => d.ToDecision("s1").TriggerId));
    }

    [Fact]
    public void Engine_WithoutRecording_KeepsNoDecisions()
    {
        var run = new Run().Push(View("s1", 0, "p1"), View("s1", 1, "p2")).Flush();
        var decisions = new List<TriggerDecision>();
        run.Engine.TakeDecisions(decisions);
        Assert.Single(run.Fired);
        Assert.Empty(decisions);
    }

    [Fact]
    public void Json_IsOneLine_WithEveryField_AndEscapesControlCharacters()
    {
        var d = new TriggerDecision("id-1", TriggerType.CartAbandoned, "s\n1", At(30), At(30.5), DecisionOutcome.Suppressed, "cooldown", "detail \"quoted\"");

        string json = d.ToJson();

        Assert.DoesNotContain('\n', json);
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var r = doc.RootElement;
        Assert.Equal(("id-1", "cart_abandoned", "s\n1", "2026-11-23T10:30:00.000Z", "2026-11-23T10:30:30.000Z", "suppressed", "cooldown", "detail \"quoted\""),
            (r.GetProperty("trigger_id").GetString(), r.GetProperty("type").GetString(), r.GetProperty("session_id").GetString(), r.GetProperty("deadline").GetString(),
             r.GetProperty("decided_at").GetString(), r.GetProperty("outcome").GetString(), r.GetProperty("reason").GetString(), r.GetProperty("detail").GetString()));
    }
}
