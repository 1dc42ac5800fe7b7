using StreamTriggers.Decoding;
using StreamTriggers.Sessions;

namespace StreamTriggers.Worker.Replay;

internal enum InputFormat
{
    Auto,
    JsonLines,
    Rees46,
}

/// <summary>Decodes one input line in either replay format, so the runner has one path for both.</summary>
internal sealed class LineDecoder(InputFormat format, DecoderLimits limits, ProductTable? products = null)
{
    // Products equal to one the engine holds come back as its instance; event ids only as the hash the engine compares.
    private readonly JsonEventDecoder _json = new(limits, products) { HashEventIds = true };
    private readonly Rees46CsvDecoder _csv = new(limits);

    public InputFormat Format { get; } = format;

    public static InputFormat Parse(string? text) => text?.ToLowerInvariant() switch
    {
        null or "auto" => InputFormat.Auto,
        "jsonl" or "json" or "ndjson" => InputFormat.JsonLines,
        "rees46" or "csv" => InputFormat.Rees46,
        _ => throw new Cli.UsageException($"--format is '{text}'; it must be auto, jsonl or rees46"),
    };

    /// <summary>The format a path's name implies, or <see cref="InputFormat.Auto"/> when it says nothing.</summary>
    public static InputFormat FromPath(string path)
    {
        string name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        return Path.GetExtension(name).ToLowerInvariant() switch
        {
            ".csv" => InputFormat.Rees46,
            ".jsonl" or ".ndjson" or ".json" => InputFormat.JsonLines,
            _ => InputFormat.Auto,
        };
    }

    /// <summary>Decides from the first non-blank line: a JSON object, or CSV rows.</summary>
    public static InputFormat Sniff(ReadOnlySpan<byte> firstLine) =>
        firstLine.TrimStart(" \t"u8).StartsWith("{"u8) ? InputFormat.JsonLines : InputFormat.Rees46;

    public bool IsHeader(ReadOnlySpan<byte> line) => Format == InputFormat.Rees46 && Rees46CsvDecoder.IsHeader(line);

    public bool TryDecode(ReadOnlySpan<byte> line, out TrackerEvent? ev, out Rejection rejection) =>
        Format == InputFormat.Rees46 ? _csv.TryDecode(line, out ev, out rejection) : _json.TryDecode(line, out ev, out rejection);
}
