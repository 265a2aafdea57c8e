namespace SandboxRunner.Boxes.Docker;

/// <summary>Images: present or built from a recipe.</summary>
internal interface IImageOperations
{
    Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken);

    /// <summary>Builds <paramref name="recipe"/> under its tag; throws <see cref="ImageBuildException"/> with the log's tail when the build fails.</summary>
    Task BuildImageAsync(ImageRecipe recipe, CancellationToken cancellationToken);
}

/// <summary>Containers, from creation to removal, and what can be read from them.</summary>
internal interface IContainerOperations
{
    /// <summary>Creates (does not start) a container and returns its id.</summary>
    Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken);

    Task StartAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>
    /// Starts a container created with <see cref="ContainerSpec.OpenStdin"/> and writes <paramref name="input"/> to
    /// its standard input: how a secret reaches a container without being in its configuration (environment,
    /// command, labels), which anyone holding the engine's API can read.
    /// </summary>
    Task StartWithInputAsync(string containerId, ReadOnlyMemory<byte> input, CancellationToken cancellationToken);

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
    /// path is missing, is not a regular file, or exceeds <paramref name="maxBytes"/>. Reads asynchronously
    /// and never holds more than <paramref name="maxBytes"/> plus one tar header.
    /// </summary>
    Task<byte[]?> ReadFileAsync(string containerId, string path, long maxBytes, CancellationToken cancellationToken);

    /// <summary>The container's address on <paramref name="network"/>, or null.</summary>
    Task<string?> AddressAsync(string containerId, string network, CancellationToken cancellationToken);

    /// <summary>Ids of containers (running or not) that <paramref name="selector"/> matches.</summary>
    Task<IReadOnlyList<string>> ListContainersAsync(LabelSelector selector, CancellationToken cancellationToken);
}

/// <summary>Commands run in a container that is already running: verification runs each verify command this way.</summary>
internal interface IExecOperations
{
    /// <summary>
    /// Runs <paramref name="command"/> in the running container, handing its demultiplexed output to
    /// <paramref name="onOutput"/> as it comes, and returns its exit code, which the engine reports and
    /// nothing inside the container can forge. Null when the engine no longer knows it (the container was
    /// killed or removed under it).
    /// </summary>
    Task<long?> ExecAsync(string containerId, BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken);
}

/// <summary>Networks a run creates for its egress.</summary>
internal interface INetworkOperations
{
    Task CreateNetworkAsync(string name, bool isInternal, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken);

    /// <summary>Attaches a container to a network under an alias other containers there can use.</summary>
    Task ConnectAsync(string network, string containerId, string alias, CancellationToken cancellationToken);

    /// <summary>The network's IPv4 subnet (<c>172.18.0.0/16</c>), or null when the engine gives none.</summary>
    Task<string?> SubnetAsync(string name, CancellationToken cancellationToken);

    /// <summary>Removes a network; one already gone is not an error.</summary>
    Task RemoveNetworkAsync(string name, CancellationToken cancellationToken);

    /// <summary>Names of networks that <paramref name="selector"/> matches.</summary>
    Task<IReadOnlyList<string>> ListNetworksAsync(LabelSelector selector, CancellationToken cancellationToken);
}

/// <summary>
/// The container engine's API, one small interface per resource: the seam the run layer used before
/// <see cref="ITaskBackend"/>, kept while its callers move over (then it goes, and <see cref="ContainerSpec"/> becomes
/// internal to this folder). <see cref="DockerEngine"/> serves it over the same per-resource classes as <see cref="DockerBackend"/>.
/// </summary>
internal interface IContainerEngine : IImageOperations, IContainerOperations, INetworkOperations, IArchiveOperations, ISnapshotOperations, IExecOperations
{
    /// <summary>The same engine behind the new seam: what callers that have moved over use.</summary>
    ITaskBackend Backend { get; }

    /// <summary>The engine's version and API version; throws when the engine does not answer.</summary>
    Task<(string Version, string ApiVersion)> PingAsync(CancellationToken cancellationToken);

    /// <summary>The OCI runtimes the engine can start containers with, and its default; throws when the engine does not answer.</summary>
    Task<EngineRuntimes> RuntimesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Why a container on this engine's own network could call the engine's API without credentials: its
    /// endpoint is plain TCP, or TLS that takes a client without a certificate. Null when the runner reaches it
    /// through a unix socket (never mounted into a container) or over TLS that demands a client certificate.
    /// </summary>
    Task<string?> ExposedApiAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Removes the containers and networks <paramref name="scope"/> matches whose owning server process
    /// (<see cref="Labels.Owner"/>) is gone from this machine; returns how many. Their task trees stay on disk.
    /// </summary>
    Task<int> RemoveOrphansAsync(LabelSelector scope, CancellationToken cancellationToken);
}

/// <summary>The single-label calls tests and tools make.</summary>
internal static class ContainerEngineExtensions
{
    public static Task<IReadOnlyList<string>> ListContainersAsync(this IContainerOperations engine, string label, string? value, CancellationToken cancellationToken) =>
        engine.ListContainersAsync(LabelSelector.Of(label, value), cancellationToken);

    public static Task<IReadOnlyList<string>> ListNetworksAsync(this INetworkOperations engine, string label, string? value, CancellationToken cancellationToken) =>
        engine.ListNetworksAsync(LabelSelector.Of(label, value), cancellationToken);

    public static Task<int> RemoveOrphansAsync(this IContainerEngine engine, CancellationToken cancellationToken) =>
        engine.RemoveOrphansAsync(LabelSelector.Of(Labels.Owner), cancellationToken);
}

/// <summary>
/// Tar streams into and out of a container's filesystem, resolved by the engine inside the container: the
/// copy transport, for engines that cannot see this machine's files.
/// </summary>
internal interface IArchiveOperations
{
    /// <summary>
    /// Extracts the tar <paramref name="writeTar"/> writes into folder <paramref name="path"/> of a created
    /// container (a volume of it, when its root filesystem is read-only). The tar is streamed, never held whole.
    /// </summary>
    Task PutArchiveAsync(string containerId, string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken);

    /// <summary>Hands the tar of <paramref name="path"/> (its own name first in every entry) to <paramref name="readTar"/> as the engine streams it.</summary>
    Task<T> GetArchiveAsync<T>(string containerId, string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken);

    /// <summary>
    /// Whether a bind mount of a folder of this machine reaches this machine's files in the engine's
    /// containers (false for a remote engine, or one in a container of its own). Probed once per engine
    /// instance with <paramref name="image"/>, then cached.
    /// </summary>
    Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken);
}
