using StreamTriggers.Decoding;
using StreamTriggers.Sessions;
using static StreamTriggers.Tests.Sessions.Ev;

namespace StreamTriggers.Tests.Sessions;

// Sessions share one instance per distinct product description, so a decoded event's copy dies young.
public class ProductTableTests
{
    private static ProductInfo P(string id, decimal price = 10m, string? name = "Phone") => new() { Id = id, Price = price, Name = name };

    [Fact]
    public void EqualDescription_GivesTheFirstInstance_AChangedOneReplacesIt()
    {
        var table = new ProductTable(capacity: 10);
        var first = P("p1");

        Assert.Same(first, table.Canonical(first));
        Assert.Same(first, table.Canonical(P("p1")));

        var repriced = P("p1", price: 12m);
        Assert.Same(repriced, table.Canonical(repriced));
        Assert.Same(repriced, table.Canonical(P("p1", price: 12m)));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void AtCapacity_ANewProductStartsTheTableAfresh_AKnownOneDoesNot()
    {
        var table = new ProductTable(capacity: 3);
        foreach (var id in new[] { "a", "b", "c" }) table.Canonical(P(id));

        table.Canonical(P("a", price: 99m)); // a known id changing its description does not grow the table
        Assert.Equal(3, table.Count);

        var d = P("d");
        Assert.Same(d, table.Canonical(d));
        Assert.Equal(1, table.Count);
        var b = P("b");
        Assert.Same(b, table.Canonical(b)); // forgotten: the new instance becomes the table's
    }

    [Fact]
    public void Sessions_ViewingAndCartingTheSameProduct_HoldOneInstance_AndKeepWhatTheySaw()
    {
        var run = new Run().Push(View("s1", 0, "p1"), View("s2", 1, "p1"), Add("s3", 2, "p1"));
        var s1 = run.Engine.Find("s1")!;
        var s2 = run.Engine.Find("s2")!;
        var s3 = run.Engine.Find("s3")!;

        Assert.Same(s1.Viewed[0], s2.Viewed[0]);
        Assert.Same(s1.Viewed[0], s3.Cart[0]);

        // A new price seen later is the new price's instance; the sessions that saw the old one keep it.
        run.Push(Make(EventType.ProductViewed, "s4", 3, null, [new ProductInfo { Id = "p1", Price = 11m }]));
        Assert.Equal(11m, run.Engine.Find("s4")!.Viewed[0].Price);
        Assert.Equal(10m, s1.Viewed[0].Price);
        Assert.NotSame(s1.Viewed[0], run.Engine.Find("s4")!.Viewed[0]);
    }

    [Fact]
    public void Products_TheTableTakes_ShareOneInstanceOfEachCategoryBrandAndCurrency()
    {
        var table = new ProductTable(capacity: 10);
        // Each decoded event brings its own copies of the strings (new string(...) defeats literal interning).
        ProductInfo Decoded(string id) => new()
        {
            Id = id, Category = new string("shoes".AsSpan()), Brand = new string("acme".AsSpan()), Currency = new string("EUR".AsSpan()),
        };

        var a = table.Canonical(Decoded("a"));
        var b = table.Canonical(Decoded("b"));

        Assert.Same(a.Category, b.Category);
        Assert.Same(a.Brand, b.Brand);
        Assert.Same(a.Currency, b.Currency);
        Assert.Equal(Decoded("a"), a); // the description is unchanged
        Assert.Same(a, table.Canonical(Decoded("a")));
    }

    [Fact]
    public void Engines_SharingATable_HoldOneInstancePerProduct()
    {
        var shared = new ProductTable(capacity: 100);
        var rules = new RulesOptions();
        var one = new SessionEngine(rules, products: shared);
        var two = new SessionEngine(rules, products: shared);
        one.Apply(View("s1", 0, "p1"), 0, []);
        two.Apply(View("s2", 0, "p1"), 0, []);

        Assert.Same(one.Find("s1")!.Viewed[0], two.Find("s2")!.Viewed[0]);
    }

    [Fact]
    public void ConcurrentCallers_EachGetAnEqualProduct_AndTheTableStaysBounded()
    {
        var table = new ProductTable(capacity: 500);
        Parallel.For(0, 8, worker =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                var p = new ProductInfo { Id = $"p{(i * 7 + worker) % 2_000}", Category = "c" + (i % 5), Price = i % 3 };
                Assert.Equal(p, table.Canonical(p));
            }
        });

        Assert.InRange(table.Count, 1, 500 + 8); // a clear racing with adds may keep a few of them
    }

    [Fact]
    public void SessionsReadBackFromTheStore_ShareTheTablesInstances()
    {
        var source = new Run().Push(View("s1", 0, "p1"), View("s2", 1, "p1"), Add("s2", 2, "p1"));
        var engine = new SessionEngine(new RulesOptions());
        var rules = new RulesOptions();
        foreach (var id in new[] { "s1", "s2" })
        {
            engine.Import(StreamTriggers.State.SessionCodec.Decode(id, StreamTriggers.State.SessionCodec.Encode(source.Engine.Find(id)!), rules.MaxEventIdsPerSession));
        }

        var s1 = engine.Find("s1")!;
        var s2 = engine.Find("s2")!;
        Assert.NotSame(source.Engine.Find("s1")!.Viewed[0], s1.Viewed[0]); // decoded: a copy, until shared
        Assert.Same(s1.Viewed[0], s2.Viewed[0]);
        Assert.Same(s1.Viewed[0], s2.Cart[0]);
        Assert.Equal("p1", s2.Cart[0].Id);
    }
}
