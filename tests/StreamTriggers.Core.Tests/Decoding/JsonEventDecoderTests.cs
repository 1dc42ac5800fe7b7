using System.Text;
using StreamTriggers.Decoding;

namespace StreamTriggers.Tests.Decoding;

public class JsonEventDecoderTests
{
    private const string Ts = "\"timestamp\":\"2026-11-23T10:15:30.123Z\"";
    private static readonly JsonEventDecoder Decoder = new();

    private static TrackerEvent Decode(string json, JsonEventDecoder? decoder = null)
    {
        Assert.True((decoder ?? Decoder).TryDecode(Encoding.UTF8.GetBytes(json), out var ev, out var rejection), rejection.ToString());
        return ev!;
    }

    private static Rejection Reject(string json, JsonEventDecoder? decoder = null)
    {
        Assert.False((decoder ?? Decoder).TryDecode(Encoding.UTF8.GetBytes(json), out var ev, out var rejection));
        Assert.Null(ev);
        return rejection;
    }

    [Fact]
    public void CanonicalEvent_DecodesEveryField()
    {
        var ev = Decode("""
            {"event_id":"e-123","type":"product_added","timestamp":"2026-11-23T10:15:30.123Z",
             "session_id":"s-9","user_id":"u-42","email":"ana@example.com",
             "product":{"id":"p-7","sku":"SKU7","name":"Trail shoe","category":"shoes/running","price":89.9,
                        "currency":"EUR","quantity":2,"replenish_days":30},
             "order":{"id":"o-1","total":129.8,"currency":"EUR"},
             "context":{"timezone":"Europe/Paris","locale":"fr-FR"}, "properties":{"a":[1,2,{"b":null}]}}
            """);

        Assert.Equal(EventType.ProductAdded, ev.Type);
        Assert.Equal(1795428930123, ev.TimestampMs);
        Assert.Equal("s-9", ev.SessionId);
        Assert.Equal("e-123", ev.EventId);
        Assert.Equal("u-42", ev.UserId);
        Assert.Equal("ana@example.com", ev.Email);
        var p = Assert.Single(ev.Products);
        Assert.Equal(new ProductInfo { Id = "p-7", Sku = "SKU7", Name = "Trail shoe", Category = "shoes/running", Price = 89.9m, Currency = "EUR", Quantity = 2, ReplenishDays = 30 }, p);
        Assert.Equal("o-1", ev.OrderId);
        Assert.Equal(129.8m, ev.OrderTotal);
        Assert.Equal("EUR", ev.Currency);
        Assert.Equal("Europe/Paris", ev.TimeZone);
        Assert.Equal("fr-FR", ev.Locale);
    }

    public static TheoryData<string, EventType> DialectNames => new()
    {
        { "page_viewed", EventType.PageViewed }, { "Page Viewed", EventType.PageViewed }, { "page_view", EventType.PageViewed },
        { "product_viewed", EventType.ProductViewed }, { "Product Viewed", EventType.ProductViewed }, { "view_item", EventType.ProductViewed },
        { "product_view", EventType.ProductViewed }, { "view", EventType.ProductViewed }, { "Viewed Product", EventType.ProductViewed },
        { "product_added", EventType.ProductAdded }, { "Product Added", EventType.ProductAdded }, { "add_to_cart", EventType.ProductAdded },
        { "cart", EventType.ProductAdded }, { "Added to Cart", EventType.ProductAdded },
        { "product_removed", EventType.ProductRemoved }, { "Product Removed", EventType.ProductRemoved }, { "remove_from_cart", EventType.ProductRemoved },
        { "checkout_started", EventType.CheckoutStarted }, { "Checkout Started", EventType.CheckoutStarted }, { "begin_checkout", EventType.CheckoutStarted },
        { "Started Checkout", EventType.CheckoutStarted },
        { "order_completed", EventType.OrderCompleted }, { "Order Completed", EventType.OrderCompleted }, { "purchase", EventType.OrderCompleted },
        { "transaction", EventType.OrderCompleted }, { "Placed Order", EventType.OrderCompleted },
        { "signed_up", EventType.SignedUp }, { "Signed Up", EventType.SignedUp }, { "sign_up", EventType.SignedUp },
        { "subscribed", EventType.Subscribed }, { "Subscribed", EventType.Subscribed }, { "newsletter_subscribed", EventType.Subscribed },
        { "identified", EventType.Identified }, { "Identified", EventType.Identified }, { "identify", EventType.Identified }, { "login", EventType.Identified },
        { "unsubscribed", EventType.Unsubscribed }, { "Unsubscribed", EventType.Unsubscribed },
        // Case does not matter.
        { "PRODUCT ADDED", EventType.ProductAdded }, { "pUrChAsE", EventType.OrderCompleted }, { "VIEW_ITEM", EventType.ProductViewed },
    };

