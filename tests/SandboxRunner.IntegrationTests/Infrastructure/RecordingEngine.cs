using System.Collections.Concurrent;
using System.Diagnostics;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// The real engine, with a record of when each container started, exited and went, so tests can check
/// deadlines and how many containers were alive at once. Every call still reaches Docker: a backend of its own over
/// the engine's connection (<see cref="Backend"/>, what a runner under test gets), whose containers it observes
/// whichever part made them (boxes, proxies, holders, environments' containers).
/// </summary>
internal sealed class RecordingEngine : IContainerEngine, IContainerObserver, IDisposable
{
    private readonly DockerEngine inner;

    public RecordingEngine(DockerEngine engine)
    {
        Backend = new DockerBackend(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, engine.Connection);
        Backend.Containers.Observer = this;
        inner = new DockerEngine(Backend);
    }

    /// <summary>The backend a runner under test uses; everything it creates is recorded here.</summary>
    public DockerBackend Backend { get; }

    ITaskBackend IContainerEngine.Backend => Backend;

    public EngineConnection Connection => Backend.Connection;

    public void Dispose() => Backend.Dispose();

    private readonly Lock _gate = new();
    private int _alive;

    public ConcurrentDictionary<string, ContainerSpec> Specs { get; } = new();
    public ConcurrentDictionary<string, TimeSpan> Started { get; } = new();
    public ConcurrentDictionary<string, TimeSpan> Exited { get; } = new();
    public ConcurrentQueue<string> Removed { get; } = new();

    /// <summary>How long each container ran, by the engine's own start and finish times (read just before removal).</summary>
    public ConcurrentDictionary<string, TimeSpan> Lifetimes { get; } = new();
    public int MaxAlive { get; private set; }

    /// <summary>Raised after a container has started.</summary>
    public event Action<string>? ContainerStarted;

    private static TimeSpan Now => Stopwatch.GetElapsedTime(0);

    /// <summary>The inner engine's backend: what has moved to the seam is not recorded here.</summary>

    public Task<(string Version, string ApiVersion)> PingAsync(CancellationToken cancellationToken) => inner.PingAsync(cancellationToken);

    public Task<EngineRuntimes> RuntimesAsync(CancellationToken cancellationToken) => inner.RuntimesAsync(cancellationToken);

    public Task BuildImageAsync(ImageRecipe recipe, CancellationToken cancellationToken) => inner.BuildImageAsync(recipe, cancellationToken);

