using System.ComponentModel;
using ModelContextProtocol;
using ModelContextProtocol.Server;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Host.Reports;
using SandboxRunner.Policy;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Mcp;

/// <summary>
/// Thin adapters from MCP tool calls to the library. Argument and result names are codex-mcp-runner's
/// where it had them. A tool's arguments are one record, its parameter named <c>arguments</c>: the record is
/// the tool's input schema and <see cref="Contract.ArgumentReader"/> enforces it before the call (see
/// <see cref="ToolCatalog"/>). Input problems become tool errors (<see cref="McpException"/>) naming the field.
/// </summary>
public sealed class RunTools(Workspace workspace)
{
    private const string RunDescription =
        "Run Codex CLI tasks in parallel, each in its own disposable Docker container on its own checkout of base_ref, and return each task's " +
        "status, patch, changed files, commands, violations and logs; each task's tree is also kept on branch sandbox/<run_id>/<task_id>. " +
        "Try a plan with dry_run first.";

    [McpServerTool(Name = "run_codex_tasks", UseStructuredContent = true, Destructive = false, OpenWorld = true)]
    [Description(RunDescription + " Blocks until every task ends; when that may outlast your client's tool timeout, use start_codex_run instead.")]
    public Task<RunResult> RunCodexTasks(RunRequest arguments, IProgress<ProgressNotificationValue>? progress = null, CancellationToken cancellationToken = default) =>
        Guard(async () => await (await RunnerAsync(cancellationToken)).RunAsync(arguments, ToTaskProgress(progress), cancellationToken));

    [McpServerTool(Name = "start_codex_run", UseStructuredContent = true, Destructive = false, OpenWorld = true)]
    [Description("run_codex_tasks in the background, for runs longer than a tool call may take: returns the run_id at once (results empty unless dry_run). Follow it with get_codex_run; stop it with cancel_codex_run.")]
    public Task<RunResult> StartCodexRun(RunRequest arguments, CancellationToken cancellationToken = default) =>
        Guard(async () => await (await RunnerAsync(cancellationToken)).StartAsync(arguments, cancellationToken));

    [McpServerTool(Name = "get_codex_run", UseStructuredContent = true, ReadOnly = true)]
    [Description("Poll a run started with start_codex_run, or look at any earlier one: its status and each task's state (queued, running, finished) with the results so far.")]
    public Task<RunStatusView> GetCodexRun(RunReference arguments, CancellationToken cancellationToken = default) =>
        Guard(async () => await (await RunnerAsync(cancellationToken)).GetRunAsync(arguments.RunId, cancellationToken)
            ?? throw new McpException($"run_id: no run '{arguments.RunId}' in this repository (list_codex_runs shows them)"));

    [McpServerTool(Name = "cancel_codex_run", UseStructuredContent = true, Destructive = true)]
    [Description("Stop a run of this server that is still going: its containers are killed and each task ends 'cancelled', what it produced kept on disk and on its branch.")]
    public Task<RunStatusView> CancelCodexRun(RunReference arguments, CancellationToken cancellationToken = default) =>
        Guard(async () =>
        {
            var runner = await RunnerAsync(cancellationToken);
            if (!runner.Cancel(arguments.RunId))
            {
                throw new McpException($"run_id: '{arguments.RunId}' is not running in this server");
            }

            return await runner.GetRunAsync(arguments.RunId, cancellationToken) ?? throw new McpException($"run_id: '{arguments.RunId}' vanished");
        });

    [McpServerTool(Name = "list_codex_runs", UseStructuredContent = true, ReadOnly = true)]
    [Description("Find a run: every run of this repository, newest first, the running ones live and finished ones from disk.")]
    public Task<RunList> ListCodexRuns(CancellationToken cancellationToken = default) =>
        Guard(async () => new RunList(await (await RunnerAsync(cancellationToken)).ListRunsAsync(cancellationToken)));

    [McpServerTool(Name = "apply_codex_result", UseStructuredContent = true, Destructive = true)]
    [Description("Take the task result you want (a task run with attempts: its best, or the attempt named): its change goes into the working tree and index, like `git cherry-pick --no-commit` of its sandbox/ branch. On a conflict it changes nothing and returns the paths.")]
    public Task<ApplyOutcome> ApplyCodexResult(TaskReference arguments, CancellationToken cancellationToken = default) =>
        Guard(async () => await (await RunnerAsync(cancellationToken)).ApplyAsync(arguments.RunId, arguments.TaskId, arguments.Attempt, cancellationToken));

    [McpServerTool(Name = "review_plan_with_codex", UseStructuredContent = true, Destructive = false, OpenWorld = true)]
    [Description("Before splitting work into tasks: Codex reviews the plan with this repository mounted read-only and returns missing tasks, dependency issues, parallelization suggestions, test gaps, risk flags and recommended task splits.")]
    public Task<PlanReviewResult> ReviewPlanWithCodex(
        PlanReviewRequest arguments,
        IProgress<ProgressNotificationValue>? progress = null,
        CancellationToken cancellationToken = default) =>
        Guard(async () =>
        {
            try
            {
                return await PlanReview.ReviewAsync(await RunnerAsync(cancellationToken), arguments.PlanText, arguments.RepoContext, ToTaskProgress(progress), cancellationToken);
            }
            catch (PlanReviewFailedException e)
            {
                throw new McpException($"the plan review failed: {e.Message}");
            }
        });

    [McpServerTool(Name = "sandbox_doctor", UseStructuredContent = true, ReadOnly = true)]
    [Description("First, or when a call fails on its surroundings: checks Docker, the task image, the repository, auth and the config, each with a fix.")]
    public async Task<DoctorReport> SandboxDoctor(CancellationToken cancellationToken = default) =>
        await Doctor.ExamineAsync(workspace.RepoPath, await workspace.CurrentBackendAsync(cancellationToken), workspace.Git, Environment.GetEnvironmentVariable, cancellationToken);

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
