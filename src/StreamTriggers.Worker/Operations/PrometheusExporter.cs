using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace StreamTriggers.Worker.Operations;

/// <summary>
/// Collects the <c>StreamTriggers</c> meter with a <see cref="MeterListener"/> and renders the Prometheus text
/// format (0.0.4): counters as <c>_total</c>, histograms as cumulative <c>_bucket</c>/<c>_sum</c>/<c>_count</c>,
/// observable gauges read at scrape time.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    // Millisecond buckets fit latencies; count buckets fit batch sizes.
    private static readonly double[] MsBuckets = [0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
    private static readonly double[] CountBuckets = [1, 5, 10, 50, 100, 500, 1000, 2000, 5000, 10000];

    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<Instrument, Series> _series = [];

    public PrometheusExporter(string meterName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                lock (_lock) _series[instrument] = new Series(instrument);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    public string Render()
    {
        lock (_lock)
        {
            foreach (var s in _series.Values.Where(s => s.IsGauge)) s.Gauges.Clear();
        }

        _listener.RecordObservableInstruments();
        var sb = new StringBuilder();
        lock (_lock)
        {
            foreach (var s in _series.Values.OrderBy(s => s.Instrument.Name, StringComparer.Ordinal))
            {
                s.Render(sb);
            }
        }

        return sb.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string labels = Labels(tags);
        lock (_lock)
        {
            if (_series.TryGetValue(instrument, out var s)) s.Add(labels, value);
        }
    }

    // Rendered label sets of one string-valued tag (trigger type, reject reason, store operation...): recorded per
    // trigger or batch, they would otherwise be formatted each time. Bounded: beyond it, formatted as they come.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Key, string Value), string> _singleLabels = new();
    private const int MaxCachedLabels = 1024;

    private string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 1 && tags[0].Value is string value)
        {
            var key = (tags[0].Key, value);
            if (_singleLabels.TryGetValue(key, out var cached)) return cached;
            string rendered = Format(tags);
            if (_singleLabels.Count < MaxCachedLabels) _singleLabels.TryAdd(key, rendered);
            return rendered;
        }

        return Format(tags);
    }

    private static string Format(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return string.Empty;
        var parts = new List<string>(tags.Length);
        foreach (var t in tags)
        {
            string v = Convert.ToString(t.Value, CultureInfo.InvariantCulture) ?? string.Empty;
            parts.Add($"{t.Key}=\"{v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"");
        }

        parts.Sort(StringComparer.Ordinal);
        return string.Join(",", parts);
    }

    private sealed class Series(Instrument instrument)
    {
        public Instrument Instrument { get; } = instrument;
        public bool IsGauge => Instrument is ObservableGauge<long> or ObservableGauge<double>;
        private bool IsHistogram => Instrument is Histogram<long> or Histogram<double>;
        private double[] Buckets => Instrument.Unit == "ms" ? MsBuckets : CountBuckets;
        private string Name => Instrument.Name.Replace('.', '_') + (Instrument.Unit == "ms" ? "_milliseconds" : string.Empty);
        public Dictionary<string, double> Gauges { get; } = [];
        private readonly Dictionary<string, double> _sums = [];
        private readonly Dictionary<string, (long[] Buckets, long Count, double Sum)> _histograms = [];

        public void Add(string labels, double value)
        {
            if (IsGauge)
            {
                Gauges[labels] = value;
            }
            else if (IsHistogram)
            {
                var b = Buckets;
                if (!_histograms.TryGetValue(labels, out var h)) h = (new long[b.Length], 0, 0);
                for (int i = 0; i < b.Length; i++)
                {
                    if (value <= b[i]) h.Buckets[i]++;
                }

                _histograms[labels] = (h.Buckets, h.Count + 1, h.Sum + value);
            }
            else
            {
                _sums[labels] = _sums.GetValueOrDefault(labels) + value;
            }
        }

        public void Render(StringBuilder sb)
        {
            string name = Name;
            if (IsGauge)
            {
                Header(sb, name, "gauge");
                foreach (var (labels, v) in Gauges) Line(sb, name, labels, v);
            }
            else if (IsHistogram)
            {
                Header(sb, name, "histogram");
                foreach (var (labels, h) in _histograms)
                {
                    string sep = labels.Length > 0 ? "," : string.Empty;
                    for (int i = 0; i < Buckets.Length; i++)
                    {
                        Line(sb, name + "_bucket", $"{labels}{sep}le=\"{Buckets[i].ToString(CultureInfo.InvariantCulture)}\"", h.Buckets[i]);
                    }

                    Line(sb, name + "_bucket", $"{labels}{sep}le=\"+Inf\"", h.Count);
                    Line(sb, name + "_sum", labels, h.Sum);
                    Line(sb, name + "_count", labels, h.Count);
                }
            }
            else
            {
                Header(sb, name + "_total", "counter");
                foreach (var (labels, v) in _sums) Line(sb, name + "_total", labels, v);
            }
        }

        private void Header(StringBuilder sb, string name, string type)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(Instrument.Description).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        }

        private static void Line(StringBuilder sb, string name, string labels, double value)
        {
            sb.Append(name);
            if (labels.Length > 0) sb.Append('{').Append(labels).Append('}');
            sb.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
    }
}
