namespace SandboxRunner.Runs;

/// <summary>Tasks run with <c>attempts</c>: each attempt a task of its own, the task's result the best one's.</summary>
public sealed partial class Runner
{
    private TaskResult CancelledBeforeStart(RunPlan plan, TaskPlan task) => new()
    {
        TaskId = task.TaskId,
        Attempt = task.Attempt,
        Status = TaskStatus.Cancelled,
        Summary = "Cancelled before it started.",
        WorkspacePath = Store.TaskFolder(plan.RunId, task.TaskId, task.Attempt),
        Runtime = task.Runtime,
        Verification = task.Verification.Any ? Verification.VerificationReport.NotRun(task.Verification, "the task was cancelled before it started", []) : Verification.VerificationReport.NotConfigured,
    };

    /// <summary>
    /// Runs a task: once, or each of its attempts as a task of its own (gated like any task), then writes the
    /// task's result, the best attempt's (see <see cref="AttemptRanking"/>), also when the run was cancelled.
    /// </summary>
    private async Task<TaskResult> RunTaskAsync(TaskContext context, TaskPlan task, SemaphoreSlim runGate, CancellationToken cancellationToken)
    {
        if (task.Attempts <= 1)
        {
            return await RunGatedAsync(context, task, runGate, cancellationToken);
        }

        var attempts = task.AttemptPlans().Select(attempt => RunGatedAsync(context, attempt, runGate, cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(attempts);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Each attempt that ran has its result on disk; the others are cancelled before they started.
        }

        var combined = await CombineAttemptsAsync(context.Run, task);
        await Store.WriteResultAsync(context.Run.RunId, combined, CancellationToken.None);
        context.Progress?.Report(new TaskProgress(task.TaskId, "finished",
            Policy.TerminalText.Neutralise($"{task.TaskId}: {combined.Status.Wire()}: attempt {combined.BestAttempt} of {task.Attempts} is the best")) { Result = combined });
        cancellationToken.ThrowIfCancellationRequested();
        return combined;
    }

    /// <summary>The task's result from its attempts' stored ones; an attempt that never got one is cancelled before it started.</summary>
    private async Task<TaskResult> CombineAttemptsAsync(RunPlan plan, TaskPlan task)
    {
        var results = new List<TaskResult>();
        foreach (var attempt in task.AttemptPlans())
        {
            var stored = await Store.ReadResultAsync(plan.RunId, task.TaskId, attempt.Attempt, CancellationToken.None);
            if (stored is null)
            {
                stored = CancelledBeforeStart(plan, attempt);
                await Settle(() => Store.WriteResultAsync(plan.RunId, stored, CancellationToken.None));
            }

            results.Add(stored);
        }

        return AttemptRanking.Combine(task.TaskId, Store.TaskFolder(plan.RunId, task.TaskId), results);
    }
}
