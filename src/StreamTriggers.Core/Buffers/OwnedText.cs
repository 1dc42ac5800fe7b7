namespace StreamTriggers.Buffers;

/// <summary>
/// Text held in a character array its owner keeps when the text changes: a reused object takes its next value into
/// the same array, instead of storing a reference to a new string.
/// </summary>
/// <remarks>
/// Why: the worker reuses the instances of the sessions it let go, and those instances are old (gen2). A new visit's
/// id stored in one as a string is a reference from an old object to a young one: the write barrier marks the card
/// around the session, and every gen0 collection scans each marked card twice (to mark, then to relocate) until a
/// gen1 collection has promoted the string (a heap snapshot of the worker at 35,000 events/s: the session and user id
/// strings were 63% of the references from old objects to young ones). Copying characters into an old array marks
/// nothing. With the worker's session ids and user ids held this way, its mean pause under the load tool at 35,000
/// events/s went from 16-18 to 10-14 ms, and to 9-11 ms with its lists' arrays reserved as well (README, Performance).
/// The array is replaced only by a longer value (a new one, rounded up to 8 characters), or, when it is longer than
/// <see cref="KeptLength"/>, by an ordinary value; values of one length (UUIDs) never replace it.
/// <para>
/// A mutable struct: keep it in a field and call its members on the field, never on a copy. Reading the value as a
/// string (<see cref="ToString"/>) allocates a copy each time: what runs per event reads <see cref="Span"/>.
/// </para>
/// </remarks>
internal struct OwnedText
{
    private char[]? _chars;
    private int _length;
    private bool _hasValue;

    public readonly bool HasValue => _hasValue;

    /// <summary>The array the characters are in (tests check when it is kept).</summary>
    internal readonly char[]? Buffer => _chars;

    /// <summary>The value's characters (empty when there is none); valid until the value changes.</summary>
    public readonly ReadOnlySpan<char> Span => _hasValue ? new ReadOnlySpan<char>(_chars, 0, _length) : default;

    /// <summary>Takes <paramref name="value"/>'s characters (null: no value), into the array held when they fit.</summary>
    public void Set(string? value)
    {
        if (value is null)
        {
            _hasValue = false;
            return;
        }

        Set(value.AsSpan());
    }

    /// <summary>Arrays up to this many characters are kept for the next value; a larger one only while values need it.</summary>
    internal const int KeptLength = 64;

    /// <summary>Takes <paramref name="value"/>'s characters, into the array held when they fit.</summary>
    public void Set(ReadOnlySpan<char> value)
    {
        // A new array for a longer value, or for an ordinary one after an unusually long one (an id near the decoder's
        // length limit would otherwise stay with the reused instance for good).
        if (_chars is null || _chars.Length < value.Length || (_chars.Length > KeptLength && value.Length <= KeptLength))
        {
            _chars = new char[Math.Max(8, (value.Length + 7) & ~7)];
        }

        value.CopyTo(_chars);
        _length = value.Length;
        _hasValue = true;
    }

    /// <summary>No value; the array is kept for the next one.</summary>
    public void Clear() => _hasValue = false;

    /// <summary>Whether the value is <paramref name="other"/>, ordinally (null equals no value).</summary>
    public readonly bool Is(string? other) => other is null ? !_hasValue : _hasValue && Span.SequenceEqual(other);

    /// <summary>A new string with the value, or null when there is none.</summary>
    public readonly string? ToStringOrNull() => _hasValue ? new string(Span) : null;

    /// <summary>A new string with the value ("" when there is none).</summary>
    public override readonly string ToString() => _hasValue ? new string(Span) : "";
}
