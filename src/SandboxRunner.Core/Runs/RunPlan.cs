using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

public sealed record TaskPlan(
    string TaskId,
    string Prompt,
    IReadOnlyList<string> AllowedPaths,
    IReadOnlyList<string> AllowedCommands,
    TimeSpan Timeout);

/// <summary>A run that passed validation: ids checked, base ref resolved to a commit, every default filled in.</summary>
public sealed record RunPlan(
    string RunId,
    string BaseRef,
    string BaseCommit,
    int Concurrency,
    ResourcePolicy ResourcePolicy,
    IReadOnlyList<TaskPlan> Tasks,
    bool DryRun,
    SandboxMode SandboxMode,
    string? OutputSchema = null,
    bool AuditCommands = true);
