using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using StreamTriggers.Time;

namespace StreamTriggers.Decoding;

/// <summary>
/// Decodes one input event from UTF-8 JSON with a forward-only <see cref="Utf8JsonReader"/> (no DOM per event).
/// Every failure is a <see cref="Rejection"/> naming the reason and the field; decoding never throws.
/// </summary>
/// <remarks>
/// Accepted field names: <c>type</c> (or, for Segment's envelope, <c>type:"track"</c> with <c>event</c>; also
/// <c>event</c> / <c>event_name</c> alone), <c>timestamp</c> (RFC 3339 string, or integer Unix milliseconds),
/// <c>session_id</c>, <c>event_id</c> (or <c>messageId</c>), <c>user_id</c> (or <c>userId</c>), <c>email</c>,
/// <c>product</c>, <c>products</c> (or <c>items</c>), <c>order</c>, <c>context</c>. Unknown fields are skipped.
/// </remarks>
public sealed class JsonEventDecoder
{
    private readonly DecoderLimits _limits;
    private readonly JsonReaderOptions _readerOptions;
    private readonly Sessions.ProductTable? _products;

    /// <param name="limits">Size limits; the defaults when null.</param>
    /// <param name="products">
    /// The table of products the sessions hold: a decoded product equal in every field to the table's product with its
    /// id is that instance, with no string or object read for it (most events are about products seen before).
    /// </param>
    public JsonEventDecoder(DecoderLimits? limits = null, Sessions.ProductTable? products = null)
    {
        _limits = limits ?? new DecoderLimits();
        _products = products;
        _readerOptions = new JsonReaderOptions { MaxDepth = _limits.MaxDepth, CommentHandling = JsonCommentHandling.Disallow };
    }

    public DecoderLimits Limits => _limits;

    // Events handed back by the caller (Recycle), decoded into again.
    private readonly Stack<TrackerEvent> _spares = new();
    private const int MaxSpares = 256;

    /// <summary>
    /// Hands back an event this decoder returned, once nothing refers to it any more: the next decode fills it in
    /// again instead of allocating one (the live worker decodes an event, applies it and is done with it). The caller
    /// must not use it afterwards. Not thread-safe, as decoding is not.
    /// </summary>
    public void Recycle(TrackerEvent ev)
    {
        ArgumentNullException.ThrowIfNull(ev);
        if (_spares.Count < MaxSpares)
        {
            ev.Clear();
            _spares.Push(ev);
        }
    }

    /// <summary>
    /// Keep only the hash of each event id (<see cref="TrackerEvent.EventIdHash"/>), not its string: what the session
    /// engine's deduplication reads. Off by default (replay and tools see the ids).
    /// </summary>
    public bool HashEventIds { get; init; }

    /// <summary>
    /// Whether the caller holds the session with this id: <see cref="PeekSessionId(ReadOnlySpan{byte}, out bool)"/>
    /// then reads no string for it (most events belong to sessions the partition holds, which need no read).
    /// </summary>
    public Func<ReadOnlySpan<char>, bool>? HeldSessions { get; init; }

    public bool TryDecode(ReadOnlySpan<byte> utf8, out TrackerEvent? ev, out Rejection rejection)
    {
        ev = null;
        if (utf8.Length > _limits.MaxEventBytes)
        {
            rejection = new(RejectReason.EventTooLarge, $"{utf8.Length} bytes; the limit is {_limits.MaxEventBytes}");
            return false;
        }

        var reader = new Utf8JsonReader(utf8, _readerOptions);
        var fields = new Fields();
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                rejection = new(RejectReason.MalformedJson, "an event must be a JSON object");
                return false;
            }

            if (!ReadTopLevel(ref reader, ref fields, out rejection))
            {
                return false;
            }

