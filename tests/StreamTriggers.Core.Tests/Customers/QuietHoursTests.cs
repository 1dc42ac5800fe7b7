using StreamTriggers.Customers;
using StreamTriggers.Time;

namespace StreamTriggers.Tests.Customers;

public class QuietHoursTests
{
    private static readonly TimeZoneInfo Paris = TimeZones.Find("Europe/Paris")!;

    private static long Utc(int y, int mo, int d, int h, int mi) => UnixTime.FromDateTime(new DateTime(y, mo, d, h, mi, 0, DateTimeKind.Utc));

    [Theory]
    [InlineData(20, 59, true)]  // 21:59 local (CET, UTC+1)
    [InlineData(19, 59, false)] // 20:59 local
    [InlineData(6, 59, true)]   // 07:59 local
    [InlineData(7, 0, false)]   // 08:00 local: over
    public void Contains_IsInLocalTime(int utcHour, int minute, bool quietThen)
    {
        var quiet = new QuietHours(new TimeOnly(21, 0), new TimeOnly(8, 0));

        Assert.Equal(quietThen, quiet.Contains(Utc(2026, 11, 23, utcHour, minute), Paris));
    }

    [Fact]
    public void ReleaseAt_IsTheEndOfTheQuietPeriod_TheSameNightOrTheNextMorning()
    {
        var quiet = new QuietHours(new TimeOnly(21, 0), new TimeOnly(8, 0));

        Assert.Equal(Utc(2026, 11, 24, 7, 0), quiet.ReleaseAt(Utc(2026, 11, 23, 21, 30), Paris)); // 22:30 local, before midnight
        Assert.Equal(Utc(2026, 11, 24, 7, 0), quiet.ReleaseAt(Utc(2026, 11, 24, 1, 0), Paris));   // 02:00 local, after midnight
        Assert.Equal(Utc(2026, 11, 24, 12, 0), quiet.ReleaseAt(Utc(2026, 11, 24, 12, 0), Paris)); // not quiet: at once
    }

    [Fact]
    public void ReleaseAt_AnEndInsideTheSpringForwardGap_MovesToTheFirstValidLocalTime()
    {
        // 2026-03-29 02:00 -> 03:00 in Paris; 02:30 does not exist that night. First valid: 03:00 CEST = 01:00 UTC.
        var quiet = new QuietHours(new TimeOnly(21, 0), new TimeOnly(2, 30));

        Assert.Equal(Utc(2026, 3, 29, 1, 0), quiet.ReleaseAt(Utc(2026, 3, 28, 22, 0), Paris));
    }

    [Fact]
    public void ReleaseAt_AnEndInsideTheAutumnOverlap_IsItsFirstOccurrence()
    {
        // 2026-10-25 03:00 CEST -> 02:00 CET in Paris: 02:30 happens twice; the first is 00:30 UTC.
        var quiet = new QuietHours(new TimeOnly(21, 0), new TimeOnly(2, 30));

        Assert.Equal(Utc(2026, 10, 25, 0, 30), quiet.ReleaseAt(Utc(2026, 10, 24, 22, 0), Paris));
    }

    [Fact]
    public void StartEqualToEnd_TurnsQuietHoursOff()
    {
        var quiet = new QuietHours(new TimeOnly(8, 0), new TimeOnly(8, 0));

        Assert.False(quiet.Enabled);
        Assert.False(quiet.Contains(Utc(2026, 11, 23, 2, 0), Paris));
    }

    [Fact]
    public void AWindowWithinOneDay_IsSupported()
    {
        var quiet = new QuietHours(new TimeOnly(12, 0), new TimeOnly(14, 0));

        Assert.True(quiet.Contains(Utc(2026, 11, 23, 12, 0), Paris));   // 13:00 local
        Assert.False(quiet.Contains(Utc(2026, 11, 23, 13, 0), Paris));  // 14:00 local
        Assert.Equal(Utc(2026, 11, 23, 13, 0), quiet.ReleaseAt(Utc(2026, 11, 23, 11, 30), Paris));
    }
}
