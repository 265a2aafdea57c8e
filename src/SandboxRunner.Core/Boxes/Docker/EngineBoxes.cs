namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// A container of the old <see cref="IContainerEngine"/> seen as an <see cref="ITaskBox"/>, for the run-layer code
/// that still creates its containers there (the task pipeline) while it hands them to code on the seam (environments'
/// harvest and run pack). Transitional: it goes with <see cref="Sandbox"/> and <see cref="EgressGateway"/> when the
/// pipeline creates its boxes on an <see cref="IRunSite"/>.
/// </summary>
public sealed class EngineBox : ITaskBox
{
    private readonly IContainerEngine _engine;
    private readonly Sandbox? _sandbox;
    private readonly Func<ValueTask>? _release;

    private EngineBox(IContainerEngine engine, string containerId, Sandbox? sandbox, TaskNetwork? network, Func<ValueTask>? release)
    {
        (_engine, Id, _sandbox, Network, _release) = (engine, containerId, sandbox, network, release);
    }

    /// <summary>A view of a container its caller owns (and runs, and removes): disposing the view does neither.</summary>
    public static EngineBox View(IContainerEngine engine, string containerId) => new(engine, containerId, null, null, null);

    public string Id { get; }

    public string? Node => null;

    public TaskNetwork? Network { get; }

    public Task<BoxExit> RunAsync(
        TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken) =>
        _sandbox is { } sandbox
            ? sandbox.RunAsync(timeout, onOutput, onStarted, limitStop, cancellationToken)
            : throw new InvalidOperationException($"container {Id[..Math.Min(12, Id.Length)]} is run by its owner, not through a view of it");

    public Task StartAsync(CancellationToken cancellationToken) => _engine.StartAsync(Id, cancellationToken);

    public Task<long?> ExecAsync(BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) =>
        _engine.ExecAsync(Id, command, onOutput, cancellationToken);

    public Task KillAsync(CancellationToken cancellationToken) => _engine.KillAsync(Id, cancellationToken);

    public Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken) => _engine.ReadFileAsync(Id, path, maxBytes, cancellationToken);

    public Task PutArchiveAsync(string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken) =>
        _engine.PutArchiveAsync(Id, path, writeTar, cancellationToken);

    public Task<T> GetArchiveAsync<T>(string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) =>
        _engine.GetArchiveAsync(Id, path, readTar, cancellationToken);

    public Task<long?> WrittenBytesAsync(CancellationToken cancellationToken) => _engine.WrittenBytesAsync(Id, cancellationToken);

    public Task<IReadOnlyList<PathChange>?> ChangesAsync(int maxEntries, CancellationToken cancellationToken) => _engine.ChangesAsync(Id, maxEntries, cancellationToken);

    public Task<string> CommitAsync(ImageCommit commit, CancellationToken cancellationToken) => _engine.CommitAsync(Id, commit, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_sandbox is null)
        {
            return;
        }

        await _sandbox.DisposeAsync();
        if (_release is not null)
        {
            await _release();
        }
    }

    /// <summary>
    /// A run's <see cref="EgressGateway"/> as the <see cref="IRunSite"/> an environment's setup runs on under
    /// <c>setup_network: deny</c>: each box in a namespace of its own behind the run's proxy. The gateway stays the
    /// run's (disposing the site leaves it). Transitional, like <see cref="EngineBox"/>.
    /// </summary>
    public static IRunSite SiteOf(IContainerEngine engine, EgressGateway gateway, BoxScope scope, string runId) => new GatewaySite(engine, gateway, scope, runId);

    private sealed class GatewaySite(IContainerEngine engine, EgressGateway gateway, BoxScope scope, string runId) : IRunSite
    {
        public NetworkIntent Network => NetworkIntent.Allowlist;

        public EgressEndpoints? Egress { get; } =
            new(gateway.ModelBaseUrl, gateway.ForwardProxyUrl, $"localhost,127.0.0.1,{EgressGateway.ProxyAlias}", gateway.Allowlist);

        public string? TeardownError => null;

        public async Task<ITaskBox> CreateBoxAsync(BoxSpec spec, CancellationToken cancellationToken)
        {
            var network = await gateway.CreateTaskNetworkAsync(spec.Identity.TaskId ?? "none", cancellationToken);
            try
            {
                var sandbox = await Sandbox.CreateAsync(engine, ContainerSpec.ForBox(spec, Labels.For(scope, runId, spec.Identity), network.NetworkMode), cancellationToken);
                return new EngineBox(engine, sandbox.ContainerId, sandbox, network, async () => await gateway.ReleaseTaskNetworkAsync(network, CancellationToken.None));
            }
            catch
            {
                await gateway.ReleaseTaskNetworkAsync(network, CancellationToken.None);
                throw;
            }
        }

        public async Task<IReadOnlyList<string>> RefusedHostsAsync(ITaskBox box, DateTimeOffset since, CancellationToken cancellationToken) =>
            box is EngineBox { Network: { } network } ? await gateway.RefusedHostsAsync(network, since, cancellationToken) : [];

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
