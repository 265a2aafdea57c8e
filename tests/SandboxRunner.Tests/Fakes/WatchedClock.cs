using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace SandboxRunner.Tests.Fakes;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that tells when code starts waiting on it: <see cref="NextWaitAsync"/> completes
/// once a timer is created (a <c>Task.Delay</c> on this clock), with the wait asked for. A test advances the clock
/// only then, so what the code under test sees depends on the steps the test takes, never on how fast it runs.
/// </summary>
internal sealed class WatchedClock : FakeTimeProvider
{
    private readonly Channel<TimeSpan> _waits = Channel.CreateUnbounded<TimeSpan>();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        _waits.Writer.TryWrite(dueTime);
        return timer;
    }

    /// <summary>The next wait the code under test starts on this clock.</summary>
    public async Task<TimeSpan> NextWaitAsync() => await _waits.Reader.ReadAsync();

    /// <summary>
    /// Waits for <paramref name="work"/> to end, advancing the clock by each wait it starts as soon as it starts it:
    /// time runs as the work asks for it, and the waits are returned in order.
    /// </summary>
    public async Task<IReadOnlyList<TimeSpan>> RunAsync(Task work)
    {
        var waits = new List<TimeSpan>();
        while (true)
        {
            // Looking without taking: a wait the work starts after it ended stays for the next reader.
            var ready = _waits.Reader.WaitToReadAsync().AsTask();
            await Task.WhenAny(work, ready);
            if (!_waits.Reader.TryRead(out var wait))
            {
                await work;
                return waits;
            }

            waits.Add(wait);
            Advance(wait);
        }
    }
}
