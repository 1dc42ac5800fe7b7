using System.Buffers;
using System.Text;
using System.Text.Json;
using StreamTriggers.Buffers;

namespace StreamTriggers.Tests.Buffers;

// The per-thread buffer behind the hot-path encoders: each result is its own right-sized copy.
public class ScratchBufferTests
{
    private static void Fill(int length, IBufferWriter<byte> output)
    {
        var span = output.GetSpan(length)[..length];
        for (int i = 0; i < length; i++) span[i] = (byte)(length + i);
        output.Advance(length);
    }

    [Fact]
    public void EachResult_IsExactlyWhatWasWritten_AndUntouchedByTheNextEncoding()
    {
        var first = ScratchBuffer.Encode(300, Fill);
        var big = ScratchBuffer.Encode(200_000, Fill); // past what a thread keeps: the buffer is dropped after
        var small = ScratchBuffer.Encode(5, Fill);
        var again = ScratchBuffer.Encode(300, Fill);

        Assert.Equal(300, first.Length);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (byte)(300 + i)), first);
        Assert.Equal(200_000, big.Length);
        Assert.Equal(unchecked((byte)(200_000 + 199_999)), big[^1]);
        Assert.Equal([5, 6, 7, 8, 9], small);
        Assert.Equal(first, again);
        Assert.NotSame(first, again);
    }

    [Fact]
    public void Json_WritesWithTheGivenOptions_AsBytesOrString()
    {
        var relaxed = new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        static void Write(Utf8JsonWriter w, string v)
        {
            w.WriteStartObject();
            w.WriteString("v", v);
            w.WriteEndObject();
        }

        Assert.Equal("{\"v\":\"a<b\"}", Encoding.UTF8.GetString(ScratchBuffer.Json("a<b", relaxed, Write)));
        Assert.Equal("{\"v\":\"a\\u003Cb\"}", ScratchBuffer.JsonString("a<b", default, Write));
    }

    [Fact]
    public async Task Threads_EncodingAtOnce_DoNotShareABuffer()
    {
        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(n => Task.Run(() =>
            Enumerable.Range(0, 2_000).Select(i => ScratchBuffer.Encode(n * 10 + (i % 7), Fill)).ToList())));

        for (int n = 1; n <= 8; n++)
        {
            var list = results[n - 1];
            for (int i = 0; i < list.Count; i++)
            {
                int length = n * 10 + (i % 7);
                Assert.Equal(Enumerable.Range(0, length).Select(k => (byte)(length + k)), list[i]);
            }
        }
    }
}
