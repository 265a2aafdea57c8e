using SandboxRunner.Environments;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>A run's tasks: attempts, and what a failed environment leaves them.</summary>
internal sealed partial class RunExecution
{
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
            // Each attempt that ran has its result on disk and in memory; the others are cancelled before they started.
        }

        var combined = await CombineAttemptsAsync(task, _store, _results, RunTeardown.Settled(_logger));
        await _store.WriteResultAsync(_plan.RunId, combined, CancellationToken.None);
        context.Progress?.Report(new TaskProgress(task.TaskId, TaskPhase.Finished,
            Policy.TerminalText.Neutralise($"{task.TaskId}: {combined.Status.Wire()}: attempt {combined.BestAttempt} of {task.Attempts} is the best")) { Result = combined });
        cancellationToken.ThrowIfCancellationRequested();
        return combined;
    }

    /// <summary>The task's result from its attempts' kept ones; an attempt that never got one is cancelled before it started (and written so).</summary>
    internal static async Task<TaskResult> CombineAttemptsAsync(TaskPlan task, RunStore store, RunResults results, Func<Func<Task>, Task> settle)
    {
        var attempts = new List<TaskResult>();
        foreach (var attempt in task.AttemptPlans())
        {
            var kept = results.Of(task.TaskId, attempt.Attempt);
            if (kept is null)
            {
                kept = CancelledBeforeStart(store, results.RunId, attempt);
                var neverRan = kept;
                await settle(() => store.WriteResultAsync(results.RunId, neverRan, CancellationToken.None));
            }

            attempts.Add(kept);
        }

        return AttemptRanking.Combine(task.TaskId, store.TaskFolder(results.RunId, task.TaskId), attempts);
    }

    internal static TaskResult CancelledBeforeStart(RunStore store, string runId, TaskPlan task) =>
        TaskResults.NeverRan(task, TaskStatus.Cancelled, "Cancelled before it started.", "the task was cancelled before it started") with
        {
            WorkspacePath = store.TaskFolder(runId, task.TaskId, task.Attempt),
        };

    /// <summary>Prepares the environments the run's tasks use; null when ready, else what failed and the fix.</summary>
    private async Task<string?> PrepareEnvironmentsAsync(RunEnvironments environments, CancellationToken cancellationToken)
    {
        if (!environments.Any)
        {
            return null;
        }

        void Report(string message)
        {
            foreach (var task in _plan.Tasks.Where(t => t.Environment is not null))
            {
                _run.Report(new TaskProgress(task.TaskId, TaskPhase.Environment, $"{task.TaskId}: {message}"));
            }
        }

        try
        {
            await environments.PrepareAsync(Report, cancellationToken);
            return null;
        }
        catch (EnvironmentException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is ImageBuildException or InvalidOperationException or IOException or Git.GitException)
        {
            return $"preparing the run's environments failed: {e.Message}";
        }
    }

    private async Task<TaskResult> FailBeforeStartAsync(TaskPlan task, string reason)
    {
        const string notStarted = "not started: the run's environment could not be prepared";
        var result = TaskResults.NeverRan(task, TaskStatus.Failed, notStarted, notStarted) with
        {
            NotesForManager = reason,
            WorkspacePath = _store.TaskFolder(_plan.RunId, task.TaskId),
            Environment = TaskResults.EnvironmentOf(task),
        };
        await _store.WriteResultAsync(_plan.RunId, result, CancellationToken.None);
        _run.Report(new TaskProgress(task.TaskId, TaskPhase.Finished, $"{task.TaskId}: failed: {Policy.TerminalText.Neutralise(reason.Split('\n')[0])}") { Result = result });
        return result;
    }

    /// <summary>An egress proxy for a setup under <c>setup_network: deny</c> in a run whose tasks have the network.</summary>
    private async Task<IRunSite> OpenSetupSiteAsync(CancellationToken cancellationToken)
    {
        await _services.Images.EnsureAsync(includeProxy: true, cancellationToken);
        return await _services.Backend.OpenRunSiteAsync(
            new RunSiteSpec(new BoxScope(_services.Scope), _plan.RunId, NetworkIntent.Allowlist, CredentialRouting.SetupGateway(_services.Config, _services.Images.ProxyImage)),
            cancellationToken);
    }
}
