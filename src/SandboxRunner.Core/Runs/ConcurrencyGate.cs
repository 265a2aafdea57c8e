using System.Collections.Concurrent;

namespace SandboxRunner.Runs;

/// <summary>
/// The process-wide limit on tasks at once (<c>default_concurrency</c>), whose size can change while
/// tasks hold it: an edited config lowers or raises it in place. A lower limit stops no task that
/// holds a place; tasks not yet started wait until fewer than the new limit run. Waiters enter first
/// come, first served. (A <see cref="SemaphoreSlim"/> cannot shrink.)
/// </summary>
public sealed class ConcurrencyGate(int limit)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<TaskCompletionSource> _waiters = [];
    private int _limit = limit > 0 ? limit : throw new ArgumentOutOfRangeException(nameof(limit), limit, "must be at least 1");
    private int _held;

    public int Limit
    {
        get
        {
            lock (_lock)
            {
                return _limit;
            }
        }
    }

    /// <summary>Places taken now (may exceed <see cref="Limit"/> just after it was lowered).</summary>
    public int Held
    {
        get
        {
            lock (_lock)
            {
                return _held;
            }
        }
    }

    /// <summary>Callers queued for a place now.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    public void Resize(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        lock (_lock)
        {
            _limit = limit;
            GrantLocked();
        }
    }

    /// <summary>Waits for a place; the caller must <see cref="Release"/> it. Cancelling a wait gives up the place in the queue.</summary>
    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        LinkedListNode<TaskCompletionSource> node;
        lock (_lock)
        {
            if (_held < _limit && _waiters.Count == 0)
            {
                _held++;
                return;
            }

            node = _waiters.AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        using var registration = cancellationToken.Register(() =>
        {
            bool removed;
            lock (_lock)
            {
                // Granted already (no longer queued): the caller holds the place and releases it as usual.
                removed = node.List is not null;
                if (removed)
                {
                    _waiters.Remove(node);
                }
            }

            if (removed)
            {
                node.Value.TrySetCanceled(cancellationToken);
            }
        });
        await node.Value.Task;
    }

    public void Release()
    {
        lock (_lock)
        {
            if (_held == 0)
            {
                throw new InvalidOperationException("the gate was released more often than entered");
            }

            _held--;
            GrantLocked();
        }
    }

    private void GrantLocked()
    {
        while (_held < _limit && _waiters.First is { } next)
        {
            _waiters.RemoveFirst();
            _held++;
            next.Value.TrySetResult();
        }
    }
}

/// <summary>
/// What one server process shares across the <see cref="Runner"/>s its config reloads create: the task
/// gate and the runs in progress. Cancel, get, list and shutdown see every run, whichever config started
/// it, and all runs together stay within one <c>default_concurrency</c>.
/// </summary>
public sealed class ProcessRuns(int concurrency)
{
    public ConcurrencyGate Gate { get; } = new(concurrency);

    public RunRegistry Runs { get; } = new();
}
