using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using StreamTriggers.Decoding;
using StreamTriggers.IntegrationTests.Infrastructure;
using StreamTriggers.Kafka.Mock;
using StreamTriggers.Time;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Tools;

namespace StreamTriggers.IntegrationTests;

// `streamtriggers inspect` against the Redis state a live worker wrote from a replayed stream: the repository's sample
// clickstream, rebased to now and compressed 600x (one sample minute is 100 ms), produced at its rebased times.
public sealed partial class InspectTests : IAsyncLifetime
{
    private const int Compression = 600;
    private static readonly TimeSpan Gap = TimeSpan.FromSeconds(2); // 20 minutes of sample time
    private RedisServer _redis = null!;
    private MockCluster _kafka = null!;
    private WorkerSettings _settings = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _kafka = new MockCluster(brokers: 1);
        _kafka.CreateTopic("clickstream", 4);
        _kafka.CreateTopic("triggers", 1);
        _kafka.CreateTopic("clickstream-dlq", 1);
        _settings = new WorkerSettings(_kafka.BootstrapServers, _redis.Configuration, "g" + Guid.NewGuid().ToString("N")[..8], Gap);
    }

    public async Task DisposeAsync()
    {
        _kafka.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Inspect_ShowsTheStateAndDecisions_OfSessionsFromAReplayedStream()
    {
        // The sample, plus a second period for s-cart 33 sample-minutes later: it matches cart_abandoned again within
        // the 24 h cooldown, so it is suppressed, and inspect must say so.
        var lines = File.ReadAllLines(Path.Combine(Repository.Root, "samples", "clickstream.jsonl")).ToList();
        lines.Add("""{"event_id":"c-9","type":"page_viewed","timestamp":"2026-11-23T10:40:00.000Z","session_id":"s-cart"}""");
        var (rebased, events) = Rebase(lines, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 500);
        var expected = TestStream.ExpectedFrom(events, Gap);
        Assert.Equal(["s-browse browse_abandoned", "s-cart cart_abandoned", "s-checkout checkout_abandoned"],
            expected.Values.Select(t => $"{t.SessionId} {TriggerTypes.Name(t.Type)}").Order(StringComparer.Ordinal));
        var cartIds = expected.Values.Where(t => t.SessionId == "s-cart").Select(t => t.Id).ToList();
        string cartId = Assert.Single(cartIds);

        await using var collector = new TriggerCollector(_kafka.BootstrapServers, "triggers");
        await using (var worker = await InProcessWorker.StartAsync(_settings))
        {
            await ProducePacedAsync(rebased);
            await collector.WaitForAsync(expected.Keys, TimeSpan.FromSeconds(30));
            await WaitUntilAsync(async () => (await InspectAsync("--session", "s-cart")).Output.Contains("suppressed", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
        }

        var (code, text) = await InspectAsync("--session", "s-cart");
        Assert.Equal(0, code);
        Assert.Contains("session s-cart", text, StringComparison.Ordinal);
        Assert.Contains("user u-42 / email ana@example.com", text, StringComparison.Ordinal);
        // Two laces added, one removed (a removal without a quantity takes one unit).
        Assert.Matches(@"cart\s+2 line\(s\), value 102\.4: p-7 \(Trail shoe\) @ 89\.9 EUR x1; p-8 \(Laces\) @ 12\.5 EUR x1", text);
        Assert.Matches(@"open period\s+none", text);
        Assert.Matches(@"pending timer\s+none", text);
        Assert.Matches($@"cart_abandoned\s+emitted\s+id {cartId}", text);
        var suppressed = Assert.Single(Regex.Matches(text, @"cart_abandoned\s+suppressed\s+id (\S+)"));
        Assert.DoesNotContain(collector.Received, t => t.Id == suppressed.Groups[1].Value);
        Assert.Contains("cooldown: cart_abandoned last fired for this session", text, StringComparison.Ordinal);

        // The same in JSON, as a script would read it.
        var (_, json) = await InspectAsync("--session", "s-cart", "--json");
        using (var doc = JsonDocument.Parse(json))
        {
            var session = doc.RootElement.GetProperty("sessions")[0];
            Assert.Equal("p-7", session.GetProperty("state").GetProperty("cart")[0].GetProperty("product_id").GetString());
            var decisions = doc.RootElement.GetProperty("decisions").EnumerateArray().ToList();
            Assert.Equal(["suppressed", "emitted"], decisions.Select(d => d.GetProperty("outcome").GetString()));
            Assert.Equal(cartId, decisions[1].GetProperty("trigger_id").GetString());
        }

        // By customer: the user id and the email both find the session; an order-only session has no decisions.
        var (byUser, userText) = await InspectAsync("--customer", "u-42");
        Assert.Equal(0, byUser);
        Assert.Contains("customer u-42: 1 linked session(s)", userText, StringComparison.Ordinal);
        Assert.Contains("session s-cart", userText, StringComparison.Ordinal);
        Assert.Contains("session s-cart", (await InspectAsync("--customer", "ana@example.com")).Output, StringComparison.Ordinal);
        var (_, bought) = await InspectAsync("--customer", "u-9");
        Assert.Contains("session s-bought", bought, StringComparison.Ordinal);
        Assert.Contains("decisions: none recorded", bought, StringComparison.Ordinal);

        var (missing, missingText) = await InspectAsync("--session", "never-seen");
        Assert.Equal(1, missing);
        Assert.Contains("nothing stored (4 partitions searched)", missingText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_ShowsAnOpenPeriod_WithItsPendingTimer()
    {
        // A long gap keeps the period open for the whole test: the timer index must hold its deadline.
        var settings = _settings with { Gap = TimeSpan.FromHours(1) };
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await using (var worker = await InProcessWorker.StartAsync(settings))
        {
            using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build();
            foreach (var (id, type, product) in new[] { ("o-1", "product_viewed", "p-1"), ("o-2", "product_added", "p-2"), ("o-3", "checkout_started", "") })
            {
                string productJson = product.Length == 0 ? string.Empty : $$""","product":{"id":"{{product}}","price":5}""";
                await producer.ProduceAsync("clickstream", new Message<string, string>
                {
                    Key = "s-open",
                    Value = $$"""{"event_id":"{{id}}","type":"{{type}}","timestamp":"{{UnixTime.Format(t0)}}","session_id":"s-open"{{productJson}}}""",
                });
            }

            await WaitUntilAsync(async () => (await InspectAsync("--session", "s-open")).Output.Contains("3 event(s)", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        }

        var (code, text) = await InspectAsync("--session", "s-open");
        Assert.Equal(0, code);
        string deadline = UnixTime.Format(t0 + (long)TimeSpan.FromHours(1).TotalMilliseconds);
        Assert.Matches($@"open period\s+since {Regex.Escape(UnixTime.Format(t0))}, 3 event\(s\), added to cart, checkout started", text);
        Assert.Matches($@"deadline\s+{Regex.Escape(deadline)}\s+\(in (59|60)m", text);
        Assert.Matches($@"pending timer\s+{Regex.Escape(deadline)}", text);
        Assert.Matches(@"viewed\s+1 product\(s\): p-1 @ 5", text);
        Assert.Contains("customer       anonymous", text, StringComparison.Ordinal);
        Assert.Contains("decisions: none recorded", text, StringComparison.Ordinal);
    }

    private async Task<(int Code, string Output)> InspectAsync(params string[] args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        int code = await InspectCommand.RunAsync([.. args, "--redis", _redis.Configuration, "--key-prefix", _settings.Group, "--group", _settings.Group], output)
            .WaitAsync(TimeSpan.FromSeconds(30));
        return (code, output.ToString());
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, $"condition not met within {timeout.TotalSeconds} s");
            await Task.Delay(200);
        }
    }

    // Rebases every parseable timestamp so the first event is at startMs, compressed; unparseable lines stay as they are.
    private static (List<(long AtMs, string? Key, string Line)> Lines, List<TrackerEvent> Events) Rebase(List<string> lines, long startMs)
    {
        var decoder = new JsonEventDecoder(new DecoderLimits());
        long? first = null;
        long last = startMs;
        var rebased = new List<(long, string?, string)>();
        var events = new List<TrackerEvent>();
        foreach (var line in lines)
        {
            string text = line;
            var m = TimestampPattern().Match(line);
            if (m.Success && UnixTime.TryParseRfc3339(Encoding.UTF8.GetBytes(m.Groups[1].Value), out long t))
            {
                first ??= t;
                last = startMs + ((t - first.Value) / Compression);
                text = line.Replace(m.Value, $"\"timestamp\":\"{UnixTime.Format(last)}\"", StringComparison.Ordinal);
            }

            string? key = SessionPattern().Match(text) is { Success: true } s ? s.Groups[1].Value : null;
            rebased.Add((last, key, text));
            if (decoder.TryDecode(Encoding.UTF8.GetBytes(text), out var ev, out _))
            {
                events.Add(ev!);
            }
        }

        events.Sort((a, b) => a.TimestampMs.CompareTo(b.TimestampMs));
        return (rebased, events);
    }

    private async Task ProducePacedAsync(List<(long AtMs, string? Key, string Line)> lines)
    {
        using var producer = new ProducerBuilder<string?, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, LingerMs = 0 }).Build();
        foreach (var (at, key, line) in lines.OrderBy(l => l.AtMs))
        {
            long wait = at - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(wait));
            }

            await producer.ProduceAsync("clickstream", new Message<string?, string> { Key = key, Value = line });
        }
    }

    [GeneratedRegex("\"timestamp\":\"([^\"]+)\"")]
    private static partial Regex TimestampPattern();

    [GeneratedRegex("\"session_id\":\"([^\"]+)\"")]
    private static partial Regex SessionPattern();
}
