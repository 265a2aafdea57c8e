namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// A run's place on the swarm. <see cref="NetworkIntent.Open"/>: a box on its node's default bridge, as locally.
/// <see cref="NetworkIntent.None"/>: swarm has no <c>none</c> network for services, so each box starts on the backend's
/// internal parking overlay and is taken off it before its gate opens (<see cref="SwarmParking"/>): loopback only.
/// <see cref="NetworkIntent.Allowlist"/>: the run's internal overlay behind its egress proxy (<see cref="SwarmEgress"/>),
/// which every box of the run joins.
/// </summary>
internal sealed class SwarmRunSite(SwarmBackend swarm, RunSiteSpec spec, SwarmEgress? egress) : IRunSite
{
    private int _disposed;

    public NetworkIntent Network => spec.Network;

    public EgressEndpoints? Egress => egress?.Endpoints;

    public string? TeardownError { get; private set; }

    internal SwarmEgress? Proxy => egress;

    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        if (egress is not null)
        {
            await egress.StartAsync(cancellationToken);
        }
    }

    public async Task<ITaskBox> CreateBoxAsync(BoxSpec box, CancellationToken cancellationToken) =>
        await swarm.CreateBoxAsync(spec, box, egress, cancellationToken);

    public async Task<IReadOnlyList<string>> RefusedHostsAsync(ITaskBox box, DateTimeOffset since, CancellationToken cancellationToken) =>
        egress is not null && box is SwarmTaskBox swarmBox ? await egress.RefusedHostsAsync(swarmBox, since, cancellationToken) : [];

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1 || egress is null)
        {
            return;
        }

        try
        {
            using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await egress.RemoveAsync(budget.Token);
        }
        catch (Exception e)
        {
            // Results are on disk before a site goes; what is left goes with the run's removal or as an orphan.
            TeardownError = $"removing the run's egress proxy {egress.ServiceName}, its secret and networks failed: {e.Message}";
        }
    }
}
