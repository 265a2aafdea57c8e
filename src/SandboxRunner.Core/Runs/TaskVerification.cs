using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using SandboxRunner.Codex;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;
using SandboxRunner.Verification;

namespace SandboxRunner.Runs;

/// <summary>What one task's verification starts from: the task, its folder, its harvest and the user its agent ran as.</summary>
public sealed record VerifyInput(TaskContext Context, TaskPlan Task, string Folder, TaskFacts Facts, UnixOwner Owner);

/// <summary>
/// Runs a task's verify commands after its agent has ended and its work is kept (patch file and branch), in a
/// fresh container (<see cref="VerifyContainer"/>) the agent never touched: each command by <c>/bin/sh -c</c> as
/// the task's user, with its own deadline, its output bounded like the agent's (<c>max_log_bytes</c> in all, a
/// tail of each shown, redacted and terminal-safe, all of it in <c>verify.log</c>) and the tree watched like the
/// agent's (<c>max_tree_bytes</c>). The exit codes are the engine's, so nothing the checked code prints can
/// forge a pass. The first command that does not pass stops the rest. Nothing it writes is kept: the container
/// and its tree are removed afterwards, and the task's branch was committed before it started.
/// </summary>
public sealed partial class TaskVerification(GitCli git, ILogger logger)
{
    /// <summary>Characters of each command's output shown in the result (its end).</summary>
    public const int OutputTailChars = 8 * 1024;

    private static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan KillBudget = TimeSpan.FromSeconds(30);

    /// <summary>Verifies the task, or says why it was not verified; <c>Cancelled</c> when the run was cancelled meanwhile. Never throws but for that.</summary>
    public async Task<(VerificationReport Report, bool Cancelled)> VerifyAsync(VerifyInput input, Action<TaskPhase, string> report, CancellationToken cancellationToken)
    {
        var plan = input.Task.Verification;
        var changed = input.Facts.Changes.Files;
        if (WhyNotRun(input.Facts) is { } reason)
        {
            return (VerificationReport.NotRun(plan, reason, changed), false);
        }

        var started = Stopwatch.GetTimestamp();
        var container = new VerifyContainer();
        VerificationReport verification;
        var cancelled = false;
        try
        {
            // A server that dies from here on leaves a tree its successor reports as interrupted during verification.
            await File.WriteAllTextAsync(TaskTreeLayout.VerifyingMarker(input.Folder), "", CancellationToken.None);
            report(TaskPhase.Verifying, $"verifying: {plan.Commands.Count} command(s) in a fresh container");
            await container.StartAsync(git, input.Context, input.Task, input.Folder, input.Facts,
                input.Facts.BranchCommit ?? input.Context.Run.BaseCommit, input.Owner, cancellationToken);
            verification = (await RunCommandsAsync(input, container, report, cancellationToken)).WithChangedInputs(plan, changed);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            verification = VerificationReport.NotRun(plan, "cancelled: the run was cancelled before verification ended", changed);
            cancelled = true;
        }
        catch (Exception e)
        {
            // The runner's own failure to verify is a verdict like any other: not verified, never a crash.
            LogVerificationFailed(e, input.Task.DisplayName);
            verification = VerificationReport.NotRun(plan, $"the runner could not verify the task: {TextCap.Cap(e.Message, 1000)}", changed);
        }
        finally
        {
            await container.ReleaseAsync();
        }

        // Until the container is gone: what verifying added to the task.
        return (verification with { DurationMs = Elapsed(started) }, cancelled);
    }

    /// <summary>Why a task is not verified: its agent did not end on its own, or its tree was not kept whole.</summary>
    internal static string? WhyNotRun(TaskFacts facts) => facts.End switch
    {
        TaskEnd.TimedOut => "the agent was killed at its deadline; only a task whose agent ended on its own is verified",
        TaskEnd.Cancelled => "the task was cancelled before its agent ended",
        TaskEnd.LimitExceeded => $"the agent passed {facts.LimitPassed} and was stopped",
        TaskEnd.RunnerError => $"the runner failed around the task: {facts.RunnerError}",
        TaskEnd.Interrupted => "interrupted: the server stopped before the task's agent ended",
        _ when facts.HarvestProblems.Count > 0 => $"the harvest did not finish cleanly ({TextCap.Cap(facts.HarvestProblems[0], 300)}); only a kept tree is verified",
        _ when facts.Changes.OverLimit is { } over && facts.BranchCommit is null => $"the tree passed {over} and was not kept",
        _ when facts.Changes.Entries.Count > 0 && facts.BranchCommit is null => "the task's tree was not kept on a branch",
        _ => null,
    };

