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

    [GlobalSetup]
    public void Setup() => _events = Corpus.Json(Corpus.Events(N));

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
    public int Utf8JsonReaderDecoder()
    {
        int n = 0;
        foreach (var e in _events)
        {
            _decoder.TryDecode(e, out var ev, out _);
            n += ev!.SessionId.Length;
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
