using System.IO.Compression;
using System.Text;
using System.Text.Json;
using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Replay;

namespace StreamTriggers.Worker.Tests.Replay;

public class ReplayRunnerTests
{
    private const string Oct = "rees46_2019-10-01_head.csv";
    private const string Nov = "rees46_2019-11-01_head.csv";

    private sealed record Outcome(ReplayResult Result, List<JsonElement> Triggers, List<JsonElement> DeadLetters, byte[] Raw);

    private static Outcome Replay(string path, TimeSpan? gap = null, bool flush = false, InputFormat format = InputFormat.Auto, Stream? input = null)
    {
        var options = new ReplayOptions
        {
            Input = path,
            Format = format,
            Flush = flush,
            Progress = false,
            Rules = new RulesOptions { Gap = gap ?? TimeSpan.FromMinutes(30) },
            // These tests hold the session rules to independent counts: the triggers as fired, before any policy.
            Lifecycle = new Customers.LifecycleOptions { Enabled = false },
        };
        using var output = new MemoryStream();
        using var deadLetter = new MemoryStream();
        using var source = input ?? File.OpenRead(path);
        var result = new ReplayRunner(options).Run(source, output, deadLetter);
        return new Outcome(result, ParseLines(output.ToArray()), ParseLines(deadLetter.ToArray()), output.ToArray());
    }

    private static List<JsonElement> ParseLines(byte[] bytes) =>
        Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    private static string Type(JsonElement t) => t.GetProperty("type").GetString()!;

    // Expected counts below were computed independently from the CSV with a short Python script (a batch
    // computation: split each session's rows into periods at gaps >= G, apply the cart/browse rules per period,
    // count a period only if its deadline is <= the file's last timestamp), and the row/session counts are the
    // figures in ../shared/data/README.md.
    [Theory]
    [InlineData(Oct, 17_434, 5_066, 47, 1_645, 30, 1_146)]
    [InlineData(Nov, 10_000, 2_450, 28, 854, 45, 415)]
    public void Rees46_FiveMinuteGap_MatchesIndependentCount(string file, long rows, long sessions, long cart, long browse, long suppressed, long open)
    {
        var o = Replay(Paths.SharedData(file), gap: TimeSpan.FromMinutes(5));

        Assert.Equal(InputFormat.Rees46, o.Result.Format);
        Assert.Equal(rows, o.Result.EventsRead);
        Assert.Equal(0, o.Result.Rejected);
        Assert.Equal(sessions, o.Result.Engine.SessionsCreated);
        Assert.Equal(cart, o.Result.Fired(TriggerType.CartAbandoned));
        Assert.Equal(browse, o.Result.Fired(TriggerType.BrowseAbandoned));
        Assert.Equal(0, o.Result.Fired(TriggerType.CheckoutAbandoned)); // REES46 has no checkout events
        Assert.Equal(suppressed, o.Result.Engine.SuppressedByCooldown.Sum());
        Assert.Equal(open, o.Result.OpenPeriodsAtEnd);
        Assert.Equal(cart + browse, o.Triggers.Count);
    }

    // With a 24 h gap each session is one period; with --flush every one closes. Cart: sessions whose cart is not
    // empty at the end (the data README counts 53 / 32 sessions with a cart and no purchase at all; 3 more October
    // sessions add to the cart after a purchase). Browse: no cart, no purchase, at least two distinct products viewed.
    [Theory]
    [InlineData(Oct, 56, 2_223)]
    [InlineData(Nov, 32, 1_066)]
    public void Rees46_OnePeriodPerSession_Flushed_MatchesIndependentCount(string file, long cart, long browse)
    {
        var o = Replay(Paths.SharedData(file), gap: TimeSpan.FromHours(24), flush: true);

        Assert.Equal(cart, o.Result.Fired(TriggerType.CartAbandoned));
        Assert.Equal(browse, o.Result.Fired(TriggerType.BrowseAbandoned));
        Assert.Equal(0, o.Result.OpenPeriodsAtEnd);
    }

    [Fact]
    public void Rees46_ACartSession_CarriesItsCartAndDeadline()
    {
        // The file's only row for this session: 2019-11-01 00:00:14 UTC,cart,1005014,...,samsung,503.09,533326659,6b928be2-...
        var o = Replay(Paths.SharedData(Nov), gap: TimeSpan.FromMinutes(5));

        var t = Assert.Single(o.Triggers, t => t.GetProperty("session_id").GetString() == "6b928be2-2bce-4640-8296-0efdf2fda22a");
        Assert.Equal("cart_abandoned", Type(t));
        Assert.Equal("2019-11-01T00:05:14.000Z", t.GetProperty("deadline").GetString());
        Assert.Equal("533326659", t.GetProperty("user_id").GetString());
        var line = Assert.Single(t.GetProperty("cart").EnumerateArray());
        Assert.Equal("1005014", line.GetProperty("product_id").GetString());
        Assert.Equal("samsung", line.GetProperty("brand").GetString());
        Assert.Equal(503.09m, line.GetProperty("price").GetDecimal());
        Assert.Equal(1, line.GetProperty("quantity").GetInt32());
        Assert.Equal(503.09m, t.GetProperty("cart_value").GetDecimal());
        Assert.Equal(TriggerId.Create(TriggerType.CartAbandoned, "6b928be2-2bce-4640-8296-0efdf2fda22a", 1572566714000), t.GetProperty("trigger_id").GetString());
    }

