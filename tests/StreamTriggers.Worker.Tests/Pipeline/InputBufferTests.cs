using System.Buffers;
using System.Text;
using Confluent.Kafka;
using StreamTriggers.Worker.Pipeline;
using Xunit;

namespace StreamTriggers.Worker.Tests.Pipeline;

/// <summary>
/// The partition's input buffer: queued messages keep their bytes in pooled chunks. A chunk must not go back to the
/// pool while a message in it is unprocessed (its bytes would be overwritten), and must go back once all are.
/// </summary>
public sealed class InputBufferTests
{
    private static readonly TopicPartition Tp = new("clickstream", 3);

    [Fact]
    public void A_copy_keeps_key_value_offset_timestamp_and_only_non_empty_headers()
    {
        var buffer = new InputBuffer(new CountingPool());
        var plain = buffer.Copy(Result(7, "s-1", """{"type":"page_viewed"}""", atMs: 1_700_000_000_123));
        var withHeaders = buffer.Copy(Result(8, "s-2", "{}", headers: [new Header("trace", [1, 2])]));
        var nulls = buffer.Copy(Result(9, key: null, value: null));
        var empty = buffer.Copy(Result(10, key: "", value: ""));

        Assert.Equal(7, plain.Offset);
        Assert.Equal(1_700_000_000_123, plain.Timestamp.UnixTimestampMs);
        Assert.Equal(TimestampType.CreateTime, plain.Timestamp.Type);
        Assert.Equal("""{"type":"page_viewed"}""", Encoding.UTF8.GetString(plain.Value));
        Assert.Equal("s-1", Encoding.UTF8.GetString(plain.KeyCopy()!));
        Assert.Null(plain.Headers); // Confluent.Kafka's empty list is not kept
        Assert.Equal([1, 2], withHeaders.Headers!.Single().GetValueBytes());
        Assert.Equal("{}", Encoding.UTF8.GetString(withHeaders.ValueCopy()!));

        Assert.False(nulls.HasValue);
        Assert.Null(nulls.KeyCopy());
        Assert.Null(nulls.ValueCopy());
        Assert.True(empty.HasValue); // an empty value is not a null one
        Assert.Empty(empty.ValueCopy()!);
        Assert.Empty(empty.KeyCopy()!);
    }

    [Fact]
    public void Messages_across_several_chunks_keep_their_bytes_until_released_then_every_chunk_returns()
    {
        var pool = new CountingPool();
        var buffer = new InputBuffer(pool);
        string filler = new('x', 1000);
        var messages = new List<InputMessage>();
        for (int i = 0; i < 500; i++) // about 500 KB: four chunks
        {
            messages.Add(buffer.Copy(Result(i, $"s-{i}", $"{i}:{filler}")));
        }

        Assert.True(pool.Rented >= 4, $"rented {pool.Rented}");
        Assert.Equal(0, pool.Returned);
        for (int i = 0; i < messages.Count; i++)
        {
            Assert.Equal($"{i}:{filler}", Encoding.UTF8.GetString(messages[i].Value));
            Assert.Equal($"s-{i}", Encoding.UTF8.GetString(messages[i].KeyCopy()!));
        }

        // The first half processed: only chunks whose messages are all released (and that the writer left) return.
        InputBuffer.Release(messages[..250]);
        Assert.InRange(pool.Returned, 1, pool.Rented - 2);
        for (int i = 250; i < messages.Count; i++)
        {
            Assert.Equal($"{i}:{filler}", Encoding.UTF8.GetString(messages[i].Value));
        }

        InputBuffer.Release(messages[250..]);
        Assert.Equal(pool.Rented - 1, pool.Returned); // the writer still holds its current chunk
        buffer.Close();
        Assert.Equal(pool.Rented, pool.Returned);
    }

    [Fact]
    public void A_chunk_whose_slices_are_all_released_is_reused_as_a_later_chunk_with_a_new_array()
    {
        // The chunk objects are reused (an old object, not a young one per 128 KB that every queued message points to);
        // their arrays still go back to the pool and a reused chunk rents a new one.
        var pool = new CountingPool();
        var buffer = new InputBuffer(pool);
        string filler = new('x', 1000);
        var first = new List<InputMessage>();
        for (int i = 0; i < 200; i++) // two chunks: the writer has moved past the first
        {
            first.Add(buffer.Copy(Result(i, $"s-{i}", $"{i}:{filler}")));
        }

        var firstChunk = first[0].ValueSlice.Chunk;
        Assert.NotSame(firstChunk, first[^1].ValueSlice.Chunk);
        InputBuffer.Release(first);
        Assert.Equal(1, pool.Returned);

        var later = new List<InputMessage>();
        for (int i = 0; i < 200; i++) // fills the second chunk and starts more: the first's object is the next one
        {
            later.Add(buffer.Copy(Result(200 + i, $"t-{i}", $"{i}:{filler}")));
        }

        var reused = later.Where(m => ReferenceEquals(m.ValueSlice.Chunk, firstChunk)).ToList();
        Assert.NotEmpty(reused);
        int objects = first.Concat(later).Select(m => m.ValueSlice.Chunk).Distinct(ReferenceEqualityComparer.Instance).Count();
        Assert.Equal(objects + 1, pool.Rented); // the reused object rented a new array
        for (int i = 0; i < later.Count; i++)
        {
            Assert.Equal($"{i}:{filler}", Encoding.UTF8.GetString(later[i].Value));
        }

        InputBuffer.Release(later);
        buffer.Close();
        Assert.Equal(pool.Rented, pool.Returned);
    }