    [Theory]
    [MemberData(nameof(DialectNames))]
    public void DialectNames_MapToCanonical_WithoutRegardToCase(string name, EventType expected)
    {
        var ev = Decode($$$"""{"type":"{{{name}}}",{{{Ts}}},"session_id":"s","product":{"id":"p"}}""");
        Assert.Equal(expected, ev.Type);
    }

    [Fact]
    public void EveryNameInTheTable_IsTested()
    {
        var tested = DialectNames.Select(row => ((string)row[0]).ToLowerInvariant()).ToHashSet();
        Assert.All(EventNames.All, name => Assert.Contains(name.ToLowerInvariant(), tested));
    }

    [Fact]
    public void SegmentTrackEnvelope_TakesTheNameFromEvent()
    {
        var ev = Decode($$"""{"type":"track","event":"Order Completed","messageId":"m-1","userId":"u-1",{{Ts}},"session_id":"s"}""");
        Assert.Equal(EventType.OrderCompleted, ev.Type);
        Assert.Equal("m-1", ev.EventId);
        Assert.Equal("u-1", ev.UserId);

        Assert.Equal(EventType.PageViewed, Decode($$"""{"type":"page",{{Ts}},"session_id":"s"}""").Type);
        Assert.Equal(EventType.Identified, Decode($$"""{"type":"identify",{{Ts}},"session_id":"s"}""").Type);
        Assert.Equal(EventType.SignedUp, Decode($$"""{"event_name":"sign_up",{{Ts}},"session_id":"s"}""").Type);
    }

    [Fact]
    public void NumericIds_AreKeptAsText_AndEpochMillisecondsAccepted()
    {
        var ev = Decode("""{"type":"view","timestamp":1795429530123,"session_id":12345,"user_id":987,"product":{"id":1005014,"price":"489.07"}}""");

        Assert.Equal("12345", ev.SessionId);
        Assert.Equal("987", ev.UserId);
        Assert.Equal(1795429530123, ev.TimestampMs);
        Assert.Equal("1005014", ev.Products[0].Id);
        Assert.Equal(489.07m, ev.Products[0].Price);
    }

    [Fact]
    public void ProductsArray_AndGa4Items_AreRead_AfterTheSingleProduct()
    {
        var ev = Decode($$"""{"type":"add_to_cart",{{Ts}},"session_id":"s","product":{"id":"a"},"items":[{"item_id":"b","item_name":"B","quantity":3},{"product_id":"c"}]}""");

        Assert.Equal(["a", "b", "c"], ev.Products.Select(p => p.Id));
        Assert.Equal("B", ev.Products[1].Name);
        Assert.Equal(3, ev.Products[1].Quantity);
    }

    [Fact]
    public void EscapedStrings_AndNulls_AreHandled()
    {
        var ev = Decode($$"""{"typ\u0065":"page_viewed",{{Ts}},"session_id":"s\"1\u00e9","user_id":null,"email":"","product":null}""");

        Assert.Equal(EventType.PageViewed, ev.Type);
        Assert.Equal("s\"1é", ev.SessionId);
        Assert.Null(ev.UserId);
        Assert.Null(ev.Email);
        Assert.Empty(ev.Products);
    }

