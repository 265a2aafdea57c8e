namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// One box as a Docker container, with the network-namespace holder it joins on an allowlist site. Owns its
/// teardown: disposing removes the container, then the holder, with a budget of its own.
/// </summary>
internal sealed class DockerTaskBox : ITaskBox
{
    private static readonly TimeSpan TeardownBudget = TimeSpan.FromSeconds(30);
    private readonly DockerBackend _docker;
    private readonly Func<ValueTask>? _release;
    private int _disposed;

    public DockerTaskBox(DockerBackend docker, string containerId, TaskNetwork? network, Func<ValueTask>? release)
    {
        _docker = docker;
        Id = containerId;
        Network = network;
        _release = release;
    }

    public string Id { get; }

    public string? Node => null;

    /// <summary>Where the box sits on its site's internal network; null off an allowlist site.</summary>
    public TaskNetwork? Network { get; }

    /// <summary>What the box was created from: its image, labels, limits and runtime serve a look beside it.</summary>
    internal ContainerSpec? Spec { get; init; }

    public Task<BoxExit> RunAsync(
        TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken)
    {
        var containers = _docker.Containers;
        return BoxRun.RunAsync(
            new BoxCalls(
                ct => containers.StartAsync(Id, ct),
                (follow, onChunk, ct) => containers.ReadLogsAsync(Id, follow, onChunk, ct),
                ct => containers.WaitAsync(Id, ct),
                ct => containers.KillAsync(Id, ct)),
            timeout, onOutput, onStarted, limitStop, cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => _docker.Containers.StartAsync(Id, cancellationToken);

    public Task<long?> ExecAsync(BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) =>
        _docker.Exec.ExecAsync(Id, command, onOutput, cancellationToken);

    public Task KillAsync(CancellationToken cancellationToken) => _docker.Containers.KillAsync(Id, cancellationToken);

    public Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken) =>
        _docker.Containers.ReadFileAsync(Id, path, maxBytes, cancellationToken);

    public Task PutArchiveAsync(string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken) =>
        _docker.Archives.PutAsync(Id, path, writeTar, cancellationToken);

    public Task<T> GetArchiveAsync<T>(string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) =>
        _docker.Archives.GetAsync(Id, path, readTar, cancellationToken);

    public Task<long?> WrittenBytesAsync(CancellationToken cancellationToken) => _docker.Snapshots.WrittenBytesAsync(Id, cancellationToken);

    public Task<IReadOnlyList<PathChange>?> ChangesAsync(int maxEntries, CancellationToken cancellationToken) =>
        _docker.Snapshots.ChangesAsync(Id, maxEntries, cancellationToken);

    public Task<string> CommitAsync(ImageCommit commit, CancellationToken cancellationToken) => _docker.Snapshots.CommitAsync(Id, commit, cancellationToken);

    public bool LooksBeside => Spec is not null;

    public async Task<byte[]?> LookBesideAsync(BesideLook look, CancellationToken cancellationToken)
    {
        if (Spec is not { } spec || look.Command.Count == 0)
        {
            return null;
        }

        // Its own container, never this one restarted (that would run the agent again): the same image, labels (so the
        // run's teardown and the orphan sweep find it), limits and runtime, no network, this box's volumes read-only.
        var besides = new ContainerSpec
        {
            Image = spec.Image,
            Entrypoint = [look.Command[0]],
            Command = look.Command.Skip(1).ToList(),
            User = "0:0",
            WorkingDirectory = "/",
            Environment = new Dictionary<string, string>(),
            Volumes = [look.OutputFolder],
            VolumesFrom = [$"{Id}:ro"],
            Labels = new Dictionary<string, string>(spec.Labels) { [Labels.Role] = Labels.LookRole },
            Limits = spec.Limits,
            NetworkMode = "none",
            CapAdd = ["DAC_READ_SEARCH"],
            MaxLogBytes = 64 * 1024,
            Runtime = spec.Runtime,
        };
        var containers = _docker.Containers;
        string id;
        using (var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            id = await containers.CreateAsync(besides, budget.Token);
        }

        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(look.Timeout);
            await containers.StartAsync(id, deadline.Token);
            var exit = await containers.WaitAsync(id, deadline.Token);
            return exit == 0 ? await containers.ReadFileAsync(id, look.OutputFile, look.MaxBytes, cancellationToken) : null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            try
            {
                using var budget = new CancellationTokenSource(TeardownBudget);
                await containers.RemoveAsync(id, budget.Token);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _docker.LogBoxLeft(id, e is OperationCanceledException ? $"over its {TeardownBudget.TotalSeconds:F0} s budget" : e.Message);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            using var budget = new CancellationTokenSource(TeardownBudget);
            await _docker.Containers.RemoveAsync(Id, budget.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A removal that times out on a loaded engine must not replace the task's result, which is on disk by now:
            // the box carries its run's labels, so the run's teardown and the orphan sweep still remove it.
            _docker.LogBoxLeft(Id, e is OperationCanceledException ? $"over its {TeardownBudget.TotalSeconds:F0} s budget" : e.Message);
        }
        finally
        {
            // The holder goes after the container that joined its namespace; the site's teardown removes it by label otherwise.
            if (_release is not null)
            {
                await _release();
            }
        }
    }
}

/// <summary>A box's place on an allowlist site's internal network: the holder whose network namespace it joins, and its address there.</summary>
internal sealed record TaskNetwork(string HolderId, string Address)
{
    public string NetworkMode => $"container:{HolderId}";
}
