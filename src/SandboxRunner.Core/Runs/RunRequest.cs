using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using SandboxRunner.Configuration;
using SandboxRunner.Contract;
using SandboxRunner.Verification;

namespace SandboxRunner.Runs;

/// <summary>
/// One task as a caller asks for it (the <c>tasks[]</c> items of <c>run_codex_tasks</c>). Its attributes are the
/// tool's schema and what <see cref="ArgumentReader"/> enforces; <see cref="RunPlanner"/> adds the rules that
/// depend on the config and the repository. Validated into a <see cref="TaskPlan"/>.
/// </summary>
public sealed record TaskRequest
{
    [JsonPropertyName("task_id"), Required, TextRule(TextKind.Id)]
    [Description("Unique in the run; the task's branch is sandbox/<run_id>/<task_id>.")]
    public string? TaskId { get; init; }

    [JsonPropertyName("prompt"), Required, TextRule(TextKind.NonBlank)]
    [Description("What Codex should do.")]
    public string? Prompt { get; init; }

    [JsonPropertyName("allowed_paths"), TextRule(TextKind.RelativeGlob)]
    [Description("Globs of the paths the task may change. Default: the config's default_allowed_paths.")]
    public IReadOnlyList<string>? AllowedPaths { get; init; }

    [JsonPropertyName("allowed_commands"), TextRule(TextKind.NonBlank)]
    [Description("Command prefixes the task may run. Default: the config's allowed_commands.")]
    public IReadOnlyList<string>? AllowedCommands { get; init; }

    [JsonPropertyName("timeout_sec"), Range(RunPlanner.MinTimeoutSec, RunPlanner.MaxTimeoutSec)]
    [Description("Seconds before the task is killed and ends 'timeout'. Default: the config's default_timeout_sec.")]
    public int? TimeoutSec { get; init; }

    [JsonPropertyName("environment"), TextRule(TextKind.EnvironmentName)]
    [Description(EnvironmentArgument.TaskDescription)]
    public string? Environment { get; init; }

    [JsonPropertyName("verify"), TextRule(TextKind.NonBlank), MaxLength(VerifyPlan.MaxCommands)]
    [Description(VerifyArguments.TaskVerify)]
    public IReadOnlyList<string>? Verify { get; init; }

    [JsonPropertyName("verify_timeout_sec"), Range(VerifyPlan.MinTimeoutSec, VerifyPlan.MaxTimeoutSec)]
    [Description(VerifyArguments.Timeout)]
    public int? VerifyTimeoutSec { get; init; }

    [JsonPropertyName("verify_inputs"), TextRule(TextKind.RelativeGlob), MaxLength(VerifyPlan.MaxInputs)]
    [Description(VerifyArguments.Inputs)]
    public IReadOnlyList<string>? VerifyInputs { get; init; }

    [JsonPropertyName("attempts"), Range(1, RunPlanner.MaxAttempts)]
    [Description(VerifyArguments.Attempts)]
    public int? Attempts { get; init; }
}

/// <summary>What the verification and attempts arguments mean, said once for the MCP tools and the task items.</summary>
public static class VerifyArguments
{
    public const string RunVerify = "Commands the runner runs after each task, in a fresh container with its tree; success needs them to pass. Default: the config's verify.";

    public const string TaskVerify = "Default: the run's verify.";

    public const string Timeout = "Seconds per verify command. Default: the config's.";

    public const string Inputs = "Globs the verify commands depend on; changes to them are reported. Default: the config's.";

    public const string Attempts = "Sandboxes of this task, each on sandbox/<run_id>/<task_id>/<k>; the result is the best, by verification first. Default: 1.";

    public const string ApplyAttempt = "Default: the best attempt.";
}

/// <summary>What the <c>environment</c> argument means, said once for the run and the task items.</summary>
public static class EnvironmentArgument
{
    public const string RunDescription =
        "Toolchain of every task that names none: 'none' (the plain Codex image), 'default' (the config's environment) or a name " +
        "from its environments. Default: 'default' when the config has an environment, else 'none'.";

    public const string TaskDescription = "This task's toolchain, named as the run's environment. Default: the run's.";
}

/// <summary>
/// A run as a caller asks for it: the arguments of <c>run_codex_tasks</c> and <c>start_codex_run</c>, and a
/// tasks file. Validated into a <see cref="RunPlan"/>.
/// </summary>
public sealed record RunRequest
{
    /// <summary>Most tasks any run may list (max_tasks_per_run's own ceiling); the config's max_tasks_per_run is checked when planning.</summary>
    public const int MaxTasks = 50;

