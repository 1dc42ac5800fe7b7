using System.Buffers;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;

namespace StreamTriggers.Worker.Replay;

/// <summary>
/// Runs recorded clickstream through the engine in event time (<see cref="EventTimeDriver"/>) and writes the
/// triggers as JSON lines. Bad lines are counted by reason (and written to the dead-letter file when asked); they
/// never stop the replay.
/// </summary>
internal sealed class ReplayRunner
{
    private readonly ReplayOptions _options;
    private readonly TextWriter _status;

    public ReplayRunner(ReplayOptions options, TextWriter status)
    {
        _options = options;
        _status = status;
    }

    public ReplayResult Run()
    {
        using var input = OpenInput(_options.Input);
        using var output = OpenOutput(_options.Output);
        using var deadLetter = _options.DeadLetter is null ? null : OpenOutput(_options.DeadLetter);
        long? totalBytes = _options.Input != "-" && !_options.Input.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new FileInfo(_options.Input).Length
            : null;
        using var progress = _options.Progress ? ProgressLine.StartIfTerminal(totalBytes) : null;
        return Run(input, output, deadLetter, progress);
    }

    public ReplayResult Run(Stream input, Stream output, Stream? deadLetter, ProgressLine? progress = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var engine = new SessionEngine(_options.Rules);
        var driver = new EventTimeDriver(engine);
        var result = new ReplayResult { Engine = engine.Counters };
        var reader = new LineReader(input, _options.Limits.MaxEventBytes);
        var triggers = new List<Trigger>();
        var buffer = new ArrayBufferWriter<byte>(4096);
        using var json = new Utf8JsonWriter(buffer, TriggerJson.WriterOptions);

        var format = _options.Format == InputFormat.Auto ? LineDecoder.FromPath(_options.Input) : _options.Format;
        LineDecoder? decoder = format == InputFormat.Auto ? null : new LineDecoder(format, _options.Limits);

        while (reader.TryReadLine(out var line, out long oversize))
        {
            if (oversize > 0)
            {
                result.EventsRead++;
                Reject(result, deadLetter, reader.LineNumber, new Rejection(RejectReason.EventTooLarge,
                    $"{oversize} bytes; the limit is {_options.Limits.MaxEventBytes}"), ReadOnlySpan<byte>.Empty, json, buffer);
                continue;
            }

            if (line.Trim(" \t"u8).IsEmpty)
            {
                continue;
            }

            decoder ??= new LineDecoder(LineDecoder.Sniff(line), _options.Limits);
            if (decoder.IsHeader(line))
            {
                continue;
            }

            result.EventsRead++;
            if (!decoder.TryDecode(line, out var ev, out var rejection))
            {
                Reject(result, deadLetter, reader.LineNumber, rejection, line, json, buffer);
                continue;
            }

            driver.Push(ev!, triggers);
            if (triggers.Count > 0)
            {
                Write(triggers, output, json, buffer);
                result.TriggersWritten += triggers.Count;
                triggers.Clear();
            }

            if ((result.EventsRead & 0x3FFF) == 0)
            {
                progress?.Report(reader.BytesRead, result.EventsRead, engine.Counters.TotalFired);
            }
        }

        driver.Complete(_options.Flush, triggers);
        Write(triggers, output, json, buffer);
        result.TriggersWritten += triggers.Count;
        output.Flush();
        deadLetter?.Flush();

        result.Format = decoder?.Format ?? format;
        result.BytesRead = reader.BytesRead;
        result.SessionsInMemory = engine.SessionCount;
        result.OpenPeriodsAtEnd = engine.CountOpenPeriods();
        result.Elapsed = stopwatch.Elapsed;
        progress?.Finish();
        return result;
    }

    private static void Write(List<Trigger> triggers, Stream output, Utf8JsonWriter json, ArrayBufferWriter<byte> buffer)
    {
        foreach (var trigger in triggers)
        {
            TriggerJson.WriteData(json, trigger);
            json.Flush();
            buffer.Write("\n"u8);
            output.Write(buffer.WrittenSpan);
            buffer.ResetWrittenCount();
            json.Reset(buffer);
        }
    }

    private static void Reject(ReplayResult result, Stream? deadLetter, long lineNumber, Rejection rejection,
        ReadOnlySpan<byte> raw, Utf8JsonWriter json, ArrayBufferWriter<byte> buffer)
    {
        result.RejectedByReason[(int)rejection.Reason]++;
        if (deadLetter is null)
        {
            return;
        }

        json.WriteStartObject();
        json.WriteNumber("line"u8, lineNumber);
        json.WriteString("reason"u8, RejectReasons.Name(rejection.Reason));
        json.WriteString("detail"u8, rejection.Detail);
        // The raw line as text (invalid UTF-8 replaced), capped: the reason is the point, the bytes are a pointer.
        json.WriteString("raw"u8, Encoding.UTF8.GetString(raw[..Math.Min(raw.Length, 4096)]));
        json.WriteEndObject();
        json.Flush();
        buffer.Write("\n"u8);
        deadLetter.Write(buffer.WrittenSpan);
        buffer.ResetWrittenCount();
        json.Reset(buffer);
    }

    private static Stream OpenInput(string path)
    {
        if (path == "-")
        {
            return Console.OpenStandardInput();
        }

        if (!File.Exists(path))
        {
            throw new Cli.UsageException($"--input: no file at '{path}'");
        }

        Stream file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static Stream OpenOutput(string path) =>
        path == "-"
            ? new BufferedStream(Console.OpenStandardOutput(), 1 << 16)
            : new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
}
