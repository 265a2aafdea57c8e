using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

public sealed class ConcurrencyGateTests
{
    [Fact]
    public async Task Waiters_beyond_the_limit_wait_until_a_place_is_released()
    {
        var gate = new ConcurrencyGate(1);
        await gate.WaitAsync(CancellationToken.None);

        var second = gate.WaitAsync(CancellationToken.None);
        Assert.False(second.IsCompleted);

        gate.Release();
        await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, gate.Held);
    }

    [Fact]
    public async Task Callers_queued_for_a_place_are_counted_until_they_get_one_or_give_up()
    {
        var gate = new ConcurrencyGate(1);
        await gate.WaitAsync(CancellationToken.None);
        using var giveUp = new CancellationTokenSource();
        var first = gate.WaitAsync(CancellationToken.None);
        var second = gate.WaitAsync(giveUp.Token);
        Assert.Equal(2, gate.Waiting);

        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        gate.Release();
        await first;

        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task Raising_the_limit_admits_waiters_at_once()
    {
        var gate = new ConcurrencyGate(1);
        await gate.WaitAsync(CancellationToken.None);
        var waiting = Enumerable.Range(0, 2).Select(_ => gate.WaitAsync(CancellationToken.None)).ToList();

        gate.Resize(3);

        await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3, gate.Held);
    }

    [Fact]
    public async Task Lowering_the_limit_stops_no_holder_and_admits_no_one_until_fewer_than_the_new_limit_hold()
    {
        var gate = new ConcurrencyGate(3);
        for (var i = 0; i < 3; i++)
        {
            await gate.WaitAsync(CancellationToken.None);
        }

        gate.Resize(1);
        var waiting = gate.WaitAsync(CancellationToken.None);
        gate.Release();
        gate.Release();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, gate.Held);

        gate.Release();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, gate.Held);
    }

    [Fact]
    public async Task Waiters_enter_in_the_order_they_came()
    {
        var gate = new ConcurrencyGate(1);
        await gate.WaitAsync(CancellationToken.None);
        var order = new List<int>();
        var waiting = Enumerable.Range(0, 3).Select(async i =>
        {
            await gate.WaitAsync(CancellationToken.None);
            lock (order)
            {
                order.Add(i);
            }

            gate.Release();
        }).ToList();

        gate.Release();
        await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal([0, 1, 2], order);
    }

    [Fact]
    public async Task A_cancelled_wait_gives_up_its_place_in_the_queue()
    {
        var gate = new ConcurrencyGate(1);
        await gate.WaitAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = gate.WaitAsync(cancel.Token);
        var next = gate.WaitAsync(CancellationToken.None);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        gate.Release();

        await next.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, gate.Held);
    }

    [Fact]
    public void Releasing_more_often_than_entered_is_a_bug_that_throws()
    {
        Assert.Throws<InvalidOperationException>(() => new ConcurrencyGate(1).Release());
    }
}
