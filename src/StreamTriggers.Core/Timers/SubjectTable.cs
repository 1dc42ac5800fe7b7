using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace StreamTriggers.Timers;

/// <summary>
/// A hash table of <see cref="TimerNode"/>s (sessions, customers) keyed by their <see cref="TimerNode.Subject"/>: the
/// worker's index of the states it holds in memory. Unlike a <c>Dictionary&lt;string, T&gt;</c> it keeps no reference
/// to the key string, only to the node, which holds its subject.
/// </summary>
/// <remarks>
/// <para>
/// Why not a dictionary: a worker reuses the instances of the states it let go (they are old, in gen2 after their
/// first minutes), but each new visit brings a new id string, young. A dictionary stores that string in its entry
/// array, which is old and large; the write barrier marks the entry's card, and every gen0 collection scans each
/// marked card twice (to mark, then to relocate) until a gen1 collection has promoted the string. A heap snapshot of
/// the worker at 45,000 events/s (ClrMD, the references from gen2 objects to gen0 and gen1 ones) found the session
/// dictionaries' entries holding 20,000 of the 38,000 such references. Here the slots hold the reused node, old too,
/// so an insert marks nothing.
/// </para>
/// <para>
/// Open addressing with linear probing, at most half full, deletion by backward shift (no tombstones). The key
/// comparison reads the node's subject, as a dictionary reads its key. Not thread-safe; an enumeration fails if the
/// table changes under it, as a dictionary's does. A node's subject must not change while the table holds it.
/// </para>
/// </remarks>
[SuppressMessage("Naming", "CA1710:Identifiers should have correct suffix", Justification = "A table keyed by subject; 'Collection' would hide that it is a lookup.")]
public sealed class SubjectTable<T> : IReadOnlyCollection<T>
    where T : TimerNode
{
    private const int MinCapacity = 16;

    private T?[] _slots = new T?[MinCapacity];
    private int[] _hashes = new int[MinCapacity];
    private int _count;
    private int _shift = 32 - 4; // log2(MinCapacity)
    private int _version;

    public int Count => _count;

    /// <summary>The slots the table has now (twice the nodes it can hold before it grows).</summary>
    public int Capacity => _slots.Length;

    public bool TryGetValue(ReadOnlySpan<char> subject, [NotNullWhen(true)] out T? node)
    {
        int i = IndexOf(subject, Hash(subject));
        node = i >= 0 ? _slots[i] : null;
        return node is not null;
    }

    public T? Find(ReadOnlySpan<char> subject) => TryGetValue(subject, out var node) ? node : null;

    public bool Contains(ReadOnlySpan<char> subject) => IndexOf(subject, Hash(subject)) >= 0;

    /// <summary>Adds <paramref name="node"/>; throws if the table holds a node with its subject.</summary>
    public void Add(T node)
    {
        if (!TryAdd(node))
        {
            throw new ArgumentException($"the table already holds a node for '{node.Subject}'", nameof(node));
        }
    }

    /// <summary>Adds <paramref name="node"/> unless the table holds a node with its subject.</summary>
    public bool TryAdd(T node)
    {
        ArgumentNullException.ThrowIfNull(node);
        int hash = Hash(node.SubjectSpan);
        if (IndexOf(node.SubjectSpan, hash) >= 0)
        {
            return false;
        }

        Insert(node, hash);
        return true;
    }

    /// <summary>Holds <paramref name="node"/> under its subject, replacing the node held for it, if any.</summary>
    public void Set(T node)
    {
        ArgumentNullException.ThrowIfNull(node);
        int hash = Hash(node.SubjectSpan);
        int i = IndexOf(node.SubjectSpan, hash);
        if (i >= 0)
        {
            _slots[i] = node;
            _version++;
            return;
        }

        Insert(node, hash);
    }

    /// <summary>Removes the node held for <paramref name="subject"/>; false if there was none.</summary>
    public bool Remove(ReadOnlySpan<char> subject)
    {
        int i = IndexOf(subject, Hash(subject));
        if (i < 0)
        {
            return false;
        }

        RemoveAt(i);
        return true;
    }

    public void Clear()
    {
        Array.Clear(_slots);
        _count = 0;
        _version++;
    }

    public Enumerator GetEnumerator() => new(this);

    IEnumerator<T> IEnumerable<T>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static int Hash(ReadOnlySpan<char> subject) => string.GetHashCode(subject, StringComparison.Ordinal);

    // Fibonacci hashing: the top bits of the product, so nearby hash codes land far apart.
    private int Home(int hash) => (int)(((uint)hash * 2654435769u) >> _shift);

    private int IndexOf(ReadOnlySpan<char> subject, int hash)
    {
        var slots = _slots;
        int mask = slots.Length - 1;
        for (int i = Home(hash); ; i = (i + 1) & mask)
        {
            var node = slots[i];
            if (node is null)
            {
                return -1;
            }

            if (_hashes[i] == hash && subject.SequenceEqual(node.SubjectSpan))
            {
                return i;
            }
        }
    }

    private void Insert(T node, int hash)
    {
        if ((_count + 1) * 2 > _slots.Length)
        {
            Grow();
        }

        Place(node, hash);
        _count++;
        _version++;
    }

    private void Place(T node, int hash)
    {
        int mask = _slots.Length - 1;
        int i = Home(hash);
        while (_slots[i] is not null)
        {
            i = (i + 1) & mask;
        }

        _slots[i] = node;
        _hashes[i] = hash;
    }

    private void Grow()
    {
        var slots = _slots;
        var hashes = _hashes;
        _slots = new T?[slots.Length * 2];
        _hashes = new int[slots.Length * 2];
        _shift--;
        for (int i = 0; i < slots.Length; i++)
        {
            if (slots[i] is { } node)
            {
                Place(node, hashes[i]);
            }
        }
    }

    // Backward-shift deletion: every later node of the probe run whose home is not between the hole and itself moves
    // into the hole, so a lookup never stops early at an empty slot that used to be on its path.
    private void RemoveAt(int hole)
    {
        var slots = _slots;
        int mask = slots.Length - 1;
        int j = hole;
        while (true)
        {
            j = (j + 1) & mask;
            var node = slots[j];
            if (node is null)
            {
                break;
            }

            int home = Home(_hashes[j]);
            bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (!stays)
            {
                slots[hole] = node;
                _hashes[hole] = _hashes[j];
                hole = j;
            }
        }

        slots[hole] = null;
        _count--;
        _version++;
    }

    /// <summary>Enumerates the nodes in no particular order; fails if the table changes meanwhile.</summary>
    public struct Enumerator : IEnumerator<T>
    {
        private readonly SubjectTable<T> _table;
        private readonly int _version;
        private int _index;

        internal Enumerator(SubjectTable<T> table)
        {
            _table = table;
            _version = table._version;
            _index = -1;
            Current = null!;
        }

        public T Current { get; private set; }

        readonly object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            if (_version != _table._version)
            {
                throw new InvalidOperationException("the table changed during the enumeration");
            }

            var slots = _table._slots;
            while (++_index < slots.Length)
            {
                if (slots[_index] is { } node)
                {
                    Current = node;
                    return true;
                }
            }

            Current = null!;
            return false;
        }

        public void Reset()
        {
            _index = -1;
            Current = null!;
        }

        public readonly void Dispose()
        {
        }
    }
}
