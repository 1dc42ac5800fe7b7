using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamTriggers.State;
using StreamTriggers.Worker.Pipeline;

namespace StreamTriggers.Worker.Operations;

/// <summary>
/// A small HTTP endpoint for the platform: <c>/metrics</c> (Prometheus text), <c>/healthz/live</c> (the consume loop
/// is turning) and <c>/healthz/ready</c> (partitions assigned, Redis and a broker answering, lag below the bound),
/// each health answer a JSON body naming every check.
/// </summary>
internal sealed partial class OperationsServer(IOptions<OperationsOptions> options, WorkerStats stats, ClickstreamWorker worker,
    IStateStore store, ILogger<OperationsServer> logger) : BackgroundService
{
    private static readonly TimeSpan LivenessBound = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        if (!o.Enabled)
        {
            return;
        }

        using var exporter = new PrometheusExporter(WorkerMetrics.MeterName);
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://+:{o.Port}/");
        try
        {
            listener.Start();
        }
        catch (HttpListenerException ex)
        {
            LogCannotListen(logger, o.Port, ex.Message);
            return;
        }

        LogListening(logger, o.Port);
        using var registration = stoppingToken.Register(listener.Stop);
        while (!stoppingToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                break;
            }

            _ = Task.Run(() => HandleAsync(context, exporter, o, stoppingToken), stoppingToken);
        }
    }

    private async Task HandleAsync(HttpListenerContext context, PrometheusExporter exporter, OperationsOptions o, CancellationToken ct)
    {
        try
        {
            var (status, contentType, body) = context.Request.Url?.AbsolutePath switch
            {
                "/metrics" => (200, "text/plain; version=0.0.4; charset=utf-8", exporter.Render()),
                "/healthz/live" => Health([("consume_loop", worker.SinceLastLoop < LivenessBound, $"last turn {worker.SinceLastLoop.TotalSeconds:0.0} s ago")]),
                "/healthz/ready" => Health(await ReadinessAsync(o, ct).ConfigureAwait(false)),
                _ => (404, "text/plain", "not found: /metrics, /healthz/live, /healthz/ready\n"),
            };
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or OperationCanceledException)
        {
        }
        finally
        {
            context.Response.Close();
        }
    }

    private async Task<List<(string Name, bool Ok, string Detail)>> ReadinessAsync(OperationsOptions o, CancellationToken ct)
    {
        var checks = new List<(string, bool, string)>
        {
            ("partitions", stats.Partitions > 0, $"{stats.Partitions} assigned"),
        };
        try
        {
            var rtt = await store.PingAsync(ct).WaitAsync(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
            checks.Add(("state_store", true, $"ping {rtt.TotalMilliseconds:0.0} ms"));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            checks.Add(("state_store", false, ex.GetType().Name));
        }

        bool broker = await Task.Run(() => worker.BrokerReachable(TimeSpan.FromSeconds(2)), ct).ConfigureAwait(false);
        checks.Add(("broker", broker, broker ? "metadata answered" : "no broker answered within 2 s"));
        long lag = stats.Metrics.TotalLag();
        checks.Add(("lag", lag <= o.MaxReadyLag, $"{lag} messages (bound {o.MaxReadyLag})"));
        return checks;
    }

    private static (int, string, string) Health(List<(string Name, bool Ok, string Detail)> checks)
    {
        bool ok = checks.All(c => c.Ok);
        string body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["status"] = ok ? "ok" : "failing",
            ["checks"] = checks.ToDictionary(c => c.Name, c => new Dictionary<string, object> { ["ok"] = c.Ok, ["detail"] = c.Detail }),
        });
        return (ok ? 200 : 503, "application/json", body + "\n");
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "operations endpoint on port {Port}: /metrics, /healthz/live, /healthz/ready")]
    private static partial void LogListening(ILogger logger, int port);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "operations endpoint cannot listen on port {Port}: {Reason}; running without it")]
    private static partial void LogCannotListen(ILogger logger, int port, string reason);
}
