namespace StreamTriggers.Timers;

/// <summary>
/// An indexed 4-ary min-heap of <see cref="TimerNode"/>s ordered by (due, subject, kind). Each node knows its slot,
/// so rescheduling a node is one sift up or down in place: no stale entries, no compaction, and no allocation once
/// the array has grown. This is the hot path: every event moves its session's deadline (nearly always later, so
/// down the heap), and every deadline that falls due is taken from the top and the last entry sifted down.
/// </summary>
/// <remarks>
/// Each slot holds the due time beside the node, so choosing the way down compares times in the array itself instead
/// of reading each candidate node (thousands of sessions, scattered over the heap: each read is likely a cache miss);
/// only a tie in time reads the nodes' subjects. Four children per slot halve the depth against a binary heap, and a
/// slot's four children share a cache line or two. A node is still written at each level it moves through (its slot).
/// </remarks>
public sealed class TimerIndex
{
    private const int Arity = 4;

    private Entry[] _heap = new Entry[64];
    private int _count;

    public int Count => _count;

    /// <summary>Schedules <paramref name="node"/>, or moves it if it is already scheduled.</summary>
    public void Schedule(TimerNode node, long dueMs, TimerKind kind)
    {
        if (node.IsScheduled)
        {
            int i = node.HeapIndex;
            bool earlier = dueMs < node.DueMs || (dueMs == node.DueMs && kind < node.Kind); // same subject
            node.DueMs = dueMs;
            node.Kind = kind;
            _heap[i] = new Entry(dueMs, node);
            if (earlier)
            {
                SiftUp(i);
            }
            else
            {
                SiftDown(i);
            }

            return;
        }

        if (_count == _heap.Length)
        {
            Array.Resize(ref _heap, _heap.Length * 2);
        }

        node.DueMs = dueMs;
        node.Kind = kind;
        _heap[_count] = new Entry(dueMs, node);
        node.HeapIndex = _count;
        SiftUp(_count++);
    }

    /// <summary>Removes <paramref name="node"/> if it is scheduled.</summary>
    public void Cancel(TimerNode node)
    {
        int i = node.HeapIndex;
        if (i < 0)
        {
            return;
        }

        node.HeapIndex = -1;
        var last = _heap[--_count];
        _heap[_count] = default;
        if (i == _count)
        {
            return;
        }

        _heap[i] = last;
        last.Node.HeapIndex = i;
        SiftUp(i);
        SiftDown(last.Node.HeapIndex);
    }

    /// <summary>The earliest node, if it is due at or before <paramref name="nowMs"/>.</summary>
    public bool TryPeekDue(long nowMs, out TimerNode node)
    {
        if (_count > 0 && _heap[0].Due <= nowMs)
        {
            node = _heap[0].Node;
            return true;
        }

        node = null!;
        return false;
    }

    public bool TryPeek(out TimerNode node)
    {
        node = _count > 0 ? _heap[0].Node : null!;
        return _count > 0;
    }

    /// <summary>Removes and returns the earliest node.</summary>
    public TimerNode Dequeue()
    {
        if (_count == 0)
        {
            throw new InvalidOperationException("The timer index is empty.");
        }

        var top = _heap[0].Node;
        Cancel(top);
        return top;
    }

    public void Clear()
    {
        for (int i = 0; i < _count; i++)
        {
            _heap[i].Node.HeapIndex = -1;
            _heap[i] = default;
        }

        _count = 0;
    }

    private void SiftUp(int i)
    {
        var entry = _heap[i];
        while (i > 0)
        {
            int parent = (i - 1) / Arity;
            var p = _heap[parent];
            if (!Precedes(entry, p))
            {
                break;
            }

            _heap[i] = p;
            p.Node.HeapIndex = i;
            i = parent;
        }

        _heap[i] = entry;
        entry.Node.HeapIndex = i;
    }

    private void SiftDown(int i)
    {
        var entry = _heap[i];
        while (true)
        {
            int first = (Arity * i) + 1;
            if (first >= _count)
            {
                break;
            }

            // The least of up to four children: by time alone unless two times tie.
            int least = first;
            int end = Math.Min(first + Arity, _count);
            for (int c = first + 1; c < end; c++)
            {
                if (Precedes(_heap[c], _heap[least]))
                {
                    least = c;
                }
            }

            var child = _heap[least];
            if (!Precedes(child, entry))
            {
                break;
            }

            _heap[i] = child;
            child.Node.HeapIndex = i;
            i = least;
        }

        _heap[i] = entry;
        entry.Node.HeapIndex = i;
    }

    // Whether a comes before b in (due, subject, kind) order: the times in the slots decide, and only a tie in time
    // reads the nodes.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool Precedes(in Entry a, in Entry b) => a.Due != b.Due ? a.Due < b.Due : TieBreak(a.Node, b.Node) < 0;

    private static int TieBreak(TimerNode a, TimerNode b)
    {
        int c = a.SubjectSpan.SequenceCompareTo(b.SubjectSpan); // ordinal, as string.CompareOrdinal
        return c != 0 ? c : a.Kind.CompareTo(b.Kind);
    }

    /// <summary>A slot: the node's due time, kept beside it so the heap is ordered without reading the node.</summary>
    private readonly record struct Entry(long Due, TimerNode Node);
}
