namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// A run's place on one engine: no network (<c>none</c>), the default bridge (<c>bridge</c>), or an
/// <see cref="DockerEgress"/> whose boxes each join a namespace of their own behind the proxy.
/// </summary>
internal sealed class DockerRunSite(DockerBackend docker, RunSiteSpec spec) : IRunSite
{
    private DockerEgress? _egress;
    private int _disposed;

    public NetworkIntent Network => spec.Network;

    public EgressEndpoints? Egress => _egress?.Endpoints;

    /// <summary>Always null: the gateway is removed after the site's close, and a failure is logged by the backend (<see cref="DockerGateways"/>).</summary>
    public string? TeardownError => null;

    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        if (spec.Network != NetworkIntent.Allowlist)
        {
            return;
        }

        var egress = spec.Egress ?? throw new InvalidOperationException("an allowlist site needs its egress (proxy image, allowlist, model route)");
        _egress = await docker.Gateways.OpenAsync(spec, egress, cancellationToken);
    }

    public async Task<ITaskBox> CreateBoxAsync(BoxSpec box, CancellationToken cancellationToken)
    {
        var labels = Labels.For(spec.Scope, spec.RunId, box.Identity);
        TaskNetwork? network = null;
        if (_egress is not null)
        {
            network = await _egress.CreateTaskNetworkAsync(box.Identity.TaskId, cancellationToken);
        }

        var networkMode = network?.NetworkMode ?? (spec.Network == NetworkIntent.Open ? "bridge" : "none");
        // The holder goes after the box that joined it, in the background like the rest of the gateway: nothing joins it
        // again, and the gateway's removal (by its label) takes it if this never ran.
        var egress = _egress;
        Func<ValueTask>? release = network is null || egress is null ? null : () =>
        {
            docker.Gateways.Track(egress.ReleaseHolder(network.HolderId));
            return ValueTask.CompletedTask;
        };

        // The create itself is not cancelled: cancelled mid-flight, the engine may create a container whose id never reaches us.
        string id;
        try
        {
            using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            id = await docker.Containers.CreateAsync(ContainerSpec.ForBox(box, labels, networkMode), budget.Token);
        }
        catch
        {
            if (release is not null)
            {
                await release();
            }

            throw;
        }

        var created = new DockerTaskBox(docker, id, network, release) { Spec = ContainerSpec.ForBox(box, labels, networkMode) };
        if (cancellationToken.IsCancellationRequested)
        {
            await created.DisposeAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }

        return created;
    }

    public async Task<IReadOnlyList<string>> RefusedHostsAsync(ITaskBox box, DateTimeOffset since, CancellationToken cancellationToken) =>
        _egress is not null && box is DockerTaskBox { Network: { } network }
            ? await _egress.RefusedHostsAsync(network, since, cancellationToken)
            : [];

    /// <summary>
    /// Ends the site without waiting for its removal: the gateway goes to the backend, which removes it with force in
    /// the background (nothing of the run's reply depends on it: results are on disk, and once its boxes are gone
    /// nothing can reach the proxy). A failed removal is logged there and left to the orphan sweep.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _egress is not null)
        {
            docker.Gateways.Retire(_egress);
        }

        return ValueTask.CompletedTask;
    }
}
