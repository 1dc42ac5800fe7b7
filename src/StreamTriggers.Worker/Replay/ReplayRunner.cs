using System.Buffers;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using StreamTriggers.Customers;
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

    public ReplayRunner(ReplayOptions options) => _options = options;

    public ReplayResult Run()
    {
        using var input = OpenInput(_options.Input);
        using var output = OpenOutput(_options.Output);
        using var deadLetter = _options.DeadLetter is null ? null : OpenOutput(_options.DeadLetter);
        using var audit = _options.Audit is null ? null : OpenOutput(_options.Audit);
        long? totalBytes = _options.Input != "-" && !_options.Input.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new FileInfo(_options.Input).Length
            : null;
        using var progress = _options.Progress ? ProgressLine.StartIfTerminal(totalBytes) : null;
        return Run(input, output, deadLetter, progress, audit);
    }

    /// <summary>
    /// Two stages on two threads: reading and decoding lines, then the engine and the output. Decoded batches go
    /// through a small bounded channel in order, so the output is the same as a single-threaded run, byte for byte.
    /// </summary>
    public ReplayResult Run(Stream input, Stream output, Stream? deadLetter, ProgressLine? progress = null, Stream? audit = null)
    {
        var stopwatch = Stopwatch.StartNew();
        // With the lifecycle on, session triggers go through the customer engine's policy; off, straight out.
        var lifecycle = _options.Lifecycle.Enabled ? new LifecycleDriver(_options.Rules, _options.Lifecycle, _options.Policy) : null;
        var engine = lifecycle?.Sessions ?? new SessionEngine(_options.Rules, decisions: audit is null ? DecisionLog.None : DecisionLog.HeldBack);
        var driver = lifecycle is null ? new EventTimeDriver(engine) : null;
        var result = new ReplayResult { Engine = engine.Counters, Customers = lifecycle?.Customers.Counters };
        var decisions = new List<TriggerDecision>();
        var reader = new LineReader(input, _options.Limits.MaxEventBytes);
        var triggers = new List<Trigger>();
        var buffer = new ArrayBufferWriter<byte>(4096);
        using var json = new Utf8JsonWriter(buffer, TriggerJson.WriterOptions);
        var batches = Channel.CreateBounded<List<Decoded>>(new BoundedChannelOptions(8) { SingleReader = true, SingleWriter = true });

        var format = _options.Format == InputFormat.Auto ? LineDecoder.FromPath(_options.Input) : _options.Format;
        LineDecoder? decoder = format == InputFormat.Auto ? null : new LineDecoder(format, _options.Limits, engine.Products);
        long bytesRead = 0;

        var decoding = Task.Run(async () =>
        {
            try
            {
                var batch = new List<Decoded>(BatchSize);
                while (reader.TryReadLine(out var line, out long oversize))
                {
                    if (oversize > 0)
                    {
                        batch.Add(new Decoded(reader.LineNumber, null, new Rejection(RejectReason.EventTooLarge,
                            $"{oversize} bytes; the limit is {_options.Limits.MaxEventBytes}"), []));
                    }
                    else if (!line.Trim(" \t"u8).IsEmpty)
                    {
                        decoder ??= new LineDecoder(LineDecoder.Sniff(line), _options.Limits, engine.Products);
                        if (decoder.IsHeader(line))
                        {
                            continue;
                        }

                        batch.Add(decoder.TryDecode(line, out var ev, out var rejection)
                            ? new Decoded(reader.LineNumber, ev, default, [])
                            : new Decoded(reader.LineNumber, null, rejection, deadLetter is null ? [] : line[..Math.Min(line.Length, 4096)].ToArray()));
                    }

                    if (batch.Count == BatchSize)
                    {
                        Volatile.Write(ref bytesRead, reader.BytesRead);
                        await batches.Writer.WriteAsync(batch).ConfigureAwait(false);
                        batch = new List<Decoded>(BatchSize);
                    }
                }

                Volatile.Write(ref bytesRead, reader.BytesRead);
                await batches.Writer.WriteAsync(batch).ConfigureAwait(false);
                batches.Writer.Complete();
            }
            catch (Exception ex)
            {
                batches.Writer.Complete(ex);
            }
        });

        // The engine stage runs on the calling thread; the decoding stage fills the channel ahead of it.
        while (batches.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (batches.Reader.TryRead(out var batch))
            {
                foreach (var d in batch)
                {
                    result.EventsRead++;
                    if (d.Event is null)
                    {
                        Reject(result, deadLetter, d.Line, d.Rejection, d.Raw, json, buffer);
                        continue;
                    }

                    if (lifecycle is not null)
                    {
                        lifecycle.Push(d.Event, triggers, decisions);
                    }
                    else
                    {
                        driver!.Push(d.Event, triggers);
                    }

                    if (triggers.Count > 0)
                    {
                        Write(triggers, output, json, buffer);
                        result.TriggersWritten += triggers.Count;
                        triggers.Clear();
                    }

                    WriteAudit(engine, decisions, audit, result, json, buffer);
                }

                progress?.Report(Volatile.Read(ref bytesRead), result.EventsRead, engine.Counters.TotalFired);
            }
        }

        decoding.GetAwaiter().GetResult();
        if (lifecycle is not null)
        {
            lifecycle.Complete(_options.Flush, triggers, decisions);
        }
        else
        {
            driver!.Complete(_options.Flush, triggers);
        }

        Write(triggers, output, json, buffer);
        result.TriggersWritten += triggers.Count;
        WriteAudit(engine, decisions, audit, result, json, buffer);
        output.Flush();
        deadLetter?.Flush();
        audit?.Flush();
        if (lifecycle is not null)
        {
            result.CustomersAtEnd = lifecycle.Customers.CustomerCount;
            result.CustomerTimersAtEnd = lifecycle.Customers.PendingTimers;
        }

        result.Format = decoder?.Format ?? format;
        result.BytesRead = reader.BytesRead;
        result.OpenPeriodsAtEnd = engine.CountOpenPeriods();
        result.Elapsed = stopwatch.Elapsed;
        progress?.Finish();
        return result;
    }

    private const int BatchSize = 2048;

    // One input line after decoding: the event, or why it was rejected (with the raw bytes for the dead-letter file).
    private readonly record struct Decoded(long Line, TrackerEvent? Event, Rejection Rejection, byte[] Raw);

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

    // Held-back decisions: the lifecycle driver hands them over; without it, the session engine's cooldown ones.
    private static void WriteAudit(SessionEngine engine, List<TriggerDecision> decisions, Stream? audit, ReplayResult result,
        Utf8JsonWriter json, ArrayBufferWriter<byte> buffer)
    {
        if (audit is null)
        {
            decisions.Clear();
            return;
        }

        // Without the lifecycle the session engine's own (held-back) decisions are the audit (with it, the driver took them).
        engine.TakeDecisions(decisions);

        foreach (var d in decisions)
        {
            d.WriteTo(json);
            json.Flush();
            buffer.Write("\n"u8);
            audit.Write(buffer.WrittenSpan);
            buffer.ResetWrittenCount();
            json.Reset(buffer);
        }

        result.AuditWritten += decisions.Count;
        decisions.Clear();
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
