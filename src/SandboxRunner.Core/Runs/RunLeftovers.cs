using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// What a run leaves in the engine, found by its labels (see <see cref="Labels"/>): the one place the runs
/// layer removes a run's containers (teardown, a forced cancel, an interrupted command line) and what
/// killed processes of this repository left (start-up recovery).
/// </summary>
public sealed class RunLeftovers(ITaskBackend backend, string scope)
{
    /// <summary>How long removing one run's leftovers may take before it is left to the next recovery.</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Removes every box labelled with the run, and its networks (a live owner's site finds its network gone, which
    /// is not an error to it). Returns how many boxes went.
    /// </summary>
    public async Task<int> RemoveRunAsync(string runId, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(Budget);
        return await backend.RemoveRunAsync(new BoxScope(scope), runId, budget.Token);
    }

    /// <summary>What killed processes of this repository left (and their probes, which carry no repository).</summary>
    public Task<int> RemoveOrphansAsync(CancellationToken cancellationToken) =>
        backend.RemoveOrphansAsync(new BoxScope(scope), cancellationToken);
}
