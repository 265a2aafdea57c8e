using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>Run and task ids: safe as folder names, container labels and git ref components.</summary>
public sealed class IdsTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("Z")]
    [InlineData("7")]
    [InlineData("run-1")]
    [InlineData("A.b_c-9")]
    [InlineData("a-")]
    [InlineData("a_")]
    [InlineData("a.b.c")]
    [InlineData("lock")]
    [InlineData("x.locks")]
    [InlineData("x.lock.d")]
    [InlineData("run-20260102-030405-abcdef")]
    public void Valid_ids(string id)
    {
        Assert.True(Ids.IsValid(id));
    }

    [Fact]
    public void Id_of_64_characters_is_valid()
    {
        Assert.True(Ids.IsValid(new string('a', 64)));
    }

    [Fact]
    public void Id_of_65_characters_is_invalid()
    {
        Assert.False(Ids.IsValid(new string('a', 65)));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("-x")]
    [InlineData("_x")]
    [InlineData(".x")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a b")]
    [InlineData(" a")]
    [InlineData("a\n")]
    [InlineData("a\r")]
    [InlineData("a\0")]
    [InlineData("é")]
    [InlineData("aé")]
    [InlineData("ａ")]
    [InlineData("a..b")]
    [InlineData("a..")]
    [InlineData("x.lock")]
    [InlineData("a:b")]
    [InlineData("a~1")]
    [InlineData("a^")]
    [InlineData("a@{1}")]
    [InlineData("a*")]
    [InlineData("a?")]
    [InlineData("a[b]")]
    public void Invalid_ids(string id)
    {
        Assert.False(Ids.IsValid(id));
    }

    [Fact]
    public void Null_is_invalid()
    {
        Assert.False(Ids.IsValid(null));
    }

    [Fact]
    public void Rule_states_the_pattern()
    {
        Assert.StartsWith("must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", Ids.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void New_run_id_is_valid()
    {
        Assert.True(Ids.IsValid(Ids.NewRunId(TimeProvider.System)));
    }

    [Fact]
    public void New_run_id_starts_with_the_utc_time()
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(9)));

        var id = Ids.NewRunId(clock);

        Assert.Matches(@"^run-20260101-180405-[0-9a-f]{6}\z", id);
    }

    [Fact]
    public void New_run_ids_at_the_same_moment_differ()
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

        var ids = Enumerable.Range(0, 50).Select(_ => Ids.NewRunId(clock)).ToList();

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void New_run_ids_sort_by_time()
    {
        var earlier = Ids.NewRunId(new FixedClock(new DateTimeOffset(2026, 1, 9, 23, 59, 59, TimeSpan.Zero)));
        var later = Ids.NewRunId(new FixedClock(new DateTimeOffset(2026, 1, 10, 0, 0, 0, TimeSpan.Zero)));

        Assert.True(string.CompareOrdinal(earlier, later) < 0, $"{earlier} should sort before {later}");
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now.ToUniversalTime();
    }
}
