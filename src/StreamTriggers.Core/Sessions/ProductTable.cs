using StreamTriggers.Decoding;

namespace StreamTriggers.Sessions;

/// <summary>
/// One instance per distinct product description among the sessions an engine holds. Every view or cart event
/// decodes its products afresh; a session keeps them for as long as it is open, so without this each held product
/// (an object and its strings, a few hundred bytes) outlives the event and is copied by the garbage collector into
/// the older generations: the largest part of what the live worker's collections promote. Popular products are
/// shared by many sessions, so the session keeps the table's instance and the event's copy dies young.
/// </summary>
/// <remarks>
/// A product whose description changed (a new price) replaces the old one; sessions holding the old instance keep
/// it, so nothing a session saw changes. The table forgets everything once it holds <c>capacity</c> products (the
/// sessions keep theirs): bounded memory, with the popular products back after a few events.
/// </remarks>
internal sealed class ProductTable(int capacity)
{
    private readonly Dictionary<string, ProductInfo> _byId = new(StringComparer.Ordinal);

    /// <summary>The table's instance equal to <paramref name="product"/> (all fields), or the product itself, now the table's.</summary>
    public ProductInfo Canonical(ProductInfo product)
    {
        if (_byId.TryGetValue(product.Id, out var known) && known.Equals(product))
        {
            return known;
        }

        if (_byId.Count >= capacity && known is null)
        {
            _byId.Clear();
        }

        _byId[product.Id] = product;
        return product;
    }

    public int Count => _byId.Count;
}
