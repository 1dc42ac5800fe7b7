using System.Diagnostics;

namespace StreamTriggers.Worker.Replay;

/// <summary>
/// A live one-line progress display on stderr for long replays: bytes and share of the file, events, rate, triggers.
/// Shown only when stderr is a terminal, and redrawn at most four times a second.
/// </summary>
internal sealed class ProgressLine : IDisposable
{
    private readonly long? _totalBytes;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDrawMs = -1000;
    private bool _drawn;

    private ProgressLine(long? totalBytes) => _totalBytes = totalBytes;

    public static ProgressLine? StartIfTerminal(long? totalBytes) => Console.IsErrorRedirected ? null : new ProgressLine(totalBytes);

    public void Report(long bytes, long events, long triggers)
    {
        long now = _clock.ElapsedMilliseconds;
        if (now - _lastDrawMs < 250)
        {
            return;
        }

        _lastDrawMs = now;
        double seconds = Math.Max(now / 1000.0, 0.001);
        string share = _totalBytes is > 0 ? $" {100.0 * bytes / _totalBytes.Value,5:N1}%" : string.Empty;
        string bar = _totalBytes is > 0 ? " " + Bar((double)bytes / _totalBytes.Value, 24) : string.Empty;
        Console.Error.Write($"\r{bar}{share} {bytes / 1048576.0,8:N1} MiB {events,13:N0} events {events / seconds,11:N0} ev/s {triggers,10:N0} triggers ");
        _drawn = true;
    }

    public void Finish()
    {
        if (_drawn)
        {
            Console.Error.Write("\r" + new string(' ', 110) + "\r");
            _drawn = false;
        }
    }

    public void Dispose() => Finish();

    private static string Bar(double fraction, int width)
    {
        int filled = (int)Math.Clamp(Math.Round(fraction * width), 0, width);
        return "[" + new string('#', filled) + new string('.', width - filled) + "]";
    }
}
