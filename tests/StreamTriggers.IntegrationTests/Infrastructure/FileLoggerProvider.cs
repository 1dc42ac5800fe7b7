using Microsoft.Extensions.Logging;

namespace StreamTriggers.IntegrationTests.Infrastructure;

/// <summary>Writes an in-process worker's log lines to a file, so a failing test can show what the worker saw.</summary>
public sealed class FileLoggerProvider(string path) : ILoggerProvider
{
    private readonly Lock _lock = new();

    public string Path { get; } = path;

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>Everything logged so far.</summary>
    public string ReadAll()
    {
        lock (_lock)
        {
            return File.Exists(Path) ? File.ReadAllText(Path) : string.Empty;
        }
    }

    /// <summary>The last <paramref name="lines"/> lines, for failure messages.</summary>
    public string Tail(int lines = 40)
    {
        lock (_lock)
        {
            return File.Exists(Path) ? string.Join(Environment.NewLine, File.ReadLines(Path).TakeLast(lines)) : "(no log)";
        }
    }

    private void Write(string line)
    {
        lock (_lock)
        {
            File.AppendAllText(Path, line + Environment.NewLine);
        }
    }

    private sealed class FileLogger(FileLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        // The host's configured filters (Logging:LogLevel:*) decide what reaches this logger.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.Write($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}[{eventId.Id}] {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
            }
        }
    }
}
