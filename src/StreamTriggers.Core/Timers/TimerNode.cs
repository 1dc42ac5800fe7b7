namespace StreamTriggers.Timers;

/// <summary>
/// One timer, owned by the subject it belongs to (a session today, a customer later) and reused for every
/// reschedule: the index moves the node instead of adding entries, so a busy session costs no allocation. A state
/// type may be its own node (a session is: one object fewer per session for the GC to keep).
/// </summary>
public class TimerNode
{
    // The subject's characters, in an array the node keeps when its owner is reused for another subject (see OwnedText).
    private Buffers.OwnedText _subject;

    public TimerNode(string subject, object? owner = null)
    {
        ArgumentNullException.ThrowIfNull(subject);
        _subject.Set(subject);
        Owner = owner;
    }

    /// <summary>
    /// The session or customer id, the tie-breaker after the due time (changes only while the node is unscheduled,
    /// when its owner is reused): a new string each time it is read. What runs per event reads <see cref="SubjectSpan"/>.
    /// </summary>
    public string Subject => _subject.ToString();

    /// <summary>The subject's characters, without a string; valid until the subject changes.</summary>
    public ReadOnlySpan<char> SubjectSpan => _subject.Span;

    /// <summary>Gives the node (its reused owner) another subject, copied into the characters it holds.</summary>
    private protected void SetSubject(string subject) => _subject.Set(subject);

    /// <summary>The state object the timer belongs to, when it is in memory.</summary>
    public object? Owner { get; set; }

    public long DueMs { get; internal set; }

    public TimerKind Kind { get; internal set; }

    public bool IsScheduled => HeapIndex >= 0;

    internal int HeapIndex { get; set; } = -1;

    public override string ToString() => $"{Kind} {SubjectSpan} @{DueMs}";
}
