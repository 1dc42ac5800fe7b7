namespace StreamTriggers.Worker.Operations;

/// <summary>The operations endpoint: metrics and health. Bound from <c>StreamTriggers:Operations</c>.</summary>
public sealed class OperationsOptions
{
    public const string SectionName = "StreamTriggers:Operations";

    /// <summary>Serve <c>/metrics</c>, <c>/healthz/live</c> and <c>/healthz/ready</c>. Default true (in <c>run</c>).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>HTTP port of the endpoint, on all interfaces. Default 9464.</summary>
    public int Port { get; set; } = 9464;

    /// <summary>Ready only while the total consumer lag is at most this many messages. Default 100000.</summary>
    public long MaxReadyLag { get; set; } = 100_000;

    public IEnumerable<string> Validate(string prefix = SectionName)
    {
        if (Port is < 1 or > 65535)
            yield return $"{prefix}:Port is {Port}; it must be between 1 and 65535.";
        if (MaxReadyLag < 0)
            yield return $"{prefix}:MaxReadyLag is {MaxReadyLag}; it must not be negative.";
    }
}
