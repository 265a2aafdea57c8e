using SandboxRunner.Platform;
using SandboxRunner.Tests.Fakes;

namespace SandboxRunner.Tests.Platform;

/// <summary>The one poll loop: asked at once, then each interval, once more at the deadline, and never past it; time is the fake clock's.</summary>
public sealed class PollTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_condition_that_holds_at_once_is_asked_once_and_nothing_waits()
    {
        var clock = new WatchedClock();
        var asks = 0;

        var poll = Poll.UntilAsync(() => ++asks > 0, Second, 10 * Second, CancellationToken.None, clock);
        var waits = await clock.RunAsync(poll);

        Assert.True(await poll);
        Assert.Equal(1, asks);
        Assert.Empty(waits);
    }

    [Fact]
    public async Task The_condition_is_asked_again_after_each_interval_until_it_holds()
    {
        var clock = new WatchedClock();
        var asks = 0;

        var poll = Poll.UntilAsync(() => ++asks == 4, Second, 10 * Second, CancellationToken.None, clock);
        var waits = await clock.RunAsync(poll);

        Assert.True(await poll);
        Assert.Equal(4, asks);
        Assert.Equal([Second, Second, Second], waits);
    }

    [Fact]
    public async Task A_condition_that_never_holds_is_false_after_a_last_ask_at_the_deadline_and_no_wait_past_it()
    {
        var clock = new WatchedClock();
        var start = clock.GetUtcNow();
        var asks = 0;

        var poll = Poll.UntilAsync(() => ++asks < 0, 2 * Second, 5 * Second, CancellationToken.None, clock);
        var waits = await clock.RunAsync(poll);

        Assert.False(await poll);
        Assert.Equal([2 * Second, 2 * Second, Second], waits);
        Assert.Equal(4, asks);
        Assert.Equal(5 * Second, clock.GetUtcNow() - start);
    }

    [Fact]
    public async Task A_zero_deadline_asks_once()
    {
        var clock = new WatchedClock();
        var asks = 0;

        var poll = Poll.UntilAsync(() => ++asks < 0, Second, TimeSpan.Zero, CancellationToken.None, clock);
        var waits = await clock.RunAsync(poll);

        Assert.False(await poll);
        Assert.Equal(1, asks);
        Assert.Empty(waits);
    }

    [Fact]
    public async Task Without_a_deadline_it_waits_until_cancelled_which_throws()
    {
        var clock = new WatchedClock();
        using var cancel = new CancellationTokenSource();
        var asks = 0;

        var poll = Poll.UntilAsync(() => ++asks < 0, Second, Timeout.InfiniteTimeSpan, cancel.Token, clock);
        for (var i = 0; i < 100; i++)
        {
            clock.Advance(await clock.NextWaitAsync());
        }

        await clock.NextWaitAsync();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => poll);
        Assert.Equal(101, asks);
    }

    [Fact]
    public async Task An_asynchronous_condition_gets_the_callers_token()
    {
        using var cancel = new CancellationTokenSource();
        CancellationToken seen = default;

        var held = await Poll.UntilAsync(ct => { seen = ct; return Task.FromResult(true); }, Second, Second, cancel.Token);

        Assert.True(held);
        Assert.Equal(cancel.Token, seen);
    }

    [Fact]
    public async Task A_probe_returns_the_first_value_it_finds()
    {
        var clock = new WatchedClock();
        var asks = 0;

        var poll = Poll.ForAsync(_ => Task.FromResult(++asks == 3 ? "found" : null), Second, 10 * Second, CancellationToken.None, clock);
        await clock.RunAsync(poll);

        Assert.Equal("found", await poll);
        Assert.Equal(3, asks);
    }

    [Fact]
    public async Task A_probe_for_a_number_returns_null_at_the_deadline()
    {
        var clock = new WatchedClock();

        var poll = Poll.ForAsync(_ => Task.FromResult<long?>(null), Second, 3 * Second, CancellationToken.None, clock);
        await clock.RunAsync(poll);

        Assert.Null(await poll);
    }

    [Fact]
    public async Task What_the_probe_throws_reaches_the_caller()
    {
        var poll = Poll.UntilAsync(_ => throw new InvalidOperationException("the engine said no"), Second, Second, CancellationToken.None);

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => poll);
        Assert.Equal("the engine said no", thrown.Message);
    }
}