    [JsonPropertyName("tasks"), Required]
    [MinLength(1, ErrorMessage = "must list at least one task"), MaxLength(MaxTasks, ErrorMessage = "may list at most 50 tasks")]
    [Description("The tasks; each runs in its own container on its own checkout of base_ref.")]
    public IReadOnlyList<TaskRequest>? Tasks { get; init; }

    [JsonPropertyName("run_id"), TextRule(TextKind.Id)]
    [Description("The run's id. Default: generated.")]
    public string? RunId { get; init; }

    [JsonPropertyName("base_ref"), TextRule(TextKind.GitRevision)]
    [Description("Commit, branch or tag every task starts from. Default: HEAD.")]
    public string? BaseRef { get; init; }

    [JsonPropertyName("concurrency"), Range(1, ConcurrencyCeiling)]
    [Description("Tasks of this run at once; the config's default_concurrency still caps all runs together.")]
    public int? Concurrency { get; init; }

    [JsonPropertyName("resource_policy"), AllowedValues(ResourcePolicyNames.Conservative, ResourcePolicyNames.Normal)]
    [Description("Memory, CPU and process limits per task. Default: the config's resource_policy.")]
    public string? ResourcePolicy { get; init; }

    [JsonPropertyName("dry_run")]
    [Description("Check everything (config, ids, base_ref, policies, Docker, image) and return 'skipped' results without running.")]
    public bool DryRun { get; init; }

    /// <summary>The environment of every task that names none itself; null: <c>default</c> when the config has one, else <c>none</c>.</summary>
    [JsonPropertyName("environment"), TextRule(TextKind.EnvironmentName)]
    [Description(EnvironmentArgument.RunDescription)]
    public string? Environment { get; init; }

    /// <summary>The run's verify commands (the <c>verify</c> argument); null: the environment's or the config's.</summary>
    [JsonPropertyName("verify"), TextRule(TextKind.NonBlank), MaxLength(VerifyPlan.MaxCommands)]
    [Description(VerifyArguments.RunVerify)]
    public IReadOnlyList<string>? Verify { get; init; }

    [JsonPropertyName("verify_timeout_sec"), Range(VerifyPlan.MinTimeoutSec, VerifyPlan.MaxTimeoutSec)]
    [Description(VerifyArguments.Timeout)]
    public int? VerifyTimeoutSec { get; init; }

    [JsonPropertyName("verify_inputs"), TextRule(TextKind.RelativeGlob), MaxLength(VerifyPlan.MaxInputs)]
    [Description(VerifyArguments.Inputs)]
    public IReadOnlyList<string>? VerifyInputs { get; init; }

    /// <summary>Overrides the config's sandbox_mode for every task (the plan review runs read-only).</summary>
    [JsonIgnore]
    public SandboxMode? SandboxMode { get; init; }

    /// <summary>A JSON Schema the final message must match (<c>codex exec --output-schema</c>).</summary>
    [JsonIgnore]
    public string? OutputSchema { get; init; }

    /// <summary>
    /// False for work that cannot change the tree (the read-only plan review): its commands are not audited
    /// against allowed_commands, since reading the repository is the whole job.
    /// </summary>
    [JsonIgnore]
    public bool AuditCommands { get; init; } = true;

    /// <summary>The most tasks of one run at once (default_concurrency's own ceiling).</summary>
    public const int ConcurrencyCeiling = 8;
}

/// <summary>A run named by its id: the arguments of <c>get_codex_run</c> and <c>cancel_codex_run</c>.</summary>
public sealed record RunReference
{
    [JsonPropertyName("run_id"), Required, TextRule(TextKind.Id)]
    [Description("The run's id.")]
    public string RunId { get; init; } = "";
}

/// <summary>A task named by its run and id: the arguments of <c>apply_codex_result</c>.</summary>
public sealed record TaskReference
{
    [JsonPropertyName("run_id"), Required, TextRule(TextKind.Id)]
    [Description("The run's id.")]
    public string RunId { get; init; } = "";

    [JsonPropertyName("task_id"), Required, TextRule(TextKind.Id)]
    [Description("The task's id.")]
    public string TaskId { get; init; } = "";

    [JsonPropertyName("attempt"), Range(1, RunPlanner.MaxAttempts)]
    [Description(VerifyArguments.ApplyAttempt)]
    public int? Attempt { get; init; }
}
