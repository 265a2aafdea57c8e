namespace SandboxRunner.Platform;

/// <summary>
/// The one way the runner and its tests wait for something they can only ask about (an exec's exit code, a run
/// folder's status, a lock file, a container's state): ask at once, then every interval, until the answer is there
/// or the deadline passes. The question is asked one last time at the deadline, so a slow machine that answers
/// just in time is not failed for the interval it slept. Time comes from a <see cref="TimeProvider"/>, so a unit
/// test drives the waiting with a fake clock instead of sleeping through it.
/// </summary>
public static class Poll
{
    /// <summary>
    /// Asks <paramref name="condition"/> until it holds (true) or <paramref name="deadline"/> has passed since the
    /// call (false). <see cref="Timeout.InfiniteTimeSpan"/> waits until it holds or <paramref name="cancellationToken"/>
    /// is cancelled, which throws.
    /// </summary>
    public static async Task<bool> UntilAsync(
        Func<CancellationToken, Task<bool>> condition,
        TimeSpan interval,
        TimeSpan deadline,
        CancellationToken cancellationToken,
        TimeProvider? clock = null) =>
        await ForAsync<object>(async ct => await condition(ct) ? Held : null, interval, deadline, cancellationToken, clock) is not null;

    /// <summary><see cref="UntilAsync(Func{CancellationToken, Task{bool}}, TimeSpan, TimeSpan, CancellationToken, TimeProvider?)"/> for a condition that is a plain read.</summary>
    public static Task<bool> UntilAsync(Func<bool> condition, TimeSpan interval, TimeSpan deadline, CancellationToken cancellationToken, TimeProvider? clock = null) =>
        UntilAsync(_ => Task.FromResult(condition()), interval, deadline, cancellationToken, clock);

    /// <summary>
    /// Asks <paramref name="probe"/> until it answers with a value, and returns it; null (default) when
    /// <paramref name="deadline"/> passed without one.
    /// </summary>
    public static async Task<T?> ForAsync<T>(
        Func<CancellationToken, Task<T?>> probe,
        TimeSpan interval,
        TimeSpan deadline,
        CancellationToken cancellationToken,
        TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        if (deadline != Timeout.InfiniteTimeSpan)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(deadline, TimeSpan.Zero);
        }

        clock ??= TimeProvider.System;
        var started = clock.GetTimestamp();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var answer = await probe(cancellationToken);
            if (answer is not null)
            {
                return answer;
            }

            var wait = interval;
            if (deadline != Timeout.InfiniteTimeSpan)
            {
                var left = deadline - clock.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    return default;
                }

                wait = left < interval ? left : interval;
            }

            await Task.Delay(wait, clock, cancellationToken);
        }
    }

    private static readonly object Held = new();
}
