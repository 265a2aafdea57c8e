using SandboxRunner.Runs;

namespace SandboxRunner.Host.Commands;

/// <summary>The arguments of <c>run_codex_tasks</c> and <c>start_codex_run</c> as a <see cref="RunRequest"/>: one mapping for the MCP tools and the tasks file.</summary>
internal static class RunArguments
{
    public static RunRequest Request(
        IReadOnlyList<TaskRequest> tasks, string? runId, string? baseRef, int? concurrency, string? resourcePolicy, bool dryRun, string? environment,
        IReadOnlyList<string>? verify = null, int? verifyTimeoutSec = null, IReadOnlyList<string>? verifyInputs = null) => new()
    {
        RunId = runId,
        BaseRef = baseRef,
        Concurrency = concurrency,
        ResourcePolicy = resourcePolicy,
        Tasks = tasks,
        DryRun = dryRun,
        Environment = environment,
        Verify = verify,
        VerifyTimeoutSec = verifyTimeoutSec,
        VerifyInputs = verifyInputs,
    };
}