    private async Task<VerificationReport> RunCommandsAsync(VerifyInput input, VerifyContainer container, Action<TaskPhase, string> report, CancellationToken cancellationToken)
    {
        var context = input.Context;
        var plan = input.Task.Verification;
        var limits = context.Limits;
        var commands = new List<VerifyCommandReport>();
        long logged = 0;
        using var log = new VerifyLog(Path.Combine(context.Store.TaskFolder(context.Run.RunId, input.Task.TaskId, input.Task.Attempt), "verify.log"), context.Redactor, limits.MaxLogBytes);
        for (var i = 0; i < plan.Commands.Count; i++)
        {
            var command = plan.Commands[i];
            report(TaskPhase.Verifying, $"verifying {i + 1}/{plan.Commands.Count}: {TextCap.Cap(command, 200)}");
            log.Header(i + 1, plan.Commands.Count, command);
            var capture = new OutputCapture(tailBytesPerStream: 16 * 1024, combinedTailChars: OutputTailChars);
            capture.StdoutLine += log.Line;
            capture.StderrLine += log.Line;
            string? limit = null;
            using var stop = new CancellationTokenSource();
            void Stop(string passed)
            {
                if (Interlocked.CompareExchange(ref limit, passed, null) is null)
                {
                    stop.Cancel();
                }
            }

            void Output(LogStream stream, ReadOnlySpan<byte> chunk)
            {
                if (Interlocked.Add(ref logged, chunk.Length) > limits.MaxLogBytes)
                {
                    Stop($"max_log_bytes ({limits.MaxLogBytes})");
                    return;
                }

                capture.Write(stream, chunk);
            }

            var started = Stopwatch.GetTimestamp();
            var watch = Watch(container, limits, input.Task, bind: context.Copy is null);
            var (exit, timedOut) = await ExecWatchedAsync(container, command, input.Owner, plan.CommandTimeout, Output, watch, Stop, stop.Token, cancellationToken);
            capture.Complete();
            if (watch is not null && !timedOut && await MeasureAsync(watch, cancellationToken) is { } over)
            {
                // Measured once more when the command has ended: a fast writer must not pass between two rounds of the watch.
                Stop(over);
            }

            var stopped = Volatile.Read(ref limit);
            var status = timedOut ? VerificationStatus.TimedOut : stopped is null && exit == 0 ? VerificationStatus.Passed : VerificationStatus.Failed;
            var tail = TaskResults.Shown(context.Redactor, TextCap.Tail(capture.CombinedTail, OutputTailChars));
            commands.Add(new VerifyCommandReport(command, status, timedOut || stopped is not null ? null : exit, Elapsed(started), tail));
            log.Footer(status, exit);
            if (status != VerificationStatus.Passed)
            {
                var why = timedOut ? $"`{TextCap.Cap(command, 200)}` ran past verify_timeout_sec ({plan.CommandTimeout.TotalSeconds:F0} s) and was killed"
                    : stopped is not null ? $"`{TextCap.Cap(command, 200)}` passed {stopped} and was stopped"
                    : exit is { } code ? $"`{TextCap.Cap(command, 200)}` exited {code}"
                    : $"`{TextCap.Cap(command, 200)}` ended with no exit code (its container stopped)";
                report(TaskPhase.Verifying, $"verification {status.Wire()}: {why}");
                commands.AddRange(plan.Commands.Skip(i + 1).Select(c => new VerifyCommandReport(c, VerificationStatus.NotRun, null, 0, "")));
                return new VerificationReport { Status = status, Reason = why, Commands = commands };
            }
        }

        report(TaskPhase.Verifying, $"verification passed: {plan.Commands.Count} command(s) exited 0");
        return new VerificationReport { Status = VerificationStatus.Passed, Commands = commands };
    }

