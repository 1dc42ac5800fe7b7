using System.Buffers;
using System.Collections.Concurrent;
using Confluent.Kafka;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>
/// Where queued input messages keep their bytes: pooled chunks the garbage collector never traces or copies.
/// </summary>
/// <remarks>
/// <para>
/// The consume loop reads ahead of the partitions (up to <c>PartitionQueueCapacity</c> messages each), and a message
/// waits in its queue for as long as the partition needs to reach it: under load longer than the time between two
/// gen0 collections. Had its key and value been arrays of their own, every queued message would be traced and copied
/// into the older generations by each collection it waits through. Instead, Confluent.Kafka's deserializers
/// (<see cref="SliceDeserializer"/>) copy the key and value straight from librdkafka's buffer into the current chunk
/// (128 KB, from a pool, in the large-object heap: never copied, its bytes never traced): no array per message at all.
/// The consume loop then queues an <see cref="InputMessage"/>, a struct holding the offset, the timestamp, the two
/// slices and, only when there are any, the headers. Confluent.Kafka's own objects die young.
/// </para>
/// <para>
/// A chunk counts its slices plus one for the writer while it is the current chunk; a partition releases its
/// messages once their batch is processed, and the last release returns the chunk to the pool. A value larger than a
/// chunk gets an array of its own. Single writer (the consume loop's thread, where Confluent.Kafka deserializes),
/// one buffer for all the worker's partitions, each message released by the partition that took it. Messages of a
/// revoked partition are dropped with their references: their chunks never return to the pool, and the collector
/// reclaims them.
/// </para>
/// </remarks>
internal sealed class InputBuffer(ArrayPool<byte>? pool = null)
{
    internal const int ChunkSize = 128 * 1024;

    // Retains up to 256 chunks (32 MB) between bursts; beyond that a chunk is allocated and reclaimed by the GC.
    private static readonly ArrayPool<byte> SharedPool = ArrayPool<byte>.Create(ChunkSize, 256);

    private readonly ArrayPool<byte> _pool = pool ?? SharedPool;
    private readonly ConcurrentQueue<InputChunk> _spare = new(); // chunk objects whose slices are all released
    private InputChunk? _current;

    /// <summary>Copies <paramref name="data"/> into the buffer (writer only).</summary>
    public InputSlice Write(ReadOnlySpan<byte> data, bool isNull)
    {
        if (isNull)
        {
            return InputSlice.Null;
        }

        if (data.Length > ChunkSize)
        {
            return new InputSlice(null, data.ToArray(), 0, data.Length);
        }

        if (_current is null || _current.Used + data.Length > ChunkSize)
        {
            _current?.Release(1); // the writer's reference: the chunk returns to the pool when its slices are done
            _current = _spare.TryDequeue(out var spare) ? spare.Reuse() : new InputChunk(_pool, _spare);
        }

        var chunk = _current;
        chunk.AddReference();
        int start = chunk.Used;
        data.CopyTo(chunk.Array.AsSpan(start));
        chunk.Used += data.Length;
        return new InputSlice(chunk, chunk.Array, start, data.Length);
    }

    /// <summary>A consumed message whose key and value the deserializers wrote into this buffer.</summary>
    public static InputMessage Take(ConsumeResult<InputSlice, InputSlice> result)
    {
        var m = result.Message;
        return new InputMessage(result.Offset.Value, m.Timestamp, m.Headers is { Count: > 0 } h ? h : null, m.Key, m.Value);
    }

    /// <summary>Copies a message given as arrays (tests, tools): the result can be dropped.</summary>
    public InputMessage Copy(ConsumeResult<byte[]?, byte[]?> result)
    {
        var m = result.Message;
        var key = Write(m.Key, m.Key is null);
        var value = Write(m.Value, m.Value is null);
        return new InputMessage(result.Offset.Value, m.Timestamp, m.Headers is { Count: > 0 } h ? h : null, key, value);
    }

    /// <summary>Releases the buffer's hold on its current chunk (the worker is stopping).</summary>
    public void Close()
    {
        _current?.Release(1);
        _current = null;
    }

    /// <summary>Releases processed messages, in order: consecutive slices of one chunk are released together.</summary>
    public static void Release(List<InputMessage> messages)
    {
        InputChunk? run = null;
        int count = 0;
        foreach (var m in messages)
        {
            Add(m.KeySlice.Chunk, ref run, ref count);
            Add(m.ValueSlice.Chunk, ref run, ref count);
        }

        run?.Release(count);
    }

