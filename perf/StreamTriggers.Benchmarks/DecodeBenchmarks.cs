using System.Text.Json;
using System.Text.Json.Serialization;
using BenchmarkDotNet.Attributes;
using StreamTriggers.Decoding;

namespace StreamTriggers.Benchmarks;

/// <summary>
/// One event from UTF-8 JSON to a decoded event. Baseline: System.Text.Json deserialising into a POCO, what most
/// teams write first (and it validates nothing).
/// </summary>
public class DecodeBenchmarks
{
    private const int N = 10_000;
    private byte[][] _events = [];
    private readonly JsonEventDecoder _decoder = new();
    private JsonEventDecoder _shared = new();

    [GlobalSetup]
    public void Setup()
    {
        _events = Corpus.Json(Corpus.Events(N));

        // The worker's decoder: products taken from the engine's product table (filled as the engine fills it, by
        // the events' products), event ids kept as hashes.
        var table = new Sessions.ProductTable(100_000);
        _shared = new JsonEventDecoder(products: table) { HashEventIds = true };
        foreach (var e in _events)
        {
            if (_decoder.TryDecode(e, out var ev, out _))
            {
                foreach (var p in ev!.Products) table.Canonical(p);
            }
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public int JsonSerializerPoco()
    {
        int n = 0;
        foreach (var e in _events)
        {
            var dto = JsonSerializer.Deserialize<EventDto>(e);
            n += dto!.SessionId!.Length;
        }

        return n;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public int Utf8JsonReaderDecoder() => DecodeAll(_decoder);

    [Benchmark(OperationsPerInvoke = N)]
    public int Utf8JsonReaderDecoderSharingProducts() => DecodeAll(_shared);

    /// <summary>The worker's decode: each event handed back once applied, and decoded into again (no event allocated).</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public int Utf8JsonReaderDecoderSharingProductsRecycled()
    {
        int n = 0;
        foreach (var e in _events)
        {
            _shared.TryDecode(e, out var ev, out _);
            n += ev!.SessionId.Length;
            _shared.Recycle(ev);
        }

        return n;
    }

    private int DecodeAll(JsonEventDecoder decoder)
    {
        int n = 0;
        foreach (var e in _events)
        {
            decoder.TryDecode(e, out var ev, out _);
            n += ev!.SessionId.Length;
        }

        return n;
    }

    /// <summary>The partition's first pass over a batch: only the session id.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public int PeekSessionId()
    {
        int n = 0;
        foreach (var e in _events)
        {
            n += _shared.PeekSessionId(e)!.Length;
        }

        return n;
    }

    public sealed class EventDto
    {
        [JsonPropertyName("event_id")] public string? EventId { get; set; }
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("timestamp")] public DateTimeOffset Timestamp { get; set; }
        [JsonPropertyName("session_id")] public string? SessionId { get; set; }
        [JsonPropertyName("user_id")] public string? UserId { get; set; }
        [JsonPropertyName("product")] public ProductDto? Product { get; set; }
    }

    public sealed class ProductDto
    {
        [JsonPropertyName("id")] public string? Id { get; set; }
        [JsonPropertyName("name")] public string? Name { get; set; }
        [JsonPropertyName("category")] public string? Category { get; set; }
        [JsonPropertyName("price")] public decimal? Price { get; set; }
        [JsonPropertyName("currency")] public string? Currency { get; set; }
    }
}
