using System.Text;
using StreamTriggers.Time;

namespace StreamTriggers.Tests.Time;

public class UnixTimeTests
{
    // Expected values computed independently with Python's datetime.
    [Theory]
    [InlineData("2026-11-23T10:15:30.123+01:00", 1795425330123)]
    [InlineData("2026-11-23T09:15:30.123Z", 1795425330123)]
    [InlineData("2026-11-23t09:15:30.123z", 1795425330123)]
    [InlineData("2026-11-23 09:15:30.123Z", 1795425330123)]
    [InlineData("2026-11-23T09:15:30.123456789Z", 1795425330123)]
    [InlineData("2026-11-23T09:15:30.1Z", 1795425330100)]
    [InlineData("2026-11-23T04:15:30.123-05:00", 1795425330123)]
    [InlineData("2024-02-29T23:59:59.999Z", 1709251199999)]
    [InlineData("2024-02-29T23:59:60Z", 1709251199999)]
    public void Rfc3339_ParsesToUnixMilliseconds(string text, long expected)
    {
        Assert.True(UnixTime.TryParseRfc3339(Encoding.ASCII.GetBytes(text), out long ms));
        Assert.Equal(expected, ms);
    }

    [Theory]
    [InlineData("2026-11-23T09:15:30")]          // no offset: zone would be a guess
    [InlineData("2026-11-23T09:15:30.Z")]
    [InlineData("2026-11-23T09:15:30.1234567890Z")]
    [InlineData("2026-02-29T09:15:30Z")]         // 2026 is not a leap year
    [InlineData("2026-13-01T09:15:30Z")]
    [InlineData("2026-11-23T24:00:00Z")]
    [InlineData("2026-11-23T09:60:00Z")]
    [InlineData("2026-11-23T09:15:30+0100")]
    [InlineData("2026-11-23T09:15:30Zjunk")]
    [InlineData("23/11/2026 09:15")]
    [InlineData("")]
    public void Rfc3339_RejectsWhatIsNotAnRfc3339Time(string text)
    {
        Assert.False(UnixTime.TryParseRfc3339(Encoding.ASCII.GetBytes(text), out _));
    }

    [Fact]
    public void Rees46Time_Parses()
    {
        Assert.True(UnixTime.TryParseRees46("2019-10-01 02:50:00 UTC"u8, out long ms));
        Assert.Equal(1569898200000, ms);
        Assert.False(UnixTime.TryParseRees46("2019-10-01 02:50:00"u8, out _));
    }

    [Fact]
    public void Format_IsTheContractFormat()
    {
        Assert.Equal("2026-11-23T09:15:30.123Z", UnixTime.Format(1795425330123));
        Assert.Equal("2024-02-29T23:59:59.999Z", UnixTime.Format(1709251199999));
        Assert.Equal("1970-01-01T00:00:00.000Z", UnixTime.Format(0));
    }
}

public class DurationTests
{
    [Theory]
    [InlineData("1500ms", 1500)]
    [InlineData("30s", 30_000)]
    [InlineData("30m", 1_800_000)]
    [InlineData("24h", 86_400_000)]
    [InlineData("7d", 604_800_000)]
    [InlineData("1.5s", 1500)]
    [InlineData("0s", 0)]
    [InlineData("00:30:00", 1_800_000)]
    [InlineData(" 2H ", 7_200_000)]
    public void Parses(string text, long expectedMs)
    {
        Assert.True(Duration.TryParse(text, out var value));
        Assert.Equal(expectedMs, (long)value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("30")]
    [InlineData("m")]
    [InlineData("-5m")]
    [InlineData("5 weeks")]
    [InlineData("5y")]
    [InlineData("")]
    [InlineData(null)]
    public void RejectsWhatIsNotADuration(string? text)
    {
        Assert.False(Duration.TryParse(text, out _));
    }

    [Theory]
    [InlineData(1500, "1500ms")]
    [InlineData(30_000, "30s")]
    [InlineData(1_800_000, "30m")]
    [InlineData(86_400_000, "1d")]
    [InlineData(0, "0s")]
    public void Formats_InTheShortestExactUnit(long ms, string expected)
    {
        Assert.Equal(expected, Duration.Format(TimeSpan.FromMilliseconds(ms)));
    }
}
