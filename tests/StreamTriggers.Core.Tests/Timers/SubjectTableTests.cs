using StreamTriggers.Timers;

namespace StreamTriggers.Tests.Timers;

// The worker's index of the sessions it holds: it must behave as the dictionary it replaced, keyed by the nodes'
// subjects, through growth and deletions in the middle of probe runs.
public class SubjectTableTests
{
    [Theory]
    [InlineData(1, 12)]
    [InlineData(2, 60)]
    [InlineData(3, 400)]
    public void RandomAddsSetsAndRemoves_MatchADictionary(int seed, int distinctSubjects)
    {
        var random = new Random(seed);
        var table = new SubjectTable<TimerNode>();
        var model = new Dictionary<string, TimerNode>(StringComparer.Ordinal);
        var subjects = Enumerable.Range(0, distinctSubjects).Select(i => $"session-{i}").ToArray();

        for (int step = 0; step < 20_000; step++)
        {
            // A fresh string each time: the table must compare contents, as the worker's decoder hands it new ones.
            string subject = new(subjects[random.Next(subjects.Length)].AsSpan());
            switch (random.Next(4))
            {
                case 0:
                    var added = new TimerNode(subject);
                    Assert.Equal(model.TryAdd(subject, added), table.TryAdd(added));
                    break;
                case 1:
                    var replacement = new TimerNode(subject);
                    model[subject] = replacement;
                    table.Set(replacement);
                    break;
                default:
                    Assert.Equal(model.Remove(subject), table.Remove(subject));
                    break;
            }

            Assert.Equal(model.Count, table.Count);
            if (step % 97 == 0)
            {
                foreach (string s in subjects)
                {
                    Assert.Same(model.GetValueOrDefault(s), table.Find(s.AsSpan()));
                }

                Assert.Equal(model.Values.OrderBy(n => n.Subject, StringComparer.Ordinal), table.OrderBy(n => n.Subject, StringComparer.Ordinal));
            }
        }

        Assert.True(table.Count * 2 <= table.Capacity, "the table is at most half full");
    }

    [Fact]
    public void Lookups_TakeAnySpanWithTheSubjectsCharacters()
    {
        var table = new SubjectTable<TimerNode>();
        var node = new TimerNode("abc");
        table.Add(node);

        Assert.Same(node, table.Find("xxabcxx".AsSpan(2, 3)));
        Assert.True(table.Contains("abc"));
        Assert.False(table.Contains("ab"));
        Assert.False(table.Contains("abcd"));
        Assert.False(table.TryGetValue("ABC", out _)); // ordinal, as the session ids are compared everywhere else
    }

    [Fact]
    public void Add_RefusesASecondNodeForASubject_SetReplacesIt()
    {
        var table = new SubjectTable<TimerNode>();
        var first = new TimerNode("s");
        var second = new TimerNode("s");
        table.Add(first);

        Assert.Throws<ArgumentException>(() => table.Add(second));
        Assert.False(table.TryAdd(second));
        Assert.Same(first, table.Find("s"));

        table.Set(second);
        Assert.Same(second, table.Find("s"));
        Assert.Same(second, Assert.Single(table));
    }

    [Fact]
    public void Enumerating_FailsIfTheTableChanges_AndClearEmptiesIt()
    {
        var table = new SubjectTable<TimerNode>();
        for (int i = 0; i < 100; i++)
        {
            table.Add(new TimerNode($"s{i}"));
        }

        Assert.Equal(100, table.Count);
        Assert.Equal(100, table.Select(n => n.Subject).Distinct().Count());
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var node in table)
            {
                table.Remove(node.Subject);
            }
        });

        table.Clear();
        Assert.Empty(table);
        Assert.Null(table.Find("s1"));
        table.Add(new TimerNode("s1"));
        Assert.NotNull(table.Find("s1"));
    }
}
