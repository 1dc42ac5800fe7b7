namespace StreamTriggers.Timers;

/// <summary>
/// One timer, owned by the subject it belongs to (a session today, a customer later) and reused for every
/// reschedule: the index moves the node instead of adding entries, so a busy session costs no allocation. A state
/// type may be its own node (a session is: one object fewer per session for the GC to keep).
/// </summary>
public class TimerNode
{
    public TimerNode(string subject, object? owner = null)
    {
        Subject = subject;
        Owner = owner;
    }

    /// <summary>The session or customer id, the tie-breaker after the due time (changes only while the node is unscheduled, when its owner is reused).</summary>
    public string Subject { get; private protected set; }

    /// <summary>The state object the timer belongs to, when it is in memory.</summary>
    public object? Owner { get; set; }

    public long DueMs { get; internal set; }

    public TimerKind Kind { get; internal set; }

    public bool IsScheduled => HeapIndex >= 0;

    internal int HeapIndex { get; set; } = -1;

    public override string ToString() => $"{Kind} {Subject} @{DueMs}";
}