    [Fact]
    public void Rees46_ReplayedTwice_GivesByteIdenticalOutput()
    {
        var first = Replay(Paths.SharedData(Oct), gap: TimeSpan.FromMinutes(5), flush: true);
        var second = Replay(Paths.SharedData(Oct), gap: TimeSpan.FromMinutes(5), flush: true);

        Assert.NotEmpty(first.Raw);
        Assert.Equal(first.Raw, second.Raw);
    }

    [Fact]
    public void Sample_FiresTheThreeAbandonments_AndRejectsTheBadLines()
    {
        var o = Replay(Paths.Sample("clickstream.jsonl"));

        Assert.Equal(InputFormat.JsonLines, o.Result.Format);
        Assert.Equal(19, o.Result.EventsRead);
        Assert.Equal(1, o.Result.Engine.DuplicatesIgnored);
        Assert.Equal(1, o.Result.Rejections(RejectReason.MalformedJson));
        Assert.Equal(1, o.Result.Rejections(RejectReason.UnknownEventType));
        Assert.Equal(1, o.Result.Rejections(RejectReason.MissingSessionId));
        Assert.Equal(1, o.Result.Rejections(RejectReason.InvalidTimestamp));

        Assert.Equal(
            ["browse_abandoned s-browse 2026-11-23T10:33:00.000Z", "cart_abandoned s-cart 2026-11-23T10:37:00.000Z", "checkout_abandoned s-checkout 2026-11-23T10:42:00.000Z"],
            o.Triggers.Select(t => $"{Type(t)} {t.GetProperty("session_id").GetString()} {t.GetProperty("deadline").GetString()}"));

        var cart = o.Triggers[1];
        Assert.Equal("u-42", cart.GetProperty("user_id").GetString());
        Assert.Equal("ana@example.com", cart.GetProperty("email").GetString());
        Assert.Equal(102.4m, cart.GetProperty("cart_value").GetDecimal());
        Assert.Equal("EUR", cart.GetProperty("currency").GetString());
        Assert.Equal(["p-7x1", "p-8x1"], cart.GetProperty("cart").EnumerateArray().Select(l => $"{l.GetProperty("product_id").GetString()}x{l.GetProperty("quantity").GetInt32()}"));
        Assert.Equal(["p-1", "p-2", "p-3"], o.Triggers[0].GetProperty("products_viewed").EnumerateArray().Select(p => p.GetProperty("product_id").GetString()));

        Assert.Equal(4, o.DeadLetters.Count);
        Assert.Equal([15, 16, 17, 18], o.DeadLetters.Select(d => d.GetProperty("line").GetInt32()));
        Assert.Equal("malformed_json", o.DeadLetters[0].GetProperty("reason").GetString());
        Assert.StartsWith("{\"type\":\"product_added\"", o.DeadLetters[0].GetProperty("raw").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void BadLines_NeverStopTheReplay()
    {
        var lines = new StringBuilder();
        lines.Append("{\"type\":\"cart\",\"timestamp\":\"2026-11-23T10:00:00Z\",\"session_id\":\"a\",\"product\":{\"id\":\"p\"}}\n");
        lines.Append("\n   \n");                                          // blank lines are not events
        lines.Append("{\"broken\n");
        lines.Append('{').Append(new string(' ', 70_000)).Append("}\n"); // over the 64 KiB event limit
        lines.Append("\u0001\u0002garbage\n");
        lines.Append("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T11:00:00Z\",\"session_id\":\"b\"}");  // no final newline
        var o = Replay("mixed.jsonl", input: new MemoryStream(Encoding.UTF8.GetBytes(lines.ToString())));

        Assert.Equal(5, o.Result.EventsRead);
        Assert.Equal(2, o.Result.Rejections(RejectReason.MalformedJson));
        Assert.Equal(1, o.Result.Rejections(RejectReason.EventTooLarge));
        Assert.Equal("cart_abandoned", Type(Assert.Single(o.Triggers)));
        Assert.Equal([4, 5, 6], o.DeadLetters.Select(d => d.GetProperty("line").GetInt32()));
    }

    [Fact]
    public void GzippedInput_AndCsvWithCrlf_AreRead()
    {
        string path = Path.Combine(Path.GetTempPath(), $"st-{Guid.NewGuid():N}.csv.gz");
        try
        {
            using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
            {
                gz.Write(Encoding.UTF8.GetBytes("\uFEFF" + Rees46CsvDecoder.Header + "\r\n2019-10-01 00:00:00 UTC,cart,1,2,,,5.00,7,s1\r\n"));
            }

            var options = new ReplayOptions { Input = path, Output = path + ".out", Flush = true, Progress = false, Lifecycle = new Customers.LifecycleOptions { Enabled = false } };
            var result = new ReplayRunner(options).Run();

            Assert.Equal(InputFormat.Rees46, result.Format);
            Assert.Equal(1, result.EventsRead);
            Assert.Equal(0, result.Rejected);
            Assert.Contains("\"cart_abandoned\"", File.ReadAllText(path + ".out"), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".out");
        }
    }

    [Fact]
    public void Summary_ListsEventsRejectionsAndTriggers()
    {
        var o = Replay(Paths.Sample("clickstream.jsonl"));
        var text = new StringWriter();
        o.Result.WriteSummary(text, "clickstream.jsonl");
        string summary = text.ToString();

        Assert.Contains("19 events read from clickstream.jsonl (jsonl", summary, StringComparison.Ordinal);
        Assert.Matches(@"rejected\s+4", summary);
        Assert.Matches(@"unknown_event_type\s+1", summary);
        Assert.Matches(@"cart_abandoned\s+1", summary);
        Assert.Matches(@"duplicates ignored\s+1", summary);
    }
}
