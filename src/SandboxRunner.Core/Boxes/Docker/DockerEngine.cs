using Microsoft.Extensions.Logging;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// <see cref="IContainerEngine"/> over one engine, while callers move to <see cref="ITaskBackend"/>: every call goes
/// to the per-resource classes <see cref="Backend"/> holds, so the two share one client and one implementation.
/// </summary>
internal sealed class DockerEngine : IContainerEngine, IDisposable
{
    public DockerEngine(ILogger<DockerEngine> logger, Uri? endpoint = null)
        : this(logger, endpoint is null ? EngineConnection.FromProcess() : new EngineConnection(endpoint))
    {
    }

    public DockerEngine(ILogger<DockerEngine> logger, EngineConnection connection, IReadOnlyDictionary<string, string>? extraLabels = null) =>
        Backend = new DockerBackend(logger, connection, extraLabels);

    /// <summary>A view of <paramref name="backend"/>, which its owner disposes.</summary>
    internal DockerEngine(DockerBackend backend)
    {
        Backend = backend;
        _ownsBackend = false;
    }

    private readonly bool _ownsBackend = true;

    public DockerBackend Backend { get; }

    ITaskBackend IContainerEngine.Backend => Backend;

    public EngineConnection Connection => Backend.Connection;

    public Uri Endpoint => Connection.Endpoint;

    /// <summary>Where the runner reaches the engine when nothing names one: DOCKER_HOST, or the local socket.</summary>
    public static Uri DefaultEndpoint() => EngineConnection.FromProcess().Endpoint;

    public Task<(string Version, string ApiVersion)> PingAsync(CancellationToken cancellationToken) => Backend.PingAsync(cancellationToken);

    public Task<EngineRuntimes> RuntimesAsync(CancellationToken cancellationToken) => Backend.RuntimesAsync(cancellationToken);

    public Task<string?> ExposedApiAsync(CancellationToken cancellationToken) => Backend.ExposedApiAsync(cancellationToken);

    public Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken) => Backend.SharesHostFilesAsync(image, cancellationToken);

    public Task<int> RemoveOrphansAsync(LabelSelector scope, CancellationToken cancellationToken) =>
        Backend.RemoveOrphansAsync(scope, cancellationToken);

    public Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken) => Backend.Images.ExistsAsync(image, cancellationToken);

    public Task BuildImageAsync(ImageRecipe recipe, CancellationToken cancellationToken) => Backend.Images.BuildAsync(recipe, cancellationToken);

    public Task<ImageFacts?> InspectImageAsync(string image, CancellationToken cancellationToken) => Backend.Images.InspectAsync(image, cancellationToken);

    public Task DeleteImageAsync(string image, CancellationToken cancellationToken) => Backend.Images.DeleteAsync(image, cancellationToken);

    public Task<IReadOnlyList<EngineImage>> ListImagesAsync(LabelSelector selector, CancellationToken cancellationToken) => Backend.Images.ListAsync(selector, cancellationToken);

    public Task<IReadOnlyList<ContainerImageUse>> ListContainerImagesAsync(CancellationToken cancellationToken) => Backend.Images.UsesAsync(cancellationToken);

    public Task<ImageRemoval> RemoveImageAsync(string reference, CancellationToken cancellationToken) => Backend.Images.RemoveAsync(reference, cancellationToken);

    public Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken) => Backend.Containers.CreateAsync(spec, cancellationToken);

    public Task StartAsync(string containerId, CancellationToken cancellationToken) => Backend.Containers.StartAsync(containerId, cancellationToken);

    public Task StartWithInputAsync(string containerId, ReadOnlyMemory<byte> input, CancellationToken cancellationToken) =>
        Backend.Containers.StartWithInputAsync(containerId, input, cancellationToken);

    public Task<long> WaitAsync(string containerId, CancellationToken cancellationToken) => Backend.Containers.WaitAsync(containerId, cancellationToken);

    public Task KillAsync(string containerId, CancellationToken cancellationToken) => Backend.Containers.KillAsync(containerId, cancellationToken);

    public Task RemoveAsync(string containerId, CancellationToken cancellationToken) => Backend.Containers.RemoveAsync(containerId, cancellationToken);

    public Task ReadLogsAsync(string containerId, bool follow, Action<LogStream, ReadOnlySpan<byte>> onChunk, CancellationToken cancellationToken) =>
        Backend.Containers.ReadLogsAsync(containerId, follow, onChunk, cancellationToken);

    public Task<byte[]?> ReadFileAsync(string containerId, string path, long maxBytes, CancellationToken cancellationToken) =>
        Backend.Containers.ReadFileAsync(containerId, path, maxBytes, cancellationToken);

    public Task<string?> AddressAsync(string containerId, string network, CancellationToken cancellationToken) =>
        Backend.Containers.AddressAsync(containerId, network, cancellationToken);

    public async Task<IReadOnlyList<string>> ListContainersAsync(LabelSelector selector, CancellationToken cancellationToken) =>
        (await Backend.Containers.ListAsync(selector, cancellationToken)).Select(c => c.ID).ToList();

    public Task<long?> ExecAsync(string containerId, BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) =>
        Backend.Exec.ExecAsync(containerId, command, onOutput, cancellationToken);

    public Task CreateNetworkAsync(string name, bool isInternal, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken) =>
        Backend.Networks.CreateAsync(name, isInternal, labels, cancellationToken);

    public Task ConnectAsync(string network, string containerId, string alias, CancellationToken cancellationToken) =>
        Backend.Networks.ConnectAsync(network, containerId, alias, cancellationToken);

    public Task<string?> SubnetAsync(string name, CancellationToken cancellationToken) => Backend.Networks.SubnetAsync(name, cancellationToken);

    public Task RemoveNetworkAsync(string name, CancellationToken cancellationToken) => Backend.Networks.RemoveAsync(name, cancellationToken);

    public async Task<IReadOnlyList<string>> ListNetworksAsync(LabelSelector selector, CancellationToken cancellationToken) =>
        (await Backend.Networks.ListAsync(selector, cancellationToken)).Select(n => n.Name).ToList();

    public Task PutArchiveAsync(string containerId, string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken) =>
        Backend.Archives.PutAsync(containerId, path, writeTar, cancellationToken);

    public Task<T> GetArchiveAsync<T>(string containerId, string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) =>
        Backend.Archives.GetAsync(containerId, path, readTar, cancellationToken);

    public Task<string> CommitAsync(string containerId, ImageCommit commit, CancellationToken cancellationToken) =>
        Backend.Snapshots.CommitAsync(containerId, commit, cancellationToken);

    public Task<IReadOnlyList<PathChange>?> ChangesAsync(string containerId, int maxEntries, CancellationToken cancellationToken) =>
        Backend.Snapshots.ChangesAsync(containerId, maxEntries, cancellationToken);

    public Task<long?> WrittenBytesAsync(string containerId, CancellationToken cancellationToken) => Backend.Snapshots.WrittenBytesAsync(containerId, cancellationToken);

    public void Dispose()
    {
        if (_ownsBackend)
        {
            Backend.Dispose();
        }
    }
}
