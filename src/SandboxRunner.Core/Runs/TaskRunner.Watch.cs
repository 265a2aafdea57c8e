using System.Diagnostics;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>The agent's box run while its limits are watched, and what came of it.</summary>
public sealed partial class TaskRunner
{
    internal sealed record SandboxOutcome(BoxExit Exit, bool Cancelled)
    {
        public string? LimitPassed { get; init; }
        public string? RunnerError { get; init; }
        public byte[]? LastMessage { get; init; }
        public string? SecretInOutput { get; init; }

        public TaskEnd End =>
            RunnerError is not null ? TaskEnd.RunnerError
            : Cancelled ? TaskEnd.Cancelled
            : LimitPassed is not null ? TaskEnd.LimitExceeded
            : Exit.TimedOut ? TaskEnd.TimedOut
            : TaskEnd.Exited;
    }

    /// <summary>
    /// Runs the container while watching its limits: output past <c>max_log_bytes</c>, or what
    /// <paramref name="overLimit"/> measures every couple of seconds, stops it, and the outcome names the limit.
    /// </summary>
    private static async Task<SandboxOutcome> RunWatchedAsync(
        ITaskBox sandbox, TaskPlan task, OutputCapture capture, TaskLimits limits, Func<CancellationToken, Task<string?>>? overLimit, Action onStarted, CancellationToken cancellationToken)
    {
        using var stop = new CancellationTokenSource();
        string? passed = null;
        void Stop(string limit)
        {
            if (Interlocked.CompareExchange(ref passed, limit, null) is null)
            {
                stop.Cancel();
            }
        }

        long logged = 0;
        void Output(LogStream stream, ReadOnlySpan<byte> chunk)
        {
            if (Interlocked.Add(ref logged, chunk.Length) > limits.MaxLogBytes)
            {
                Stop($"max_log_bytes ({limits.MaxLogBytes})");
                return;
            }

            capture.Write(stream, chunk);
        }

        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = Task.Run(async () =>
        {
            // The first look comes one interval in: at the start the tree is the checkout the runner just wrote, and a
            // task that ends sooner (the harvest measures every tree anyway) costs no walk over it beside its container's start.
            if (overLimit is not null)
            {
                await Task.Delay(WatchInterval, watching.Token).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            while (overLimit is not null && !watching.IsCancellationRequested)
            {
                var interval = Stopwatch.GetTimestamp();
                string? over;
                try
                {
                    using var measuring = RunPhases.Start("task watch: one tree measurement", task.TaskId);
                    over = await overLimit(watching.Token);
                }
                catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException && !watching.IsCancellationRequested)
                {
                    // Before the start or after the exit the engine may not measure; the next round will.
                    over = null;
                }

                if (over is not null)
                {
                    Stop(over);
                    return;
                }

                // A large tree is measured less often, so watching never costs more than a tenth of a core.
                var took = Stopwatch.GetElapsedTime(interval);
                await Task.Delay(took * 10 > WatchInterval ? took * 10 : WatchInterval, watching.Token);
            }
        }, CancellationToken.None);

        var started = Stopwatch.GetTimestamp();
        try
        {
            var exit = await sandbox.RunAsync(task.Timeout, Output, onStarted, stop.Token, cancellationToken);
            // A limit passed counts even when the container exited before the stop reached it: the
            // output past the limit was dropped unread, so it cannot have been audited.
            return new SandboxOutcome(exit, Cancelled: false) { LimitPassed = Volatile.Read(ref passed) };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new SandboxOutcome(new BoxExit(null, false, Stopwatch.GetElapsedTime(started)), Cancelled: true);
        }
        finally
        {
            await watching.CancelAsync();
            await watch.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}
