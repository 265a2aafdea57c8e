using System.ComponentModel;
using ModelContextProtocol;
using ModelContextProtocol.Server;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Host.Commands;
using SandboxRunner.Policy;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Mcp;

/// <summary>
/// Thin adapters from MCP tool calls to the library. Argument and result names are codex-mcp-runner's
/// where it had them. Input problems become tool errors (<see cref="McpException"/>) naming the field.
/// </summary>
[McpServerToolType]
public sealed class RunTools(Workspace workspace)
{
    [McpServerTool(Name = "run_codex_tasks", UseStructuredContent = true, Destructive = false, OpenWorld = true)]
    [Description("Run Codex CLI tasks in parallel, each in its own disposable Docker container on its own checkout of base_ref. Blocks until every task ends and returns each task's status, patch, changed files, commands, violations and logs. Each task's tree is also kept on branch sandbox/<run_id>/<task_id>. For runs longer than your client's tool timeout, use start_codex_run.")]
    public Task<RunResult> RunCodexTasks(
        [Description("The tasks to run.")] IReadOnlyList<TaskRequest> tasks,
        [Description("Run identifier (generated when omitted): 1-64 letters, digits, '.', '_' or '-'.")] string? run_id = null,
        [Description("Commit, branch or tag every task starts from (default HEAD).")] string? base_ref = null,
        [Description("Tasks of this run at once (1-8); the server-wide default_concurrency still caps all runs together.")] int? concurrency = null,
        [Description("\"conservative\" or \"normal\" container limits.")] string? resource_policy = null,
        [Description("Validate everything (config, ids, base_ref, policies, Docker, image) and return skipped results without running.")] bool dry_run = false,
        [Description(EnvironmentArgument.RunDescription)] string? environment = null,
        [Description(VerifyArguments.RunVerify)] IReadOnlyList<string>? verify = null,
        [Description(VerifyArguments.Timeout)] int? verify_timeout_sec = null,
        [Description(VerifyArguments.Inputs)] IReadOnlyList<string>? verify_inputs = null,
        IProgress<ProgressNotificationValue>? progress = null,
        CancellationToken cancellationToken = default) =>
        Guard(async () => await (await RunnerAsync(cancellationToken)).RunAsync(
            RunArguments.Request(tasks, run_id, base_ref, concurrency, resource_policy, dry_run, environment, verify, verify_timeout_sec, verify_inputs),
            ToTaskProgress(progress), cancellationToken));

    [McpServerTool(Name = "start_codex_run", UseStructuredContent = true, Destructive = false, OpenWorld = true)]
    [Description("Start the same run as run_codex_tasks in the background and return its run_id at once (results is empty). Follow it with get_codex_run, stop it with cancel_codex_run.")]
    public Task<RunResult> StartCodexRun(
        [Description("The tasks to run.")] IReadOnlyList<TaskRequest> tasks,
        [Description("Run identifier (generated when omitted).")] string? run_id = null,
        [Description("Commit, branch or tag every task starts from (default HEAD).")] string? base_ref = null,
        [Description("Tasks of this run at once (1-8).")] int? concurrency = null,
        [Description("\"conservative\" or \"normal\" container limits.")] string? resource_policy = null,
        [Description("Validate only; return skipped results.")] bool dry_run = false,
        [Description(EnvironmentArgument.RunDescription)] string? environment = null,
        [Description(VerifyArguments.RunVerify)] IReadOnlyList<string>? verify = null,
        [Description(VerifyArguments.Timeout)] int? verify_timeout_sec = null,
        [Description(VerifyArguments.Inputs)] IReadOnlyList<string>? verify_inputs = null,
        CancellationToken cancellationToken = default) =>
        Guard(async () => await (await RunnerAsync(cancellationToken)).StartAsync(
            RunArguments.Request(tasks, run_id, base_ref, concurrency, resource_policy, dry_run, environment, verify, verify_timeout_sec, verify_inputs), cancellationToken));

    [McpServerTool(Name = "get_codex_run", UseStructuredContent = true, ReadOnly = true)]
    [Description("A run's status and each task's state (queued, running, finished) with the results so far; works for finished runs read back from disk.")]
    public Task<RunStatusView> GetCodexRun([Description("The run's id.")] string run_id, CancellationToken cancellationToken = default) =>
        Guard(async () => await (await RunnerAsync(cancellationToken)).GetRunAsync(run_id, cancellationToken)
            ?? throw new McpException($"run_id: no run '{run_id}' in this repository (list_codex_runs shows them)"));

