using System.Buffers.Text;
using System.Text;
using StreamTriggers.Time;

namespace StreamTriggers.Decoding;

/// <summary>
/// Decodes one row of the REES46 clickstream CSV:
/// <c>event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session</c>.
/// <c>view</c>, <c>cart</c>, <c>remove_from_cart</c> and <c>purchase</c> map onto the canonical events;
/// a purchase row is an order of that one product (several rows of a session make up one order).
/// </summary>
public sealed class Rees46CsvDecoder
{
    public const string Header = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session";

    private const int ColumnCount = 9;
    private readonly DecoderLimits _limits;

    public Rees46CsvDecoder(DecoderLimits? limits = null) => _limits = limits ?? new DecoderLimits();

    public static bool IsHeader(ReadOnlySpan<byte> line) => line.TrimEnd("\r"u8).SequenceEqual(Encoding.ASCII.GetBytes(Header));

    public bool TryDecode(ReadOnlySpan<byte> line, out TrackerEvent? ev, out Rejection rejection)
    {
        ev = null;
        if (line.Length > _limits.MaxEventBytes)
        {
            rejection = new(RejectReason.EventTooLarge, $"{line.Length} bytes; the limit is {_limits.MaxEventBytes}");
            return false;
        }

        line = line.TrimEnd("\r"u8);
        Span<Range> cols = stackalloc Range[ColumnCount + 1];
        int n = SplitColumns(line, cols);
        if (n != ColumnCount)
        {
            rejection = new(RejectReason.MalformedCsv, $"{(n > ColumnCount ? "more than" : "only")} {Math.Min(n, ColumnCount)} columns; expected {ColumnCount} ({Header})");
            return false;
        }

        if (line.IndexOf((byte)'"') >= 0)
        {
            rejection = new(RejectReason.MalformedCsv, "quoted fields are not part of the REES46 format");
            return false;
        }

        var time = line[cols[0]];
        if (time.Length == 0)
        {
            rejection = new(RejectReason.MissingTimestamp, "empty event_time");
            return false;
        }

        if (!UnixTime.TryParseRees46(time, out long ms) && !UnixTime.TryParseRfc3339(time, out ms))
        {
            rejection = new(RejectReason.InvalidTimestamp, $"'{Text(time, 40)}' is not 'YYYY-MM-DD HH:MM:SS UTC'");
            return false;
        }

        if (ms is < UnixTime.MinAcceptedMs or >= UnixTime.MaxAcceptedMs)
        {
            rejection = new(RejectReason.InvalidTimestamp, $"'{Text(time, 40)}' is outside the accepted years 2000 to 2099");
            return false;
        }

        var typeText = line[cols[1]];
        if (typeText.Length == 0)
        {
            rejection = new(RejectReason.MissingType, "empty event_type");
            return false;
        }

        if (!EventNames.TryParse(typeText, out var type))
        {
            rejection = new(RejectReason.UnknownEventType, $"'{Text(typeText, 64)}' is not a known event name");
            return false;
        }

        var session = line[cols[8]];
        if (session.Length == 0)
        {
            rejection = new(RejectReason.MissingSessionId, "empty user_session");
            return false;
        }

        for (int i = 2; i < ColumnCount; i++)
        {
            if (line[cols[i]].Length > _limits.MaxStringBytes)
            {
                rejection = new(RejectReason.FieldTooLong, $"column {i + 1} is {line[cols[i]].Length} bytes; the limit is {_limits.MaxStringBytes}");
                return false;
            }
        }

        decimal? price = null;
        var priceText = line[cols[6]];
        if (priceText.Length > 0)
        {
            if (!Utf8Parser.TryParse(priceText, out decimal p, out int used) || used != priceText.Length || p < 0)
            {
                rejection = new(RejectReason.InvalidValue, $"price '{Text(priceText, 40)}' is not a non-negative decimal");
                return false;
            }

            price = p;
        }

        var productId = line[cols[2]];
        IReadOnlyList<ProductInfo> products = [];
        if (productId.Length > 0)
        {
            var categoryCode = line[cols[4]];
            products =
            [
                new ProductInfo
                {
                    Id = Encoding.UTF8.GetString(productId),
                    Category = categoryCode.Length > 0 ? Encoding.UTF8.GetString(categoryCode) : NullIfEmpty(line[cols[3]]),
                    Brand = NullIfEmpty(line[cols[5]]),
                    Price = price,
                },
            ];
        }
        else if (type is EventType.ProductViewed or EventType.ProductAdded or EventType.ProductRemoved)
        {
            rejection = new(RejectReason.MissingProduct, $"{EventNames.Canonical(type)} without product_id");
            return false;
        }

        string sessionId = Encoding.UTF8.GetString(session);
        ev = new TrackerEvent
        {
            Type = type,
            TimestampMs = ms,
            SessionId = sessionId,
            UserId = NullIfEmpty(line[cols[7]]),
            Products = products,
            // The dataset's own rule: the purchase rows of one session make up one order.
            OrderId = type == EventType.OrderCompleted ? sessionId : null,
            OrderTotal = type == EventType.OrderCompleted ? price : null,
        };
        rejection = default;
        return true;
    }

    private static int SplitColumns(ReadOnlySpan<byte> line, Span<Range> cols)
    {
        int n = 0, start = 0;
        while (n < cols.Length)
        {
            int comma = line[start..].IndexOf((byte)',');
            if (comma < 0)
            {
                cols[n++] = start..line.Length;
                return n;
            }

            cols[n++] = start..(start + comma);
            start += comma + 1;
        }

        return n;
    }

    private static string? NullIfEmpty(ReadOnlySpan<byte> s) => s.Length == 0 ? null : Encoding.UTF8.GetString(s);

    private static string Text(ReadOnlySpan<byte> s, int max) => Encoding.UTF8.GetString(s[..Math.Min(s.Length, max)]);
}
