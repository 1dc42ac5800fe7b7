using System.Buffers;
using Confluent.Kafka;

namespace StreamTriggers.Worker.Pipeline;

/// <summary>
/// Where a partition's queued messages keep their bytes: pooled chunks the garbage collector never traces or copies.
/// </summary>
/// <remarks>
/// <para>
/// The consume loop reads ahead of the partitions (up to <c>PartitionQueueCapacity</c> messages each), and a message
/// waits in its queue for as long as the partition needs to reach it: under load longer than the time between two
/// gen0 collections. As Confluent.Kafka hands it over (a result, a message, a headers list, key and value arrays:
/// about seven objects), every queued message would be traced and copied into the older generations by each
/// collection it waits through, and the live worker's collections promoted mostly that. Instead, the consume loop
/// copies the key and value into the partition's current chunk (128 KB, from a pool shared by the partitions, in
/// the large-object heap: never copied, its bytes never traced) and queues an <see cref="InputMessage"/>, a struct
/// holding the offset, the timestamp, the slice and, only when there are any, the headers. Confluent.Kafka's objects
/// die young.
/// </para>
/// <para>
/// A chunk counts its messages plus one for the writer while it is the current chunk; the partition releases its
/// messages once their batch is processed, and the last release returns the chunk to the pool. A message larger than
/// a chunk gets an array of its own. Single writer (the consume loop), single reader (the partition); queued messages
/// of a revoked partition are dropped with their chunks, which the collector then reclaims.
/// </para>
/// </remarks>
internal sealed class InputBuffer(ArrayPool<byte>? pool = null)
{
    internal const int ChunkSize = 128 * 1024;

    // Retains up to 256 chunks (32 MB) between bursts; beyond that a chunk is allocated and reclaimed by the GC.
    private static readonly ArrayPool<byte> SharedPool = ArrayPool<byte>.Create(ChunkSize, 256);

    private readonly ArrayPool<byte> _pool = pool ?? SharedPool;
    private InputChunk? _current;

    /// <summary>Copies the message's key and value into the buffer: the result can be dropped.</summary>
    public InputMessage Copy(ConsumeResult<byte[]?, byte[]?> result)
    {
        var m = result.Message;
        byte[]? key = m.Key, value = m.Value;
        int keyLength = key?.Length ?? 0, valueLength = value?.Length ?? 0;
        int total = keyLength + valueLength;
        var headers = m.Headers is { Count: > 0 } h ? h : null;

        byte[] array;
        int start;
        InputChunk? chunk = null;
        if (total > ChunkSize)
        {
            array = new byte[total];
            start = 0;
        }
        else
        {
            if (_current is null || _current.Used + total > ChunkSize)
            {
                _current?.Release(1); // the writer's reference: the chunk returns to the pool when its messages are done
                _current = new InputChunk(_pool);
            }

            chunk = _current;
            chunk.AddMessage();
            array = chunk.Array;
            start = chunk.Used;
            chunk.Used += total;
        }

        key?.CopyTo(array, start);
        value?.CopyTo(array, start + keyLength);
        return new InputMessage(result.Offset.Value, m.Timestamp, headers, chunk, array, start,
            key is null ? -1 : keyLength, value is null ? -1 : valueLength);
    }

    /// <summary>Releases the buffer's hold on its current chunk (the partition is gone).</summary>
    public void Close()
    {
        _current?.Release(1);
        _current = null;
    }

    /// <summary>Releases processed messages, in order: consecutive messages of one chunk are released together.</summary>
    public static void Release(List<InputMessage> messages)
    {
        InputChunk? run = null;
        int count = 0;
        foreach (var m in messages)
        {
            if (!ReferenceEquals(m.Chunk, run))
            {
                run?.Release(count);
                run = m.Chunk;
                count = 0;
            }

            count++;
        }

        run?.Release(count);
    }
}

internal sealed class InputChunk
{
    private readonly ArrayPool<byte> _pool;
    private int _references = 1; // the writer's, until it moves to the next chunk

    public InputChunk(ArrayPool<byte> pool)
    {
        _pool = pool;
        Array = pool.Rent(InputBuffer.ChunkSize);
    }

    public byte[] Array { get; }

    /// <summary>Bytes written so far (writer only).</summary>
    public int Used { get; set; }

    public void AddMessage() => Interlocked.Increment(ref _references);

    public void Release(int count)
    {
        int left = Interlocked.Add(ref _references, -count);
        if (left == 0)
        {
            _pool.Return(Array);
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("An input chunk was released more often than it was used.");
        }
    }
}

/// <summary>
/// A queued input message: its position, timestamp and headers (null when it has none), and its key and value as a
/// slice of a pooled chunk (see <see cref="InputBuffer"/>). Valid until the partition releases it.
/// </summary>
internal readonly struct InputMessage
{
    private readonly byte[] _array;
    private readonly int _start;
    private readonly int _keyLength;   // -1: null key
    private readonly int _valueLength; // -1: null value

    internal InputMessage(long offset, Timestamp timestamp, Headers? headers, InputChunk? chunk, byte[] array, int start, int keyLength, int valueLength)
    {
        Offset = offset;
        Timestamp = timestamp;
        Headers = headers;
        Chunk = chunk;
        _array = array;
        _start = start;
        _keyLength = keyLength;
        _valueLength = valueLength;
    }

    public long Offset { get; }

    public Timestamp Timestamp { get; }

    public Headers? Headers { get; }

    internal InputChunk? Chunk { get; }

    public bool HasValue => _valueLength >= 0;

    public ReadOnlySpan<byte> Value => _valueLength < 0 ? default : _array.AsSpan(_start + Math.Max(0, _keyLength), _valueLength);

    /// <summary>The key, copied (for a dead letter, which outlives the chunk).</summary>
    public byte[]? KeyCopy() => _keyLength < 0 ? null : _array.AsSpan(_start, _keyLength).ToArray();

    /// <summary>The value, copied (for a dead letter, which outlives the chunk).</summary>
    public byte[]? ValueCopy() => _valueLength < 0 ? null : Value.ToArray();
}