    /// <summary>Releases one message that will not be processed (its partition was revoked since it was fetched).</summary>
    public static void Release(in InputMessage message)
    {
        message.KeySlice.Chunk?.Release(1);
        message.ValueSlice.Chunk?.Release(1);
    }

    private static void Add(InputChunk? chunk, ref InputChunk? run, ref int count)
    {
        if (chunk is null)
        {
            return;
        }

        if (!ReferenceEquals(chunk, run))
        {
            run?.Release(count);
            run = chunk;
            count = 0;
        }

        count++;
    }
}

/// <summary>
/// Confluent.Kafka's deserializer for the input's keys and values: copies librdkafka's bytes into the consume loop's
/// <see cref="InputBuffer"/> (called on the thread that calls <c>Consume</c>, the buffer's single writer).
/// </summary>
internal sealed class SliceDeserializer(InputBuffer buffer) : IDeserializer<InputSlice>
{
    public InputSlice Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => buffer.Write(data, isNull);
}

/// <summary>A key or value in an <see cref="InputBuffer"/> chunk (or in an array of its own when larger).</summary>
internal readonly struct InputSlice
{
    private readonly byte[]? _array;
    private readonly int _start;
    private readonly int _length; // -1: null

    public InputSlice(InputChunk? chunk, byte[]? array, int start, int length)
    {
        Chunk = chunk;
        _array = array;
        _start = start;
        _length = length;
    }

    public static InputSlice Null => new(null, null, 0, -1);

    /// <summary>The chunk holding a reference for this slice; null for a null slice or an array of its own.</summary>
    public InputChunk? Chunk { get; }

    public bool IsNull => _length < 0;

    public ReadOnlySpan<byte> Span => _length < 0 ? default : _array.AsSpan(_start, _length);

    public byte[]? ToArray() => _length < 0 ? null : Span.ToArray();
}

/// <summary>
/// One chunk of an <see cref="InputBuffer"/>: its array (rented) and the count of slices still unprocessed. Once all
/// are released the array goes back to its pool and the chunk object to the buffer's spares, for the writer to reuse
/// with a new array. A new chunk object per 128 KB was young while every queued message in it pointed to it from the
/// partitions' queues (old arrays): 1,500 of the references a gen0 collection had to follow, in a heap snapshot at
/// 45,000 events/s.
/// </summary>
internal sealed class InputChunk
{
    private const int MaxSpares = 256;

    private readonly ArrayPool<byte> _pool;
    private readonly ConcurrentQueue<InputChunk> _spares;
    private int _references = 1; // the writer's, until it moves to the next chunk

    public InputChunk(ArrayPool<byte> pool, ConcurrentQueue<InputChunk> spares)
    {
        _pool = pool;
        _spares = spares;
        Array = pool.Rent(InputBuffer.ChunkSize);
    }

    public byte[] Array { get; private set; }

    /// <summary>Bytes written so far (writer only).</summary>
    public int Used { get; set; }

    /// <summary>A spare chunk made current again (writer only): a new array, the writer's reference.</summary>
    internal InputChunk Reuse()
    {
        Array = _pool.Rent(InputBuffer.ChunkSize);
        Used = 0;
        Volatile.Write(ref _references, 1);
        return this;
    }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release(int count)
    {
        int left = Interlocked.Add(ref _references, -count);
        if (left == 0)
        {
            _pool.Return(Array);
            if (_spares.Count < MaxSpares)
            {
                _spares.Enqueue(this); // nothing refers to it any more: every slice in it was released
            }
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("An input chunk was released more often than it was used.");
        }
    }
}

/// <summary>
/// A queued input message: its position, timestamp and headers (null when it has none), and its key and value as
/// slices of pooled chunks (see <see cref="InputBuffer"/>). Valid until the partition releases it.
/// </summary>
internal readonly struct InputMessage(long offset, Timestamp timestamp, Headers? headers, InputSlice key, InputSlice value)
{
    public long Offset { get; } = offset;

    public Timestamp Timestamp { get; } = timestamp;

    public Headers? Headers { get; } = headers;

    internal InputSlice KeySlice { get; } = key;

    internal InputSlice ValueSlice { get; } = value;

    public bool HasValue => !ValueSlice.IsNull;

    public ReadOnlySpan<byte> Value => ValueSlice.Span;

    /// <summary>The key, copied (for a dead letter, which outlives the chunk).</summary>
    public byte[]? KeyCopy() => KeySlice.ToArray();

    /// <summary>The value, copied (for a dead letter, which outlives the chunk).</summary>
    public byte[]? ValueCopy() => ValueSlice.ToArray();
}
