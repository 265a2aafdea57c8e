using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Fakes;

/// <summary>
/// <see cref="ITaskBackend"/> in memory: its boxes are containers of a <see cref="FakeEngine"/> (what they run is the
/// engine's <see cref="FakeEngine.Agent"/> and <see cref="FakeEngine.Exec"/>), its allowlist sites a
/// <see cref="FakeEgress"/> laid out in that engine as the Docker backend's. It passes the backend contract (Contracts/BackendContract.cs) that the Docker backend passes,
/// so run logic tested against it holds against Docker; what a test wants to see of a box is on <see cref="Engine"/>.
/// </summary>
internal sealed class FakeBackend(FakeEngine engine) : ITaskBackend
{
    public FakeEngine Engine => engine;

    public string Name => "fake";

    /// <summary>All of them unless a test plays a backend that lacks one.</summary>
    public BackendCapabilities Capabilities { get; set; } = new(Snapshots: true, Exec: true, Runtimes: true);

    public IBoxImages Images { get; } = new FakeBoxImages(engine);

    /// <summary>The machines it describes (none: one engine, as the Docker backend).</summary>
    public IReadOnlyList<BackendNode> Nodes { get; set; } = [];

    /// <summary>The node a box is placed on, as a cluster's backend names it; null (the default): one engine, no node.</summary>
    public Func<BoxSpec, string?> Placement { get; set; } = _ => null;

    public async Task<BackendFacts> DescribeAsync(CancellationToken cancellationToken)
    {
        var (version, api) = await engine.PingAsync(cancellationToken);
        return new BackendFacts(version, api, await engine.RuntimesAsync(cancellationToken)) { Nodes = Nodes };
    }

