using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using StreamTriggers.IntegrationTests.Infrastructure;
using StreamTriggers.Kafka.Mock;

namespace StreamTriggers.IntegrationTests;

public sealed class OperationsEndpointTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private MockCluster _kafka = null!;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _kafka = new MockCluster();
        foreach (var t in new[] { "clickstream", "triggers", "clickstream-dlq" }) _kafka.CreateTopic(t, 4);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        _kafka.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Metrics_AndHealth_ReportWhatTheWorkerDid_AndReadinessFollowsRedis()
    {
        int port = RedisServer.FreePort();
        var settings = new WorkerSettings(_kafka.BootstrapServers, _redis.Configuration, "g-ops", TimeSpan.FromSeconds(2));
        await using var worker = await InProcessWorker.StartAsync(settings, $"--StreamTriggers:Operations:Port={port}");
        string url = $"http://127.0.0.1:{port}";

        // Ready once partitions are assigned.
        await Eventually(async () => (await _http.GetAsync($"{url}/healthz/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(20));

        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            string ts = Time.UnixTime.Format(t0);
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "m1", Value = $$$"""{"type":"add_to_cart","timestamp":"{{{ts}}}","session_id":"m1","product":{"id":"p"}}""" });
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "m2", Value = $$$"""{"type":"view","timestamp":"{{{ts}}}","session_id":"m2","product":{"id":"a"}}""" });
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "m2", Value = $$$"""{"type":"view","timestamp":"{{{ts}}}","session_id":"m2","product":{"id":"b"}}""" });
            await producer.ProduceAsync("clickstream", new Message<string, string> { Key = "m3", Value = "{broken" });
        }

        // A trigger is counted at its ack; the commit that writes its closed session follows within the commit
        // interval (it waits for the acks), and the timers gauge with it: wait for both.
        string metrics = "";
        await Eventually(async () =>
        {
            metrics = await _http.GetStringAsync($"{url}/metrics");
            return Value(metrics, "streamtriggers_triggers_emitted_total{type=\"browse_abandoned\"}") == 1
                && Value(metrics, "streamtriggers_triggers_emitted_total{type=\"cart_abandoned\"}") == 1
                && Value(metrics, "streamtriggers_store_duration_milliseconds_count{operation=\"commit\"}") >= 1
                && Enumerable.Range(0, 4).All(p => Value(metrics, $"streamtriggers_timers_pending{{partition=\"{p}\",topic=\"clickstream\"}}") == 0);
        }, TimeSpan.FromSeconds(20));

        Assert.Equal(4, Value(metrics, "streamtriggers_events_consumed_total"));

        // Every series the Grafana dashboard in docker/ queries is one the worker exports.
        string dashboard = File.ReadAllText(Path.Combine(Repository.Root, "docker", "grafana", "dashboards", "streamtriggers.json"));
        var queried = System.Text.RegularExpressions.Regex.Matches(dashboard, "streamtriggers_[a-z_]+").Select(m => m.Value)
            .Select(n => System.Text.RegularExpressions.Regex.Replace(n, "_(bucket|sum|count)$", string.Empty)).Distinct().ToList();
        Assert.True(queried.Count >= 10, $"the dashboard queries {queried.Count} series");
        Assert.All(queried, name => Assert.Contains($"# TYPE {name} ", metrics, StringComparison.Ordinal));
        Assert.Equal(1, Value(metrics, "streamtriggers_events_rejected_total{reason=\"malformed_json\"}"));
        Assert.Equal(4, Value(metrics, "streamtriggers_rebalances_total{kind=\"assigned\"}"));
        Assert.Equal(2, Value(metrics, "streamtriggers_trigger_lateness_milliseconds_count"));
        Assert.True(Value(metrics, "streamtriggers_store_duration_milliseconds_count{operation=\"commit\"}") >= 1);
        Assert.True(Value(metrics, "streamtriggers_produce_duration_milliseconds_count") >= 1);
        Assert.True(Value(metrics, "streamtriggers_batch_size_count") >= 1);
        for (int p = 0; p < 4; p++)
        {
            Assert.Equal(0, Value(metrics, $"streamtriggers_consumer_lag{{partition=\"{p}\",topic=\"clickstream\"}}"));
            Assert.Equal(0, Value(metrics, $"streamtriggers_timers_pending{{partition=\"{p}\",topic=\"clickstream\"}}"));
        }

        Assert.Contains("# TYPE streamtriggers_trigger_lateness_milliseconds histogram", metrics, StringComparison.Ordinal);

        // Redis down: not ready (naming the check), still live. Back: ready again.
        await _redis.StopAsync();
        var down = await _http.GetAsync($"{url}/healthz/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        using (var doc = JsonDocument.Parse(await down.Content.ReadAsStringAsync()))
        {
            Assert.False(doc.RootElement.GetProperty("checks").GetProperty("state_store").GetProperty("ok").GetBoolean());
            Assert.True(doc.RootElement.GetProperty("checks").GetProperty("broker").GetProperty("ok").GetBoolean());
        }

        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync($"{url}/healthz/live")).StatusCode);
        await _redis.StartProcessAsync();
        await Eventually(async () => (await _http.GetAsync($"{url}/healthz/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"{url}/nothing")).StatusCode);
    }

    private static double Value(string metrics, string series)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return double.NaN;
    }

    private static async Task Eventually(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > until) throw new TimeoutException($"condition not met within {timeout.TotalSeconds} s");
            await Task.Delay(200);
        }
    }
}
