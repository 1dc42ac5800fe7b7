namespace StreamTriggers.Worker.Replay;

/// <summary>
/// Reads newline-delimited records from a stream as spans over one reusable buffer. A record longer than the limit
/// is skipped to its newline without being buffered whole, and reported by its size, so an absurd input line costs
/// no memory. A UTF-8 byte order mark at the start is dropped; a trailing CR is trimmed.
/// </summary>
internal sealed class LineReader
{
    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;
    private bool _atStart = true;

    public LineReader(Stream stream, int maxLineBytes)
    {
        _stream = stream;
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Max(256 * 1024, maxLineBytes + 2)];
    }

    /// <summary>1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Bytes consumed from the stream so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>
    /// The next line. Returns false at the end of the input. <paramref name="oversizeBytes"/> is non-zero when the line
    /// was longer than the limit; <paramref name="line"/> is then empty.
    /// </summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line, out long oversizeBytes)
    {
        oversizeBytes = 0;
        while (true)
        {
            var pending = _buffer.AsSpan(_start, _end - _start);
            if (_atStart && (pending.Length >= 3 || _eof))
            {
                _atStart = false;
                if (pending.StartsWith("\uFEFF"u8))
                {
                    _start += 3;
                    continue;
                }
            }

            int nl = pending.IndexOf((byte)'\n');
            if (nl >= 0 && nl <= _maxLineBytes + 1)
            {
                line = TrimCr(pending[..nl]);
                _start += nl + 1;
                LineNumber++;
                return true;
            }

            if (nl > _maxLineBytes + 1 || pending.Length > _maxLineBytes + 1)
            {
                oversizeBytes = SkipToNewline();
                line = default;
                LineNumber++;
                return true;
            }

            if (_eof)
            {
                if (pending.Length == 0)
                {
                    line = default;
                    return false;
                }

                line = TrimCr(pending);
                _start = _end;
                LineNumber++;
                return true;
            }

            Fill();
        }
    }

    private long SkipToNewline()
    {
        long skipped = 0;
        while (true)
        {
            var pending = _buffer.AsSpan(_start, _end - _start);
            int nl = pending.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                _start += nl + 1;
                return skipped + nl;
            }

            skipped += pending.Length;
            _start = _end = 0;
            if (_eof)
            {
                return skipped;
            }

            Fill();
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int n = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0)
        {
            _eof = true;
        }

        _end += n;
        BytesRead += n;
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> s) => s.Length > 0 && s[^1] == '\r' ? s[..^1] : s;
}
