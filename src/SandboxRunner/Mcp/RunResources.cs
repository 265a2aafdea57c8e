using System.ComponentModel;
using ModelContextProtocol;
using ModelContextProtocol.Server;
using SandboxRunner.Policy;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Mcp;

/// <summary>Each task's log, patch and result, read from the run folder, so they outlive the task's tree.</summary>
[McpServerResourceType]
public sealed class RunResources(Workspace workspace)
{
    [McpServerResource(UriTemplate = "sandbox-runner://runs/{run_id}/tasks/{task_id}/log", Name = "task-log", MimeType = "text/plain")]
    [Description("A task's output (its best attempt's, for a task run with attempts): Codex's stderr, then its stdout (JSONL events), both redacted.")]
    public async Task<string> Log(string run_id, string task_id, CancellationToken cancellationToken) =>
        $"== stderr ==\n{await ReadAsync(run_id, task_id, "stderr.log", cancellationToken)}\n== stdout ==\n{await ReadAsync(run_id, task_id, "stdout.log", cancellationToken)}";

    [McpServerResource(UriTemplate = "sandbox-runner://runs/{run_id}/tasks/{task_id}/patch", Name = "task-patch", MimeType = "text/x-diff")]
    [Description("A task's patch (its best attempt's, for a task run with attempts) against its base commit, as `git apply` takes it.")]
    public Task<string> Patch(string run_id, string task_id, CancellationToken cancellationToken) =>
        ReadAsync(run_id, task_id, "task.patch", cancellationToken);

    [McpServerResource(UriTemplate = "sandbox-runner://runs/{run_id}/tasks/{task_id}/result", Name = "task-result", MimeType = "application/json")]
    [Description("A task's result, as run_codex_tasks returned it.")]
    public Task<string> Result(string run_id, string task_id, CancellationToken cancellationToken) =>
        ReadAsync(run_id, task_id, "result.json", cancellationToken);

    private async Task<string> ReadAsync(string runId, string taskId, string file, CancellationToken cancellationToken)
    {
        if (!Ids.IsValid(runId) || !Ids.IsValid(taskId))
        {
            throw new McpException($"run_id and task_id {Ids.Rule}");
        }

        var runner = await workspace.GetRunnerAsync(cancellationToken);

        // A task run with attempts has its result in its own folder and everything else in its best attempt's.
        var best = file == "result.json" ? null : (await runner.ReadResultAsync(runId, taskId, cancellationToken))?.BestAttempt;
        var path = Path.Combine(runner.TaskFolder(runId, taskId, best), file);
        return File.Exists(path)
            ? await File.ReadAllTextAsync(path, cancellationToken)
            : throw new McpException($"no {file} for task '{taskId}' of run '{runId}'");
    }
}
