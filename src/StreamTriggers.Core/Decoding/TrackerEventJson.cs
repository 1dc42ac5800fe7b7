using System.Text.Json;
using StreamTriggers.Time;

namespace StreamTriggers.Decoding;

/// <summary>Writes an event in the canonical input format: what a well-behaved tracker sends.</summary>
public static class TrackerEventJson
{
    public static void Write(Utf8JsonWriter w, TrackerEvent ev)
    {
        w.WriteStartObject();
        if (ev.EventId is not null) w.WriteString("event_id"u8, ev.EventId);
        w.WriteString("type"u8, EventNames.Canonical(ev.Type));
        Span<byte> time = stackalloc byte[24];
        UnixTime.Format(ev.TimestampMs, time);
        w.WriteString("timestamp"u8, time);
        w.WriteString("session_id"u8, ev.SessionId);
        if (ev.UserId is not null) w.WriteString("user_id"u8, ev.UserId);
        if (ev.Email is not null) w.WriteString("email"u8, ev.Email);
        if (ev.Products.Count == 1)
        {
            w.WritePropertyName("product"u8);
            WriteProduct(w, ev.Products[0]);
        }
        else if (ev.Products.Count > 1)
        {
            w.WriteStartArray("products"u8);
            foreach (var p in ev.Products) WriteProduct(w, p);
            w.WriteEndArray();
        }

        if (ev.OrderId is not null || ev.OrderTotal is not null)
        {
            w.WriteStartObject("order"u8);
            if (ev.OrderId is not null) w.WriteString("id"u8, ev.OrderId);
            if (ev.OrderTotal is { } total) w.WriteNumber("total"u8, total);
            if (ev.Currency is not null) w.WriteString("currency"u8, ev.Currency);
            w.WriteEndObject();
        }

        if (ev.TimeZone is not null || ev.Locale is not null)
        {
            w.WriteStartObject("context"u8);
            if (ev.TimeZone is not null) w.WriteString("timezone"u8, ev.TimeZone);
            if (ev.Locale is not null) w.WriteString("locale"u8, ev.Locale);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteProduct(Utf8JsonWriter w, ProductInfo p)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, p.Id);
        if (p.Sku is not null) w.WriteString("sku"u8, p.Sku);
        if (p.Name is not null) w.WriteString("name"u8, p.Name);
        if (p.Category is not null) w.WriteString("category"u8, p.Category);
        if (p.Brand is not null) w.WriteString("brand"u8, p.Brand);
        if (p.Price is { } price) w.WriteNumber("price"u8, price);
        if (p.Currency is not null) w.WriteString("currency"u8, p.Currency);
        if (p.Quantity != 1) w.WriteNumber("quantity"u8, p.Quantity);
        if (p.ReplenishDays is { } days) w.WriteNumber("replenish_days"u8, days);
        w.WriteEndObject();
    }
}
