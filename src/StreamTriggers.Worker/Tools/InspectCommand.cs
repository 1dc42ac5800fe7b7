using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;
using StreamTriggers.Customers;
using StreamTriggers.Decoding;
using StreamTriggers.Redis;
using StreamTriggers.Sessions;
using StreamTriggers.State;
using StreamTriggers.Time;
using StreamTriggers.Triggers;
using StreamTriggers.Worker.Cli;

namespace StreamTriggers.Worker.Tools;

/// <summary>
/// <c>streamtriggers inspect</c>: what the worker knows about one session or customer, read from Redis: the stored
/// state, its pending deadline in the durable timer index, and its latest trigger decisions (sent, or held back and
/// why). Read-only; safe against a live deployment.
/// </summary>
internal static class InspectCommand
{
    public const string Usage = """
        streamtriggers inspect (--session ID | --customer ID) [options]

        Prints the stored state of a session, or of a customer (user id or email: the customer stage's state, and
        every session that carried it), with pending timers and the latest trigger decisions (emitted, or
        suppressed or deferred with the reason). Read from Redis.

          --session ID          the session id (the input message key)
          --customer ID         a user id or email: the sessions that carried it, and their decisions merged
          --redis CONFIG        StackExchange.Redis configuration (default: StreamTriggers:Redis:Configuration)
          --key-prefix P        key prefix (default: StreamTriggers:Redis:KeyPrefix, 'st')
          --group G             consumer group whose state to read (default: StreamTriggers:Kafka:GroupId)
          --partition N         look only in this input partition (default: every partition with state)
          --json                one JSON document instead of text

        Exit status: 0 found, 1 nothing stored for that subject, 2 usage or connection error.
        """;

    private static readonly HashSet<string> Flags = ["json"];

    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        var cl = new CommandLine(args, Flags);
        var configuration = ToolConfiguration.Load();
        var redisOptions = ToolConfiguration.Redis(configuration);
        string? session = cl.String("session");
        string? customer = cl.String("customer");
        string redis = cl.String("redis", redisOptions.Configuration)!;
        string prefix = cl.String("key-prefix", redisOptions.KeyPrefix)!;
        string group = cl.String("group", ToolConfiguration.Kafka(configuration).GroupId)!;
        int? partition = cl.Has("partition") ? cl.Int("partition", 0, 0, 1_000_000) : null;
        bool json = cl.Has("json");
        cl.EnsureAllUsed();
        if ((session is null) == (customer is null))
        {
            throw new UsageException("give exactly one of --session ID or --customer ID");
        }

        if (string.IsNullOrWhiteSpace(redis))
        {
            throw new UsageException("no Redis configured: pass --redis host:port or set StreamTriggers__Redis__Configuration");
        }

        ConnectionMultiplexer connection;
        try
        {
            connection = await ConnectionMultiplexer.ConnectAsync(redis).ConfigureAwait(false);
        }
        catch (RedisConnectionException ex)
        {
            throw new UsageException($"cannot connect to Redis at '{redis}': {ex.Message}");
        }

        await using var store = new RedisStateStore(connection, prefix, group, TimeSpan.FromDays(7), ownsConnection: true);
        var customers = new RedisStateStore(connection, prefix, group, TimeSpan.FromDays(400), space: StateSpace.Customers);
        var report = await InspectAsync(store, session, customer, partition, cancellationToken, customers).ConfigureAwait(false);
        if (json)
        {
            WriteJson(report, output);
        }
        else
        {
            WriteText(report, output, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }

        return report.Sessions.Count == 0 && report.Customer is null ? 1 : 0;
    }

    /// <summary>
    /// What was found for a subject: the customer stage's state (for a customer), every stored session, oldest
    /// activity first, and all their decisions newest first.
    /// </summary>
    internal sealed record Report(string Subject, bool IsCustomer, IReadOnlyList<SessionView> Sessions, IReadOnlyList<TriggerDecision> Decisions, int PartitionsSearched,
        CustomerView? Customer = null);

    internal sealed record SessionView(StoredSession Stored, SessionState? State, string? DecodeError);

    internal sealed record CustomerView(StoredSession Stored, CustomerState? State, string? DecodeError);

    // The customer's state is keyed by user id, else by email (lower case): a subject containing '@' may be either.
    private static async Task<CustomerView?> FindCustomerAsync(IStateInspector customers, string customer, CancellationToken ct)
    {
        string[] keys = customer.Contains('@', StringComparison.Ordinal)
            ? [CustomerKeys.For(customer, null, ""), CustomerKeys.For(null, customer, "")]
            : [CustomerKeys.For(customer, null, "")];
        foreach (int partition in await customers.PartitionsAsync(ct).ConfigureAwait(false))
        {
            foreach (var key in keys)
            {
                if (await customers.ReadSessionAsync(partition, key, ct).ConfigureAwait(false) is { } stored)
                {
                    try
                    {
                        return new CustomerView(stored, stored.State is null ? null : CustomerCodec.Decode(key, stored.State), null);
                    }
                    catch (FormatException ex)
                    {
                        return new CustomerView(stored, null, ex.Message);
                    }
                }
            }
        }

        return null;
    }

