using System.Globalization;
using System.Text;
using System.Text.Json;
using StreamTriggers.Customers;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Replay;

namespace StreamTriggers.Worker.Tests.Replay;

/// <summary>
/// The real REES46 extracts through replay with customer state on. Their window is a few hours, so the long delays
/// are shortened to fit in it; the expectations are computed here from the CSV directly, not from the engine.
/// </summary>
public class LifecycleReplayTests
{
    private const decimal Vip = 500m;

    private static ReplayOptions Options(string path) => new()
    {
        Input = path,
        Progress = false,
        Rules = new RulesOptions { Gap = TimeSpan.FromMinutes(5) },
        Lifecycle = new LifecycleOptions
        {
            CrossSellDelay = TimeSpan.FromMinutes(20),
            ReminderDelay = TimeSpan.FromMinutes(30),
            VipThreshold = Vip,
            // Smartphones: a one-day "cycle" with a lead of a day less 20 minutes, so the reminder falls 20 minutes after the order.
            ReplenishDays = new(StringComparer.OrdinalIgnoreCase) { ["electronics.smartphone"] = 1 },
            ReplenishmentLead = TimeSpan.FromDays(1) - TimeSpan.FromMinutes(20),
        },
        Policy = new PolicyOptions { QuietHoursStart = new TimeOnly(0, 0), QuietHoursEnd = new TimeOnly(0, 0) },
    };

    private static (ReplayResult Result, List<JsonElement> Triggers, List<JsonElement> Audit, byte[] Raw) Replay(string file)
    {
        string path = Paths.SharedData(file);
        using var input = File.OpenRead(path);
        using var output = new MemoryStream();
        using var audit = new MemoryStream();
        var result = new ReplayRunner(Options(path)).Run(input, output, deadLetter: null, progress: null, audit: audit);
        return (result, Lines(output), Lines(audit), output.ToArray());
    }

    private static List<JsonElement> Lines(MemoryStream s) =>
        Encoding.UTF8.GetString(s.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    private sealed record Row(DateTime Time, string Type, string Product, string Category, decimal Price, string User, string Session);

    private static List<Row> Csv(string file) => File.ReadLines(Paths.SharedData(file)).Skip(1).Select(line =>
    {
        var c = line.Split(',');
        return new Row(DateTime.ParseExact(c[0], "yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal),
            c[1], c[2], c[4], decimal.Parse(c[6], CultureInfo.InvariantCulture), c[7], c[8]);
    }).ToList();

    [Theory]
    [InlineData("rees46_2019-10-01_head.csv")]
    [InlineData("rees46_2019-11-01_head.csv")]
    public void OrderDrivenTriggers_MatchWhatTheCsvSays(string file)
    {
        var rows = Csv(file);
        var end = rows.Max(r => r.Time);
        var purchases = rows.Where(r => r.Type == "purchase").ToList();

        // VIP: users whose purchases add up to the threshold within the window.
        var vipUsers = purchases.GroupBy(r => r.User).Where(g => g.Sum(r => r.Price) >= Vip).Select(g => g.Key).Order(StringComparer.Ordinal).ToList();
        // Cross-sell: one per order (a session's purchase rows), 20 minutes after its first row, if that is inside the window.
        var orders = purchases.GroupBy(r => (r.User, r.Session)).Where(g => g.Min(r => r.Time).AddMinutes(20) <= end).Select(g => g.Key.Session).Order(StringComparer.Ordinal).ToList();
        // Replenishment: one per smartphone bought, 20 minutes after its latest purchase, if inside the window.
        int phones = purchases.Where(r => r.Category == "electronics.smartphone").Select(r => (r.User, r.Product))
            .Distinct().Count(k => purchases.Where(r => r.User == k.User && r.Product == k.Product).Max(r => r.Time).AddMinutes(20) <= end);

        var (result, triggers, audit, _) = Replay(file);

        List<JsonElement> Of(string type) => triggers.Where(t => t.GetProperty("type").GetString() == type).ToList();
        Assert.Equal(vipUsers, Of("vip_reached").Select(t => t.GetProperty("user_id").GetString()!).Order(StringComparer.Ordinal));
        Assert.Equal(orders, Of("post_purchase_cross_sell").Select(t => t.GetProperty("order_id").GetString()!).Order(StringComparer.Ordinal));
        Assert.Equal(phones, Of("replenishment").Count);
        Assert.All(Of("replenishment"), t => Assert.StartsWith("electronics.smartphone", t.GetProperty("products_bought")[0].GetProperty("category").GetString(), StringComparison.Ordinal));
        Assert.True(vipUsers.Count > 0 && orders.Count > 0 && phones > 0, "the extract exercises every order-driven trigger");

        // Every trigger carries the customer's segment and lifetime value; the session triggers passed the policy.
        Assert.All(triggers, t => Assert.NotNull(t.GetProperty("segment").GetString()));
        Assert.All(triggers, t => Assert.Equal(JsonValueKind.Number, t.GetProperty("lifetime_value").ValueKind));
        Assert.NotEmpty(Of("segment_changed"));
        Assert.Equal(result.Customers!.TotalEmitted, triggers.Count);
        Assert.Equal(result.Customers.TotalSuppressed + result.Customers.TotalDeferred + result.Engine.SuppressedByCooldown.Sum(), audit.Count);
        Assert.Contains(audit, a => a.GetProperty("reason").GetString() == "frequency_cap");
        Assert.Equal(rows.Select(r => r.User).Distinct().Count(), result.Customers.CustomersCreated);
    }

    [Fact]
    public void CartReminderAndRevocation_OnTheRealData()
    {
        var (_, triggers, _, _) = Replay("rees46_2019-10-01_head.csv");
        var sent = triggers.Select(t => t.GetProperty("trigger_id").GetString()).ToHashSet();

        // Whatever is revoked or reminded refers to a cart trigger that went out.
        foreach (var r in triggers.Where(t => t.GetProperty("type").GetString() == "trigger_revoked"))
        {
            Assert.Contains(r.GetProperty("revoked_trigger_id").GetString(), sent);
        }

        Assert.Contains(triggers, t => t.GetProperty("type").GetString() == "cart_abandoned");
    }

    [Fact]
    public void TheSameInput_GivesTheSameTriggersAndAudit()
    {
        var a = Replay("rees46_2019-11-01_head.csv");
        var b = Replay("rees46_2019-11-01_head.csv");

        Assert.Equal(a.Raw, b.Raw);
        Assert.Equal(a.Audit.Select(x => x.GetRawText()), b.Audit.Select(x => x.GetRawText()));
    }
}
