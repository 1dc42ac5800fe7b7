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
}