    /// <summary>
    /// Runs one command, killing the container at its deadline, at a limit, or on cancellation (the only way to end
    /// a command the engine runs; the rest are not run after that anyway). Returns the engine's exit code and
    /// whether the deadline killed it.
    /// </summary>
    private async Task<(long? Exit, bool TimedOut)> ExecWatchedAsync(
        VerifyContainer container, string command, UnixOwner owner, TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> output,
        Func<CancellationToken, Task<string?>>? overLimit, Action<string> stop, CancellationToken stopped, CancellationToken cancellationToken)
    {
        using var reading = new CancellationTokenSource();
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = overLimit is null ? Task.CompletedTask : WatchAsync(overLimit, stop, watching.Token);
        var exec = container.Box.ExecAsync(new BoxCommand(["/bin/sh", "-c", command], owner.ToString(), CodexCommandLine.Workspace), output, reading.Token);
        try
        {
            using var ended = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopped);
            var deadline = Task.Delay(timeout, ended.Token);
            if (await Task.WhenAny(exec, deadline) == exec)
            {
                return (await exec, false);
            }

            var timedOut = !stopped.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
            await container.Box.KillAsync(CancellationToken.None);
            try
            {
                await exec.WaitAsync(KillBudget, CancellationToken.None);
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException or IOException or HttpRequestException or OperationCanceledException)
            {
                // The command is over either way: its container is dead.
            }

            cancellationToken.ThrowIfCancellationRequested();
            return (null, timedOut);
        }
        finally
        {
            await reading.CancelAsync();
            await watching.CancelAsync();
            await Task.WhenAll(exec, watch).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// What is measured while a command runs, as for the agent: a bind-mounted tree on the host, an environment
    /// container's own layer in the engine; a copied tree is in a volume the engine does not measure.
    /// </summary>
    private Func<CancellationToken, Task<string?>>? Watch(VerifyContainer container, Configuration.TaskLimits limits, TaskPlan task, bool bind)
    {
        if (container.Tree is { } tree && task.Environment is null && bind)
        {
            return ct => Task.FromResult(TreeScan.Measure([tree.WorkPath], limits, ct).OverLimit);
        }

        if (task.Environment is null)
        {
            return null;
        }

        var box = container.Box;
        return async ct => await box.WrittenBytesAsync(ct) is { } written && written > limits.MaxTreeBytes
            ? $"max_tree_bytes ({limits.MaxTreeBytes}): the verification container's own filesystem layer held {written} bytes"
            : null;
    }

    private static async Task WatchAsync(Func<CancellationToken, Task<string?>> overLimit, Action<string> stop, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var round = Stopwatch.GetTimestamp();
            string? over;
            try
            {
                over = await overLimit(cancellationToken);
            }
            catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException or OperationCanceledException)
            {
                over = null;
            }

            if (over is not null)
            {
                stop(over);
                return;
            }

            var took = Stopwatch.GetElapsedTime(round);
            try
            {
                await Task.Delay(took * 10 > WatchInterval ? took * 10 : WatchInterval, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task<string?> MeasureAsync(Func<CancellationToken, Task<string?>> overLimit, CancellationToken cancellationToken)
    {
        try
        {
            return await overLimit(cancellationToken);
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
        {
            return null;
        }
    }

    private static long Elapsed(long started) => (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;

    [LoggerMessage(Level = LogLevel.Error, Message = "task {TaskId}: verification failed in the runner")]
    private partial void LogVerificationFailed(Exception exception, string taskId);
}

/// <summary>
/// Every verify command's output, in <c>verify.log</c> of the task's run folder: each line redacted and made
/// terminal-safe, a header and a footer per command, the file capped (the commands' output is bounded by
/// <c>max_log_bytes</c> in all anyway).
/// </summary>
internal sealed class VerifyLog(string path, Redactor redactor, long capBytes) : IDisposable
{
    private readonly StreamWriter _writer = Open(path);
    private readonly Lock _gate = new();
    private long _written;

    public void Header(int index, int count, string command) => Write($"[sandbox-runner verify {index}/{count}] {command}");

    public void Footer(VerificationStatus status, long? exit) =>
        Write($"[sandbox-runner verify] {status.Wire()} (exit {exit?.ToString(CultureInfo.InvariantCulture) ?? "none"})");

    public void Line(string line) => Write(line);

    private void Write(string line)
    {
        var shown = TerminalText.Neutralise(redactor.Redact(line));
        lock (_gate)
        {
            if ((_written += shown.Length + 1) <= capBytes)
            {
                _writer.WriteLine(shown);
            }
        }
    }

    private static StreamWriter Open(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false));
    }

    public void Dispose() => _writer.Dispose();
}
