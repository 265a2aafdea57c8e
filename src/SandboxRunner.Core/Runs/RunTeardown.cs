using Microsoft.Extensions.Logging;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// The end of a run, whatever happened before it (a gateway that would not start, a cancelled run): every
/// task ends with a result on disk, the run's record says so, and the run's resources go. A failing step is
/// logged, never allowed to replace the run's outcome or leave the run active.
/// </summary>
internal sealed partial class RunTeardown(
    RunServices services, ActiveRun run, RunStore store, RunResults results, DateTimeOffset startedAt, string trees, ILogger logger)
{
    private RunPlan Plan => run.Plan;

    /// <summary>The run's egress gateway, once started.</summary>
    public IRunSite? Site { get; set; }

    /// <summary>The run's environments, once made.</summary>
    public RunEnvironments? Environments { get; set; }

    /// <summary>The run's tasks, once started.</summary>
    public List<Task<TaskResult>> Running { get; set; } = [];

    public async Task EndAsync(bool cancelled)
    {
        try
        {
            await Settle(() => Task.WhenAll(Running));
            var finished = await FinishTasksAsync();
            await Settle(() => store.WriteRunAsync(
                Record(Plan, startedAt, cancelled ? RunState.Cancelled : RunState.Finished, services.Clock.GetUtcNow(), finished),
                CancellationToken.None));
            if (Environments is not null)
            {
                await Environments.DisposeAsync();
            }

            if (Site is not null)
            {
                await Site.DisposeAsync();
                if (Site.TeardownError is { } error)
                {
                    LogTeardownFailed(logger, Plan.RunId, error);
                }
            }

            // Labels are the cleanup mechanism: whatever of this run is still in the engine goes.
            await Settle(() => services.Leftovers.RemoveRunAsync(Plan.RunId, CancellationToken.None));
            await Settle(() => store.PruneAsync(services.Config.MaxRunsRetained, services.Runs.IsActive, CancellationToken.None));
            await Settle(() =>
            {
                File.Delete(TaskTreeLayout.OwnerFile(services.Repository, Plan.RunId));
                File.Delete(store.CancelRequestFile(Plan.RunId));
                return Task.CompletedTask;
            });
            if (TreeDeletion.TryDelete(trees) is { } problem)
            {
                LogTeardownFailed(logger, Plan.RunId, problem);
            }
        }
        finally
        {
            services.Runs.Remove(run);
        }
    }

    /// <summary>The run's record: what it ran on, and each task's policy and, once known, its outcome.</summary>
    public static RunRecord Record(RunPlan plan, DateTimeOffset startedAt, RunState status, DateTimeOffset? finishedAt, IReadOnlyList<TaskResult> results) => new()
    {
        RunId = plan.RunId,
        Status = status,
        BaseRef = plan.BaseRef,
        BaseCommit = plan.BaseCommit,
        StartedAt = startedAt,
        FinishedAt = finishedAt,
        Tasks = plan.Tasks.Select(t => new RunTaskRecord(
                t.TaskId,
                results.FirstOrDefault(r => r.TaskId == t.TaskId)?.Status ?? (status == RunState.Running ? TaskStatus.Queued : TaskStatus.Cancelled),
                results.FirstOrDefault(r => r.TaskId == t.TaskId)?.Branch)
            {
                AllowedPaths = t.AllowedPaths,
                AllowedCommands = t.AllowedCommands,
                TimeoutSec = (int)t.Timeout.TotalSeconds,
                Verify = t.Verification.Any ? t.Verification.Commands : null,
                VerifyInputs = t.Verification.Any ? t.Verification.Inputs : null,
                Attempts = t.Attempts > 1 ? t.Attempts : null,
            }).ToList(),
    };

    /// <summary>Each task's kept result; a task that never got one (cancelled before it started) gets one now.</summary>
    private async Task<List<TaskResult>> FinishTasksAsync()
    {
        var finished = new List<TaskResult>();
        foreach (var task in Plan.Tasks)
        {
            if (results.Of(task.TaskId) is { } kept)
            {
                finished.Add(kept);
                continue;
            }

            var result = task.Attempts > 1
                ? await RunExecution.CombineAttemptsAsync(task, store, results, Settle)
                : RunExecution.CancelledBeforeStart(store, Plan.RunId, task);
            await Settle(() => store.WriteResultAsync(Plan.RunId, result, CancellationToken.None));
            run.Report(new TaskProgress(task.TaskId, TaskPhase.Finished, $"{task.TaskId}: {result.Status.Wire()}") { Result = result });
            finished.Add(result);
        }

        return finished;
    }

    /// <summary>Runs a step of teardown; its failure is logged, not thrown.</summary>
    private Task Settle(Func<Task> step) => SettleAsync(step, logger);

    /// <summary>As <see cref="Settle"/>, for a step outside teardown that must not fail the run either.</summary>
    public static Func<Func<Task>, Task> Settled(ILogger logger) => step => SettleAsync(step, logger);

    private static async Task SettleAsync(Func<Task> step, ILogger logger)
    {
        try
        {
            await step();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or UnauthorizedAccessException or InvalidOperationException
                                   or LibGit2Sharp.LibGit2SharpException or GitException)
        {
            if (e is not OperationCanceledException)
            {
                LogTeardownFailed(logger, "(run)", e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "run {RunId}: teardown incomplete: {Problem}")]
    private static partial void LogTeardownFailed(ILogger logger, string runId, string problem);
}
