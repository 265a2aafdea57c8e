using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// One box as a one-task service (a <c>replicated-job</c>, or a warm box's <c>replicated</c> service: <see cref="SwarmPool"/>). Its container runs on some node, waiting at its gate
/// (<see cref="ServiceSpecs.Gate"/>) until the runner has filled its workspace and gives the go-ahead; everything
/// done to the container itself (archives, logs, exec, kill) goes through that node's engine, as to a local
/// container, so the local backend's bounds and checks hold unchanged. Disposing removes the service (and with
/// it the container and its volumes) and what the box alone had (its started marker).
/// </summary>
internal sealed class SwarmTaskBox : ITaskBox
{
    private static readonly TimeSpan NodeWatchInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan TeardownBudget = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan AttachEndBudget = TimeSpan.FromSeconds(10);
    private readonly NodeEngine _engine;
    private readonly SwarmBackend _swarm;
    private readonly DockerTaskBox _container;
    private readonly IReadOnlyDictionary<string, string> _labels;
    private readonly string _gateScript;
    private int _opened;
    private string? _lost;
    private int _disposed;

    /// <param name="gateScript">What the gate runs once opened (<see cref="SwarmGate.Script"/>: the task's argv, folder and environment).</param>
    public SwarmTaskBox(
        SwarmBackend swarm, string serviceId, string nodeId, string nodeName, NodeEngine engine, string containerId, IReadOnlyDictionary<string, string> labels, string gateScript)
    {
        _gateScript = gateScript;
        _swarm = swarm;
        Id = serviceId;
        NodeId = nodeId;
        Node = nodeName;
        ContainerId = containerId;
        _labels = labels;
        _engine = engine;
        _container = new DockerTaskBox(engine.Backend, containerId, null, null);
    }

    /// <summary>The service's id.</summary>
    public string Id { get; }

    public string? Node { get; }

    public string NodeId { get; }

    public string ContainerId { get; }

    /// <summary>Whether the box was warm (<see cref="SwarmPool"/>): made before its task, taken by it.</summary>
    public bool Warm { get; init; }

    /// <summary>Called once the box is gone from the swarm: its node's place is free, so its shape's pool refills there.</summary>
    public Action? OnGone { get; init; }

    public async Task<BoxExit> RunAsync(
        TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken)
    {
        using var lost = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var watching = new CancellationTokenSource();
        var nodeLost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watch = WatchNodeAsync(reason => nodeLost.TrySetResult(reason), watching.Token);
        var run = RunOnNodeAsync(timeout, onOutput, onStarted, limitStop, lost.Token);
        try
        {
            // A node that died may never answer again: its box is failed now, not when a TCP timeout ends the wait.
            if (await Task.WhenAny(run, nodeLost.Task) == nodeLost.Task)
            {
                _lost = await nodeLost.Task;
                await lost.CancelAsync();
                _ = run.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw new InvalidOperationException(_lost);
            }

            return await run;
        }
        finally
        {
            await watching.CancelAsync();
            await watch;
            await _swarm.Markers.ClearAsync(Id);
        }
    }

