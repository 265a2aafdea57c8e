using System.Collections.Concurrent;

namespace SandboxRunner.Runs;

/// <summary>
/// The runs in progress in this process, whichever <see cref="Runner"/> (config) started them: registering
/// one, cancelling one or all, waiting for one to end, and shutting down. A run leaves the registry only
/// when its teardown is over, so "active" means "its containers may still exist".
/// </summary>
public sealed class RunRegistry
{
    private readonly ConcurrentDictionary<string, ActiveRun> _runs = new(StringComparer.Ordinal);

    public bool IsActive(string runId) => _runs.ContainsKey(runId);

    /// <summary>Adds the run and starts <paramref name="execute"/> on it; a run id already active is refused.</summary>
    internal ActiveRun Register(ActiveRun run, Func<ActiveRun, Task<RunResult>> execute)
    {
        if (!_runs.TryAdd(run.Plan.RunId, run))
        {
            run.Dispose();
            throw new Configuration.InvalidInputException(RunPlanner.Source, "run_id", $"'{run.Plan.RunId}' is already running");
        }

        run.Execution = execute(run);
        return run;
    }

    /// <summary>Called by the run itself at the very end of its teardown.</summary>
    internal void Remove(ActiveRun run)
    {
        _runs.TryRemove(KeyValuePair.Create(run.Plan.RunId, run));
        run.Dispose();
    }

    internal ActiveRun? Find(string runId) => _runs.GetValueOrDefault(runId);

    internal IReadOnlyCollection<ActiveRun> All() => _runs.Values.ToList();

    /// <summary>Asks a run of this process to stop; false when no such run is active.</summary>
    public bool Cancel(string runId)
    {
        if (!_runs.TryGetValue(runId, out var run))
        {
            return false;
        }

        run.Cancel();
        return true;
    }

    /// <summary>Asks every active run to stop, without waiting.</summary>
    public void CancelAll()
    {
        foreach (var run in _runs.Values)
        {
            run.Cancel();
        }
    }

    /// <summary>Waits until a run of this process has torn down; its outcome is on disk. Returns at once for a run not active here.</summary>
    public async Task WaitForAsync(string runId, CancellationToken cancellationToken)
    {
        if (_runs.TryGetValue(runId, out var run) && run.Execution is { } execution)
        {
            await Settled(execution, cancellationToken);
        }
    }

    /// <summary>
    /// Cancels every active run and waits until each has torn down (containers, networks, task folders)
    /// and kept what its tasks produced: a server that stops leaves nothing running.
    /// </summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken)
    {
        var runs = _runs.Values.ToList();
        foreach (var run in runs)
        {
            run.Cancel();
        }

        foreach (var execution in runs.Select(r => r.Execution).OfType<Task<RunResult>>())
        {
            await Settled(execution, cancellationToken);
        }
    }

    private static async Task Settled(Task<RunResult> execution, CancellationToken cancellationToken)
    {
        try
        {
            await execution.WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The run's own outcome (cancelled, failed) is on disk; the caller only needs it over.
        }
    }
}