    public Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken) => inner.ImageExistsAsync(image, cancellationToken);

    public Task<ImageFacts?> InspectImageAsync(string image, CancellationToken cancellationToken) => inner.InspectImageAsync(image, cancellationToken);

    public Task<string> CommitAsync(string containerId, ImageCommit commit, CancellationToken cancellationToken) => inner.CommitAsync(containerId, commit, cancellationToken);

    public Task<long?> WrittenBytesAsync(string containerId, CancellationToken cancellationToken) =>
        inner.WrittenBytesAsync(containerId, cancellationToken);

    public Task<IReadOnlyList<PathChange>?> ChangesAsync(string containerId, int maxEntries, CancellationToken cancellationToken) =>
        inner.ChangesAsync(containerId, maxEntries, cancellationToken);

    public Task DeleteImageAsync(string image, CancellationToken cancellationToken) => inner.DeleteImageAsync(image, cancellationToken);

    public Task<long?> ExecAsync(string containerId, BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) =>
        inner.ExecAsync(containerId, command, onOutput, cancellationToken);

    public Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken) => inner.CreateAsync(spec, cancellationToken);

    public Task StartAsync(string containerId, CancellationToken cancellationToken) => inner.StartAsync(containerId, cancellationToken);

    public Task StartWithInputAsync(string containerId, ReadOnlyMemory<byte> input, CancellationToken cancellationToken) =>
        inner.StartWithInputAsync(containerId, input, cancellationToken);

    // The backend's own look at whether it sees this machine's files is no run's container (the engine view the
    // runner had before the seam made it unrecorded too).
    private readonly ConcurrentDictionary<string, bool> _probes = new();

    void IContainerObserver.Created(string containerId, ContainerSpec spec)
    {
        if (spec.Labels.GetValueOrDefault(Labels.Role) == Labels.HostFilesProbeRole)
        {
            _probes[containerId] = true;
            return;
        }

        Specs[containerId] = spec;
        lock (_gate)
        {
            _alive++;
            MaxAlive = Math.Max(MaxAlive, _alive);
        }
    }

    void IContainerObserver.Started(string containerId)
    {
        Started[containerId] = Now;
        ContainerStarted?.Invoke(containerId);
    }

    void IContainerObserver.Exited(string containerId) => Exited[containerId] = Now;

    public Task<string?> ExposedApiAsync(CancellationToken cancellationToken) => inner.ExposedApiAsync(cancellationToken);

    public Task<string?> SubnetAsync(string name, CancellationToken cancellationToken) => inner.SubnetAsync(name, cancellationToken);

    public Task<long> WaitAsync(string containerId, CancellationToken cancellationToken) => inner.WaitAsync(containerId, cancellationToken);

    public Task KillAsync(string containerId, CancellationToken cancellationToken) => inner.KillAsync(containerId, cancellationToken);

    /// <summary>Runs before a container this engine created is removed: a test's last look at it.</summary>
    public Func<string, ContainerSpec, Task>? BeforeRemove { get; set; }

    public Task RemoveAsync(string containerId, CancellationToken cancellationToken) => inner.RemoveAsync(containerId, cancellationToken);

    async Task IContainerObserver.RemovingAsync(string containerId, CancellationToken cancellationToken)
    {
        if (BeforeRemove is { } look && Specs.TryGetValue(containerId, out var spec))
        {
            await look(containerId, spec);
        }

        try
        {
            using var client = Connection.CreateClient();
            var state = (await client.Containers.InspectContainerAsync(containerId, cancellationToken)).State!;
            if (DateTimeOffset.TryParse(state.StartedAt, out var startedAt) && DateTimeOffset.TryParse(state.FinishedAt, out var finishedAt) && finishedAt > startedAt)
            {
                Lifetimes[containerId] = finishedAt - startedAt;
            }
        }
        catch (Docker.DotNet.DockerContainerNotFoundException)
        {
        }
    }

    void IContainerObserver.Removed(string containerId)
    {
        if (_probes.TryRemove(containerId, out _))
        {
            return;
        }

        Removed.Enqueue(containerId);
        lock (_gate)
        {
            _alive--;
        }
    }

    public Task ReadLogsAsync(string containerId, bool follow, Action<LogStream, ReadOnlySpan<byte>> onChunk, CancellationToken cancellationToken) =>
        inner.ReadLogsAsync(containerId, follow, onChunk, cancellationToken);

    public Task<byte[]?> ReadFileAsync(string containerId, string path, long maxBytes, CancellationToken cancellationToken) =>
        inner.ReadFileAsync(containerId, path, maxBytes, cancellationToken);

    public Task<string?> AddressAsync(string containerId, string network, CancellationToken cancellationToken) => inner.AddressAsync(containerId, network, cancellationToken);

    public Task CreateNetworkAsync(string name, bool isInternal, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken) =>
        inner.CreateNetworkAsync(name, isInternal, labels, cancellationToken);

    public Task ConnectAsync(string network, string containerId, string alias, CancellationToken cancellationToken) => inner.ConnectAsync(network, containerId, alias, cancellationToken);

    public Task RemoveNetworkAsync(string name, CancellationToken cancellationToken) => inner.RemoveNetworkAsync(name, cancellationToken);

    public Task<IReadOnlyList<string>> ListNetworksAsync(LabelSelector selector, CancellationToken cancellationToken) => inner.ListNetworksAsync(selector, cancellationToken);

    public Task<int> RemoveOrphansAsync(LabelSelector scope, CancellationToken cancellationToken) => inner.RemoveOrphansAsync(scope, cancellationToken);

    public Task<IReadOnlyList<string>> ListContainersAsync(LabelSelector selector, CancellationToken cancellationToken) =>
        inner.ListContainersAsync(selector, cancellationToken);

    public Task PutArchiveAsync(string containerId, string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken) =>
        inner.PutArchiveAsync(containerId, path, writeTar, cancellationToken);

    public Task<T> GetArchiveAsync<T>(string containerId, string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) =>
        inner.GetArchiveAsync(containerId, path, readTar, cancellationToken);

    public Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken) => inner.SharesHostFilesAsync(image, cancellationToken);
}
