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
