namespace StreamTriggers.Timers;

/// <summary>One scheduled timer: due time (Unix ms), subject (a session or customer id) and kind.</summary>
public readonly record struct TimerEntry(long DueMs, string Subject, TimerKind Kind);

/// <summary>
/// In-memory timer index ordered by (due, subject, kind). A subject reschedules by adding a new entry; the old one
/// stays in the heap and is recognised as stale when it surfaces (the owner's state no longer names it). That keeps
/// every operation a binary-heap step with no per-entry allocation, which is the hot path when every event moves its
/// session's deadline. <see cref="Compact"/> sheds stale entries when they come to dominate.
/// </summary>
public sealed class TimerIndex
{
    private static readonly EntryComparer Order = new();
    private PriorityQueue<TimerEntry, TimerEntry> _heap = new(Order);

    /// <summary>Entries in the heap, stale ones included.</summary>
    public int Count => _heap.Count;

    public void Schedule(long dueMs, string subject, TimerKind kind)
    {
        var entry = new TimerEntry(dueMs, subject, kind);
        _heap.Enqueue(entry, entry);
    }

    /// <summary>The earliest entry, if it is due at or before <paramref name="nowMs"/>.</summary>
    public bool TryPeekDue(long nowMs, out TimerEntry entry) => _heap.TryPeek(out entry, out _) && entry.DueMs <= nowMs;

    public bool TryPeek(out TimerEntry entry) => _heap.TryPeek(out entry, out _);

    public TimerEntry Dequeue() => _heap.Dequeue();

    /// <summary>Rebuilds the heap with only the entries <paramref name="isLive"/> accepts.</summary>
    public void Compact(Func<TimerEntry, bool> isLive)
    {
        var live = new List<(TimerEntry, TimerEntry)>(_heap.Count / 2);
        foreach (var (element, _) in _heap.UnorderedItems)
        {
            if (isLive(element))
            {
                live.Add((element, element));
            }
        }

        _heap = new PriorityQueue<TimerEntry, TimerEntry>(live, Order);
    }

    public void Clear() => _heap.Clear();

    private sealed class EntryComparer : IComparer<TimerEntry>
    {
        public int Compare(TimerEntry x, TimerEntry y)
        {
            int c = x.DueMs.CompareTo(y.DueMs);
            if (c != 0) return c;
            c = string.CompareOrdinal(x.Subject, y.Subject);
            return c != 0 ? c : x.Kind.CompareTo(y.Kind);
        }
    }
}