    [Fact]
    public void A_chunk_with_one_unprocessed_message_stays_out_of_the_pool()
    {
        var pool = new CountingPool();
        var buffer = new InputBuffer(pool);
        var first = buffer.Copy(Result(0, "a", "first"));
        var second = buffer.Copy(Result(1, "b", "second"));
        buffer.Close();

        InputBuffer.Release([first]);
        Assert.Equal(0, pool.Returned);
        Assert.Equal("second", Encoding.UTF8.GetString(second.Value));
        InputBuffer.Release([second]);
        Assert.Equal(1, pool.Returned);
        Assert.Throws<InvalidOperationException>(() => InputBuffer.Release([second]));
    }

    [Fact]
    public void A_value_larger_than_a_chunk_gets_its_own_array_outside_the_pool()
    {
        var pool = new CountingPool();
        var buffer = new InputBuffer(pool);
        string big = new('y', InputBuffer.ChunkSize + 10);
        var m = buffer.Copy(Result(0, key: null, big));

        Assert.Equal(0, pool.Rented);
        Assert.Equal(big.Length, m.Value.Length);
        Assert.Equal(big, Encoding.UTF8.GetString(m.Value));
        InputBuffer.Release([m]); // nothing to return, nothing thrown
        Assert.Equal(0, pool.Returned);
    }

    [Fact]
    public void The_consumers_deserializers_write_key_and_value_into_the_buffer_and_a_dropped_message_releases_them()
    {
        // What Confluent.Kafka does per message: the key's and the value's bytes handed to the deserializer in turn.
        var pool = new CountingPool();
        var buffer = new InputBuffer(pool);
        var deserializer = new SliceDeserializer(buffer);
        var context = new SerializationContext(MessageComponentType.Value, "clickstream");
        ConsumeResult<InputSlice, InputSlice> Consumed(long offset, string key, string? value) => new()
        {
            TopicPartitionOffset = new TopicPartitionOffset(Tp, offset),
            Message = new Message<InputSlice, InputSlice>
            {
                Key = deserializer.Deserialize(Encoding.UTF8.GetBytes(key), isNull: false, context),
                Value = value is null ? deserializer.Deserialize(default, isNull: true, context) : deserializer.Deserialize(Encoding.UTF8.GetBytes(value), isNull: false, context),
                Timestamp = new Timestamp(5_000, TimestampType.CreateTime),
                Headers = [],
            },
        };

        var kept = InputBuffer.Take(Consumed(1, "s-1", """{"a":1}"""));
        var dropped = InputBuffer.Take(Consumed(2, "s-2", null));
        buffer.Close();

        Assert.Equal(1, kept.Offset);
        Assert.Equal("""{"a":1}""", Encoding.UTF8.GetString(kept.Value));
        Assert.Equal("s-1", Encoding.UTF8.GetString(kept.KeyCopy()!));
        Assert.False(dropped.HasValue);
        Assert.Equal("s-2", Encoding.UTF8.GetString(dropped.KeyCopy()!));

        InputBuffer.Release(dropped); // its partition was revoked: it holds the chunk no longer
        Assert.Equal(0, pool.Returned);
        InputBuffer.Release([kept]);
        Assert.Equal(1, pool.Returned);
    }

    private static ConsumeResult<byte[]?, byte[]?> Result(long offset, string? key, string? value, long atMs = 1_000, Headers? headers = null) => new()
    {
        TopicPartitionOffset = new TopicPartitionOffset(Tp, offset),
        Message = new Message<byte[]?, byte[]?>
        {
            Key = key is null ? null : Encoding.UTF8.GetBytes(key),
            Value = value is null ? null : Encoding.UTF8.GetBytes(value),
            Timestamp = new Timestamp(atMs, TimestampType.CreateTime),
            Headers = headers ?? [],
        },
    };

    private sealed class CountingPool : ArrayPool<byte>
    {
        private readonly HashSet<byte[]> _out = new(ReferenceEqualityComparer.Instance);

        public int Rented { get; private set; }

        public int Returned { get; private set; }

        public override byte[] Rent(int minimumLength)
        {
            Rented++;
            var a = new byte[minimumLength];
            _out.Add(a);
            return a;
        }

        public override void Return(byte[] array, bool clearArray = false)
        {
            Assert.True(_out.Remove(array), "an array returned twice or never rented");
            Returned++;
        }
    }
}
