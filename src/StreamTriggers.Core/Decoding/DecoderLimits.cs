namespace StreamTriggers.Decoding;

/// <summary>Bounds on what one input event may contain. Anything past them is rejected with a reason.</summary>
public sealed class DecoderLimits
{
    public const string SectionName = "StreamTriggers:Limits";

    /// <summary>Largest accepted event, in bytes of UTF-8 JSON (or of one CSV row).</summary>
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>Longest accepted string value (ids, names, categories), in UTF-8 bytes.</summary>
    public int MaxStringBytes { get; set; } = 512;

    /// <summary>Most entries accepted in <c>products</c> / <c>items</c>.</summary>
    public int MaxItems { get; set; } = 100;

    /// <summary>Largest accepted <c>quantity</c> of one product line.</summary>
    public int MaxQuantity { get; set; } = 10_000;

    /// <summary>Deepest accepted JSON nesting (objects and arrays).</summary>
    public int MaxDepth { get; set; } = 16;

    public IEnumerable<string> Validate(string prefix = SectionName)
    {
        if (MaxEventBytes is < 256 or > 16 * 1024 * 1024)
            yield return $"{prefix}:MaxEventBytes is {MaxEventBytes}; it must be between 256 and 16777216.";
        if (MaxStringBytes is < 16 or > 65_536)
            yield return $"{prefix}:MaxStringBytes is {MaxStringBytes}; it must be between 16 and 65536.";
        if (MaxItems is < 1 or > 10_000)
            yield return $"{prefix}:MaxItems is {MaxItems}; it must be between 1 and 10000.";
        if (MaxQuantity is < 1 or > 1_000_000)
            yield return $"{prefix}:MaxQuantity is {MaxQuantity}; it must be between 1 and 1000000.";
        if (MaxDepth is < 4 or > 64)
            yield return $"{prefix}:MaxDepth is {MaxDepth}; it must be between 4 and 64.";
    }
}
