using System.Diagnostics;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// One task container, from creation to removal. Owns its teardown: disposing removes the container
/// whatever happened before, with a token of its own so a cancelled run still cleans up.
/// </summary>
public sealed class Sandbox : IAsyncDisposable
{
    private static readonly TimeSpan TeardownBudget = TimeSpan.FromSeconds(30);
    private readonly IContainerEngine _engine;
    private int _disposed;

    private Sandbox(IContainerEngine engine, string containerId)
    {
        _engine = engine;
        ContainerId = containerId;
    }

    public string ContainerId { get; }

    /// <summary>
    /// Creates the container. The create call itself is not cancelled: cancelled mid-flight, the engine
    /// may create a container whose id never reaches us, which nothing would then remove.
    /// </summary>
    public static async Task<Sandbox> CreateAsync(IContainerEngine engine, ContainerSpec spec, CancellationToken cancellationToken)
    {
        using var budget = new CancellationTokenSource(TeardownBudget);
        var sandbox = new Sandbox(engine, await engine.CreateAsync(spec, budget.Token));
        if (cancellationToken.IsCancellationRequested)
        {
            await sandbox.DisposeAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }

        return sandbox;
    }

    /// <summary>
    /// Starts the container and waits for it to exit, streaming its output to <paramref name="onOutput"/>.
    /// At the deadline the container is killed (SIGKILL, no grace: the agent's work is read from disk,
    /// not from a clean shutdown). <paramref name="limitStop"/> kills it the same way (a limit was passed).
    /// Cancellation kills it too, then throws.
    /// </summary>
    public async Task<BoxExit> RunAsync(
        TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delivered = new long[2];
        void Deliver(LogStream stream, ReadOnlySpan<byte> chunk)
        {
            delivered[(int)stream] += chunk.Length;
            onOutput(stream, chunk);
        }

        await _engine.StartAsync(ContainerId, cancellationToken);
        onStarted?.Invoke();
        var logs = _engine.ReadLogsAsync(ContainerId, follow: true, Deliver, stop.Token);
        var wait = _engine.WaitAsync(ContainerId, stop.Token);
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
                await _engine.KillAsync(ContainerId, CancellationToken.None);
            }

            var exitCode = await wait.WaitAsync(TeardownBudget, CancellationToken.None);
            var elapsed = Stopwatch.GetElapsedTime(started);

            // The log stream ends when the container does; the bound only guards against an engine that hangs.
            await logs.WaitAsync(TeardownBudget, CancellationToken.None);

            // Docker 20.10 can end a follow early while a long line is still being written (seen with a
            // 3 MB JSONL line): read the finished log once more and hand on whatever the follow missed.
            var replayed = new long[2];
            await _engine.ReadLogsAsync(ContainerId, follow: false, (stream, chunk) =>
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
            await _engine.KillAsync(ContainerId, CancellationToken.None);
            throw;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(logs, wait).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>A regular file from the container's filesystem, resolved by the engine inside the container.</summary>
    public Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken) =>
        _engine.ReadFileAsync(ContainerId, path, maxBytes, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        using var budget = new CancellationTokenSource(TeardownBudget);
        await _engine.RemoveAsync(ContainerId, budget.Token);
    }
}
