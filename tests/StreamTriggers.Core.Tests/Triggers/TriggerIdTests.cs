using StreamTriggers.Triggers;

namespace StreamTriggers.Tests.Triggers;

public class TriggerIdTests
{
    [Fact]
    public void IsTheVersion5UuidOfTypeSubjectAndDeadline()
    {
        // Expected value from Python: uuid.uuid5(UUID('6f1d3c1e-8a4b-5e2f-9c7d-2b5a4e8f1a30'), 'cart_abandoned|s-9|1795429800000')
        Assert.Equal("6a16c4b3-311c-5415-bc1a-c869034dd99e", TriggerId.Create(TriggerType.CartAbandoned, "s-9", 1795429800000));
    }

    [Fact]
    public void DiffersWhenAnyPartDiffers()
    {
        var ids = new HashSet<string>
        {
            TriggerId.Create(TriggerType.CartAbandoned, "s-9", 1),
            TriggerId.Create(TriggerType.BrowseAbandoned, "s-9", 1),
            TriggerId.Create(TriggerType.CartAbandoned, "s-8", 1),
            TriggerId.Create(TriggerType.CartAbandoned, "s-9", 2),
        };

        Assert.Equal(4, ids.Count);
    }

    [Fact]
    public void HandlesLongSubjects()
    {
        string subject = new('x', 5000);
        Assert.Equal(TriggerId.Create(TriggerType.CartAbandoned, subject, 7), TriggerId.Create(TriggerType.CartAbandoned, subject, 7));
    }

    [Fact]
    public void StableHash_IsFixedAcrossProcesses()
    {
        // FNV-1a 64 over UTF-16 code units, low byte first; pinned so persisted state stays readable.
        // Expected from Python: FNV-1a 64 of 'e1'.encode('utf-16-le').
        Assert.Equal(0x2d3c2160b6067219UL, TriggerId.StableHash("e1"));
        Assert.NotEqual(TriggerId.StableHash("e1"), TriggerId.StableHash("e2"));
    }
}