    [Theory]
    [InlineData("{\"type\":\"view\"", "malformed_json")]
    [InlineData("not json", "malformed_json")]
    [InlineData("[1,2]", "malformed_json")]
    [InlineData("\"a string\"", "malformed_json")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\"} {}", "malformed_json")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",}", "malformed_json")]
    [InlineData("", "malformed_json")]
    public void MalformedJson_IsRejected(string json, string reason)
    {
        Assert.Equal(reason, RejectReasons.Name(Reject(json).Reason));
    }

    [Theory]
    [InlineData("{\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\"}", RejectReason.MissingType, "type")]
    [InlineData("{\"type\":\"\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\"}", RejectReason.MissingType, "type")]
    [InlineData("{\"type\":\"track\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\"}", RejectReason.MissingType, "event")]
    [InlineData("{\"type\":\"page_viewed\",\"session_id\":\"s\"}", RejectReason.MissingTimestamp, "timestamp")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":null,\"session_id\":\"s\"}", RejectReason.MissingTimestamp, "timestamp")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30Z\"}", RejectReason.MissingSessionId, "session_id")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"\"}", RejectReason.MissingSessionId, "session_id")]
    [InlineData("{\"type\":\"page_exploded\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\"}", RejectReason.UnknownEventType, "page_exploded")]
    [InlineData("{\"type\":\"track\",\"event\":\"Rocket Launched\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\"}", RejectReason.UnknownEventType, "Rocket Launched")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"yesterday\",\"session_id\":\"s\"}", RejectReason.InvalidTimestamp, "yesterday")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30\",\"session_id\":\"s\"}", RejectReason.InvalidTimestamp, "offset")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"1970-01-01T00:00:00Z\",\"session_id\":\"s\"}", RejectReason.InvalidTimestamp, "2000")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":1795429530,\"session_id\":\"s\"}", RejectReason.InvalidTimestamp, "2000")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":1.5,\"session_id\":\"s\"}", RejectReason.InvalidTimestamp, "whole")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":true,\"session_id\":\"s\"}", RejectReason.WrongFieldType, "timestamp")]
    [InlineData("{\"type\":42,\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\"}", RejectReason.WrongFieldType, "type")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":{\"id\":1}}", RejectReason.WrongFieldType, "session_id")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"email\":[\"a@b\"]}", RejectReason.WrongFieldType, "email")]
    [InlineData("{\"type\":\"view\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":{\"id\":\"p\",\"price\":true}}", RejectReason.WrongFieldType, "product.price")]
    [InlineData("{\"type\":\"view\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":\"p1\"}", RejectReason.WrongFieldType, "product")]
    [InlineData("{\"type\":\"view\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"products\":{\"id\":\"p\"}}", RejectReason.WrongFieldType, "products")]
    [InlineData("{\"type\":\"purchase\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"order\":5}", RejectReason.WrongFieldType, "order")]
    [InlineData("{\"type\":\"view\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":{\"id\":\"p\",\"price\":-1}}", RejectReason.InvalidValue, "product.price")]
    [InlineData("{\"type\":\"view\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":{\"id\":\"p\",\"price\":\"cheap\"}}", RejectReason.InvalidValue, "product.price")]
    [InlineData("{\"type\":\"cart\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":{\"id\":\"p\",\"quantity\":0}}", RejectReason.InvalidValue, "product.quantity")]
    [InlineData("{\"type\":\"cart\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":{\"id\":\"p\",\"quantity\":2.5}}", RejectReason.InvalidValue, "product.quantity")]
    [InlineData("{\"type\":\"cart\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":{\"id\":\"p\",\"quantity\":1000000}}", RejectReason.InvalidValue, "product.quantity")]
    [InlineData("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"email\":\"not-an-address\"}", RejectReason.InvalidValue, "email")]
    [InlineData("{\"type\":\"cart\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\"}", RejectReason.MissingProduct, "product_added")]
    [InlineData("{\"type\":\"cart\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":{\"name\":\"no id\"}}", RejectReason.MissingProduct, "id")]
    [InlineData("{\"type\":\"view\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"products\":[]}", RejectReason.MissingProduct, "product_viewed")]
    public void BadInput_IsRejected_WithReasonAndField(string json, RejectReason reason, string detailMentions)
    {
        var rejection = Reject(json);

        Assert.Equal(reason, rejection.Reason);
        Assert.Contains(detailMentions, rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TooLargeEvent_IsRejectedBeforeParsing()
    {
        var decoder = new JsonEventDecoder(new DecoderLimits { MaxEventBytes = 1024 });
        string padding = new('x', 2000);
        var rejection = Reject($$$"""{"type":"page_viewed",{{{Ts}}},"session_id":"s","properties":{"pad":"{{{padding}}}"}}""", decoder);

        Assert.Equal(RejectReason.EventTooLarge, rejection.Reason);
        Assert.Contains("1024", rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TooLongField_IsRejected_EvenWhenEscaped()
    {
        var decoder = new JsonEventDecoder(new DecoderLimits { MaxStringBytes = 32 });
        Assert.Equal(RejectReason.FieldTooLong, Reject($$"""{"type":"page_viewed",{{Ts}},"session_id":"{{new string('s', 33)}}"}""", decoder).Reason);
        Assert.Equal(RejectReason.FieldTooLong, Reject($$$"""{"type":"view",{{{Ts}}},"session_id":"s","product":{"id":"p","name":"{{{string.Concat(Enumerable.Repeat("\\u00e9", 17))}}}"}}""", decoder).Reason);
        // 32 bytes exactly is fine.
        Assert.Equal(new string('s', 32), Decode($$"""{"type":"page_viewed",{{Ts}},"session_id":"{{new string('s', 32)}}"}""", decoder).SessionId);
    }

    [Fact]
    public void TooManyItems_IsRejected()
    {
        var decoder = new JsonEventDecoder(new DecoderLimits { MaxItems = 3 });
        string items = string.Join(",", Enumerable.Range(0, 4).Select(i => $$"""{"id":"p{{i}}"}"""));
        var rejection = Reject($$"""{"type":"purchase",{{Ts}},"session_id":"s","products":[{{items}}]}""", decoder);

        Assert.Equal(RejectReason.TooManyItems, rejection.Reason);
        Assert.Single(Decode($$"""{"type":"purchase",{{Ts}},"session_id":"s","products":[{"id":"a"}]}""", decoder).Products);
    }

    [Fact]
    public void DeepNesting_IsRejected()
    {
        string deep = new string('[', 40) + new string(']', 40);
        var rejection = Reject($$"""{"type":"page_viewed",{{Ts}},"session_id":"s","properties":{{deep}}}""");

        Assert.Equal(RejectReason.MalformedJson, rejection.Reason);
    }

    [Fact]
    public void InvalidUtf8_IsRejected()
    {
        byte[] bytes = [.. Encoding.UTF8.GetBytes("{\"type\":\"page_viewed\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s"), 0xC3, 0x28, .. "\"}"u8];

        Assert.False(Decoder.TryDecode(bytes, out _, out var rejection));
        Assert.Equal(RejectReason.MalformedJson, rejection.Reason);
    }

    [Fact]
    public void RandomBytes_NeverThrow()
    {
        var random = new Random(1234);
        var prefix = Encoding.UTF8.GetBytes("{\"type\":\"product_added\",\"timestamp\":\"2026-11-23T10:15:30Z\",\"session_id\":\"s\",\"product\":{\"id\":\"p\",\"price\":1}}");
        for (int i = 0; i < 20_000; i++)
        {
            // Mutate a valid event: every outcome must be an event or a rejection, never an exception.
            byte[] bytes = (byte[])prefix.Clone();
            for (int m = random.Next(1, 4); m > 0; m--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            int cut = random.Next(bytes.Length + 1);
            bool ok = Decoder.TryDecode(bytes.AsSpan(0, cut), out var ev, out var rejection);
            Assert.Equal(ok, ev is not null);
            Assert.True(ok || rejection.Detail.Length > 0);
        }
    }

    [Theory]
    [InlineData("{\"session_id\":\"s-1\",\"type\":\"page_viewed\"}", "s-1")]
    [InlineData("{\"type\":\"page_viewed\",\"sessionId\":\"s-2\"}", "s-2")]
    [InlineData("{\"session_id\":12345}", "12345")]
    [InlineData("{\"session\\u005fid\":\"s-3\"}", "s-3")]
    [InlineData("{\"session_id\":\"s\\u0022q\"}", "s\"q")]
    [InlineData("{\"session_id\":\"first\",\"x\":1,\"session_id\":\"last\"}", "last")]
    [InlineData("{\"properties\":{\"session_id\":\"nested\"},\"context\":{\"session_id\":\"nested\"},\"session_id\":\"top\"}", "top")]
    [InlineData("{\"properties\":{\"session_id\":\"nested\"}}", null)]
    [InlineData("{\"session_id\":\"s\",\"session_id\":null}", null)]
    [InlineData("{\"session_id\":\"\"}", null)]
    [InlineData("{\"session_id\":{\"id\":\"s\"}}", null)]
    [InlineData("[\"session_id\",\"s\"]", null)]
    [InlineData("{\"session_id\":\"s\"", null)]
    [InlineData("not json", null)]
    [InlineData(" {\r\n\t\"session_id\" :\n \"s-4\" } ", "s-4")]
    [InlineData("{\"name\":\"a \\\" {[ quoted\",\"session_id\":\"s-5\"}", "s-5")]
    [InlineData("{\"p\":{\"q\":[\"]}\\\\\",{\"session_id\":\"in\"}],\"session_id\":\"in\"},\"session_id\":\"s-6\"}", "s-6")]
    [InlineData("{\"session_id\":\"s-7\",\"n\":-1.5e3,\"t\":true,\"z\":null}", "s-7")]
    [InlineData("{\"session_id\":\"s-8\",\"a\":[}", null)]
    [InlineData("{\"session_id\":\"s-9\" \"x\":1}", null)]
    [InlineData("{}", null)]
    public void PeekSessionId_ReadsTheTopLevelSessionId_AsTheFullDecodeWould(string json, string? expected)
    {
        Assert.Equal(expected, Decoder.PeekSessionId(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void PeekSessionId_AgreesWithTryDecode_OnEveryEventItAccepts()
    {
        // The partition fetches the sessions a batch needs by peeking, then decodes each event as it applies it: an
        // event whose session the peek named differently would start without its stored state.
        string[] bases =
        [
            $$$"""{"type":"product_added",{{{Ts}}},"session_id":"s-1","product":{"id":"p","price":1,"session_id":"x"}}""",
            $$$"""{"sessionId":"a","type":"page_viewed",{{{Ts}}},"session_id":"b","context":{"timezone":"Europe/Paris"}}""",
            $$$"""{"type":"track","event":"Order Completed",{{{Ts}}},"session_id":77,"order":{"id":"o","total":5},"products":[{"id":"p1"},{"id":"p2"}]}""",
            $$$"""{"type":"page_viewed",{{{Ts}}},"session\u005fid":"s\u00e9","properties":{"session_id":"no","a":[1,{"b":null}]}}""",
            $$$"""{ "type" : "product_viewed" , {{{Ts}}} , "product" : { "id" : "p\"1" , "name" : "a ]} \\ {[ b" } , "session_id" : "s-2" , "x" : [ [ ] , { } ] }""",
            $$$"""{"type":"page_viewed",{{{Ts}}},"session_id":"s-3","context":{"page":{"title":"\"{\"session_id\":\"no\"}"}},"n":[1,-2.5e-3,true,false,null]}""",
        ];
        var random = new Random(4321);
        int accepted = 0;
        foreach (var text in bases.Concat(File.ReadLines(SamplePath("clickstream.jsonl"))))
        {
            var original = Encoding.UTF8.GetBytes(text);
            for (int i = 0; i < 2_000; i++)
            {
                byte[] bytes = (byte[])original.Clone();
                for (int m = i == 0 ? 0 : random.Next(1, 3); m > 0; m--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(32, 127);
                }

                if (Decoder.TryDecode(bytes, out var ev, out _))
                {
                    accepted++;
                    Assert.Equal(ev!.SessionId, Decoder.PeekSessionId(bytes));
                }
            }
        }

        Assert.True(accepted > 2_000, $"only {accepted} mutated events were accepted: the comparison tested too little");
    }

    [Fact]
    public void A_product_equal_to_the_tables_is_the_tables_instance_and_any_difference_reads_a_new_one()
    {
        var table = new StreamTriggers.Sessions.ProductTable(100);
        var decoder = new JsonEventDecoder(products: table);
        const string Product = """{"id":"p-7","sku":"SKU7","name":"Trail shoe","category":"shoes/running","brand":"Acme","price":89.9,"currency":"EUR","quantity":2,"replenish_days":30}""";
        var held = table.Canonical(Decode($$$"""{"type":"cart",{{{Ts}}},"session_id":"s","product":{{{Product}}}}""").Products[0]);

        Assert.Same(held, Decode($$$"""{"type":"cart",{{{Ts}}},"session_id":"s","product":{{{Product}}}}""", decoder).Products[0]);
        // Field order and escapes do not matter; equal text does.
        Assert.Same(held, Decode($$$"""{"type":"cart",{{{Ts}}},"session_id":"s","product":{"quantity":2,"name":"Trail\u0020shoe","replenish_days":30,"currency":"EUR","brand":"Acme","category":"shoes/running","sku":"SKU7","price":89.90,"id":"p-7"}}""", decoder).Products[0]);

        string[] differences =
        [
            Product.Replace("\"SKU7\"", "\"SKU8\"", StringComparison.Ordinal),
            Product.Replace("\"sku\":\"SKU7\",", "", StringComparison.Ordinal),
            Product.Replace("\"sku\":\"SKU7\"", "\"sku\":7", StringComparison.Ordinal),
            Product.Replace("Trail shoe", "Trail shoes", StringComparison.Ordinal),
            Product.Replace("\"name\":\"Trail shoe\"", "\"name\":\"\"", StringComparison.Ordinal),
            Product.Replace("shoes/running", "shoes/trail", StringComparison.Ordinal),
            Product.Replace("Acme", "acme", StringComparison.Ordinal),
            Product.Replace("\"brand\":\"Acme\"", "\"brand\":null", StringComparison.Ordinal),
            Product.Replace("89.9", "89.8", StringComparison.Ordinal),
            Product.Replace("\"price\":89.9,", "", StringComparison.Ordinal),
            Product.Replace("EUR", "USD", StringComparison.Ordinal),
            Product.Replace("\"quantity\":2", "\"quantity\":1", StringComparison.Ordinal),
            Product.Replace(",\"replenish_days\":30", "", StringComparison.Ordinal),
        ];
        foreach (var product in differences)
        {
            string json = $$$"""{"type":"cart",{{{Ts}}},"session_id":"s","product":{{{product}}}}""";
            var read = Decode(json, decoder).Products[0];
            Assert.NotSame(held, read);
            Assert.Equal(Decode(json).Products[0], read); // as read without the table
            Assert.NotEqual(held, read);
        }
    }

    [Fact]
    public void Decoding_with_a_product_table_gives_the_same_events_and_rejections_as_without()
    {
        // Mutated product events through a decoder that shares the engine's product table (fed as the engine feeds it)
        // and one without a table: every event equal field by field, every rejection for the same reason.
        var table = new StreamTriggers.Sessions.ProductTable(1_000);
        var heldIds = new HashSet<string>(StringComparer.Ordinal);
        var lookup = heldIds.GetAlternateLookup<ReadOnlySpan<char>>();
        var withTable = new JsonEventDecoder(products: table)
        {
            HashEventIds = true,
            HeldSessions = id => lookup.Contains(id),
        };
        string[] bases =
        [
            $$$"""{"type":"product_added",{{{Ts}}},"session_id":"s-1","product":{"id":"p-1","sku":"S1","name":"Shoe","category":"c/1","brand":"B","price":10.5,"currency":"EUR","quantity":2,"replenish_days":30}}""",
            $$$"""{"type":"view",{{{Ts}}},"session_id":"s-2","products":[{"id":"p-1","name":"Shoe","price":10.5},{"item_id":42,"item_name":"Sock","item_category":"c/2","price":1}]}""",
            $$$"""{"type":"purchase",{{{Ts}}},"session_id":"s-3","order":{"id":"o","total":12},"items":[{"id":"p-2","name":"Sock","brand":null,"quantity":3}]}""",
        ];
        var random = new Random(97);
        int shared = 0, accepted = 0;
        foreach (var text in bases)
        {
            var original = Encoding.UTF8.GetBytes(text);
            for (int i = 0; i < 3_000; i++)
            {
                byte[] bytes = (byte[])original.Clone();
                for (int m = random.Next(0, 3); m > 0; m--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(32, 127);
                }

                bool ok = Decoder.TryDecode(bytes, out var expected, out var expectedRejection);
                Assert.Equal(ok, withTable.TryDecode(bytes, out var actual, out var rejection));
                if (!ok)
                {
                    Assert.Equal(expectedRejection.Reason, rejection.Reason);
                    continue;
                }

                accepted++;
                Assert.Equal(expected!.SessionId, actual!.SessionId);
                Assert.Equal(expected.DedupHash, actual.DedupHash);
                heldIds.Add(actual.SessionId);
                Assert.Equal(expected.Type, actual.Type);
                Assert.Equal(expected.Products, actual.Products);
                foreach (var p in actual.Products)
                {
                    shared += table.TryFind(p.Id, out var known) && ReferenceEquals(known, p) ? 1 : 0;
                    table.Canonical(p);
                }
            }
        }

        Assert.True(accepted > 3_000, $"only {accepted} events accepted");
        Assert.True(shared > accepted / 2, $"only {shared} products came from the table: the shared path was hardly tested");
    }

    [Theory]
    [InlineData("\"e-123\"", "e-123")]
    [InlineData("4711", "4711")]
    [InlineData("\"e\\u002d1\"", "e-1")]
    [InlineData("\"\"", null)]
    [InlineData("null", null)]
    public void HashEventIds_KeepsTheIdsHashInsteadOfItsString(string rawId, string? id)
    {
        string json = $$$"""{"type":"page_viewed",{{{Ts}}},"session_id":"s","event_id":{{{rawId}}}}""";
        var hashed = Decode(json, new JsonEventDecoder { HashEventIds = true });
        var plain = Decode(json);

        Assert.Null(hashed.EventId);
        Assert.Equal(id, plain.EventId);
        Assert.Equal(id is null ? 0UL : StreamTriggers.Triggers.TriggerId.StableHash(id), hashed.EventIdHash);
        Assert.Equal(plain.DedupHash, hashed.DedupHash);
    }

    [Fact]
    public void HeldSessions_AreNotReadByThePeek_AndTheFullDecodeReadsEveryId()
    {
        // The peek reads no string for a session the caller holds (null, held), escapes read as the full decode reads
        // them, the last id winning; the full decode gives every event its id, held or not.
        var decoder = new JsonEventDecoder { HeldSessions = id => id.SequenceEqual("s-1") };

        Assert.Equal("s-1", Decode($$$"""{"type":"page_viewed",{{{Ts}}},"session_id":"s-1"}""", decoder).SessionId);
        Assert.Equal("s-1", Decode($$$"""{"type":"page_viewed",{{{Ts}}},"session_id":"s\u002d1"}""", decoder).SessionId);
        Assert.Equal("s-1", decoder.PeekSessionId(Encoding.UTF8.GetBytes("""{"session_id":"s-1"}""")));

        Assert.Null(decoder.PeekSessionId(Encoding.UTF8.GetBytes("""{"session_id":"s\u002d1"}"""), out bool isHeld));
        Assert.True(isHeld);
        Assert.Null(decoder.PeekSessionId(Encoding.UTF8.GetBytes("""{"session\u005fid":"s-1"}"""), out isHeld));
        Assert.True(isHeld);
        Assert.Equal("s-2", decoder.PeekSessionId(Encoding.UTF8.GetBytes("""{"session_id":"s-1","session_id":"s-2"}"""), out isHeld));
        Assert.False(isHeld);
        Assert.Null(decoder.PeekSessionId(Encoding.UTF8.GetBytes("""{"session_id":"s-2","session_id":"s-1"}"""), out isHeld));
        Assert.True(isHeld);
        Assert.Equal("s-2", decoder.PeekSessionId(Encoding.UTF8.GetBytes("""{"session\u005fid":"s-2"}"""), out isHeld));
        Assert.False(isHeld);
        Assert.Equal("s-2", Decode($$$"""{"type":"page_viewed",{{{Ts}}},"session_id":"s-2"}""", decoder).SessionId);
        Assert.Equal("12", Decode($$$"""{"type":"page_viewed",{{{Ts}}},"session_id":12}""", decoder).SessionId);
    }

    [Fact]
    public void A_recycled_event_is_decoded_into_again_with_nothing_of_the_event_before()
    {
        var decoder = new JsonEventDecoder();
        var first = Decode($$$"""{"type":"order_completed",{{{Ts}}},"session_id":"s-1","event_id":"e-1","user_id":"u-1","email":"a@b.c","order":{"id":"o-1","total":12.5,"currency":"EUR"},"products":[{"id":"p-1"}],"context":{"timezone":"Europe/Paris","locale":"fr-FR"}}""", decoder);
        decoder.Recycle(first);
        var second = Decode($$$"""{"type":"page_viewed","timestamp":1700000000000,"session_id":"s-2"}""", decoder);
        var fresh = Decode($$$"""{"type":"page_viewed","timestamp":1700000000000,"session_id":"s-2"}""");

        Assert.Same(first, second);
        foreach (var property in typeof(TrackerEvent).GetProperties())
        {
            var expected = property.GetValue(fresh);
            var actual = property.GetValue(second);
            Assert.True(expected is System.Collections.IEnumerable e && actual is System.Collections.IEnumerable a && expected is not string
                ? e.Cast<object>().SequenceEqual(a.Cast<object>())
                : Equals(expected, actual), $"{property.Name}: {actual} where a new event has {expected}");
        }

        // Without a recycled one, each decode is a new event.
        Assert.NotSame(second, Decode($$$"""{"type":"page_viewed","timestamp":1700000000000,"session_id":"s-2"}""", decoder));
    }

    private static string SamplePath(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "samples", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"samples/{name} not found above {AppContext.BaseDirectory}");
    }
}
