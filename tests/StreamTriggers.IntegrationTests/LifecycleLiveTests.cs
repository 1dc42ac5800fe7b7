using System.Text.Json;
using Confluent.Kafka;
using StackExchange.Redis;
using StreamTriggers.Decoding;
using StreamTriggers.IntegrationTests.Infrastructure;
using StreamTriggers.Kafka.Mock;

namespace StreamTriggers.IntegrationTests;

// The live worker with the customer lifecycle on: the session stage sends signals through the internal customer
// topic, the customer stage applies the sending policy and the lifecycle timers, publishes triggers and audits what
// it held back. Real redis-server and the Kafka protocol (librdkafka's mock cluster). Delays are seconds here
// (days in production); a customer timer horizon of 1 s makes every long timer leave memory and come back through
// the paged durable index.
public sealed class LifecycleLiveTests : IAsyncLifetime
{
    private static readonly TimeSpan Gap = TimeSpan.FromSeconds(2);
    private RedisServer _redis = null!;
    private MockCluster _kafka = null!;
    private WorkerSettings _settings = null!;

    private static readonly string[] Lifecycle =
    [
        "--StreamTriggers:Lifecycle:ReminderDelay=00:00:03",
        "--StreamTriggers:Lifecycle:CrossSellDelay=00:00:05",
        "--StreamTriggers:Lifecycle:VipThreshold=500",
        "--StreamTriggers:Worker:CustomerTimerHorizon=00:00:01",
    ];

