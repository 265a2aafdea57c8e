using System.Formats.Tar;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// One box as a one-task <c>replicated-job</c> service. Its container runs on some node, waiting at its gate
/// (<see cref="ServiceSpecs.Gate"/>) until the runner has filled its workspace and gives the go-ahead; everything
/// done to the container itself (archives, logs, exec, kill) goes through that node's engine, as to a local
/// container, so the local backend's bounds and checks hold unchanged. Disposing removes the service (and with
/// it the container and its volumes) and what the box alone had (its network, its started marker).
/// </summary>
internal sealed class SwarmTaskBox : ITaskBox
{
    private static readonly TimeSpan NodeWatchInterval = TimeSpan.FromSeconds(2);
    private readonly SwarmBackend _swarm;
    private readonly DockerTaskBox _container;
    private readonly string? _ownNetwork;
    private readonly IReadOnlyDictionary<string, string> _labels;
    private int _opened;
    private int _disposed;

    public SwarmTaskBox(SwarmBackend swarm, string serviceId, string nodeId, string nodeName, DockerBackend engine, string containerId, string? ownNetwork, IReadOnlyDictionary<string, string> labels)
    {
        _swarm = swarm;
        Id = serviceId;
        NodeId = nodeId;
        Node = nodeName;
        ContainerId = containerId;
        _ownNetwork = ownNetwork;
        _labels = labels;
        _container = new DockerTaskBox(engine, containerId, null, null);
    }

    /// <summary>The service's id.</summary>
    public string Id { get; }

    public string? Node { get; }

    public string NodeId { get; }

    public string ContainerId { get; }

    public async Task<BoxExit> RunAsync(
        TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken)
    {
        await OpenGateAsync(cancellationToken);
        using var lost = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var watching = new CancellationTokenSource();
        string? loss = null;
        var watch = WatchNodeAsync(reason =>
        {
            loss = reason;
            lost.Cancel();
        }, watching.Token);
        try
        {
            return await _container.RunAsync(timeout, onOutput, onStarted, limitStop, lost.Token);
        }
        catch (Exception e) when (loss is not null && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(loss, e);
        }
        finally
        {
            await watching.CancelAsync();
            await watch;
            await _swarm.Markers.ClearAsync(Id);
        }
    }

    /// <summary>Asks the manager about the box's node until told to stop; reports a node that is no longer ready (gone, down, disconnected).</summary>
    private async Task WatchNodeAsync(Action<string> onLost, CancellationToken cancellationToken)
    {
        try
        {
            await Platform.Poll.UntilAsync(
                async ct =>
                {
                    var node = (await _swarm.Nodes.ListAsync(ct)).FirstOrDefault(n => n.Id == NodeId);
                    if (node is { State: "ready" })
                    {
                        return false;
                    }

                    onLost($"the swarm node '{Node}' ({NodeId}) that ran this task {(node is null ? "left the swarm" : $"is {node.State}")} while the task ran; its work there is lost");
                    return true;
                },
                NodeWatchInterval,
                Timeout.InfiniteTimeSpan,
                cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
        {
            // The manager itself not answering is not a node loss: the container's own wait decides.
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => OpenGateAsync(cancellationToken);

    /// <summary>The go-ahead: a file in the gate's folder, and the marker that tells a listing the box started.</summary>
    private async Task OpenGateAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _opened, 1) == 1)
        {
            return;
        }

        await _swarm.Markers.SetAsync(Id, _labels, cancellationToken);
        await _container.PutArchiveAsync(ServiceSpecs.GateFolder, async (tar, ct) =>
        {
            await using var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, ServiceSpecs.GateFile) { DataStream = new MemoryStream([]), Mode = (UnixFileMode)0b100_100_100 }, ct);
        }, cancellationToken);
    }

    public Task<long?> ExecAsync(BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) =>
        _container.ExecAsync(command, onOutput, cancellationToken);

    public Task KillAsync(CancellationToken cancellationToken) => _container.KillAsync(cancellationToken);

    public Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken) => _container.ReadFileAsync(path, maxBytes, cancellationToken);

    public Task PutArchiveAsync(string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken) =>
        _container.PutArchiveAsync(path, writeTar, cancellationToken);

    public Task<T> GetArchiveAsync<T>(string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) =>
        _container.GetArchiveAsync(path, readTar, cancellationToken);

    public Task<long?> WrittenBytesAsync(CancellationToken cancellationToken) => _container.WrittenBytesAsync(cancellationToken);

    public Task<IReadOnlyList<PathChange>?> ChangesAsync(int maxEntries, CancellationToken cancellationToken) => _container.ChangesAsync(maxEntries, cancellationToken);

    public Task<string> CommitAsync(ImageCommit commit, CancellationToken cancellationToken) =>
        throw new NotSupportedException(
            "the swarm backend does not commit boxes as images yet (a commit stays on the box's node; see docs/swarm.md); environments need `backend: docker`");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _swarm.Services.RemoveAsync(Id, budget.Token);
        await _swarm.Markers.ClearAsync(Id);
        if (_ownNetwork is not null)
        {
            await _swarm.RemoveNetworkWhenFreeAsync(_ownNetwork, budget.Token);
        }
    }
}