            if (reader.Read())
            {
                rejection = new(RejectReason.MalformedJson, "content after the event object");
                return false;
            }
        }
        catch (JsonException ex)
        {
            rejection = new(RejectReason.MalformedJson, Trim(ex.Message));
            return false;
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader validates string contents lazily: invalid UTF-8 surfaces when a string is read.
            rejection = new(RejectReason.MalformedJson, Trim(ex.Message));
            return false;
        }

        return TryBuild(ref fields, out ev, out rejection);
    }

    /// <summary>
    /// Reads only the event's session id, without decoding the rest: whenever <see cref="TryDecode"/> accepts these
    /// bytes, this returns the same id as its event's <see cref="TrackerEvent.SessionId"/>. Null when there is none to
    /// read (the event would then be rejected); an id can also come back for an event <see cref="TryDecode"/> rejects
    /// for another reason.
    /// </summary>
    /// <remarks>
    /// It reads the top level as <see cref="TryDecode"/> does, skipping every other value, and reads
    /// <c>session_id</c> (or <c>sessionId</c>) with the same method, the last one winning; so where the full decode
    /// succeeds, both saw the same tokens and the same assignments. Used to find which sessions a batch needs from the
    /// store before its events are decoded one at a time, as they are applied.
    /// </remarks>
    public string? PeekSessionId(ReadOnlySpan<byte> utf8) => PeekSessionId(utf8, askHeld: false, out _);

    /// <summary>
    /// <see cref="PeekSessionId(ReadOnlySpan{byte})"/>, but for a session the caller holds (<see cref="HeldSessions"/>
    /// says so) no string: null, and <paramref name="held"/> true. A held session needs no read, and no second lookup
    /// to say so.
    /// </summary>
    public string? PeekSessionId(ReadOnlySpan<byte> utf8, out bool held) => PeekSessionId(utf8, askHeld: true, out held);

    private string? PeekSessionId(ReadOnlySpan<byte> utf8, bool askHeld, out bool held)
    {
        held = false;
        if (utf8.Length > _limits.MaxEventBytes)
        {
            return null;
        }

        var reader = new Utf8JsonReader(utf8, _readerOptions);
        string? id = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = PropertyName(ref reader);
                reader.Read();
                if (name.SequenceEqual("session_id"u8) || name.SequenceEqual("sessionId"u8))
                {
                    if (!ReadSessionId(ref reader, askHeld, out id, out _, out held))
                    {
                        return null;
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }

        return id; // ReadSessionId reads null and "" as no id
    }

    private bool ReadTopLevel(ref Utf8JsonReader reader, ref Fields f, out Rejection rejection)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = PropertyName(ref reader);
            reader.Read();
            bool ok = true;
            rejection = default;
            if (name.SequenceEqual("type"u8))
            {
                ok = ReadTypeName(ref reader, "type", ref f.Type, out rejection);
            }
            else if (name.SequenceEqual("event"u8) || name.SequenceEqual("event_name"u8))
            {
                ok = ReadTypeName(ref reader, "event", ref f.Event, out rejection);
            }
            else if (name.SequenceEqual("timestamp"u8))
            {
                ok = ReadTimestamp(ref reader, ref f, out rejection);
            }
            else if (name.SequenceEqual("session_id"u8) || name.SequenceEqual("sessionId"u8))
            {
                ok = ReadSessionId(ref reader, askHeld: false, out f.SessionId, out rejection, out _);
            }
            else if (name.SequenceEqual("event_id"u8) || name.SequenceEqual("messageId"u8))
            {
                if (HashEventIds)
                {
                    ok = CheckId(ref reader, "event_id", out bool present, out rejection);
                    f.EventIdHash = ok && present ? HashToken(ref reader) : 0;
                }
                else
                {
                    ok = ReadId(ref reader, "event_id", out f.EventId, out rejection);
                }
            }
            else if (name.SequenceEqual("user_id"u8) || name.SequenceEqual("userId"u8))
            {
                ok = ReadId(ref reader, "user_id", out f.UserId, out rejection);
            }
            else if (name.SequenceEqual("email"u8))
            {
                ok = ReadString(ref reader, "email", out f.Email, out rejection);
                if (ok && f.Email is not null && (f.Email.IndexOf('@', StringComparison.Ordinal) <= 0 || f.Email.Length < 3))
                {
                    rejection = new(RejectReason.InvalidValue, "email is not an address");
                    ok = false;
                }
            }
            else if (name.SequenceEqual("product"u8))
            {
                if (reader.TokenType != JsonTokenType.Null)
                {
                    ok = ReadProduct(ref reader, ProductFields.Single, out var product, out rejection);
                    if (ok)
                    {
                        f.Product = product;
                    }
                }
            }
            else if (name.SequenceEqual("products"u8) || name.SequenceEqual("items"u8))
            {
                ok = ReadProducts(ref reader, ref f, out rejection);
            }
            else if (name.SequenceEqual("order"u8))
            {
                ok = ReadOrder(ref reader, ref f, out rejection);
            }
            else if (name.SequenceEqual("context"u8))
            {
                ok = ReadContext(ref reader, ref f, out rejection);
            }
            else
            {
                reader.Skip();
            }

            if (!ok)
            {
                return false;
            }
        }

        rejection = default;
        return true;
    }

    private bool TryBuild(ref Fields f, out TrackerEvent? ev, out Rejection rejection)
    {
        ev = null;
        EventType type;
        if (f.Type.Kind == NameKind.Known)
        {
            type = f.Type.Type;
        }
        else if (f.Type.Kind == NameKind.SegmentPage)
        {
            type = EventType.PageViewed;
        }
        else if (f.Type.Kind == NameKind.SegmentIdentify)
        {
            type = EventType.Identified;
        }
        else if (f.Type.Kind is NameKind.None or NameKind.SegmentTrack && f.Event.Kind == NameKind.Known)
        {
            type = f.Event.Type;
        }
        else if (f.Type.Kind == NameKind.Unknown || f.Event.Kind == NameKind.Unknown)
        {
            string raw = f.Type.Kind == NameKind.Unknown ? f.Type.Raw! : f.Event.Raw!;
            rejection = new(RejectReason.UnknownEventType, $"'{raw}' is not a known event name");
            return false;
        }
        else
        {
            rejection = new(RejectReason.MissingType, f.Type.Kind == NameKind.SegmentTrack ? "a track call without 'event'" : "no 'type'");
            return false;
        }

        if (!f.HasTimestamp)
        {
            rejection = new(RejectReason.MissingTimestamp, "no 'timestamp'");
            return false;
        }

        if (string.IsNullOrEmpty(f.SessionId))
        {
            rejection = new(RejectReason.MissingSessionId, "no 'session_id'");
            return false;
        }

        // Most events carry no product or one: no list for them (an event's products die with it).
        IReadOnlyList<ProductInfo> products;
        if (f.Products is { } list)
        {
            if (f.Product is not null)
            {
                list.Insert(0, f.Product);
            }

            products = list;
        }
        else
        {
            products = f.Product is { } single ? new[] { single } : Array.Empty<ProductInfo>();
        }

        if (products.Count > _limits.MaxItems)
        {
            rejection = new(RejectReason.TooManyItems, $"{products.Count} products; the limit is {_limits.MaxItems}");
            return false;
        }

        if (products.Count == 0 && type is EventType.ProductViewed or EventType.ProductAdded or EventType.ProductRemoved)
        {
            rejection = new(RejectReason.MissingProduct, $"{EventNames.Canonical(type)} without 'product'");
            return false;
        }

        ev = (_spares.TryPop(out var spare) ? spare : TrackerEvent.Blank()).Reuse(type, f.TimestampMs, f.SessionId, NullIfEmpty(f.EventId),
            f.EventIdHash, NullIfEmpty(f.UserId), NullIfEmpty(f.Email), products, f.OrderId, f.OrderTotal, f.Currency, f.TimeZone, f.Locale);
        rejection = default;
        return true;
    }

    private static bool ReadTypeName(ref Utf8JsonReader reader, string field, ref EventName name, out Rejection rejection)
    {
        rejection = default;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            rejection = new(RejectReason.WrongFieldType, $"'{field}' must be a string, not {Describe(reader.TokenType)}");
            return false;
        }

        ReadOnlySpan<byte> raw = reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;
        if (EventNames.TryParse(raw, out var type))
        {
            name = new EventName(NameKind.Known, type, null);
        }
        else if (field == "type" && raw.Length <= 8 && Ascii.EqualsIgnoreCase(raw, "track"u8))
        {
            name = new EventName(NameKind.SegmentTrack, default, null);
        }
        else if (field == "type" && (Ascii.EqualsIgnoreCase(raw, "page"u8) || Ascii.EqualsIgnoreCase(raw, "screen"u8)))
        {
            name = new EventName(NameKind.SegmentPage, default, null);
        }
        else if (field == "type" && Ascii.EqualsIgnoreCase(raw, "identify"u8))
        {
            name = new EventName(NameKind.SegmentIdentify, default, null);
        }
        else if (raw.Length == 0)
        {
            name = default;
        }
        else
        {
            name = new EventName(NameKind.Unknown, default, Trim(Encoding.UTF8.GetString(raw[..Math.Min(raw.Length, 64)])));
        }

        return true;
    }

    private static bool ReadTimestamp(ref Utf8JsonReader reader, ref Fields f, out Rejection rejection)
    {
        rejection = default;
        long ms;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.String:
                ReadOnlySpan<byte> raw = reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;
                if (!UnixTime.TryParseRfc3339(raw, out ms))
                {
                    rejection = new(RejectReason.InvalidTimestamp, $"'{Trim(Encoding.UTF8.GetString(raw[..Math.Min(raw.Length, 40)]))}' is not an RFC 3339 time with an offset");
                    return false;
                }

                break;
            case JsonTokenType.Number:
                if (!reader.TryGetInt64(out ms))
                {
                    rejection = new(RejectReason.InvalidTimestamp, "a numeric timestamp must be whole Unix milliseconds");
                    return false;
                }

                break;
            default:
                rejection = new(RejectReason.WrongFieldType, $"'timestamp' must be a string, not {Describe(reader.TokenType)}");
                return false;
        }

        if (ms is < UnixTime.MinAcceptedMs or >= UnixTime.MaxAcceptedMs)
        {
            rejection = new(RejectReason.InvalidTimestamp, $"{ms} ms is outside the accepted years 2000 to 2099");
            return false;
        }

        f.TimestampMs = ms;
        f.HasTimestamp = true;
        return true;
    }

    // Ids may arrive as numbers from some trackers; they are kept as their literal text.
    private bool ReadId(ref Utf8JsonReader reader, string field, out string? value, out Rejection rejection)
    {
        bool ok = CheckId(ref reader, field, out bool present, out rejection);
        value = ok ? ReadToken(ref reader, present) : null;
        return ok;
    }

    private bool ReadString(ref Utf8JsonReader reader, string field, out string? value, out Rejection rejection)
    {
        bool ok = CheckString(ref reader, field, out bool present, out rejection);
        value = ok ? ReadToken(ref reader, present) : null;
        return ok;
    }

    /// <summary>
    /// Checks a string field (type, length) without reading it: <paramref name="present"/> when it holds a non-empty
    /// string (null and "" read as absent). Its UTF-8 is validated when it is read (or compared equal to a string).
    /// </summary>
    private bool CheckString(ref Utf8JsonReader reader, string field, out bool present, out Rejection rejection)
    {
        present = false;
        rejection = default;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            rejection = new(RejectReason.WrongFieldType, $"'{field}' must be a string, not {Describe(reader.TokenType)}");
            return false;
        }

        // The escaped length bounds the unescaped one from above, so a short raw value needs no second look.
        int rawLength = reader.ValueSpan.Length;
        if (rawLength > _limits.MaxStringBytes * 6)
        {
            rejection = new(RejectReason.FieldTooLong, $"'{field}' is {rawLength} bytes; the limit is {_limits.MaxStringBytes}");
            return false;
        }

        if (reader.ValueIsEscaped && rawLength > _limits.MaxStringBytes)
        {
            rawLength = Encoding.UTF8.GetByteCount(reader.GetString()!);
        }

        if (rawLength > _limits.MaxStringBytes)
        {
            rejection = new(RejectReason.FieldTooLong, $"'{field}' is {rawLength} bytes; the limit is {_limits.MaxStringBytes}");
            return false;
        }

        present = rawLength > 0; // an escaped value is never empty
        return true;
    }

    // An id field: a string, or a number taken as its text.
    private bool CheckId(ref Utf8JsonReader reader, string field, out bool present, out Rejection rejection)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            present = true;
            rejection = default;
            return true;
        }

        return CheckString(ref reader, field, out present, out rejection);
    }

    private bool ReadProducts(ref Utf8JsonReader reader, ref Fields f, out Rejection rejection)
    {
        var start = Start(ref reader, JsonTokenType.StartArray, "products", "an array", out rejection);
        if (start != Opened)
        {
            return start == Absent;
        }

        var list = new List<ProductInfo>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (list.Count >= _limits.MaxItems)
            {
                rejection = new(RejectReason.TooManyItems, $"more than {_limits.MaxItems} products");
                return false;
            }

            if (!ReadProduct(ref reader, ProductFields.Array, out var product, out rejection))
            {
                return false;
            }

            list.Add(product!);
        }

        f.Products = list;
        return true;
    }

    // Field paths for rejection details, built once: concatenating them per product read cost an allocation per field.
    private sealed class ProductFields(string field)
    {
        public static readonly ProductFields Single = new("product");
        public static readonly ProductFields Array = new("products[]");

        public string Field { get; } = field;
        public string Id { get; } = field + ".id";
        public string Sku { get; } = field + ".sku";
        public string Name { get; } = field + ".name";
        public string Category { get; } = field + ".category";
        public string Brand { get; } = field + ".brand";
        public string Currency { get; } = field + ".currency";
        public string Price { get; } = field + ".price";
        public string Quantity { get; } = field + ".quantity";
        public string ReplenishDays { get; } = field + ".replenish_days";
    }

    private bool ReadProduct(ref Utf8JsonReader reader, ProductFields fields, out ProductInfo? product, out Rejection rejection)
    {
        string field = fields.Field;
        product = null;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            rejection = new(RejectReason.WrongFieldType, $"'{field}' must be an object, not {Describe(reader.TokenType)}");
            return false;
        }

        // String fields are checked as they come and read at the end, from a copy of the reader at their token:
        // a product equal to the one the product table holds is then taken as it is, without a string read.
        Utf8JsonReader id = default, sku = default, name = default, category = default, brand = default, currency = default;
        bool hasId = false, hasSku = false, hasName = false, hasCategory = false, hasBrand = false, hasCurrency = false;
        decimal? price = null;
        int quantity = 1;
        int? replenishDays = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var prop = PropertyName(ref reader);
            reader.Read();
            bool ok;
            if (prop.SequenceEqual("id"u8) || prop.SequenceEqual("product_id"u8) || prop.SequenceEqual("item_id"u8))
            {
                ok = CheckId(ref reader, fields.Id, out hasId, out rejection);
                id = reader;
            }
            else if (prop.SequenceEqual("sku"u8))
            {
                ok = CheckId(ref reader, fields.Sku, out hasSku, out rejection);
                sku = reader;
            }
            else if (prop.SequenceEqual("name"u8) || prop.SequenceEqual("item_name"u8))
            {
                ok = CheckString(ref reader, fields.Name, out hasName, out rejection);
                name = reader;
            }
            else if (prop.SequenceEqual("category"u8) || prop.SequenceEqual("item_category"u8))
            {
                ok = CheckString(ref reader, fields.Category, out hasCategory, out rejection);
                category = reader;
            }
            else if (prop.SequenceEqual("brand"u8) || prop.SequenceEqual("item_brand"u8))
            {
                ok = CheckString(ref reader, fields.Brand, out hasBrand, out rejection);
                brand = reader;
            }
            else if (prop.SequenceEqual("currency"u8))
            {
                ok = CheckString(ref reader, fields.Currency, out hasCurrency, out rejection);
                currency = reader;
            }
            else if (prop.SequenceEqual("price"u8))
            {
                ok = ReadMoney(ref reader, fields.Price, out price, out rejection);
            }
            else if (prop.SequenceEqual("quantity"u8))
            {
                ok = ReadCount(ref reader, fields.Quantity, 1, _limits.MaxQuantity, out int? q, out rejection);
                quantity = q ?? 1;
            }
            else if (prop.SequenceEqual("replenish_days"u8))
            {
                ok = ReadCount(ref reader, fields.ReplenishDays, 1, 3650, out replenishDays, out rejection);
            }
            else
            {
                reader.Skip();
                ok = true;
                rejection = default;
            }

            if (!ok)
            {
                return false;
            }
        }

        if (!hasId)
        {
            rejection = new(RejectReason.MissingProduct, $"'{field}' has no 'id'");
            return false;
        }

        rejection = default;
        if (TryFindProduct(ref id, out var known)
            && known.Price == price && known.Quantity == quantity && known.ReplenishDays == replenishDays
            && TokenEquals(ref sku, hasSku, known.Sku) && TokenEquals(ref name, hasName, known.Name)
            && TokenEquals(ref category, hasCategory, known.Category) && TokenEquals(ref brand, hasBrand, known.Brand)
            && TokenEquals(ref currency, hasCurrency, known.Currency))
        {
            product = known; // equal in every field: equal tokens were valid UTF-8
            return true;
        }

        product = new ProductInfo
        {
            Id = ReadToken(ref id, hasId)!,
            Sku = ReadToken(ref sku, hasSku),
            Name = ReadToken(ref name, hasName),
            Category = ReadToken(ref category, hasCategory),
            Brand = ReadToken(ref brand, hasBrand),
            Price = price,
            Currency = ReadToken(ref currency, hasCurrency),
            Quantity = quantity,
            ReplenishDays = replenishDays,
        };
        return true;
    }

    // The product table's product with this id, looked up without building the id's string.
    private bool TryFindProduct(ref Utf8JsonReader id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ProductInfo? known)
    {
        known = null;
        Span<char> chars = stackalloc char[MaxTokenChars];
        return _products is not null && TokenChars(ref id, chars, out int written) && _products.TryFind(chars[..written], out known);
    }

    // A session id as ReadId reads it; asked, none for a session the caller holds (held: true, value: null).
    private bool ReadSessionId(ref Utf8JsonReader reader, bool askHeld, out string? value, out Rejection rejection, out bool held)
    {
        value = null;
        held = false;
        if (!CheckId(ref reader, "session_id", out bool present, out rejection))
        {
            return false;
        }

        if (!present)
        {
            return true; // null or "": no session id
        }

        Span<char> chars = stackalloc char[MaxTokenChars];
        held = askHeld && HeldSessions is { } isHeld && TokenChars(ref reader, chars, out int written) && isHeld(chars[..written]);
        value = held ? null : ReadToken(ref reader, present: true);
        return true;
    }

    private static ulong HashToken(ref Utf8JsonReader token)
    {
        Span<char> chars = stackalloc char[MaxTokenChars];
        return TokenChars(ref token, chars, out int written)
            ? Triggers.TriggerId.StableHash(chars[..written])
            : Triggers.TriggerId.StableHash(ReadToken(ref token, present: true)!);
    }

    // Tokens up to this long are read into a stack buffer (ids are short); longer ones as strings.
    private const int MaxTokenChars = 128;

    // A checked string or number token's characters, unescaped, into chars; false when they do not fit. Invalid
    // UTF-8 throws, as reading it as a string does.
    private static bool TokenChars(ref Utf8JsonReader token, scoped Span<char> chars, out int written)
    {
        written = 0;
        var raw = token.ValueSpan;
        if (raw.Length > chars.Length)
        {
            return false;
        }

        if (token.TokenType == JsonTokenType.Number)
        {
            return System.Text.Ascii.ToUtf16(raw, chars, out written) == System.Buffers.OperationStatus.Done;
        }

        written = token.CopyString(chars); // the unescaped value is never longer than the raw one
        return true;
    }

    // A checked field's token equals value (absent: null). A number token (an id) is compared as its text.
    private static bool TokenEquals(ref Utf8JsonReader token, bool present, string? value)
    {
        if (!present || value is null)
        {
            return !present && value is null;
        }

        return token.TokenType == JsonTokenType.Number
            ? System.Text.Ascii.Equals(token.ValueSpan, value)
            : token.ValueTextEquals(value);
    }

    private static string? ReadToken(ref Utf8JsonReader token, bool present) =>
        !present ? null : token.TokenType == JsonTokenType.Number ? Encoding.UTF8.GetString(token.ValueSpan) : token.GetString();

    private bool ReadOrder(ref Utf8JsonReader reader, ref Fields f, out Rejection rejection)
    {
        var start = Start(ref reader, JsonTokenType.StartObject, "order", "an object", out rejection);
        if (start != Opened)
        {
            return start == Absent;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var prop = PropertyName(ref reader);
            reader.Read();
            bool ok = true;
            if (prop.SequenceEqual("id"u8) || prop.SequenceEqual("order_id"u8))
            {
                ok = ReadId(ref reader, "order.id", out f.OrderId, out rejection);
            }
            else if (prop.SequenceEqual("total"u8) || prop.SequenceEqual("revenue"u8) || prop.SequenceEqual("value"u8))
            {
                ok = ReadMoney(ref reader, "order.total", out f.OrderTotal, out rejection);
            }
            else if (prop.SequenceEqual("currency"u8))
            {
                ok = ReadString(ref reader, "order.currency", out f.Currency, out rejection);
            }
            else
            {
                reader.Skip();
            }

            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private bool ReadContext(ref Utf8JsonReader reader, ref Fields f, out Rejection rejection)
    {
        var start = Start(ref reader, JsonTokenType.StartObject, "context", "an object", out rejection);
        if (start != Opened)
        {
            return start == Absent;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var prop = PropertyName(ref reader);
            reader.Read();
            bool ok = true;
            if (prop.SequenceEqual("timezone"u8))
            {
                ok = ReadString(ref reader, "context.timezone", out f.TimeZone, out rejection);
            }
            else if (prop.SequenceEqual("locale"u8))
            {
                ok = ReadString(ref reader, "context.locale", out f.Locale, out rejection);
            }
            else
            {
                reader.Skip();
            }

            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool ReadMoney(ref Utf8JsonReader reader, string field, out decimal? value, out Rejection rejection)
    {
        value = null;
        rejection = default;
        decimal d;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.Number when reader.TryGetDecimal(out d):
                break;
            case JsonTokenType.String when !reader.ValueIsEscaped && Utf8Parser.TryParse(reader.ValueSpan, out d, out int used) && used == reader.ValueSpan.Length:
                break;
            case JsonTokenType.Number:
            case JsonTokenType.String:
                rejection = new(RejectReason.InvalidValue, $"'{field}' is not a decimal amount");
                return false;
            default:
                rejection = new(RejectReason.WrongFieldType, $"'{field}' must be a number, not {Describe(reader.TokenType)}");
                return false;
        }

        if (d < 0 || d > 1_000_000_000_000m)
        {
            rejection = new(RejectReason.InvalidValue, $"'{field}' is {d}; it must be between 0 and 1e12");
            return false;
        }

        value = d;
        return true;
    }

    private static bool ReadCount(ref Utf8JsonReader reader, string field, int min, int max, out int? value, out Rejection rejection)
    {
        value = null;
        rejection = default;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.Number)
        {
            rejection = new(RejectReason.WrongFieldType, $"'{field}' must be a number, not {Describe(reader.TokenType)}");
            return false;
        }

        if (!reader.TryGetInt32(out int v) || v < min || v > max)
        {
            rejection = new(RejectReason.InvalidValue, $"'{field}' must be a whole number from {min} to {max}");
            return false;
        }

        value = v;
        return true;
    }

    // Property names are compared as raw UTF-8; an escaped name (rare) is unescaped into a new array.
    private static ReadOnlySpan<byte> PropertyName(ref Utf8JsonReader reader) =>
        reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;

    private const int Absent = 0;
    private const int Opened = 1;
    private const int Wrong = 2;

    // An optional object or array field: null means absent; anything but the expected container is a wrong type.
    private static int Start(ref Utf8JsonReader reader, JsonTokenType expected, string field, string kind, out Rejection rejection)
    {
        rejection = default;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return Absent;
        }

        if (reader.TokenType != expected)
        {
            rejection = new(RejectReason.WrongFieldType, $"'{field}' must be {kind}, not {Describe(reader.TokenType)}");
            return Wrong;
        }

        return Opened;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private static string Trim(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            sb.Append(char.IsControl(c) ? ' ' : c);
        }

        return sb.Length > 200 ? sb.ToString(0, 200) : sb.ToString();
    }

    private enum NameKind : byte
    {
        None,
        Known,
        Unknown,
        SegmentTrack,
        SegmentPage,
        SegmentIdentify,
    }

    private record struct EventName(NameKind Kind, EventType Type, string? Raw);

    // Mutable scratch for one decode; a struct on the stack, passed by ref.
    private struct Fields
    {
        public EventName Type;
        public EventName Event;
        public long TimestampMs;
        public bool HasTimestamp;
        public string? SessionId;
        public string? EventId;
        public ulong EventIdHash;
        public string? UserId;
        public string? Email;
        public ProductInfo? Product;
        public List<ProductInfo>? Products;
        public string? OrderId;
        public decimal? OrderTotal;
        public string? Currency;
        public string? TimeZone;
        public string? Locale;
    }
}
