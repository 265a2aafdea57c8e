using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using SandboxRunner.Codex;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Fakes;

/// <summary>What the fake runs in place of Codex: it gets the container and a token that a kill cancels, and returns the exit code.</summary>
internal delegate Task<long> FakeAgent(FakeContainer container, CancellationToken killed);

/// <summary>
/// What the fake does for a command run in a running container (a verify command): it gets the container, the
/// argv, where to write output, and a token that a kill of the container cancels; it returns the exit code.
/// </summary>
internal delegate Task<long?> FakeExec(FakeContainer container, IReadOnlyList<string> command, Action<LogStream, string> output, CancellationToken killed);

internal enum FakeContainerState { Created, Running, Exited, Removed }

/// <summary>
/// An in-memory container engine: containers are records, and starting one runs <see cref="Agent"/> in
/// the test process against the container's bind-mounted workspace. Enough of Docker's behaviour is kept
/// (kill is SIGKILL with exit 137, logs follow until exit, files are read with a size bound, labels
/// select) that the run layer cannot tell the difference, and the counts show what a run left behind.
/// </summary>
internal sealed partial class FakeEngine : IContainerEngine
{
    public const long KilledExitCode = 137;

    private readonly ConcurrentDictionary<string, FakeContainer> _containers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakeNetwork> _networks = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<FakeContainer> _history = new();
    private readonly Lock _gate = new();
    private int _running;
    private int _created;
    private int _removed;

    /// <summary>Images the engine has; a container of any other image is refused at creation, as Docker does.</summary>
    public ConcurrentDictionary<string, bool> Images { get; } = new(StringComparer.Ordinal);

    /// <summary>The agent started in each container; it can tell tasks apart by <see cref="FakeContainer.TaskId"/>.</summary>
    public FakeAgent Agent { get; set; } = FakeAgents.Succeeds();

    /// <summary>What each command run in a container does (verify commands); by default it exits 0.</summary>
    public FakeExec Exec { get; set; } = (_, _, _, _) => Task.FromResult<long?>(0);

    /// <summary>Every command run in a container, in order: the container and the argv.</summary>
    public IReadOnlyList<(FakeContainer Container, IReadOnlyList<string> Command)> Execs => _execs.ToList();

    private readonly ConcurrentQueue<(FakeContainer, IReadOnlyList<string>)> _execs = new();

    public async Task<long?> ExecAsync(string containerId, BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken)
    {
        var container = Find(containerId);
        if (container.State != FakeContainerState.Running)
        {
            throw new InvalidOperationException($"Docker: container {containerId[..12]} is not running");
        }

        _execs.Enqueue((container, command.Command));
        using var either = CancellationTokenSource.CreateLinkedTokenSource(container.KillToken, cancellationToken);
        try
        {
            return await Exec(container, command.Command, (stream, text) => onOutput(stream, Encoding.UTF8.GetBytes(text)), either.Token);
        }
        catch (OperationCanceledException) when (container.KillToken.IsCancellationRequested)
        {
            // The container was killed under the command: the engine knows no exit code for it.
            return null;
        }
    }

    /// <summary>The owner label put on what is created, as the real engine does; set it to play a server that is gone.</summary>
    public string Owner { get; set; } = Labels.CurrentOwner;