    internal static async Task<Report> InspectAsync(IStateInspector store, string? session, string? customer, int? onlyPartition, CancellationToken ct,
        IStateInspector? customers = null)
    {
        var customerView = customer is not null && customers is not null ? await FindCustomerAsync(customers, customer, ct).ConfigureAwait(false) : null;
        var partitions = onlyPartition is { } p ? [p] : await store.PartitionsAsync(ct).ConfigureAwait(false);
        var found = new List<SessionView>();
        foreach (int partition in partitions)
        {
            var ids = session is not null ? [session] : await store.CustomerSessionsAsync(partition, customer!, ct).ConfigureAwait(false);
            foreach (var id in ids)
            {
                if (await store.ReadSessionAsync(partition, id, ct).ConfigureAwait(false) is { } stored)
                {
                    found.Add(Decode(stored));
                }
            }
        }

        var decisions = found.Where(s => s.State is not null).SelectMany(s => s.State!.Decisions.Select(d => d.ToDecision(s.Stored.SessionId)))
            .Concat(customerView?.State?.Decisions ?? [])
            .OrderByDescending(d => d.DecidedAtMs).ThenByDescending(d => d.DeadlineMs).ToList();
        var ordered = found.OrderBy(s => s.State?.LastActivityMs ?? long.MaxValue).ThenBy(s => s.Stored.SessionId, StringComparer.Ordinal).ToList();
        return new Report(session ?? customer!, customer is not null, ordered, decisions, partitions.Count, customerView);
    }

    private static SessionView Decode(StoredSession stored)
    {
        if (stored.State is null)
        {
            return new SessionView(stored, null, null);
        }

        try
        {
            return new SessionView(stored, SessionCodec.Decode(stored.SessionId, stored.State, new RulesOptions().MaxEventIdsPerSession), null);
        }
        catch (FormatException ex)
        {
            return new SessionView(stored, null, ex.Message);
        }
    }

    internal static void WriteText(Report report, TextWriter o, long nowMs)
    {
        string what = report.IsCustomer ? "customer" : "session";
        if (report.Sessions.Count == 0 && report.Customer is null)
        {
            o.WriteLine($"{what} {report.Subject}: nothing stored ({report.PartitionsSearched} partitions searched). It may never have been seen, or its state expired.");
            return;
        }

        if (report.IsCustomer)
        {
            o.WriteLine($"customer {report.Subject}: {report.Sessions.Count} linked session(s)");
            o.WriteLine();
            if (report.Customer is { } customer)
            {
                WriteCustomer(customer, o, nowMs);
                o.WriteLine();
            }
        }

        foreach (var view in report.Sessions)
        {
            WriteSession(view, o, nowMs);
            o.WriteLine();
        }

        o.WriteLine(report.Decisions.Count == 0 ? "decisions: none recorded" : "decisions (newest first):");
        foreach (var d in report.Decisions)
        {
            string reason = d.Reason is null ? string.Empty : $"  {d.Reason}: {d.Detail}";
            string sessionColumn = report.IsCustomer ? $"  session {d.SessionId}" : string.Empty;
            o.WriteLine($"  {UnixTime.Format(d.DecidedAtMs)}  {TriggerTypes.Name(d.Type),-19} {TriggerDecision.OutcomeName(d.Outcome),-10} id {d.TriggerId}  deadline {UnixTime.Format(d.DeadlineMs)}{sessionColumn}{reason}");
        }
    }

