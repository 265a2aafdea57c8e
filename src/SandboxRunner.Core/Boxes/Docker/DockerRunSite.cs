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

    public string? TeardownError { get; private set; }

    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        if (spec.Network != NetworkIntent.Allowlist)
        {
            return;
        }

        var egress = spec.Egress ?? throw new InvalidOperationException("an allowlist site needs its egress (proxy image, allowlist, model route)");
        _egress = new DockerEgress(docker, spec, egress);
        await _egress.StartAsync(cancellationToken);
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
        Func<ValueTask>? release = network is null ? null : async () => await docker.Containers.RemoveAsync(network.HolderId, CancellationToken.None);

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

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1 || _egress is null)
        {
            return;
        }

        try
        {
            using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await _egress.RemoveAsync(budget.Token);
        }
        catch (Exception e)
        {
            // Results are on disk before a site goes; what is left is removed as an orphan later.
            TeardownError = $"removing the run's network {_egress.NetworkName} and proxy failed: {e.Message}";
        }
    }
}