    /// <summary>Its containers run in this process, so they see this machine's files: the bind transport. The copy transport is tested against real engines.</summary>
    public Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken) => Task.FromResult(true);

    /// <summary>
    /// Makes a followed log hand nothing on until the container has exited, as a slow log driver does
    /// (Docker 20.10 was seen lagging a 3 MB line): output then arrives after the exit is known.
    /// </summary>
    public bool FollowLagsUntilExit { get; set; }

    public int CreatedCount => Volatile.Read(ref _created);
    public int RemovedCount => Volatile.Read(ref _removed);

    /// <summary>Containers not removed yet, running or not.</summary>
    public int LiveCount => _containers.Count;

    public int RunningCount => Volatile.Read(ref _running);

    /// <summary>The most containers that ran at one moment.</summary>
    public int MaxRunning { get; private set; }

    public int NetworkCount => _networks.Count;

    /// <summary>Every container ever created, removed ones included, in creation order.</summary>
    public IReadOnlyList<FakeContainer> History => _history.ToList();

    public IReadOnlyCollection<FakeContainer> LiveContainers => _containers.Values.ToList();

    /// <summary>This engine behind the backend seam.</summary>
    public FakeBackend Backend { get; }

    ITaskBackend IContainerEngine.Backend => Backend;

    public FakeEngine(params string[] images)
    {
        Backend = new FakeBackend(this);
        foreach (var image in images)
        {
            Images[image] = true;
        }
    }

    public Task<(string Version, string ApiVersion)> PingAsync(CancellationToken cancellationToken) => Task.FromResult(("fake", "1.0"));

    /// <summary>The OCI runtimes it lists: runc (its default) unless a test registers more; a container naming another is refused, as Docker does.</summary>
    public EngineRuntimes Runtimes { get; set; } = new("runc", new Dictionary<string, EngineRuntime> { ["runc"] = new("runc", "runc", []) });

    public Task<EngineRuntimes> RuntimesAsync(CancellationToken cancellationToken) => Task.FromResult(Runtimes);

    public Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken) => Task.FromResult(Images.ContainsKey(image));

    public Task<ImageFacts?> InspectImageAsync(string image, CancellationToken cancellationToken) =>
        Task.FromResult(Images.ContainsKey(image) ? new ImageFacts($"sha256:{image}", LabelsOf(image)) : null);

    public Task DeleteImageAsync(string image, CancellationToken cancellationToken)
    {
        Images.TryRemove(image, out _);
        ImageLabels.TryRemove(image, out _);
        return Task.CompletedTask;
    }

    public Task BuildImageAsync(ImageRecipe recipe, CancellationToken cancellationToken)
    {
        if (BuildFailure?.Invoke(recipe) is { } failure)
        {
            throw new ImageBuildException(failure);
        }

        ImageLabels[recipe.Tag] = new Dictionary<string, string>(recipe.Labels);
        Images[recipe.Tag] = true;
        return Task.CompletedTask;
    }

    public Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!Images.ContainsKey(spec.Image))
        {
            throw new InvalidOperationException($"Docker: creating a container from {spec.Image} failed (HTTP 404): No such image: {spec.Image}");
        }

        if (spec.Runtime is { } runtime && !Runtimes.Available.ContainsKey(runtime))
        {
            throw new InvalidOperationException($"Docker: creating a container from {spec.Image} failed (HTTP 400): unknown or invalid runtime name: {runtime}");
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var container = new FakeContainer(id, spec, new Dictionary<string, string>(spec.Labels) { [Labels.Owner] = Owner });
        container.Seed(ImageFiles.GetValueOrDefault(spec.Image));
        if (_networks.TryGetValue(spec.NetworkMode, out var network))
        {
            // Created on a network of its own (not "none", "bridge" or another's namespace), it has an address there, as in Docker.
            network.Members[id] = $"10.99.0.{network.Members.Count + 2}";
        }

        _containers[id] = container;
        _history.Enqueue(container);
        Interlocked.Increment(ref _created);
        return Task.FromResult(id);
    }

    public Task StartAsync(string containerId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var container = Find(containerId);
        lock (_gate)
        {
            MaxRunning = Math.Max(MaxRunning, Interlocked.Increment(ref _running));
        }

        // A verification container only waits for the commands run in it.
        var agent = container.Labels.GetValueOrDefault(Labels.Role) == Labels.VerifyRole ? Idle : Agent;
        container.Start(agent, () => Interlocked.Decrement(ref _running));
        return Task.CompletedTask;
    }

    public async Task StartWithInputAsync(string containerId, ReadOnlyMemory<byte> input, CancellationToken cancellationToken)
    {
        Find(containerId).Stdin = input.ToArray();
        await StartAsync(containerId, cancellationToken);
    }

    /// <summary>What <see cref="ExposedApiAsync"/> answers: null for an engine only reached through its socket.</summary>
    public string? Exposure { get; set; }

    public Task<string?> ExposedApiAsync(CancellationToken cancellationToken) => Task.FromResult(Exposure);

    public Task<string?> SubnetAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult<string?>(_networks.ContainsKey(name) ? "10.99.0.0/24" : null);

    public async Task<long> WaitAsync(string containerId, CancellationToken cancellationToken) =>
        await Find(containerId).Exit.WaitAsync(cancellationToken);

    public Task KillAsync(string containerId, CancellationToken cancellationToken) =>
        _containers.TryGetValue(containerId, out var container) ? container.KillAsync() : Task.CompletedTask;

    public async Task RemoveAsync(string containerId, CancellationToken cancellationToken)
    {
        if (!_containers.TryRemove(containerId, out var container))
        {
            return;
        }

        // Docker's forced removal kills a running container first.
        await container.KillAsync();
        container.MarkRemoved();
        Interlocked.Increment(ref _removed);
    }

    public Task ReadLogsAsync(string containerId, bool follow, Action<LogStream, ReadOnlySpan<byte>> onChunk, CancellationToken cancellationToken) =>
        Find(containerId).ReadLogsAsync(follow, follow && FollowLagsUntilExit, onChunk, cancellationToken);

    public Task<byte[]?> ReadFileAsync(string containerId, string path, long maxBytes, CancellationToken cancellationToken)
    {
        var container = Find(containerId);
        return Task.FromResult(container.Files.TryGetValue(path, out var bytes) && bytes.LongLength <= maxBytes ? bytes : null);
    }

    public Task<string?> AddressAsync(string containerId, string network, CancellationToken cancellationToken) =>
        Task.FromResult(_networks.TryGetValue(network, out var n) && n.Members.TryGetValue(containerId, out var address) ? address : null);

    public Task<IReadOnlyList<string>> ListContainersAsync(LabelSelector selector, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>(_containers.Values.Where(c => selector.Matches(c.Labels)).Select(c => c.Id).ToList());

    public Task CreateNetworkAsync(string name, bool isInternal, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        if (!_networks.TryAdd(name, new FakeNetwork(name, isInternal, new Dictionary<string, string>(labels) { [Labels.Owner] = Owner })))
        {
            throw new InvalidOperationException($"Docker: network {name} already exists");
        }

        return Task.CompletedTask;
    }

    public Task ConnectAsync(string network, string containerId, string alias, CancellationToken cancellationToken)
    {
        var n = _networks.TryGetValue(network, out var found) ? found : throw new InvalidOperationException($"Docker: no such network {network}");
        Find(containerId);
        n.Members[containerId] = $"10.99.0.{n.Members.Count + 2}";
        return Task.CompletedTask;
    }

    public Task RemoveNetworkAsync(string name, CancellationToken cancellationToken)
    {
        _networks.TryRemove(name, out _);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ListNetworksAsync(LabelSelector selector, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>(_networks.Values.Where(n => selector.Matches(n.Labels)).Select(n => n.Name).ToList());

    public async Task<int> RemoveOrphansAsync(LabelSelector scope, CancellationToken cancellationToken)
    {
        var selector = scope.And(Labels.Owner);
        var removed = 0;
        foreach (var container in _containers.Values.Where(c => selector.Matches(c.Labels) && Labels.IsOrphanedBy(c.Labels[Labels.Owner])).ToList())
        {
            await RemoveAsync(container.Id, cancellationToken);
            removed++;
        }

        foreach (var network in _networks.Values.Where(n => selector.Matches(n.Labels) && Labels.IsOrphanedBy(n.Labels[Labels.Owner])).ToList())
        {
            await RemoveNetworkAsync(network.Name, cancellationToken);
            removed++;
        }

        // As Docker's: a dead owner's probes go with any sweep (no scope selects them), uncounted.
        foreach (var container in _containers.Values.Where(c => Labels.IsOrphanedProbe(c.Labels)).ToList())
        {
            await RemoveAsync(container.Id, cancellationToken);
        }

        return removed;
    }

    private static readonly FakeAgent Idle = async (_, killed) =>
    {
        await Task.Delay(Timeout.Infinite, killed);
        return 0;
    };

    private FakeContainer Find(string containerId) =>
        _containers.TryGetValue(containerId, out var container)
            ? container
            : throw new InvalidOperationException($"Docker: No such container: {containerId}");

    private sealed record FakeNetwork(string Name, bool Internal, IReadOnlyDictionary<string, string> Labels)
    {
        public ConcurrentDictionary<string, string> Members { get; } = new(StringComparer.Ordinal);
    }
}
