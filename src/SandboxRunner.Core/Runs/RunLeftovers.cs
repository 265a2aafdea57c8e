using SandboxRunner.Sandbox;

namespace SandboxRunner.Runs;

/// <summary>
/// What a run leaves in the engine, found by its labels (see <see cref="Labels"/>): the one place the runs
/// layer removes a run's containers (teardown, a forced cancel, an interrupted command line) and what
/// killed processes of this repository left (start-up recovery).
/// </summary>
public sealed class RunLeftovers(IContainerEngine engine, string scope)
{
    /// <summary>How long removing one run's leftovers may take before it is left to the next recovery.</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Removes every container labelled with the run, and with <paramref name="networks"/> its networks too
    /// (a live owner removes its own network in its teardown, so only callers whose owner is gone ask for them).
    /// Returns how many containers went.
    /// </summary>
    public async Task<int> RemoveRunAsync(string runId, bool networks, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(Budget);
        var removed = 0;
        foreach (var id in await engine.ListContainersAsync(Labels.OfRun(scope, runId), budget.Token))
        {
            await engine.RemoveAsync(id, budget.Token);
            removed++;
        }

        if (networks)
        {
            foreach (var network in await engine.ListNetworksAsync(Labels.OfRun(scope, runId), budget.Token))
            {
                await engine.RemoveNetworkAsync(network, budget.Token);
            }
        }

        return removed;
    }

    /// <summary>Removes what killed processes of this repository (and only this one) left in the engine.</summary>
    public Task<int> RemoveOrphansAsync(CancellationToken cancellationToken) =>
        engine.RemoveOrphansAsync(LabelSelector.Of(Labels.Scope, scope), cancellationToken);
}
