using System.ComponentModel;
using System.Text.Json.Serialization;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>One task as a caller asks for it (the <c>tasks[]</c> items of <c>run_codex_tasks</c>). Validated into a <see cref="TaskPlan"/>.</summary>
public sealed record TaskRequest
{
    [JsonPropertyName("task_id")]
    [Description("Unique id within the run: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.")]
    public string? TaskId { get; init; }

    [JsonPropertyName("prompt")]
    [Description("What Codex should do in its own worktree.")]
    public string? Prompt { get; init; }

    [JsonPropertyName("allowed_paths")]
    [Description("Glob patterns the task may change; defaults to the config's default_allowed_paths.")]
    public IReadOnlyList<string>? AllowedPaths { get; init; }

    [JsonPropertyName("allowed_commands")]
    [Description("Command prefixes the task may run; defaults to the config's allowed_commands.")]
    public IReadOnlyList<string>? AllowedCommands { get; init; }

    [JsonPropertyName("timeout_sec")]
    [Description("Deadline for this task in seconds (10-1800); defaults to the config's default_timeout_sec.")]
    public int? TimeoutSec { get; init; }

    [JsonPropertyName("environment")]
    [Description(EnvironmentArgument.TaskDescription)]
    public string? Environment { get; init; }

    [JsonPropertyName("verify")]
    [Description(VerifyArguments.TaskVerify)]
    public IReadOnlyList<string>? Verify { get; init; }

    [JsonPropertyName("verify_timeout_sec")]
    [Description(VerifyArguments.Timeout)]
    public int? VerifyTimeoutSec { get; init; }

    [JsonPropertyName("verify_inputs")]
    [Description(VerifyArguments.Inputs)]
    public IReadOnlyList<string>? VerifyInputs { get; init; }

    [JsonPropertyName("attempts")]
    [Description(VerifyArguments.Attempts)]
    public int? Attempts { get; init; }
}

/// <summary>What the verification and attempts arguments mean, said once for the MCP tools and the task items.</summary>
public static class VerifyArguments
{
    public const string RunVerify =
        "Shell commands the runner runs itself after each task's agent has ended (e.g. [\"npm test\"]), in a fresh container with the task's tree; " +
        "a task whose agent succeeded but whose verification did not pass is 'failed'. Replaces the config's verify for this run; [] runs none.";

    public const string TaskVerify = "This task's verify commands; replaces the run's and the config's. [] runs none.";

    public const string Timeout = "Seconds each verify command may run (10-3600; default: the config's verify_timeout_sec, 600).";

    public const string Inputs =
        "Globs of the files the verify commands depend on; a task's change to one is listed in verification.changed_inputs. Replaces the default list (docs/verification.md).";

    public const string Attempts =
        "Independent attempts of this task (1-8, default 1), each in its own sandbox from the same base on branch sandbox/<run_id>/<task_id>/<k>; " +
        "the result is the best one (verification passed, then no violations, then no changed inputs, then the smaller patch) with every attempt listed. " +
        "Every attempt counts against max_tasks_per_run.";

    public const string ApplyAttempt = "Which attempt of a task run with attempts to apply (1-8); default the best.";
}

/// <summary>What the <c>environment</c> argument means, said once for the MCP tools and the task items.</summary>
public static class EnvironmentArgument
{
    public const string RunDescription =
        "The toolchain environment every task of this run runs in, unless a task names its own: a name from the config's environments, " +
        "'default' (its environment section) or 'none' (the plain Codex image). Omitted: 'default' when the config has an environment section, else 'none'.";

    public const string TaskDescription =
        "The toolchain environment this task runs in: a name from the config's environments, 'default' (its environment section) or 'none' " +
        "(the plain Codex image). Omitted: the run's environment.";
}

/// <summary>A run as a caller asks for it (the arguments of <c>run_codex_tasks</c>). Validated into a <see cref="RunPlan"/>.</summary>
public sealed record RunRequest
{
    public string? RunId { get; init; }
    public string? BaseRef { get; init; }
    public int? Concurrency { get; init; }
    public string? ResourcePolicy { get; init; }
    public IReadOnlyList<TaskRequest>? Tasks { get; init; }
    public bool DryRun { get; init; }

    /// <summary>The environment of every task that names none itself; null: <c>default</c> when the config has one, else <c>none</c>.</summary>
    public string? Environment { get; init; }

    /// <summary>The run's verify commands (the <c>verify</c> argument); null: the environment's or the config's.</summary>
    public IReadOnlyList<string>? Verify { get; init; }

    public int? VerifyTimeoutSec { get; init; }

    public IReadOnlyList<string>? VerifyInputs { get; init; }

    /// <summary>Overrides the config's sandbox_mode for every task (the plan review runs read-only).</summary>
    public SandboxMode? SandboxMode { get; init; }

    /// <summary>A JSON Schema the final message must match (<c>codex exec --output-schema</c>).</summary>
    public string? OutputSchema { get; init; }

    /// <summary>
    /// False for work that cannot change the tree (the read-only plan review): its commands are not audited
    /// against allowed_commands, since reading the repository is the whole job.
    /// </summary>
    public bool AuditCommands { get; init; } = true;
}