    public Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken) => engine.SharesHostFilesAsync(image, cancellationToken);

    public Task<string?> ExposedApiAsync(CancellationToken cancellationToken) => engine.ExposedApiAsync(cancellationToken);

    public async Task<IRunSite> OpenRunSiteAsync(RunSiteSpec spec, CancellationToken cancellationToken)
    {
        if (spec.Network != NetworkIntent.Allowlist)
        {
            return new FakeRunSite(engine, spec, null, Placement);
        }

        var egress = new FakeEgress(engine, spec, spec.Egress ?? throw new InvalidOperationException("an allowlist site needs its egress (proxy image, allowlist, model route)"));
        var site = new FakeRunSite(engine, spec, egress, Placement);
        try
        {
            await egress.StartAsync(cancellationToken);
            return site;
        }
        catch
        {
            await site.DisposeAsync();
            throw;
        }
    }

    public async Task<int> RemoveRunAsync(BoxScope scope, string runId, CancellationToken cancellationToken)
    {
        var selector = LabelSelector.Of(scope, runId);
        var removed = 0;
        foreach (var id in await engine.ListContainersAsync(selector, cancellationToken))
        {
            await engine.RemoveAsync(id, cancellationToken);
            removed++;
        }

        foreach (var network in await engine.ListNetworksAsync(selector, cancellationToken))
        {
            await engine.RemoveNetworkAsync(network, cancellationToken);
        }

        return removed;
    }

    public Task<int> RemoveOrphansAsync(BoxScope scope, CancellationToken cancellationToken) =>
        engine.RemoveOrphansAsync(LabelSelector.Of(scope, null), cancellationToken);

    public Task<IReadOnlyList<BoxRef>> FindBoxesAsync(BoxScope scope, string? runId, CancellationToken cancellationToken)
    {
        var selector = LabelSelector.Of(scope, runId);
        return Task.FromResult<IReadOnlyList<BoxRef>>(engine.LiveContainers
            .Where(c => selector.Matches(c.Labels))
            .Select(c => new BoxRef(c.Id, c.RunId, c.TaskId, c.Labels.GetValueOrDefault(Labels.Role), c.State == FakeContainerState.Running)
            {
                Labels = c.Labels,
            })
            .ToList());
    }

    /// <summary>Whether its owner has disposed it.</summary>
    public bool Disposed { get; private set; }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }

    private sealed class FakeRunSite(FakeEngine engine, RunSiteSpec spec, FakeEgress? egress, Func<BoxSpec, string?> placement) : IRunSite
    {
        private int _disposed;

        public NetworkIntent Network => spec.Network;

        public EgressEndpoints? Egress => egress?.Endpoints;

        public string? TeardownError { get; private set; }

        public async Task<ITaskBox> CreateBoxAsync(BoxSpec box, CancellationToken cancellationToken)
        {
            var network = egress is null ? null : await egress.CreateTaskNetworkAsync(box.Identity.TaskId, cancellationToken);
            var mode = network?.NetworkMode ?? (spec.Network == NetworkIntent.Open ? "bridge" : "none");

            // As Docker's: the create is not cancelled part-way; a cancellation meanwhile removes the box again.
            var id = await engine.CreateAsync(ContainerSpec.ForBox(box, Labels.For(spec.Scope, spec.RunId, box.Identity), mode), CancellationToken.None);
            var created = new FakeTaskBox(engine, id, network, placement(box));
            if (cancellationToken.IsCancellationRequested)
            {
                await created.DisposeAsync();
                cancellationToken.ThrowIfCancellationRequested();
            }

            return created;
        }

        public async Task<IReadOnlyList<string>> RefusedHostsAsync(ITaskBox box, DateTimeOffset since, CancellationToken cancellationToken) =>
            egress is not null && box is FakeTaskBox { Network: { } network }
                ? await egress.RefusedHostsAsync(network, since, cancellationToken)
                : [];

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1 || egress is null)
            {
                return;
            }

            try
            {
                await egress.RemoveAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                TeardownError = $"removing the run's network {egress.NetworkName} and proxy failed: {e.Message}";
            }
        }
    }

    private sealed class FakeTaskBox(FakeEngine engine, string id, TaskNetwork? network, string? node) : ITaskBox
    {
        private int _disposed;

        public string Id => id;

        public string? Node => node;

        public TaskNetwork? Network => network;

        public Task<BoxExit> RunAsync(
            TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken) =>
            FakeBoxRun.RunAsync(engine, Id, timeout, onOutput, onStarted, limitStop, cancellationToken);

        public Task StartAsync(CancellationToken cancellationToken) => engine.StartAsync(Id, cancellationToken);

        public Task<long?> ExecAsync(BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) =>
            engine.ExecAsync(Id, command, onOutput, cancellationToken);

        public Task KillAsync(CancellationToken cancellationToken) => engine.KillAsync(Id, cancellationToken);

        public Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken) => engine.ReadFileAsync(Id, path, maxBytes, cancellationToken);

        public Task PutArchiveAsync(string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken) =>
            engine.PutArchiveAsync(Id, path, writeTar, cancellationToken);

        public Task<T> GetArchiveAsync<T>(string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) =>
            engine.GetArchiveAsync(Id, path, readTar, cancellationToken);

        public Task<long?> WrittenBytesAsync(CancellationToken cancellationToken) => engine.WrittenBytesAsync(Id, cancellationToken);

        public Task<IReadOnlyList<PathChange>?> ChangesAsync(int maxEntries, CancellationToken cancellationToken) => engine.ChangesAsync(Id, maxEntries, cancellationToken);

        public Task<string> CommitAsync(ImageCommit commit, CancellationToken cancellationToken) => engine.CommitAsync(Id, commit, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1)
            {
                return;
            }

            try
            {
                await engine.RemoveAsync(Id, CancellationToken.None);
            }
            finally
            {
                // The holder goes after the box that joined its namespace, as with Docker.
                if (network is not null)
                {
                    await engine.RemoveAsync(network.HolderId, CancellationToken.None);
                }
            }
        }
    }

    private sealed class FakeBoxImages(FakeEngine engine) : IBoxImages
    {
        public Task<bool> ExistsAsync(string image, CancellationToken cancellationToken) => engine.ImageExistsAsync(image, cancellationToken);

        public Task BuildAsync(ImageRecipe recipe, CancellationToken cancellationToken) => engine.BuildImageAsync(recipe, cancellationToken);

        public Task<ImageFacts?> InspectAsync(string image, CancellationToken cancellationToken) => engine.InspectImageAsync(image, cancellationToken);

        public Task DeleteAsync(string image, CancellationToken cancellationToken) => engine.DeleteImageAsync(image, cancellationToken);

        public Task<IReadOnlyList<EngineImage>> ListAsync(LabelSelector selector, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<EngineImage>>(engine.Images.Keys
                .Select(tag => new EngineImage($"sha256:{tag}", [tag], engine.ImageLabels.GetValueOrDefault(tag) ?? new Dictionary<string, string>(), 0, DateTimeOffset.UnixEpoch))
                .Where(image => selector.Matches(image.Labels))
                .ToList());

        public Task<IReadOnlyList<ContainerImageUse>> UsesAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<ContainerImageUse>>(engine.LiveContainers
                .Select(c => new ContainerImageUse(c.Id, $"sha256:{c.Spec.Image}", c.State == FakeContainerState.Running))
                .ToList());

        public Task<ImageRemoval> RemoveAsync(string reference, CancellationToken cancellationToken)
        {
            var tag = reference.StartsWith("sha256:", StringComparison.Ordinal) ? reference[7..] : reference;
            if (engine.LiveContainers.Any(c => c.Spec.Image == tag))
            {
                return Task.FromResult(new ImageRemoval(false, $"conflict: unable to remove {reference}: a container uses it"));
            }

            engine.ImageLabels.TryRemove(tag, out _);
            return Task.FromResult(new ImageRemoval(engine.Images.TryRemove(tag, out _), null));
        }
    }
}
