using System.Buffers;
using System.Text.Json;
using StreamTriggers.Decoding;
using StreamTriggers.Simulation;

namespace StreamTriggers.Benchmarks;

/// <summary>Synthetic clickstream shaped like the REES46 samples, as JSON lines, built once per benchmark class.</summary>
internal static class Corpus
{
    public static readonly long Start = Time.UnixTime.FromDateTime(new DateTime(2026, 11, 23, 0, 0, 0, DateTimeKind.Utc));

    public static List<TrackerEvent> Events(int count, int concurrentSessions = 20_000)
    {
        var gen = new ClickstreamGenerator(new TrafficShape { ConcurrentSessions = concurrentSessions }, seed: 42, Start);
        var list = new List<TrackerEvent>(count);
        for (int i = 0; i < count; i++) list.Add(gen.Next());
        return list;
    }

    public static byte[][] Json(IEnumerable<TrackerEvent> events)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(buffer);
        var result = new List<byte[]>();
        foreach (var ev in events)
        {
            buffer.ResetWrittenCount();
            writer.Reset(buffer);
            TrackerEventJson.Write(writer, ev);
            writer.Flush();
            result.Add(buffer.WrittenSpan.ToArray());
        }

        return [.. result];
    }

    public static byte[] JsonLines(IEnumerable<TrackerEvent> events)
    {
        using var ms = new MemoryStream();
        foreach (var line in Json(events))
        {
            ms.Write(line);
            ms.WriteByte((byte)'\n');
        }

        return ms.ToArray();
    }
}
