using System.Text;
using StreamTriggers.Worker.Replay;

namespace StreamTriggers.Worker.Tests.Replay;

public class LineReaderTests
{
    private static List<string> ReadAll(string text, int max, int chunk = int.MaxValue)
    {
        var reader = new LineReader(new ChunkedStream(Encoding.UTF8.GetBytes(text), chunk), max);
        var lines = new List<string>();
        while (reader.TryReadLine(out var line, out long oversize))
        {
            lines.Add(oversize > 0 ? $"<{oversize}>" : Encoding.UTF8.GetString(line));
        }

        return lines;
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(1)]
    [InlineData(7)]
    public void SplitsLines_TrimsCr_DropsBom_KeepsTheLastUnterminatedLine(int chunk)
    {
        Assert.Equal(["a", "", "bc", "d"], ReadAll("\uFEFFa\r\n\nbc\nd", 100, chunk));
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(3)]
    public void OversizeLine_IsSkippedToItsNewline_AndReportedBySize(int chunk)
    {
        string big = new('x', 300_000);
        Assert.Equal(["ok", "<300000>", "after", "<300000>"], ReadAll($"ok\n{big}\nafter\n{big}", 1000, chunk));
    }

    [Fact]
    public void LineExactlyAtTheLimit_IsKept()
    {
        Assert.Equal([new string('y', 1000), "z"], ReadAll(new string('y', 1000) + "\nz\n", 1000));
    }

    /// <summary>Returns at most <c>chunk</c> bytes per read, as pipes and network streams do.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));
    }
}