    private static void WriteCustomer(CustomerView view, TextWriter o, long nowMs)
    {
        var stored = view.Stored;
        string expires = stored.ExpiresInMs is { } e ? $", state expires in {Ago(e)}" : string.Empty;
        o.WriteLine($"customer state {stored.SessionId}  (customer partition {stored.Partition}{expires})");
        if (view.DecodeError is not null)
        {
            o.WriteLine($"  state          unreadable: {view.DecodeError}");
        }

        if (stored.PendingDeadlineMs is { } due)
        {
            o.WriteLine($"  next timer     {UnixTime.Format(due)}  ({Relative(due, nowMs)})");
        }

        if (view.State is not { } c)
        {
            return;
        }

        string money = c.Revenue.ToString("0.00", CultureInfo.InvariantCulture);
        o.WriteLine($"  orders         {c.Orders}, spend {money}{(c.Orders > 0 ? $", last {UnixTime.Format(c.LastOrderMs)}" : string.Empty)}{(c.VipReached ? ", VIP" : string.Empty)}");
        o.WriteLine($"  segment        {Segments.Name(c.Segment)}{(c.SegmentSinceMs != CustomerState.None ? $" since {UnixTime.Format(c.SegmentSinceMs)}" : string.Empty)}");
        o.WriteLine($"  consent        {(c.Unsubscribed ? "unsubscribed: no marketing triggers" : c.Subscribed ? "subscribed" : "not asked")}");
        o.WriteLine($"  time zone      {c.TimeZone ?? "(default)"}");
        o.WriteLine($"  last activity  {UnixTime.Format(c.LastActivityMs)}  ({Relative(c.LastActivityMs, nowMs)})");
        o.WriteLine($"  sessions       {(c.Sessions.Count == 0 ? "none" : string.Join(", ", c.Sessions))}");
        foreach (var p in c.Pending)
        {
            o.WriteLine($"  held           {TriggerTypes.Name(p.Trigger.Type),-19} id {p.Trigger.Id}  {(p.Deferred ? "deferred until" : "due")} {UnixTime.Format(p.DueMs)}  ({Relative(p.DueMs, nowMs)})");
        }

        foreach (var b in c.Bought)
        {
            o.WriteLine($"  bought         {Describe(b.Product)} last {UnixTime.Format(b.LastBoughtMs)}{(b.CycleDays is { } days ? $", use cycle {days} d" : string.Empty)}");
        }
    }

    private static void WriteSession(SessionView view, TextWriter o, long nowMs)
    {
        var stored = view.Stored;
        string expires = stored.ExpiresInMs is { } e ? $", state expires in {Ago(e)}" : string.Empty;
        o.WriteLine($"session {stored.SessionId}  (partition {stored.Partition}{expires})");
        if (view.DecodeError is not null)
        {
            o.WriteLine($"  state          unreadable: {view.DecodeError}");
        }
        else if (view.State is null)
        {
            o.WriteLine("  state          none stored (expired); only its timer index entry remains");
        }

        if (view.State is { } s)
        {
            if (s.UserId is not null || s.Email is not null)
            {
                o.WriteLine($"  customer       {string.Join(" / ", new[] { s.UserId is null ? null : $"user {s.UserId}", s.Email is null ? null : $"email {s.Email}" }.OfType<string>())}");
            }
            else
            {
                o.WriteLine("  customer       anonymous");
            }

            o.WriteLine($"  last activity  {UnixTime.Format(s.LastActivityMs)}  ({Relative(s.LastActivityMs, nowMs)})");
            if (s.HasOpenPeriod)
            {
                var flags = new List<string>();
                if (s.PeriodAddedToCart) flags.Add("added to cart");
                if (s.PeriodCheckoutStarted) flags.Add("checkout started");
                if (s.PeriodOrdered) flags.Add("ordered");
                o.WriteLine($"  open period    since {UnixTime.Format(s.PeriodStartMs)}, {s.PeriodEvents} event(s){(flags.Count > 0 ? ", " + string.Join(", ", flags) : string.Empty)}");
                o.WriteLine($"  deadline       {UnixTime.Format(s.PendingDeadlineMs)}  ({Relative(s.PendingDeadlineMs, nowMs)})");
            }
            else
            {
                o.WriteLine("  open period    none (the last period closed)");
            }

            if (s.Viewed.Count > 0)
            {
                o.WriteLine($"  viewed         {s.Viewed.Count} product(s): {string.Join(", ", s.Viewed.Select(Describe))}");
            }

            if (s.Cart.Count > 0)
            {
                o.WriteLine($"  cart           {s.Cart.Count} line(s), value {s.CartValue().ToString(CultureInfo.InvariantCulture)}: {string.Join("; ", s.Cart.Select(p => $"{Describe(p)} x{p.Quantity}"))}");
            }
            else
            {
                o.WriteLine("  cart           empty");
            }

            foreach (var type in TriggerTypes.All)
            {
                if (s.LastFired(type) is var at && at != SessionState.None)
                {
                    o.WriteLine($"  last fired     {TriggerTypes.Name(type)} at deadline {UnixTime.Format(at)}");
                }
            }
        }

        o.WriteLine(stored.PendingDeadlineMs is { } due
            ? $"  pending timer  {UnixTime.Format(due)}  ({Relative(due, nowMs)}) in the partition's timer index"
            : "  pending timer  none");
    }

    private static string Describe(ProductInfo p)
    {
        string price = p.Price is { } v ? $" @ {v.ToString(CultureInfo.InvariantCulture)}{(p.Currency is null ? string.Empty : " " + p.Currency)}" : string.Empty;
        return $"{p.Id}{(p.Name is null ? string.Empty : $" ({p.Name})")}{price}";
    }

