using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Customers;

/// <summary>
/// Session and customer engines together in event time, as <c>replay</c> runs them: every event goes through the
/// session engine at the watermark, and what it signals goes through the customer engine at the same watermark in
/// the same step. The same input always gives the same triggers and the same audit, in the same order.
/// </summary>
public sealed class LifecycleDriver
{
    private readonly EventTimeDriver _sessions;
    private readonly CustomerEngine _customers;
    private readonly List<Trigger> _sessionTriggers = [];
    private readonly List<CustomerSignal> _signals = [];
    private long _clock = long.MinValue;

    public LifecycleDriver(RulesOptions rules, LifecycleOptions lifecycle, PolicyOptions policy)
    {
        Sessions = new SessionEngine(rules, decisions: DecisionLog.HeldBack, lifecycle: lifecycle);
        _sessions = new EventTimeDriver(Sessions);
        _customers = new CustomerEngine(lifecycle, policy);
    }

    public SessionEngine Sessions { get; }

    public CustomerEngine Customers => _customers;

    /// <summary>Applies one event; triggers that go out are added to <paramref name="output"/>, held-back decisions to <paramref name="audit"/>.</summary>
    public void Push(TrackerEvent ev, List<Trigger> output, List<TriggerDecision> audit)
    {
        _sessions.Push(ev, _sessionTriggers);
        Step(output, audit);
    }

    /// <summary>
    /// Ends the input. With <paramref name="flush"/>, every open session period's deadline fires now; customer
    /// timers due after the input's last event (reminders, cross-sells, win-backs) stay pending.
    /// </summary>
    public void Complete(bool flush, List<Trigger> output, List<TriggerDecision> audit)
    {
        _sessions.Complete(flush, _sessionTriggers);
        Step(output, audit);
    }

    /// <summary>Moves the clock to <paramref name="nowMs"/> without an event (a test's fake clock; replay never needs it).</summary>
    public void AdvanceTo(long nowMs, List<Trigger> output, List<TriggerDecision> audit)
    {
        Sessions.AdvanceTo(nowMs, _sessionTriggers);
        _clock = Math.Max(_clock, nowMs);
        Step(output, audit);
    }

    private void Step(List<Trigger> output, List<TriggerDecision> audit)
    {
        // The session triggers travel as candidates inside the signals; only the policy decides what goes out.
        _sessionTriggers.Clear();
        Sessions.TakeDecisions(audit);   // the session engine records only held-back decisions (cooldown)
        Sessions.TakeSignals(_signals);
        _clock = Math.Max(_clock, _sessions.Watermark);
        _customers.Apply(_signals, _clock, output, audit);
        _signals.Clear();
    }
}