    private static readonly string[] NoQuietHours = ["--StreamTriggers:Policy:QuietHoursStart=00:00", "--StreamTriggers:Policy:QuietHoursEnd=00:00"];

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _kafka = new MockCluster(brokers: 1);
        _kafka.CreateTopic("clickstream", 4);
        _kafka.CreateTopic("triggers", 2);
        _kafka.CreateTopic("clickstream-dlq", 1);
        _kafka.CreateTopic("triggers-audit", 1);
        _kafka.CreateTopic("customers", 4);
        _settings = new WorkerSettings(_kafka.BootstrapServers, _redis.Configuration, "g" + Guid.NewGuid().ToString("N")[..8], Gap,
            Lifecycle: true, Customers: "customers");
    }

    public async Task DisposeAsync()
    {
        _kafka.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Lifecycle_Triggers_AndThePolicy_RunLive()
    {
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1500;
        var events = new List<TrackerEvent>
        {
            // u1: a cart abandoned, then (in another session, within the abandonment family's cap, 2 s here) a second
            // one: capped. The first cart's reminder goes out 3 s after it (outside the cap), with the same cart.
            Event(EventType.ProductAdded, "a1", "u1", t0, products: [P("p1", 20m)]),
            Event(EventType.ProductAdded, "a2", "u1", t0 + 1000, products: [P("p2", 30m)]),
            // u2: one order over the VIP threshold: vip_reached at once, the cross-sell 5 s later with what was bought.
            Event(EventType.OrderCompleted, "b1", "u2", t0, products: [P("tv", 600m)], orderId: "o-b1", total: 600m),
            // u3: a cart goes out, then u3 orders: the cart is revoked (naming its id), its reminder never goes out.
            Event(EventType.ProductAdded, "c1", "u3", t0, products: [P("p3", 15m)]),
            Event(EventType.OrderCompleted, "c2", "u3", t0 + 4500, products: [P("p3", 15m)], orderId: "o-c2", total: 15m),
            // u4: views a product, then signs up: welcome with the product viewed.
            Event(EventType.ProductViewed, "d1", "u4", t0, products: [P("p4", 5m)]),
            Event(EventType.SignedUp, "d1", "u4", t0 + 200, email: "u4@example.com"),
            // An anonymous cart goes out; then the session identifies as u5: the cart goes out again, once, with the
            // identity (the anonymous subject and u5 are different customer keys, possibly on different partitions).
            Event(EventType.ProductAdded, "e1", null, t0, products: [P("p5", 25m)]),
            Event(EventType.PageViewed, "e1", "u5", t0 + 3500),
            // u6: the same session abandons a cart twice within the session cooldown: the second is held back by
            // the session stage itself, and audited there.
            Event(EventType.ProductAdded, "f1", "u6", t0, products: [P("p6", 5m)]),
            Event(EventType.ProductAdded, "f1", "u6", t0 + 2600, products: [P("p7", 5m)]),
        };

        await using var triggers = new TopicReader(_kafka.BootstrapServers, "triggers");
        await using var audit = new TopicReader(_kafka.BootstrapServers, "triggers-audit");
        await using var worker = await InProcessWorker.StartAsync(_settings, [.. Lifecycle, .. NoQuietHours, "--StreamTriggers:Policy:FrequencyCaps:abandonment=00:00:02"]);
        await TestStream.Of(events).ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None);

        var wanted = new[]
        {
            ("cart_abandoned", "u1"), ("cart_abandoned_reminder", "u1"), ("vip_reached", "u2"), ("post_purchase_cross_sell", "u2"),
            ("cart_abandoned", "u3"), ("trigger_revoked", "u3"), ("post_purchase_cross_sell", "u3"), ("welcome", "u4"),
            ("cart_abandoned", "u5"),
        };
        var got = await triggers.WaitForAsync(list => wanted.All(w => list.Any(t => Is(t, w.Item1, w.Item2))), TimeSpan.FromSeconds(40),
            list => Describe(list) + " | audit: " + Describe(audit.Received));
        await Task.Delay(2500); // anything extra (a duplicate, the capped cart, u3's reminder) would arrive by now
        got = triggers.Received;

        string Summary() => Describe(got) + " | audit: " + Describe(audit.Received);
        Assert.True(got.Count == got.Select(t => t.GetProperty("id").GetString()).Distinct().Count(), "duplicate trigger ids: " + Summary());
        Assert.Single(got, t => Is(t, "cart_abandoned", "u1"));
        Assert.DoesNotContain(got, t => Is(t, "cart_abandoned_reminder", "u3"));

        var reminder = got.Single(t => Is(t, "cart_abandoned_reminder", "u1"));
        Assert.Equal("p1", Data(reminder).GetProperty("cart")[0].GetProperty("product_id").GetString());
        var crossSell = got.Single(t => Is(t, "post_purchase_cross_sell", "u2"));
        Assert.Equal("tv", Data(crossSell).GetProperty("products_bought")[0].GetProperty("product_id").GetString());
        Assert.True(Received(crossSell) >= t0 + 5000, "the cross-sell went out before its delay: " + Summary());
        var cart3 = got.Single(t => Is(t, "cart_abandoned", "u3"));
        var revoked = got.Single(t => Is(t, "trigger_revoked", "u3"));
        Assert.Equal(cart3.GetProperty("id").GetString(), Data(revoked).GetProperty("revoked_trigger_id").GetString());
        var anonymous = got.Single(t => Data(t).GetProperty("type").GetString() == "cart_abandoned" && Data(t).GetProperty("session_id").GetString() == "e1"
            && Data(t).GetProperty("user_id").ValueKind == JsonValueKind.Null);
        var refired = got.Single(t => Is(t, "cart_abandoned", "u5"));
        Assert.Equal(anonymous.GetProperty("id").GetString(), Data(refired).GetProperty("refire_of").GetString());
        Assert.Equal("p5", Data(refired).GetProperty("cart")[0].GetProperty("product_id").GetString());
        var welcome = got.Single(t => Is(t, "welcome", "u4"));
        Assert.Equal("p4", Data(welcome).GetProperty("products_viewed")[0].GetProperty("product_id").GetString());
        Assert.All(got, t => Assert.True(Data(t).TryGetProperty("segment", out _) && Data(t).TryGetProperty("lifetime_value", out _), "no segment/value: " + t));

        // The second cart of u1 is on the audit topic with its reason, under the id it would have had; never sent.
        var held = await audit.WaitForAsync(list => list.Any(d => d.GetProperty("type").GetString() == "cart_abandoned" && d.GetProperty("session_id").GetString() == "a2"),
            TimeSpan.FromSeconds(10), Describe);
        var capped = held.First(d => d.GetProperty("session_id").GetString() == "a2");
        Assert.Equal("suppressed", capped.GetProperty("outcome").GetString());
        Assert.Contains(capped.GetProperty("reason").GetString(), new[] { "frequency_cap", "priority" });
        Assert.Equal("u:u1", capped.GetProperty("customer").GetString());
        Assert.DoesNotContain(got, t => t.GetProperty("id").GetString() == capped.GetProperty("trigger_id").GetString());

        var cooldown = await audit.WaitForAsync(list => list.Any(d => d.GetProperty("session_id").GetString() == "f1"), TimeSpan.FromSeconds(10), Describe);
        var sessionHeld = cooldown.Single(d => d.GetProperty("session_id").GetString() == "f1");
        Assert.Equal(("cart_abandoned", "suppressed", "cooldown"),
            (sessionHeld.GetProperty("type").GetString(), sessionHeld.GetProperty("outcome").GetString(), sessionHeld.GetProperty("reason").GetString()));
        Assert.Single(got, t => Is(t, "cart_abandoned", "u6"));

        // inspect --customer reads the customer stage's state directly: its sessions, and the capped decision.
        var output = new StringWriter();
        int code = await StreamTriggers.Worker.Tools.InspectCommand.RunAsync(
            ["--customer", "u1", "--json", "--redis", _redis.Configuration, "--key-prefix", _settings.Group, "--group", _settings.Group], output);
        Assert.True(code == 0, output.ToString());
        using var report = JsonDocument.Parse(output.ToString());
        var state = report.RootElement.GetProperty("customer_state");
        Assert.Equal("u:u1", state.GetProperty("key").GetString());
        Assert.Equal(["a1", "a2"], state.GetProperty("sessions").EnumerateArray().Select(x => x.GetString()).Order());
        Assert.Contains(report.RootElement.GetProperty("decisions").EnumerateArray(), d =>
            d.GetProperty("trigger_id").GetString() == capped.GetProperty("trigger_id").GetString() && d.GetProperty("outcome").GetString() == "suppressed");

        // A customer with nothing due but its expiry (u4: signed up, no order) has no timer-index entry: Redis's TTL
        // (the customer retention, 400 days) expires it. One with an order (u2: win-back, segment timers) has one.
        using var redis = await _redis.ConnectAsync();
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var db = redis.GetDatabase();
        RedisKey KeyOf(string customer) => server.Keys(pattern: $"{{{_settings.Group}:{_settings.Group}:customers:*}}:c:{customer}").Single();
        RedisKey TimersOf(RedisKey key) => ((string)key!)[..(((string)key!).IndexOf('}') + 1)] + ":timers";
        var u4 = KeyOf("u:u4");
        Assert.Null(await db.SortedSetScoreAsync(TimersOf(u4), "u:u4"));
        Assert.InRange((await db.KeyTimeToLiveAsync(u4))!.Value.TotalDays, 399, 401);
        var u2 = KeyOf("u:u2");
        Assert.NotNull(await db.SortedSetScoreAsync(TimersOf(u2), "u:u2"));
    }

    [Fact]
    public async Task QuietHours_DeferTheTrigger_ToTheirEnd_AndTheAuditSaysSo()
    {
        // Quiet hours (UTC, the default zone) from an hour ago until 9 s from now.
        var now = DateTime.UtcNow;
        var end = now.AddSeconds(9);
        string[] quiet = [$"--StreamTriggers:Policy:QuietHoursStart={now.AddHours(-1):HH:mm:ss}", $"--StreamTriggers:Policy:QuietHoursEnd={end:HH:mm:ss}"];
        long endMs = new DateTimeOffset(end.Year, end.Month, end.Day, end.Hour, end.Minute, end.Second, TimeSpan.Zero).ToUnixTimeMilliseconds();
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1000;

        await using var triggers = new TopicReader(_kafka.BootstrapServers, "triggers");
        await using var audit = new TopicReader(_kafka.BootstrapServers, "triggers-audit");
        await using var worker = await InProcessWorker.StartAsync(_settings, [.. Lifecycle, .. quiet]);
        await TestStream.Of([Event(EventType.ProductAdded, "q1", "u7", t0, products: [P("p7", 10m)])])
            .ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None);

        var deferred = await audit.WaitForAsync(list => list.Any(d => d.GetProperty("session_id").GetString() == "q1"), TimeSpan.FromSeconds(10), Describe);
        var decision = deferred.Single(d => d.GetProperty("session_id").GetString() == "q1");
        Assert.Equal(("cart_abandoned", "deferred", "quiet_hours"),
            (decision.GetProperty("type").GetString(), decision.GetProperty("outcome").GetString(), decision.GetProperty("reason").GetString()));
        Assert.Equal(endMs, DateTimeOffset.Parse(decision.GetProperty("release_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
        // Operational triggers (segment changes) skip the policy; the cart waits.
        static bool IsCart(JsonElement t) => Data(t).GetProperty("type").GetString() == "cart_abandoned";
        Assert.DoesNotContain(triggers.Received, IsCart);

        var sent = await triggers.WaitForAsync(list => list.Any(IsCart), TimeSpan.FromSeconds(20), Describe);
        var cart = Assert.Single(sent, IsCart);
        Assert.Equal(decision.GetProperty("trigger_id").GetString(), cart.GetProperty("id").GetString());
        Assert.True(Received(cart) >= endMs, $"released before the quiet hours ended: {Describe(sent)}");
        Assert.Equal(endMs, DateTimeOffset.Parse(Data(cart).GetProperty("released_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task ALongTimer_SurvivesAKilledWorker_AndGoesOutOnce()
    {
        string[] args = [.. Lifecycle, .. NoQuietHours, "--StreamTriggers:Lifecycle:CrossSellDelay=00:00:15"];
        long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 500;
        await using var triggers = new TopicReader(_kafka.BootstrapServers, "triggers");
        using (var first = WorkerProcess.Start(_settings, args))
        {
            await TestStream.Of([Event(EventType.OrderCompleted, "k1", "u9", t0, products: [P("kettle", 40m)], orderId: "o-k1", total: 40m)])
                .ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None);

            // The customer (with its pending cross-sell) is durable in Redis: then SIGKILL, nothing shuts down cleanly.
            using var redis = await _redis.ConnectAsync();
            var server = redis.GetServer(redis.GetEndPoints()[0]);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!server.Keys(pattern: $"{{{_settings.Group}:{_settings.Group}:customers:*}}:c:u:u9").Any())
            {
                Assert.True(DateTime.UtcNow < deadline, "the customer never reached Redis");
                await Task.Delay(100);
            }

            first.Kill();
        }

        Assert.True(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() < t0 + 15_000, "too slow to test a restart before the timer is due");
        using var second = WorkerProcess.Start(_settings, args);
        var got = await triggers.WaitForAsync(list => list.Any(t => Is(t, "post_purchase_cross_sell", "u9")), TimeSpan.FromSeconds(45), Describe);
        await Task.Delay(2000);
        got = triggers.Received;
        var crossSell = Assert.Single(got, t => Is(t, "post_purchase_cross_sell", "u9"));
        Assert.True(Received(crossSell) >= t0 + 15_000, "went out before it was due");
        Assert.Equal(got.Count, got.Select(t => t.GetProperty("id").GetString()).Distinct().Count());
    }

    [Fact]
    public async Task ATimerEntryWhoseCustomerExpired_IsRemovedWhenItsTimeComes()
    {
        // Timer-index entries of customers whose keys Redis already expired (no state behind them), one per
        // customer partition, due now: the customer stage pages them in, finds nothing, and removes them.
        using var redis = await _redis.ConnectAsync();
        var db = redis.GetDatabase();
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var timers = Enumerable.Range(0, 4).Select(p => (RedisKey)$"{{{_settings.Group}:{_settings.Group}:customers:{p}}}:timers").ToList();
        foreach (var key in timers)
        {
            await db.SortedSetAddAsync(key, "u:ghost", now);
        }

        await using var worker = await InProcessWorker.StartAsync(_settings, [.. Lifecycle, .. NoQuietHours]);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            long left = 0;
            foreach (var key in timers)
            {
                left += await db.SortedSetLengthAsync(key);
            }

            if (left == 0)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{left} stale timer entries still there after 30 s");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task CustomersMovingBetweenWorkers_KeepTheirLongTimers_EachGoesOutOnce()
    {
        string[] args = [.. Lifecycle, .. NoQuietHours, "--StreamTriggers:Lifecycle:CrossSellDelay=00:00:15"];
        await using var triggers = new TopicReader(_kafka.BootstrapServers, "triggers");
        var first = await InProcessWorker.StartAsync(_settings, args);
        using var second = WorkerProcess.Start(_settings, args);
        try
        {
            // Both workers share the input and customer partitions while the orders come in.
            await Task.Delay(4000);
            long t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 200;
            var orders = Enumerable.Range(0, 24)
                .Select(i => Event(EventType.OrderCompleted, $"m{i}", $"u{100 + i}", t0 + i * 20, products: [P("p" + i, 40m)], orderId: $"o-m{i}", total: 40m))
                .ToList();
            await TestStream.Of(orders).ProduceAsync(_kafka.BootstrapServers, "clickstream", CancellationToken.None);

            // Every customer is durable with its pending cross-sell; then the first worker leaves and the second
            // takes over all partitions (a clean handover: the leaving worker commits what it holds).
            using var redis = await _redis.ConnectAsync();
            var server = redis.GetServer(redis.GetEndPoints()[0]);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (server.Keys(pattern: $"{{{_settings.Group}:{_settings.Group}:customers:*}}:c:u:u1*").Count() < orders.Count)
            {
                Assert.True(DateTime.UtcNow < deadline, "the customers never all reached Redis");
                await Task.Delay(100);
            }

            await first.StopAsync();
            Assert.True(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() < t0 + 15_000, "too slow to move the customers before their timers are due");

            bool IsCrossSell(JsonElement t) => Data(t).GetProperty("type").GetString() == "post_purchase_cross_sell";
            var got = await triggers.WaitForAsync(list => list.Count(IsCrossSell) >= orders.Count, TimeSpan.FromSeconds(60), Describe);
            await Task.Delay(2000);
            var crossSells = triggers.Received.Where(IsCrossSell).ToList();
            Assert.Equal(orders.Select(o => o.UserId).Order(), crossSells.Select(t => Data(t).GetProperty("user_id").GetString()).Order());
            Assert.All(crossSells, t => Assert.True(Received(t) >= t0 + 15_000, "went out before it was due"));

            // Customer partitions did change hands: a claim bumps the partition's epoch.
            var epochs = Enumerable.Range(0, 4).Select(p => (long?)redis.GetDatabase().StringGet($"{{{_settings.Group}:{_settings.Group}:customers:{p}}}:epoch")).ToList();
            Assert.Contains(epochs, e => e >= 2);
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    private static TrackerEvent Event(EventType type, string session, string? user, long atMs, IReadOnlyList<ProductInfo>? products = null,
        string? orderId = null, decimal? total = null, string? email = null) => new()
        {
            Type = type,
            SessionId = session,
            UserId = user,
            Email = email,
            TimestampMs = atMs,
            Products = products ?? [],
            OrderId = orderId,
            OrderTotal = total,
            Currency = total is null ? null : "EUR",
        };

    private static ProductInfo P(string id, decimal price) => new() { Id = id, Price = price, Quantity = 1 };

    private static JsonElement Data(JsonElement trigger) => trigger.GetProperty("data");

    private static long Received(JsonElement message) => message.GetProperty("__received_ms").GetInt64();

    private static bool Is(JsonElement trigger, string type, string user) =>
        Data(trigger).GetProperty("type").GetString() == type && Data(trigger).TryGetProperty("user_id", out var u) && u.GetString() == user;

    private static string Describe(IEnumerable<JsonElement> messages) => string.Join("; ", messages.Select(m => m.TryGetProperty("data", out var d)
        ? $"{d.GetProperty("type").GetString()} {(d.TryGetProperty("user_id", out var u) ? u.GetString() : "-")} {m.GetProperty("id").GetString()}"
        : $"{m.GetProperty("type").GetString()} {m.GetProperty("outcome").GetString()} {(m.TryGetProperty("reason", out var r) ? r.GetString() : "-")} {m.GetProperty("session_id").GetString()}"));
}
