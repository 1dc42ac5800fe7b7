using System.Buffers;
using System.Text.Json;

namespace StreamTriggers.Buffers;

/// <summary>
/// One reusable output buffer per thread for encoders whose result is a right-sized array: the encoding grows the
/// thread's buffer once, and each call allocates only its result. Encoders on the hot path (sessions at every commit,
/// the trigger JSON, customer signals) would otherwise allocate a growing buffer per call, several times the size of
/// what they return. Not reentrant: an encoding must not call another through this class.
/// </summary>
internal static class ScratchBuffer
{
    // A buffer that grew past this for one outsized value is dropped rather than kept pinned to the thread.
    private const int KeepAtMost = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _buffer;

    /// <summary>Runs <paramref name="encode"/> into the thread's buffer and returns a copy of what it wrote.</summary>
    public static byte[] Encode<T>(T value, Action<T, IBufferWriter<byte>> encode)
    {
        var buffer = Take();
        encode(value, buffer);
        return Return(buffer).ToArray();
    }

    /// <summary>Writes <paramref name="value"/> as JSON into the thread's buffer and returns a copy of the bytes.</summary>
    public static byte[] Json<T>(T value, JsonWriterOptions options, Action<Utf8JsonWriter, T> write) =>
        JsonSpan(value, options, write).ToArray();

    /// <summary>The same, as a string.</summary>
    public static string JsonString<T>(T value, JsonWriterOptions options, Action<Utf8JsonWriter, T> write) =>
        System.Text.Encoding.UTF8.GetString(JsonSpan(value, options, write));

    private static ReadOnlySpan<byte> JsonSpan<T>(T value, JsonWriterOptions options, Action<Utf8JsonWriter, T> write)
    {
        var buffer = Take();
        var w = Writer(buffer, options);
        try
        {
            write(w, value);
            w.Flush();
        }
        finally
        {
            w.Reset(Stream.Null); // the writer keeps no reference to the buffer between calls
        }

        return Return(buffer);
    }

    // The thread's JSON writers, one per distinct options (the hot paths use two), each kept with the options it was
    // created with (a writer reports normalised options): reset onto the buffer per call instead of a new writer
    // per trigger.
    [ThreadStatic]
    private static List<(JsonWriterOptions Options, Utf8JsonWriter Writer)>? _writers;

    private static Utf8JsonWriter Writer(ArrayBufferWriter<byte> buffer, JsonWriterOptions options)
    {
        var writers = _writers ??= [];
        foreach (var (created, w) in writers)
        {
            if (SameOptions(created, options))
            {
                w.Reset(buffer);
                return w;
            }
        }

        var writer = new Utf8JsonWriter(buffer, options);
        if (writers.Count < 4)
        {
            writers.Add((options, writer));
        }

        return writer;
    }

    private static bool SameOptions(JsonWriterOptions a, JsonWriterOptions b) =>
        ReferenceEquals(a.Encoder, b.Encoder) && a.Indented == b.Indented && a.SkipValidation == b.SkipValidation
        && a.MaxDepth == b.MaxDepth && a.IndentCharacter == b.IndentCharacter && a.IndentSize == b.IndentSize
        && a.NewLine == b.NewLine;

    private static ArrayBufferWriter<byte> Take()
    {
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        return buffer;
    }

    // The written span stays valid until the thread's next call (a dropped buffer is still referenced by the span).
    private static ReadOnlySpan<byte> Return(ArrayBufferWriter<byte> buffer)
    {
        if (buffer.Capacity > KeepAtMost)
        {
            _buffer = null;
        }

        return buffer.WrittenSpan;
    }
}