    private static string Relative(long atMs, long nowMs) => atMs >= nowMs ? $"in {Ago(atMs - nowMs)}" : $"{Ago(nowMs - atMs)} ago";

    private static string Ago(long ms)
    {
        var t = TimeSpan.FromMilliseconds(ms);
        return t.TotalDays >= 1 ? $"{(int)t.TotalDays}d {t.Hours}h"
            : t.TotalHours >= 1 ? $"{(int)t.TotalHours}h {t.Minutes}m"
            : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m {t.Seconds}s"
            : $"{t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}s";
    }

    internal static void WriteJson(Report report, TextWriter o)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString(report.IsCustomer ? "customer" : "session", report.Subject);
            w.WriteNumber("partitions_searched", report.PartitionsSearched);
            if (report.Customer is { } customer)
            {
                WriteCustomerJson(customer, w);
            }

            w.WriteStartArray("sessions");
            foreach (var view in report.Sessions)
            {
                WriteSessionJson(view, w);
            }

            w.WriteEndArray();
            w.WriteStartArray("decisions");
            foreach (var d in report.Decisions)
            {
                d.WriteTo(w);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteCustomerJson(CustomerView view, Utf8JsonWriter w)
    {
        w.WriteStartObject("customer_state");
        w.WriteString("key", view.Stored.SessionId);
        w.WriteNumber("partition", view.Stored.Partition);
        if (view.Stored.PendingDeadlineMs is { } due) w.WriteString("next_timer", UnixTime.Format(due));
        if (view.DecodeError is not null) w.WriteString("state_error", view.DecodeError);
        if (view.State is { } c)
        {
            w.WriteNumber("orders", c.Orders);
            w.WriteNumber("spend", c.Revenue);
            w.WriteBoolean("vip", c.VipReached);
            w.WriteString("segment", Segments.Name(c.Segment));
            w.WriteBoolean("unsubscribed", c.Unsubscribed);
            if (c.TimeZone is not null) w.WriteString("time_zone", c.TimeZone);
            w.WriteString("last_activity", UnixTime.Format(c.LastActivityMs));
            w.WriteStartArray("sessions");
            foreach (var id in c.Sessions) w.WriteStringValue(id);
            w.WriteEndArray();
            w.WriteStartArray("held");
            foreach (var p in c.Pending)
            {
                w.WriteStartObject();
                w.WriteString("trigger_id", p.Trigger.Id);
                w.WriteString("type", TriggerTypes.Name(p.Trigger.Type));
                w.WriteString("due", UnixTime.Format(p.DueMs));
                w.WriteBoolean("deferred", p.Deferred);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    private static void WriteSessionJson(SessionView view, Utf8JsonWriter w)
    {
        var stored = view.Stored;
        w.WriteStartObject();
        w.WriteString("session_id", stored.SessionId);
        w.WriteNumber("partition", stored.Partition);
        if (stored.ExpiresInMs is { } e) w.WriteNumber("expires_in_ms", e);
        if (stored.PendingDeadlineMs is { } due) w.WriteString("pending_timer", UnixTime.Format(due));
        else w.WriteNull("pending_timer");
        if (view.DecodeError is not null) w.WriteString("state_error", view.DecodeError);
        if (view.State is { } s)
        {
            w.WriteStartObject("state");
            if (s.UserId is not null) w.WriteString("user_id", s.UserId);
            if (s.Email is not null) w.WriteString("email", s.Email);
            w.WriteString("last_activity", UnixTime.Format(s.LastActivityMs));
            if (s.HasOpenPeriod)
            {
                w.WriteStartObject("open_period");
                w.WriteString("start", UnixTime.Format(s.PeriodStartMs));
                w.WriteString("deadline", UnixTime.Format(s.PendingDeadlineMs));
                w.WriteNumber("events", s.PeriodEvents);
                w.WriteBoolean("added_to_cart", s.PeriodAddedToCart);
                w.WriteBoolean("checkout_started", s.PeriodCheckoutStarted);
                w.WriteBoolean("ordered", s.PeriodOrdered);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("open_period");
            }

            TriggerJson.WriteProducts(w, "products_viewed"u8, s.Viewed, withQuantity: false);
            TriggerJson.WriteProducts(w, "cart"u8, s.Cart, withQuantity: true);
            w.WriteNumber("cart_value", s.CartValue());
            w.WriteStartObject("last_fired");
            foreach (var type in TriggerTypes.All)
            {
                if (s.LastFired(type) is var at && at != SessionState.None) w.WriteString(TriggerTypes.Name(type), UnixTime.Format(at));
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }
}
