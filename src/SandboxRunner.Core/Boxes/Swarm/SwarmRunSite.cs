namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// A run's place on the swarm. <see cref="NetworkIntent.Open"/>: a box on its node's default bridge, as locally.
/// <see cref="NetworkIntent.None"/>: swarm has no <c>none</c> network for services, so each box gets an internal
/// overlay network of its own that nothing else joins (loopback and an address no one can reach: what <c>none</c> gives).
/// <see cref="NetworkIntent.Allowlist"/> is refused for now (docs/swarm.md says what it will be).
/// </summary>
internal sealed class SwarmRunSite(SwarmBackend swarm, RunSiteSpec spec) : IRunSite
{
    public NetworkIntent Network => spec.Network;

    public EgressEndpoints? Egress => null;

    public string? TeardownError => null;

    public void Open()
    {
        if (spec.Network == NetworkIntent.Allowlist)
        {
            throw new NotSupportedException(
                "network_policy `deny` (an allowlist behind the egress proxy) is not available on the swarm backend yet; use `allow` or `none` with `backend: swarm`, or `backend: docker`");
        }
    }

    public async Task<ITaskBox> CreateBoxAsync(BoxSpec box, CancellationToken cancellationToken) =>
        await swarm.CreateBoxAsync(spec, box, cancellationToken);

    public Task<IReadOnlyList<string>> RefusedHostsAsync(ITaskBox box, DateTimeOffset since, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([]);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