    /// <summary>
    /// The local box's run, on the box's node, with one difference: the output is read through an attach made while
    /// the box still waits at its gate, so nothing it writes can be missed or, as a log follow that starts while the
    /// first lines are written can on 20.10, delivered twice. The finished log is read once more for what the attach missed.
    /// </summary>
    private async Task<BoxExit> RunOnNodeAsync(
        TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken)
    {
        var containers = _engine.Backend.Containers;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delivered = new long[2];
        void Deliver(LogStream stream, ReadOnlySpan<byte> chunk)
        {
            delivered[(int)stream] += chunk.Length;
            onOutput(stream, chunk);
        }

        using var attached = await _engine.Client.Containers.AttachContainerAsync(
            ContainerId, new ContainerAttachParameters { Stream = true, Stdin = true, Stdout = true, Stderr = true }, cancellationToken);
        var output = PumpAsync(attached, Deliver, stop.Token);
        var wait = containers.WaitAsync(ContainerId, stop.Token);
        await OpenGateAsync(attached, cancellationToken);
        var started = Stopwatch.GetTimestamp();
        onStarted?.Invoke();
        var timedOut = false;
        var stopped = false;
        try
        {
            using var deadlineOrStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limitStop);
            var deadline = Task.Delay(timeout, deadlineOrStop.Token);
            if (await Task.WhenAny(wait, deadline) == deadline)
            {
                cancellationToken.ThrowIfCancellationRequested();
                stopped = limitStop.IsCancellationRequested;
                timedOut = !stopped;
                await containers.KillAsync(ContainerId, CancellationToken.None);
            }

            var exitCode = await wait.WaitAsync(TeardownBudget, CancellationToken.None);
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (!await EndsAsync(output, AttachEndBudget))
            {
                // The attach ends when the container does, but a loaded 20.10 swarm node was seen keeping it open past
                // 30 s (CI, a `none` box): stop reading it; the finished log below has whatever it had not handed on.
                await stop.CancelAsync();
                attached.Dispose();
                await EndsAsync(output, AttachEndBudget);
            }

            await BoxRun.ReplayMissedAsync(
                (follow, onChunk, ct) => containers.ReadLogsAsync(ContainerId, follow, onChunk, ct), delivered, Deliver, TeardownBudget);
            return new BoxExit(timedOut || stopped ? null : exitCode, timedOut, elapsed, stopped);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (_lost is null)
            {
                await containers.KillAsync(ContainerId, CancellationToken.None);
            }

            throw;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(output, wait).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Whether <paramref name="task"/> ends (any way) within <paramref name="budget"/>.</summary>
    private static async Task<bool> EndsAsync(Task task, TimeSpan budget)
    {
        var ended = task.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return await Task.WhenAny(ended, Task.Delay(budget)) == ended;
    }

    private static async Task PumpAsync(MultiplexedStream stream, Action<LogStream, ReadOnlySpan<byte>> onChunk, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                return;
            }

            onChunk(read.Target == MultiplexedStream.TargetStream.StandardError ? LogStream.Stderr : LogStream.Stdout, buffer.AsSpan(0, read.Count));
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

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var stdin = await _engine.Client.Containers.AttachContainerAsync(
            ContainerId, new ContainerAttachParameters { Stream = true, Stdin = true }, cancellationToken);
        await OpenGateAsync(stdin, cancellationToken);

        // The end of this attach's input, not of the box's: a service's standard input stays open (it has no StdinOnce).
        stdin.CloseWrite();
    }

    /// <summary>The go-ahead: the marker that tells a listing the box started, then the task's text on the gate's standard input (<see cref="SwarmGate.Message"/>).</summary>
    private async Task OpenGateAsync(MultiplexedStream stdin, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _opened, 1) == 1)
        {
            return;
        }

        await _swarm.Markers.SetAsync(Id, _labels, cancellationToken);
        var message = SwarmGate.Message(_gateScript);
        try
        {
            await stdin.WriteAsync(message, 0, message.Length, cancellationToken);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(message);
        }
    }

    public Task<long?> ExecAsync(BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) =>
        _container.ExecAsync(command, onOutput, cancellationToken);

    public Task KillAsync(CancellationToken cancellationToken) => _lost is null ? _container.KillAsync(cancellationToken) : Task.CompletedTask;

    public Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken) => Reachable().ReadFileAsync(path, maxBytes, cancellationToken);

    public Task PutArchiveAsync(string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken) =>
        _container.PutArchiveAsync(path, writeTar, cancellationToken);

    public Task<T> GetArchiveAsync<T>(string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) =>
        Reachable().GetArchiveAsync(path, readTar, cancellationToken);

    /// <summary>The box's container, unless its node was lost (then what was on it cannot be read: fail at once, naming the node).</summary>
    private DockerTaskBox Reachable() => _lost is { } lost ? throw new InvalidOperationException(lost) : _container;

    public Task<long?> WrittenBytesAsync(CancellationToken cancellationToken) => Reachable().WrittenBytesAsync(cancellationToken);

    public Task<IReadOnlyList<PathChange>?> ChangesAsync(int maxEntries, CancellationToken cancellationToken) => Reachable().ChangesAsync(maxEntries, cancellationToken);

    /// <summary>Committed on the box's node, then made the manager's through the registry (<see cref="SwarmImages.CommitAsync"/>).</summary>
    public async Task<string> CommitAsync(ImageCommit commit, CancellationToken cancellationToken)
    {
        _ = Reachable();
        var onManager = NodeId == await _swarm.Nodes.ManagerNodeIdAsync(cancellationToken);
        return await ((SwarmImages)_swarm.Images).CommitAsync(_engine, onManager, ContainerId, commit, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            // The container first, with its volumes, through its node's engine: swarm removes a removed service's
            // container late and never its anonymous volumes (the gate's and the copy transport's scratch).
            if (_lost is null)
            {
                await _container.DisposeAsync();
            }

            using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _swarm.Services.RemoveAsync(Id, budget.Token);
        }
        finally
        {
            // Gone for the task and its shape whether or not the removal went through (the run's sweep by label takes a
            // service left): else the shape would count it in use for ever and keep wanting one warm box more.
            _swarm.Nodes.Freed();
            OnGone?.Invoke();
        }

        await _swarm.Markers.ClearAsync(Id);
    }
}
