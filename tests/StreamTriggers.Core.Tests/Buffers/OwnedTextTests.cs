using StreamTriggers.Buffers;

namespace StreamTriggers.Tests.Buffers;

// OwnedText holds a session's id and user id as characters in an array the (reused) session keeps. These check the
// value it gives back, and when it keeps its array: a new array stored in an old session is what it exists to avoid.
public class OwnedTextTests
{
    [Fact]
    public void NoValue_ThenAValue_ThenNoValue_ReadsBackAsSetAndCompares()
    {
        var text = default(OwnedText);
        Assert.False(text.HasValue);
        Assert.Null(text.ToStringOrNull());
        Assert.Equal("", text.ToString());
        Assert.True(text.Span.IsEmpty);
        Assert.True(text.Is(null));
        Assert.False(text.Is(""));

        text.Set("session-1");
        Assert.True(text.HasValue);
        Assert.Equal("session-1", text.ToStringOrNull());
        Assert.Equal("session-1", text.Span.ToString());
        Assert.True(text.Is("session-1"));
        Assert.False(text.Is("session-2"));
        Assert.False(text.Is(null));

        text.Set("");
        Assert.True(text.HasValue); // empty is a value, not none
        Assert.Equal("", text.ToStringOrNull());

        text.Set((string?)null);
        Assert.False(text.HasValue);
        Assert.Null(text.ToStringOrNull());

        text.Set("x");
        text.Clear();
        Assert.False(text.HasValue);
    }

    [Fact]
    public void TheArrayIsKept_ForValuesThatFit_AndReplacedByALongerOne_OrAfterAnUnusuallyLongOne()
    {
        var text = default(OwnedText);
        text.Set("0123456789abcdef0123456789abcdef0123"); // a UUID's length
        var first = Chars(text);
        Assert.Equal(40, first!.Length); // rounded up to 8 characters

        text.Set("fedcba9876543210fedcba9876543210fedc");
        Assert.Same(first, Chars(text)); // same length: same array
        text.Set("short");
        Assert.Same(first, Chars(text)); // shorter: same array
        text.Clear();
        text.Set("after-clear");
        Assert.Same(first, Chars(text)); // cleared: kept for the next value
        Assert.Equal("after-clear", text.ToString());

        text.Set(new string('l', 41));
        var longer = Chars(text);
        Assert.NotSame(first, longer); // longer: a new array
        Assert.Equal(new string('l', 41), text.ToString());

        text.Set(new string('h', OwnedText.KeptLength + 100));
        var huge = Chars(text);
        text.Set(new string('h', OwnedText.KeptLength + 50));
        Assert.Same(huge, Chars(text)); // still unusually long: kept while values need it
        text.Set("ordinary-id");
        Assert.NotSame(huge, Chars(text)); // an ordinary value lets the unusually long array go
        Assert.True(Chars(text)!.Length <= OwnedText.KeptLength);
        Assert.Equal("ordinary-id", text.ToString());
    }

    private static char[]? Chars(OwnedText text) => text.Buffer;
}