    [McpServerTool(Name = "cancel_codex_run", UseStructuredContent = true, Destructive = true)]
    [Description("Cancel a running run: its containers are killed, each task ends 'cancelled' with what it produced kept on disk and on its branch.")]
    public Task<RunStatusView> CancelCodexRun([Description("The run's id.")] string run_id, CancellationToken cancellationToken = default) =>
        Guard(async () =>
        {
            var runner = await RunnerAsync(cancellationToken);
            if (!runner.Cancel(run_id))
            {
                throw new McpException($"run_id: '{run_id}' is not running in this server");
            }

            return await runner.GetRunAsync(run_id, cancellationToken) ?? throw new McpException($"run_id: '{run_id}' vanished");
        });

    [McpServerTool(Name = "list_codex_runs", UseStructuredContent = true, ReadOnly = true)]
    [Description("Every run of this repository, newest first: the ones running now and finished ones read back from disk.")]
    public Task<RunList> ListCodexRuns(CancellationToken cancellationToken = default) =>
        Guard(async () => new RunList(await (await RunnerAsync(cancellationToken)).ListRunsAsync(cancellationToken)));

    [McpServerTool(Name = "apply_codex_result", UseStructuredContent = true, Destructive = true)]
    [Description("Bring a finished task's change into the working tree and index, like `git cherry-pick --no-commit` of its sandbox/ branch (a three-way merge onto HEAD). For a task run with attempts: the best attempt, or the one named by attempt. Refuses with the conflicting paths when it cannot apply cleanly, and then changes nothing.")]
    public Task<ApplyOutcome> ApplyCodexResult(
        [Description("The run's id.")] string run_id,
        [Description("The task's id.")] string task_id,
        [Description(VerifyArguments.ApplyAttempt)] int? attempt = null,
        CancellationToken cancellationToken = default) =>
        Guard(async () => await (await RunnerAsync(cancellationToken)).ApplyAsync(run_id, task_id, attempt, cancellationToken));

    [McpServerTool(Name = "review_plan_with_codex", UseStructuredContent = true, Destructive = false, OpenWorld = true)]
    [Description("Have Codex review a development plan with this repository mounted read-only. Returns six lists: missing_tasks, dependency_issues, parallelization_suggestions, test_gaps, risk_flags, recommended_task_splits. A review that fails is a tool error saying why.")]
    public Task<PlanReviewResult> ReviewPlanWithCodex(
        [Description("The plan to review.")] string plan_text,
        [Description("Optional context: architecture, stack, constraints.")] string? repo_context = null,
        IProgress<ProgressNotificationValue>? progress = null,
        CancellationToken cancellationToken = default) =>
        Guard(async () =>
        {
            try
            {
                return await PlanReview.ReviewAsync(await RunnerAsync(cancellationToken), plan_text, repo_context, ToTaskProgress(progress), cancellationToken);
            }
            catch (PlanReviewFailedException e)
            {
                throw new McpException($"the plan review failed: {e.Message}");
            }
        });

    [McpServerTool(Name = "sandbox_doctor", UseStructuredContent = true, ReadOnly = true)]
    [Description("Check that tasks can run here: Docker reachable and its API version, task image present, repository state, auth for the configured provider, config valid. Each check comes with a fix.")]
    public Task<DoctorReport> SandboxDoctor(CancellationToken cancellationToken = default) =>
        Doctor.ExamineAsync(workspace.RepoPath, workspace.Engine, workspace.Git, Environment.GetEnvironmentVariable, cancellationToken);

    private Task<Runner> RunnerAsync(CancellationToken cancellationToken) => workspace.GetRunnerAsync(cancellationToken);

    /// <summary>Bad input and unusable surroundings reach the caller as a tool error with the fix, never as a stack trace.</summary>
    private static async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (InvalidInputException e)
        {
            throw new McpException(e.Message);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or GitException or LibGit2Sharp.LibGit2SharpException)
        {
            // What failed, never the SDK's bare "An error occurred".
            throw new McpException($"the runner failed: {e.Message}");
        }
    }

    private static IProgress<TaskProgress>? ToTaskProgress(IProgress<ProgressNotificationValue>? progress)
    {
        if (progress is null)
        {
            return null;
        }

        var count = 0;
        return new SynchronousProgress(p => progress.Report(new ProgressNotificationValue { Progress = Interlocked.Increment(ref count), Message = p.Message }));
    }

    /// <summary>Reports on the caller's thread: <see cref="Progress{T}"/> would post to the thread pool and reorder notifications.</summary>
    private sealed class SynchronousProgress(Action<TaskProgress> report) : IProgress<TaskProgress>
    {
        public void Report(TaskProgress value) => report(value);
    }
}

public sealed record RunList([property: System.Text.Json.Serialization.JsonPropertyName("runs")] IReadOnlyList<RunStatusView> Runs);
