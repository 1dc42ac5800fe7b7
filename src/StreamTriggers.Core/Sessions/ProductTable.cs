using System.Collections.Concurrent;
using StreamTriggers.Decoding;

namespace StreamTriggers.Sessions;

/// <summary>
/// One instance per distinct product description among the sessions of one or more engines. Every view or cart event
/// (and every session read back from the store) decodes its products afresh; a session keeps them for as long as it
/// is open, so without this each held product (an object and its strings, a few hundred bytes) outlives the event and
/// is copied by the garbage collector into the older generations: the largest part of what the live worker's
/// collections promote. Popular products are shared by many sessions, so the session keeps the table's instance and
/// the event's copy dies young.
/// </summary>
/// <remarks>
/// <para>
/// A product whose description changed (a new price) replaces the old one; sessions holding the old instance keep
/// it, so nothing a session saw changes. The table forgets everything once it has taken <c>capacity</c> products
/// (the sessions keep theirs): bounded memory, with the popular products back after a few events.
/// </para>
/// <para>
/// Thread-safe: the live worker shares one table among its partitions (a catalogue is the same on every partition;
/// a table each held every popular product once per partition). A product the table takes keeps one instance of
/// each distinct category, brand and currency (a catalogue has few of them, and each decoded event brings its own
/// copies), so a product held is about three objects, not six.
/// </para>
/// </remarks>
public sealed class ProductTable(int capacity)
{
    private const int MaxPooledValues = 10_000;

    private readonly ConcurrentDictionary<string, ProductInfo> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _values = new(StringComparer.Ordinal);
    private int _taken;
    private int _pooled;

    /// <summary>The table's instance equal to <paramref name="product"/> (all fields), or the product itself, now the table's.</summary>
    public ProductInfo Canonical(ProductInfo product)
    {
        if (_byId.TryGetValue(product.Id, out var known) && known.Equals(product))
        {
            return known;
        }

        if (known is null && Interlocked.Increment(ref _taken) > capacity)
        {
            // Rare and racy by design: a concurrent add may survive the clear, which only costs sharing.
            _byId.Clear();
            Volatile.Write(ref _taken, 1);
        }

        var held = product.Category is null && product.Brand is null && product.Currency is null
            ? product
            : product with { Category = Pooled(product.Category), Brand = Pooled(product.Brand), Currency = Pooled(product.Currency) };
        _byId[product.Id] = held;
        return held;
    }

    public int Count => _byId.Count;

    /// <summary>The table's product with this id, looked up without a string for it.</summary>
    public bool TryFind(ReadOnlySpan<char> id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ProductInfo? product) =>
        _byId.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(id, out product);

    private string? Pooled(string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (_values.TryGetValue(value, out var held))
        {
            return held;
        }

        if (Interlocked.Increment(ref _pooled) > MaxPooledValues)
        {
            _values.Clear();
            Volatile.Write(ref _pooled, 1);
        }

        return _values.GetOrAdd(value, value);
    }
}
