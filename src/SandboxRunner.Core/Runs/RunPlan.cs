using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

public sealed record TaskPlan(
    string TaskId,
    string Prompt,
    IReadOnlyList<string> AllowedPaths,
    IReadOnlyList<string> AllowedCommands,
    TimeSpan Timeout)
{
    /// <summary>The name the environment was chosen by (task, run, then <c>default</c>); null when the task runs in the plain Codex image.</summary>
    public string? EnvironmentName { get; init; }

    /// <summary>The toolchain image and setup this task runs in; null for the plain Codex image.</summary>
    public Configuration.EnvironmentSpec? Environment { get; init; }

    /// <summary>What the runner checks after the agent has ended; <see cref="Verification.VerifyPlan.None"/> when nothing.</summary>
    public SandboxRunner.Verification.VerifyPlan Verification { get; init; } = SandboxRunner.Verification.VerifyPlan.None;

    /// <summary>How many independent attempts the task runs (1-8).</summary>
    public int Attempts { get; init; } = 1;

    /// <summary>Set on the plan of one attempt (1-based) of a task with <see cref="Attempts"/> over 1; null for a task run once.</summary>
    public int? Attempt { get; init; }

    /// <summary>How this task's attempt is named in progress and logs: <c>task</c>, or <c>task#k</c>.</summary>
    public string DisplayName => Attempt is { } k ? $"{TaskId}#{k}" : TaskId;

    /// <summary>The plan of each of the task's attempts; the task itself when it runs once.</summary>
    public IReadOnlyList<TaskPlan> AttemptPlans() =>
        Attempts <= 1 ? [this] : Enumerable.Range(1, Attempts).Select(k => this with { Attempt = k }).ToList();

    /// <summary>
    /// The OCI runtime its containers start with: what the config names (see <see cref="RuntimeCheck.Configured"/>), or
    /// null for the engine's default until <see cref="RuntimeCheck.ResolveAsync"/> names that too.
    /// </summary>
    public string? Runtime { get; init; }
}

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
    bool AuditCommands = true)
{
    /// <summary>The certificate authorities setup and tasks trust besides their image's (<c>extra_ca_certs</c>); null for none.</summary>
    public Configuration.TrustedAuthorities? Trust { get; init; }

    /// <summary>The model credential, resolved on the host before the run starts (see <see cref="Auth.CredentialRule"/>).</summary>
    public Auth.RunCredential Credential { get; init; } = Auth.RunCredential.None("not resolved");

    /// <summary>
    /// The longest this run can take: every wave of <see cref="Concurrency"/> tasks at its longest timeout, plus
    /// start-up and harvest. A ChatGPT access token that expires sooner is refreshed before the run.
    /// </summary>
    public TimeSpan LongestDuration =>
        Tasks.Count == 0 ? TimeSpan.Zero
        : (Tasks.Max(t => t.Timeout) + TimeSpan.FromMinutes(2)) * Math.Ceiling(Tasks.Count / (double)Math.Max(1, Concurrency)) + TimeSpan.FromMinutes(5);
}
