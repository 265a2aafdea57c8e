using System.Text;
using Microsoft.Extensions.Logging;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Sandbox;
using SandboxRunner.Verification;

namespace SandboxRunner.Runs;

/// <summary>
/// Task trees left by a server process that is gone (killed, crashed) go through the same harvest →
/// persist → judge as any task, judged by the policy recorded for them, and end <c>cancelled</c> with
/// their work on disk and on their branch; then the trees go. Trees whose deletion failed earlier are
/// swept. Each run is recovered on a deadline, so a hostile tree cannot hang a server's start.
/// </summary>
public sealed partial class RunRecovery(
    HostRepository repository, RunStore store, RunnerConfig config, GitCli git, TimeProvider clock, RunRegistry runs, RunLeftovers leftovers, ILogger logger)
{
    public static readonly TimeSpan RunBudget = TimeSpan.FromMinutes(5);

    /// <summary>
    /// What a server does when it starts on this repository (and a cancel whose run's owner is gone): removes
    /// what killed processes left in the engine (this repository's only), then recovers their task trees.
    /// </summary>
    public async Task<IReadOnlyList<string>> RecoverInterruptedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await leftovers.RemoveOrphansAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An engine that does not answer is reported by the call that needs it; trees are still recovered.
            LogOrphanRemovalFailed(e);
        }

        return await RecoverAsync(cancellationToken);
    }

    /// <summary>Recovers every interrupted run; returns the ids recovered.</summary>
    public async Task<IReadOnlyList<string>> RecoverAsync(CancellationToken cancellationToken)
    {
        var root = TaskTreeLayout.Root(repository);
        var recovered = new List<string>();
        if (!Directory.Exists(root))
        {
            return recovered;
        }

        foreach (var runDir in Directory.EnumerateDirectories(root))
        {
            var runId = Path.GetFileName(runDir);
            if (!Ids.IsValid(runId) || runs.IsActive(runId))
            {
                continue;
            }

            var ownerFile = TaskTreeLayout.OwnerFile(repository, runId);
            if (!File.Exists(ownerFile))
            {
                // A tree whose removal failed after its results were written: its owner file went first.
                if (store.Exists(runId) && TreeDeletion.TryDelete(runDir) is { } problem)
                {
                    LogSweepFailed(runId, problem);
                }

                continue;
            }

            if (!Labels.IsOrphanedBy((await File.ReadAllTextAsync(ownerFile, cancellationToken)).Trim()))
            {
                continue;
            }

            using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            budget.CancelAfter(RunBudget);
            try
            {
                if (await RecoverRunAsync(runId, runDir, budget.Token))
                {
                    recovered.Add(runId);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogRecoveryFailed(e, runId);
            }
        }

        return recovered;
    }

    private async Task<bool> RecoverRunAsync(string runId, string runDir, CancellationToken cancellationToken)
    {
        RunRecord? record;
        try
        {
            record = await store.ReadRunAsync(runId, cancellationToken);
        }
        catch (DamagedRunException e)
        {
            LogRecoveryFailed(e, runId);
            return false;
        }

        if (record is null)
        {
            return false;
        }

        var limits = ResourceProfiles.LimitsFor(config.ResourcePolicy, config.TaskLimits);
        foreach (var taskDir in Directory.EnumerateDirectories(runDir))
        {
            var taskId = Path.GetFileName(taskDir);
            if (!Ids.IsValid(taskId) || await store.ReadResultAsync(runId, taskId, cancellationToken) is not null)
            {
                continue;
            }

            var task = record.Tasks.FirstOrDefault(t => t.TaskId == taskId);
            if (task?.Attempts is not > 1)
            {
                await RecoverTaskAsync(record, taskId, null, taskDir, task, limits, cancellationToken);
                continue;
            }

            // Each attempt is recovered like a task of its own; the task's result is combined below.
            for (var k = 1; k <= task.Attempts; k++)
            {
                var attemptDir = TaskTreeLayout.TaskFolder(repository, runId, taskId, k);
                if (Directory.Exists(attemptDir) && await store.ReadResultAsync(runId, taskId, k, cancellationToken) is null)
                {
                    await RecoverTaskAsync(record, taskId, k, attemptDir, task, limits, cancellationToken);
                }
            }
        }

        // Every task of the run ends with a result: those still queued when the server died never ran.
        var results = new Dictionary<string, TaskResult>();
        foreach (var task in record.Tasks)
        {
            var result = await store.ReadResultAsync(runId, task.TaskId, cancellationToken);
            if (result is null)
            {
                result = task.Attempts is > 1 ? await CombineAsync(record, task, cancellationToken) : NeverStarted(runId, task, null);
                await store.WriteResultAsync(runId, result, cancellationToken);
            }

            results[task.TaskId] = result;
        }

        await store.WriteRunAsync(record with
        {
            Status = RunState.Interrupted,
            FinishedAt = clock.GetUtcNow(),
            Tasks = record.Tasks.Select(t => results.TryGetValue(t.TaskId, out var r)
                ? t with { Status = r.Status, Branch = r.Branch }
                : t with { Status = TaskStatus.Cancelled }).ToList(),
        }, cancellationToken);
        File.Delete(TaskTreeLayout.OwnerFile(repository, runId));
        if (TreeDeletion.TryDelete(runDir) is { } problem)
        {
            LogSweepFailed(runId, problem);
        }

        return true;
    }

    private async Task RecoverTaskAsync(
        RunRecord record, string taskId, int? attempt, string taskDir, RunTaskRecord? task, TaskLimits limits, CancellationToken cancellationToken)
    {
        var verify = VerifyPlanOf(task);
        var policy = TaskPolicy.Of(
            task?.AllowedPaths ?? config.DefaultAllowedPaths,
            task?.AllowedCommands ?? config.AllowedCommands,
            config,
            audit: true,
            TimeSpan.FromSeconds(task?.TimeoutSec ?? config.DefaultTimeoutSec),
            verify.Any);
        if (!File.Exists(TaskTreeLayout.StartedMarker(taskDir)))
        {
            // The server died while preparing the task: no agent ran, so there is no work to keep.
            await store.WriteResultAsync(record.RunId, NeverStarted(record.RunId, task, taskId, attempt), cancellationToken);
            return;
        }

        var transcript = await ReadTranscriptAsync(Path.Combine(store.TaskFolder(record.RunId, taskId, attempt), "events.jsonl"), cancellationToken);
        var worktree = Worktree.Open(git, taskDir, record.BaseCommit);

        // Values passed into the container are not known any more; the redactor still masks known token shapes.
        var facts = await new Harvester(repository, store, clock).HarvestAsync(
            new HarvestInput(record.RunId, taskId, worktree, limits, Redactor.None, TaskEnd.Interrupted, transcript) { Attempt = attempt }, cancellationToken);

        // Verification is not repeated here: it would need the run's images and network, which went with the run,
        // and would hold up the new server's start on the repository's tests. Its status says what happened.
        var verifying = File.Exists(TaskTreeLayout.VerifyingMarker(taskDir));
        facts = facts with
        {
            Verification = verify.Any
                ? VerificationReport.NotRun(verify, verifying
                    ? "interrupted: the server stopped while the task was being verified (its agent had finished; the work is kept); verification is not repeated at recovery"
                    : "interrupted: the server stopped before the task's agent ended", facts.Changes.Files)
                : null,
        };
        var judgement = Judge.Evaluate(facts, policy);
        var result = await TaskResults.BuildAsync(facts, judgement, Redactor.None, store.PatchFile(record.RunId, taskId, attempt), null, cancellationToken) with
        {
            WorkspacePath = store.TaskFolder(record.RunId, taskId, attempt),
            Attempt = attempt,
            Summary = verifying ? "Interrupted: the server stopped while this task was being verified." : "Interrupted: the server stopped during this task.",
            Verification = facts.Verification ?? VerificationReport.NotConfigured,
        };
        await store.WriteResultAsync(record.RunId, result, cancellationToken);
    }

    /// <summary>A recovered task with attempts: each attempt's result (one never started is cancelled), combined as when it runs.</summary>
    private async Task<TaskResult> CombineAsync(RunRecord record, RunTaskRecord task, CancellationToken cancellationToken)
    {
        var attempts = new List<TaskResult>();
        for (var k = 1; k <= task.Attempts; k++)
        {
            var result = await store.ReadResultAsync(record.RunId, task.TaskId, k, cancellationToken);
            if (result is null)
            {
                result = NeverStarted(record.RunId, task, task.TaskId, k);
                await store.WriteResultAsync(record.RunId, result, cancellationToken);
            }

            attempts.Add(result);
        }

        return AttemptRanking.Combine(task.TaskId, store.TaskFolder(record.RunId, task.TaskId), attempts);
    }

    /// <summary>The verify commands and inputs the run recorded for a task (its timeout no longer matters).</summary>
    private static VerifyPlan VerifyPlanOf(RunTaskRecord? task) =>
        task?.Verify is { Count: > 0 } commands
            ? new VerifyPlan(commands, TimeSpan.FromSeconds(VerifyPlan.DefaultTimeoutSec), task.VerifyInputs ?? VerifyInputs.Defaults)
            : VerifyPlan.None;

    private TaskResult NeverStarted(string runId, RunTaskRecord task, int? attempt) => NeverStarted(runId, task, task.TaskId, attempt);

    private TaskResult NeverStarted(string runId, RunTaskRecord? task, string taskId, int? attempt) =>
        TaskResults.NeverRan(taskId, attempt, VerifyPlanOf(task), TaskStatus.Cancelled,
            "Interrupted before it started: the server stopped before this task's container ran.", "interrupted before the task started") with
        {
            NotesForManager = "interrupted: the server process was gone before this task started; no agent ran, so there is no work to keep",
            WorkspacePath = store.TaskFolder(runId, taskId, attempt),
        };

    /// <summary>The events the task's log kept (the log itself is capped), folded as when it ran.</summary>
    private static async Task<CodexTranscript> ReadTranscriptAsync(string events, CancellationToken cancellationToken)
    {
        var transcript = new CodexTranscript();
        if (!File.Exists(events))
        {
            return transcript;
        }

        using var reader = new StreamReader(events, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            transcript.Accept(line);
        }

        return transcript;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "removing what killed servers left in the engine failed")]
    private partial void LogOrphanRemovalFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "run {RunId} could not be recovered")]
    private partial void LogRecoveryFailed(Exception exception, string runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "run {RunId}: its leftover tree could not be removed ({Problem})")]
    private partial void LogSweepFailed(string runId, string problem);
}
