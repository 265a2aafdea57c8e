using System.Diagnostics;

namespace SandboxRunner.Boxes;

/// <summary>What a backend does to one box for <see cref="BoxRun"/>: start it, hand on its output, wait for it, kill it.</summary>
/// <param name="ReadLogs">Hands the box's demultiplexed output on: as it is written until the box exits (<c>follow</c>), or all of it at once.</param>
public sealed record BoxCalls(
    Func<CancellationToken, Task> Start,
    Func<bool, Action<LogStream, ReadOnlySpan<byte>>, CancellationToken, Task> ReadLogs,
    Func<CancellationToken, Task<long>> Wait,
    Func<CancellationToken, Task> Kill);

/// <summary>
/// <see cref="ITaskBox.RunAsync"/> for every backend that starts a box and follows its output: the deadline, the limit
/// stop and cancellation each kill it (SIGKILL, no grace: the work is read from disk, not from a clean shutdown), and
/// the output is read once more after the exit for what a follow missed.
/// </summary>
public static class BoxRun
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    public static async Task<BoxExit> RunAsync(
        BoxCalls box, TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delivered = new long[2];
        void Deliver(LogStream stream, ReadOnlySpan<byte> chunk)
        {
            delivered[(int)stream] += chunk.Length;
            onOutput(stream, chunk);
        }

        await box.Start(cancellationToken);
        onStarted?.Invoke();
        var logs = box.ReadLogs(true, Deliver, stop.Token);
        var wait = box.Wait(stop.Token);
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
                await box.Kill(CancellationToken.None);
            }

            var exitCode = await wait.WaitAsync(Budget, CancellationToken.None);
            var elapsed = Stopwatch.GetElapsedTime(started);

            // The log stream ends when the box does; the bound only guards against a platform that hangs.
            await logs.WaitAsync(Budget, CancellationToken.None);

            // Docker 20.10 can end a follow early while a long line is still being written (seen with a
            // 3 MB JSONL line): read the finished log once more and hand on whatever the follow missed.
            await ReplayMissedAsync(box.ReadLogs, delivered, Deliver, Budget);
            return new BoxExit(timedOut || stopped ? null : exitCode, timedOut, elapsed, stopped);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await box.Kill(CancellationToken.None);
            throw;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(logs, wait).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Reads a box's finished output once more and hands on, per stream, whatever lies past the
    /// <paramref name="delivered"/> bytes a live read already handed on (which <paramref name="deliver"/> counts).
    /// </summary>
    internal static Task ReplayMissedAsync(
        Func<bool, Action<LogStream, ReadOnlySpan<byte>>, CancellationToken, Task> readLogs, long[] delivered, Action<LogStream, ReadOnlySpan<byte>> deliver, TimeSpan budget)
    {
        var replayed = new long[2];
        return readLogs(false, (stream, chunk) =>
        {
            var i = (int)stream;
            var skip = (int)Math.Clamp(delivered[i] - replayed[i], 0, chunk.Length);
            replayed[i] += chunk.Length;
            if (skip < chunk.Length)
            {
                deliver(stream, chunk[skip..]);
                replayed[i] = delivered[i];
            }
        }, CancellationToken.None).WaitAsync(budget, CancellationToken.None);
    }
}
