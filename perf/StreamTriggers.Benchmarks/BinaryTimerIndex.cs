using StreamTriggers.Timers;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// The timer index as it was before the 4-ary heap (an indexed binary heap of nodes, each comparison reading the
/// nodes), kept here to be measured beside it.
/// </summary>
internal sealed class BinaryTimerIndex
{
    private TimerNode[] _heap = new TimerNode[64];
    private int _count;

    public int Count => _count;

    /// <summary>Schedules <paramref name="node"/>, or moves it if it is already scheduled.</summary>
    public void Schedule(TimerNode node, long dueMs, TimerKind kind)
    {
        if (node.IsScheduled)
        {
            bool earlier = Compare(dueMs, node.SubjectSpan, kind, node) < 0;
            node.DueMs = dueMs;
            node.Kind = kind;
            if (earlier)
            {
                SiftUp(node.HeapIndex);
            }
            else
            {
                SiftDown(node.HeapIndex);
            }

            return;
        }

        if (_count == _heap.Length)
        {
            Array.Resize(ref _heap, _heap.Length * 2);
        }

        node.DueMs = dueMs;
        node.Kind = kind;
        node.HeapIndex = _count;
        _heap[_count++] = node;
        SiftUp(node.HeapIndex);
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
        _heap[_count] = null!;
        if (i == _count)
        {
            return;
        }

        _heap[i] = last;
        last.HeapIndex = i;
        SiftUp(i);
        SiftDown(last.HeapIndex);
    }

    /// <summary>The earliest node, if it is due at or before <paramref name="nowMs"/>.</summary>
    public bool TryPeekDue(long nowMs, out TimerNode node)
    {
        if (_count > 0 && _heap[0].DueMs <= nowMs)
        {
            node = _heap[0];
            return true;
        }

        node = null!;
        return false;
    }

    public bool TryPeek(out TimerNode node)
    {
        node = _count > 0 ? _heap[0] : null!;
        return _count > 0;
    }

    /// <summary>Removes and returns the earliest node.</summary>
    public TimerNode Dequeue()
    {
        if (_count == 0)
        {
            throw new InvalidOperationException("The timer index is empty.");
        }

        var top = _heap[0];
        Cancel(top);
        return top;
    }

    public void Clear()
    {
        for (int i = 0; i < _count; i++)
        {
            _heap[i].HeapIndex = -1;
            _heap[i] = null!;
        }

        _count = 0;
    }

    private void SiftUp(int i)
    {
        var node = _heap[i];
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            var p = _heap[parent];
            if (Compare(node.DueMs, node.SubjectSpan, node.Kind, p) >= 0)
            {
                break;
            }

            _heap[i] = p;
            p.HeapIndex = i;
            i = parent;
        }

        _heap[i] = node;
        node.HeapIndex = i;
    }

    private void SiftDown(int i)
    {
        var node = _heap[i];
        while (true)
        {
            int child = (2 * i) + 1;
            if (child >= _count)
            {
                break;
            }

            var c = _heap[child];
            if (child + 1 < _count && Compare(_heap[child + 1].DueMs, _heap[child + 1].SubjectSpan, _heap[child + 1].Kind, c) < 0)
            {
                child++;
                c = _heap[child];
            }

            if (Compare(node.DueMs, node.SubjectSpan, node.Kind, c) <= 0)
            {
                break;
            }

            _heap[i] = c;
            c.HeapIndex = i;
            i = child;
        }

        _heap[i] = node;
        node.HeapIndex = i;
    }

    private static int Compare(long due, ReadOnlySpan<char> subject, TimerKind kind, TimerNode other)
    {
        int c = due.CompareTo(other.DueMs);
        if (c != 0) return c;
        c = subject.SequenceCompareTo(other.SubjectSpan); // ordinal; Subject would allocate a string per read
        return c != 0 ? c : kind.CompareTo(other.Kind);
    }
}
