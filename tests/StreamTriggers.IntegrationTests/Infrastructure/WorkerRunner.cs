using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamTriggers.Worker.Hosting;

namespace StreamTriggers.IntegrationTests.Infrastructure;

/// <summary>
/// The settings one test's workers share: cluster, Redis, a fresh group and key prefix, a short gap. The customer
/// lifecycle is off unless <paramref name="Lifecycle"/> (the session-stage tests check triggers at their deadlines,
/// which quiet hours and frequency caps would otherwise hold back depending on the time of day the tests run).
/// </summary>
public sealed record WorkerSettings(string Bootstrap, string RedisConfiguration, string Group, TimeSpan Gap, string Input = "clickstream", string Triggers = "triggers",
    string DeadLetters = "clickstream-dlq", bool Lifecycle = false, string Audit = "triggers-audit", string Customers = "streamtriggers-customers")
{
    public string[] Args() =>
    [
        $"--StreamTriggers:Kafka:BootstrapServers={Bootstrap}",
        $"--StreamTriggers:Kafka:GroupId={Group}",
        $"--StreamTriggers:Kafka:InputTopic={Input}",
        $"--StreamTriggers:Kafka:TriggerTopic={Triggers}",
        $"--StreamTriggers:Kafka:DeadLetterTopic={DeadLetters}",
        $"--StreamTriggers:Kafka:AuditTopic={Audit}",
        $"--StreamTriggers:Kafka:CustomerTopic={Customers}",
        $"--StreamTriggers:Lifecycle:Enabled={Lifecycle}",
        // Fast failure detection and rebalancing for tests; production keeps librdkafka's defaults.
        "--StreamTriggers:Kafka:Settings:session.timeout.ms=6000",
        "--StreamTriggers:Kafka:Settings:heartbeat.interval.ms=500",
        "--StreamTriggers:Kafka:Settings:fetch.wait.max.ms=50",
        $"--StreamTriggers:Redis:Configuration={RedisConfiguration}",
        $"--StreamTriggers:Redis:KeyPrefix={Group}",
        $"--StreamTriggers:Rules:Gap={Gap}",
        "--StreamTriggers:Rules:AllowedLateness=00:00:01",
        "--StreamTriggers:Worker:ShutdownTimeout=00:00:05",
        "--Logging:LogLevel:Default=Warning",
    ];
}

/// <summary>A worker in this process (stoppable cleanly).</summary>
public sealed class InProcessWorker : IAsyncDisposable
{
    private readonly IHost _host;

    private InProcessWorker(IHost host, FileLoggerProvider log)
    {
        _host = host;
        Log = log;
    }

    public IServiceProvider Services => _host.Services;

    /// <summary>The worker's log; its tail goes into failure messages.</summary>
    public FileLoggerProvider Log { get; }

    public static async Task<InProcessWorker> StartAsync(WorkerSettings settings, params string[] extraArgs)
    {
        var log = new FileLoggerProvider(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"st-worker-{Guid.NewGuid():N}.log"));
        var host = RunCommand.Build([.. settings.Args(), .. extraArgs], out _, services => services.AddLogging(b => b.AddProvider(log)));
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return new InProcessWorker(host, log);
    }

    public async Task StopAsync() => await _host.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            _host.Dispose();
        }
    }
}

/// <summary>A worker as its own process (<c>streamtriggers run</c>), so a test can SIGKILL it.</summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;

    private WorkerProcess(Process process) => _process = process;

    public static WorkerProcess Start(WorkerSettings settings, params string[] extraArgs)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "streamtriggers.dll"));
        psi.ArgumentList.Add("run");
        foreach (var a in settings.Args().Concat(extraArgs)) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new WorkerProcess(p);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL: no shutdown code runs, in-flight batches are lost mid-way.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
