namespace SandboxRunner.Sandbox;

public enum LogStream { Stdout, Stderr }

/// <summary>
/// The seam around Docker: one method per engine call, so orchestration can be tested against a stand-in
/// and the engine code stays small. The only implementation that ships is <see cref="DockerEngine"/>.
/// </summary>
public interface IContainerEngine
{
    /// <summary>The engine's version and API version; throws when the engine does not answer.</summary>
    Task<(string Version, string ApiVersion)> PingAsync(CancellationToken cancellationToken);

    Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken);

    /// <summary>Builds <paramref name="recipe"/> under its tag; throws <see cref="ImageBuildException"/> with the log's tail when the build fails.</summary>
    Task BuildImageAsync(ImageRecipe recipe, CancellationToken cancellationToken);

    /// <summary>Creates (does not start) a container and returns its id.</summary>
    Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken);

    Task StartAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Waits for the container to exit and returns its exit code.</summary>
    Task<long> WaitAsync(string containerId, CancellationToken cancellationToken);

    Task KillAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Removes the container with its anonymous volumes; a container already gone is not an error.</summary>
    Task RemoveAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>
    /// Hands the container's demultiplexed output to <paramref name="onChunk"/>: as it is written until the
    /// container exits (<paramref name="follow"/>), or all of it at once.
    /// </summary>
    Task ReadLogsAsync(string containerId, bool follow, Action<LogStream, ReadOnlySpan<byte>> onChunk, CancellationToken cancellationToken);

    /// <summary>
    /// A regular file's bytes from inside the container (running or stopped), resolved by the engine within
    /// the container's own filesystem, so a symlink planted there cannot reach a host path. Null when the
    /// path is missing, is not a regular file, or exceeds <paramref name="maxBytes"/>.
    /// </summary>
    Task<byte[]?> ReadFileAsync(string containerId, string path, long maxBytes, CancellationToken cancellationToken);

    /// <summary>The container's address on <paramref name="network"/>, or null.</summary>
    Task<string?> AddressAsync(string containerId, string network, CancellationToken cancellationToken);

    Task CreateNetworkAsync(string name, bool isInternal, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken);

    /// <summary>Attaches a container to a network under an alias other containers there can use.</summary>
    Task ConnectAsync(string network, string containerId, string alias, CancellationToken cancellationToken);

    /// <summary>Removes a network; one already gone is not an error.</summary>
    Task RemoveNetworkAsync(string name, CancellationToken cancellationToken);

    /// <summary>Names of networks carrying <paramref name="label"/>, optionally with <paramref name="value"/>.</summary>
    Task<IReadOnlyList<string>> ListNetworksAsync(string label, string? value, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the containers and networks whose owning server process (<see cref="Labels.Owner"/>) is gone
    /// from this machine; returns how many. Their task trees stay on disk.
    /// </summary>
    Task<int> RemoveOrphansAsync(CancellationToken cancellationToken);

    /// <summary>Ids of containers (running or not) carrying <paramref name="label"/>, optionally with <paramref name="value"/>.</summary>
    Task<IReadOnlyList<string>> ListContainersAsync(string label, string? value, CancellationToken cancellationToken);
}
