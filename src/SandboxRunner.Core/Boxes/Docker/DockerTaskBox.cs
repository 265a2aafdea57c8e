using System.Diagnostics;

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

    public async Task<BoxExit> RunAsync(
        TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken)
    {
        var containers = _docker.Containers;
        var started = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delivered = new long[2];
        void Deliver(LogStream stream, ReadOnlySpan<byte> chunk)
        {
            delivered[(int)stream] += chunk.Length;
            onOutput(stream, chunk);
        }

        await containers.StartAsync(Id, cancellationToken);
        onStarted?.Invoke();
        var logs = containers.ReadLogsAsync(Id, follow: true, Deliver, stop.Token);
        var wait = containers.WaitAsync(Id, stop.Token);
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
                await containers.KillAsync(Id, CancellationToken.None);
            }

            var exitCode = await wait.WaitAsync(TeardownBudget, CancellationToken.None);
            var elapsed = Stopwatch.GetElapsedTime(started);

            // The log stream ends when the container does; the bound only guards against an engine that hangs.
            await logs.WaitAsync(TeardownBudget, CancellationToken.None);

            // Docker 20.10 can end a follow early while a long line is still being written (seen with a
            // 3 MB JSONL line): read the finished log once more and hand on whatever the follow missed.
            var replayed = new long[2];
            await containers.ReadLogsAsync(Id, follow: false, (stream, chunk) =>
            {
                var i = (int)stream;
                var skip = (int)Math.Clamp(delivered[i] - replayed[i], 0, chunk.Length);
                replayed[i] += chunk.Length;
                if (skip < chunk.Length)
                {
                    Deliver(stream, chunk[skip..]);
                    replayed[i] = delivered[i];
                }
            }, CancellationToken.None).WaitAsync(TeardownBudget, CancellationToken.None);
            return new BoxExit(timedOut || stopped ? null : exitCode, timedOut, elapsed, stopped);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await containers.KillAsync(Id, CancellationToken.None);
            throw;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(logs, wait).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
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
