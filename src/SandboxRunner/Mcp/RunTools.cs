using System.ComponentModel;
using ModelContextProtocol;
using ModelContextProtocol.Server;
using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Mcp;

/// <summary>Thin adapters from MCP tool calls to the library. Argument names are codex-mcp-runner's.</summary>
[McpServerToolType]
public sealed class RunTools(Workspace workspace)
{
    [McpServerTool(Name = "run_codex_tasks", UseStructuredContent = true, Destructive = false, OpenWorld = true)]
    [Description("Run Codex CLI tasks in parallel, each in its own disposable Docker container on its own checkout of base_ref. Blocks until every task ends and returns each task's status, patch, changed files, commands and logs.")]
    public async Task<RunResult> RunCodexTasks(
        [Description("The tasks to run.")] IReadOnlyList<TaskRequest> tasks,
        [Description("Run identifier (generated when omitted): 1-64 letters, digits, '.', '_' or '-'.")] string? run_id = null,
        [Description("Commit, branch or tag every task starts from (default HEAD).")] string? base_ref = null,
        [Description("Tasks of this run at once (1-8); the server-wide default_concurrency still caps all runs together.")] int? concurrency = null,
        [Description("\"conservative\" or \"normal\" container limits.")] string? resource_policy = null,
        [Description("Validate everything and return skipped results without running.")] bool dry_run = false,
        IProgress<ProgressNotificationValue>? progress = null,
        CancellationToken cancellationToken = default)
    {
        try
        {
            var runner = await workspace.GetRunnerAsync(cancellationToken);
            var request = new RunRequest
            {
                RunId = run_id,
                BaseRef = base_ref,
                Concurrency = concurrency,
                ResourcePolicy = resource_policy,
                Tasks = tasks,
                DryRun = dry_run,
            };
            return await runner.RunAsync(request, ToTaskProgress(progress), cancellationToken);
        }
        catch (InvalidInputException e)
        {
            throw new McpException(e.Message);
        }
    }

    private static Progress<TaskProgress>? ToTaskProgress(IProgress<ProgressNotificationValue>? progress)
    {
        if (progress is null)
        {
            return null;
        }

        var count = 0;
        return new SynchronousProgress(p => progress.Report(new ProgressNotificationValue { Progress = Interlocked.Increment(ref count), Message = p.Message }));
    }

    /// <summary>Reports on the caller's thread: <see cref="Progress{T}"/> would post to the thread pool and reorder notifications.</summary>
    private sealed class SynchronousProgress(Action<TaskProgress> report) : Progress<TaskProgress>, IProgress<TaskProgress>
    {
        void IProgress<TaskProgress>.Report(TaskProgress value) => report(value);
    }
}
