using System.Text;
using StreamTriggers.Decoding;

namespace StreamTriggers.Tests.Decoding;

public class Rees46CsvDecoderTests
{
    private static readonly Rees46CsvDecoder Decoder = new();

    [Fact]
    public void ViewRow_DecodesToProductViewed()
    {
        // First data row of rees46_2019-10-01_head.csv.
        Assert.True(Decoder.TryDecode("2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c"u8, out var ev, out _));

        Assert.Equal(EventType.ProductViewed, ev!.Type);
        Assert.Equal(1569888000000, ev.TimestampMs);
        Assert.Equal("72d76fde-8bb3-4e00-8c23-a032dfed738c", ev.SessionId);
        Assert.Equal("541312140", ev.UserId);
        var p = Assert.Single(ev.Products);
        Assert.Equal("44600062", p.Id);
        Assert.Equal("2103807459595387724", p.Category);
        Assert.Equal("shiseido", p.Brand);
        Assert.Equal(35.79m, p.Price);
    }

    [Theory]
    [InlineData("cart", EventType.ProductAdded)]
    [InlineData("remove_from_cart", EventType.ProductRemoved)]
    [InlineData("purchase", EventType.OrderCompleted)]
    public void EventTypes_Map(string type, EventType expected)
    {
        Assert.True(Decoder.TryDecode(Encoding.UTF8.GetBytes($"2019-10-01 00:00:00 UTC,{type},1,2,electronics.smartphone,apple,10.5,3,s1\r"), out var ev, out _));

        Assert.Equal(expected, ev!.Type);
        Assert.Equal("electronics.smartphone", ev.Products[0].Category);
        Assert.Equal("s1", ev.SessionId);
    }

    [Theory]
    [InlineData("2019-10-01 00:00:00 UTC,view,1,2,,,1.0,3", RejectReason.MalformedCsv)]
    [InlineData("2019-10-01 00:00:00 UTC,view,1,2,,,1.0,3,s1,extra", RejectReason.MalformedCsv)]
    [InlineData("2019-10-01 00:00:00 UTC,view,1,2,\"a,b\",,1.0,3,s1", RejectReason.MalformedCsv)]
    [InlineData(",view,1,2,,,1.0,3,s1", RejectReason.MissingTimestamp)]
    [InlineData("01/10/2019,view,1,2,,,1.0,3,s1", RejectReason.InvalidTimestamp)]
    [InlineData("1990-10-01 00:00:00 UTC,view,1,2,,,1.0,3,s1", RejectReason.InvalidTimestamp)]
    [InlineData("2019-10-01 00:00:00 UTC,,1,2,,,1.0,3,s1", RejectReason.MissingType)]
    [InlineData("2019-10-01 00:00:00 UTC,wishlist,1,2,,,1.0,3,s1", RejectReason.UnknownEventType)]
    [InlineData("2019-10-01 00:00:00 UTC,view,1,2,,,1.0,3,", RejectReason.MissingSessionId)]
    [InlineData("2019-10-01 00:00:00 UTC,view,,2,,,1.0,3,s1", RejectReason.MissingProduct)]
    [InlineData("2019-10-01 00:00:00 UTC,view,1,2,,,abc,3,s1", RejectReason.InvalidValue)]
    [InlineData("2019-10-01 00:00:00 UTC,view,1,2,,,-4,3,s1", RejectReason.InvalidValue)]
    public void BadRows_AreRejected(string row, RejectReason reason)
    {
        Assert.False(Decoder.TryDecode(Encoding.UTF8.GetBytes(row), out var ev, out var rejection));
        Assert.Null(ev);
        Assert.Equal(reason, rejection.Reason);
    }

    [Fact]
    public void LongField_IsRejected()
    {
        var decoder = new Rees46CsvDecoder(new DecoderLimits { MaxStringBytes = 16 });
        Assert.False(decoder.TryDecode(Encoding.UTF8.GetBytes($"2019-10-01 00:00:00 UTC,view,1,2,,{new string('b', 17)},1.0,3,s1"), out _, out var rejection));
        Assert.Equal(RejectReason.FieldTooLong, rejection.Reason);
    }

    [Fact]
    public void Header_IsRecognised()
    {
        Assert.True(Rees46CsvDecoder.IsHeader(Encoding.ASCII.GetBytes(Rees46CsvDecoder.Header + "\r")));
        Assert.False(Rees46CsvDecoder.IsHeader("2019-10-01 00:00:00 UTC,view,1,2,,,1.0,3,s1"u8));
    }
}
