namespace StreamTriggers.Worker.Pipeline;

/// <summary>
/// What the consume loop hands a partition: a message, or the news that the partition is caught up. Either can carry
/// <see cref="NewestAtMs"/>: the wall clock (Unix ms) at which the consume loop knew it was the newest the broker had
/// (a message at the fetch's high watermark, or the end of the partition); -1 when it was not.
/// </summary>
internal readonly struct InputItem
{
    public InputItem(InputMessage message, long newestAtMs = -1)
    {
        Message = message;
        NewestAtMs = newestAtMs;
    }

    private InputItem(long atMs)
    {
        NewestAtMs = atMs;
        IsEndOfPartition = true;
    }

    /// <summary>The end of the partition, reached at <paramref name="atMs"/>.</summary>
    public static InputItem EndOfPartition(long atMs) => new(atMs);

    public InputMessage Message { get; }

    public long NewestAtMs { get; }

    public bool IsEndOfPartition { get; }
}
