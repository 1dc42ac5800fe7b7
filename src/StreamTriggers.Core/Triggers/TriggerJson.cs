using System.Text.Encodings.Web;
using System.Text.Json;
using StreamTriggers.Decoding;
using StreamTriggers.Time;

namespace StreamTriggers.Triggers;

/// <summary>
/// Writes a trigger's <c>data</c> object, the contract downstream senders read (DESIGN.md section 5). The live
/// worker wraps the same object in a CloudEvents envelope; <c>replay</c> writes it as one JSON line.
/// </summary>
public static class TriggerJson
{
    /// <summary>Writer options: readable non-ASCII (names, emails), no indentation.</summary>
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = true,
    };

    public static void WriteData(Utf8JsonWriter w, Trigger t)
    {
        w.WriteStartObject();
        w.WriteString("trigger_id"u8, t.Id);
        w.WriteString("type"u8, TriggerTypes.Name(t.Type));
        w.WriteString("session_id"u8, t.SessionId);
        WriteStringOrNull(w, "user_id"u8, t.UserId);
        WriteStringOrNull(w, "email"u8, t.Email);
        WriteTime(w, "deadline"u8, t.DeadlineMs);
        WriteTime(w, "detected_at"u8, t.DetectedAtMs);
        WriteTimeOrNull(w, "last_activity"u8, t.LastActivityMs);
        WriteTimeOrNull(w, "period_start"u8, t.PeriodStartMs);
        w.WriteNumber("period_events"u8, t.PeriodEvents);

        WriteProducts(w, "cart"u8, t.Cart, withQuantity: true);
        w.WriteNumber("cart_value"u8, t.CartValue);
        WriteStringOrNull(w, "currency"u8, t.Currency);
        WriteProducts(w, "products_viewed"u8, t.ProductsViewed, withQuantity: false);
        WriteLifecycle(w, t);
        w.WriteEndObject();
    }

    // Customer and lifecycle context, written only when present: with customer state off (replay --lifecycle off)
    // the object is exactly the session-only contract.
    private static void WriteLifecycle(Utf8JsonWriter w, Trigger t)
    {
        if (t.Segment is not null)
        {
            w.WriteString("segment"u8, t.Segment);
        }

        if (t.LifetimeValue is { } clv)
        {
            w.WriteNumber("lifetime_value"u8, clv);
        }

        if (t.PreviousSegment is not null)
        {
            w.WriteString("previous_segment"u8, t.PreviousSegment);
        }

        if (t.ProductsBought.Count > 0)
        {
            WriteProducts(w, "products_bought"u8, t.ProductsBought, withQuantity: true);
        }

        WriteIfPresent(w, "order_id"u8, t.OrderId);
        WriteIfPresent(w, "revoked_trigger_id"u8, t.RevokedTriggerId);
        if (t.RevokedType is { } revoked)
        {
            w.WriteString("revoked_type"u8, TriggerTypes.Name(revoked));
        }

        WriteIfPresent(w, "refire_of"u8, t.RefireOf);
        if (t.ReleasedAtMs is { } released)
        {
            WriteTime(w, "released_at"u8, released);
        }
    }

    /// <summary>An array of products as in a trigger's <c>cart</c> (with quantities) or <c>products_viewed</c>.</summary>
    public static void WriteProducts(Utf8JsonWriter w, ReadOnlySpan<byte> name, IReadOnlyList<ProductInfo> products, bool withQuantity)
    {
        w.WriteStartArray(name);
        foreach (var p in products)
        {
            WriteProduct(w, p, withQuantity);
        }

        w.WriteEndArray();
    }

    public static void WriteTime(Utf8JsonWriter w, ReadOnlySpan<byte> name, long unixMs)
    {
        Span<byte> buffer = stackalloc byte[24];
        UnixTime.Format(unixMs, buffer);
        w.WriteString(name, buffer);
    }

    private static void WriteTimeOrNull(Utf8JsonWriter w, ReadOnlySpan<byte> name, long unixMs)
    {
        if (unixMs == Trigger.NoTime)
        {
            w.WriteNull(name);
        }
        else
        {
            WriteTime(w, name, unixMs);
        }
    }

    private static void WriteProduct(Utf8JsonWriter w, ProductInfo p, bool withQuantity)
    {
        w.WriteStartObject();
        w.WriteString("product_id"u8, p.Id);
        WriteIfPresent(w, "sku"u8, p.Sku);
        WriteIfPresent(w, "name"u8, p.Name);
        WriteIfPresent(w, "category"u8, p.Category);
        WriteIfPresent(w, "brand"u8, p.Brand);
        if (p.Price is { } price)
        {
            w.WriteNumber("price"u8, price);
        }

        WriteIfPresent(w, "currency"u8, p.Currency);
        if (withQuantity)
        {
            w.WriteNumber("quantity"u8, p.Quantity);
        }

        w.WriteEndObject();
    }

    private static void WriteStringOrNull(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteIfPresent(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }
}
