using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;

namespace SandboxRunner.Runs;

/// <summary>How a task's container ended, as the runner saw it.</summary>
public enum TaskEnd
{
    /// <summary>The container exited by itself (<see cref="TaskFacts.ExitCode"/>).</summary>
    Exited,
    TimedOut,
    Cancelled,

    /// <summary>The server was gone before the task ended; a later server recovered its tree.</summary>
    Interrupted,

    /// <summary>Stopped because it passed one of its limits (<see cref="TaskFacts.LimitPassed"/>).</summary>
    LimitExceeded,

    /// <summary>The runner failed around the task (<see cref="TaskFacts.RunnerError"/>).</summary>
    RunnerError,
}

/// <summary>What a task's policy allows, as the judge reads it.</summary>
public sealed record TaskPolicy(
    IReadOnlyList<string> AllowedPaths,
    IReadOnlyList<string> AllowedCommands,
    IReadOnlyList<string> DeniedCommands,
    bool AuditCommands,
    TimeSpan Timeout,
    CommandPolicyMode CommandMode = CommandPolicyMode.Enforce)
{
    /// <summary>Whether the task has verify commands: then it succeeds only when its verification passed.</summary>
    public bool Verify { get; init; }

    /// <summary>
    /// A task's policy under <paramref name="config"/>: the one way it is made, for a task that runs and for one
    /// recovered from its run's record, so both are judged by the same rules.
    /// </summary>
    public static TaskPolicy Of(
        IReadOnlyList<string> allowedPaths, IReadOnlyList<string> allowedCommands, RunnerConfig config, bool audit, TimeSpan timeout, bool verify) =>
        new(allowedPaths, allowedCommands, config.DeniedCommands, audit, timeout, config.CommandPolicy) { Verify = verify };
}

/// <summary>
/// Everything harvested from one task, before any judgement: read with bounds from the container, its
/// output and its tree, and already persisted (patch on disk, tree on a branch). The judge turns these
/// facts and the task's policy into status, violations and notes without touching anything, so judging
/// can neither fail nor lose work.
/// </summary>
public sealed record TaskFacts
{
    public required string TaskId { get; init; }
    public required TaskEnd End { get; init; }
    public long? ExitCode { get; init; }

    /// <summary>The limit the task passed while it ran, e.g. <c>max_log_bytes (67108864)</c>.</summary>
    public string? LimitPassed { get; init; }

    public string? RunnerError { get; init; }

    /// <summary>Codex's stdout, folded; empty for a task that never ran.</summary>
    public CodexTranscript Transcript { get; init; } = new();

    /// <summary>Output lines too long to read (dropped by the capture).</summary>
    public int OversizedLines { get; init; }

    public TreeChanges Changes { get; init; } = TreeChanges.None;

    /// <summary>Files of the agent's own <c>.git</c> settings that changed.</summary>
    public IReadOnlyList<string> GitSettingsChanged { get; init; } = [];

    /// <summary>Reads link text at a tree-relative path (null: not a link), for the symlink rules.</summary>
    public Func<string, string?> ReadLink { get; init; } = _ => null;

    /// <summary>The name of a passed secret whose value is in the patch.</summary>
    public string? SecretInPatch { get; init; }

    /// <summary>A passed secret the task's output held encoded (plain ones are redacted; an encoding is an attempt to carry one out).</summary>
    public string? SecretInOutput { get; init; }

    public ApplyCheck OnBase { get; init; } = new(true, "no changes");

    /// <summary>Null when HEAD is the base commit (or unknown).</summary>
    public ApplyCheck? OnHead { get; init; }

    /// <summary>The branch holding the task's tree, when it changed anything and the commit succeeded.</summary>
    public string? Branch { get; init; }

    /// <summary>The commit <see cref="Branch"/> was set to: the harvested tree verification checks out.</summary>
    public string? BranchCommit { get; init; }

    /// <summary>Steps of the harvest that failed (the rest was still kept): each is a violation, since what was not read was not judged.</summary>
    public IReadOnlyList<string> HarvestProblems { get; init; } = [];

    /// <summary>The runner's own checks of the harvested tree; null when the task has no verify commands.</summary>
    public Verification.VerificationReport? Verification { get; init; }

    /// <summary>The run was cancelled while the task was being verified (its agent had ended on its own).</summary>
    public bool VerificationCancelled { get; init; }
}

/// <summary>The judge's verdict.</summary>
public sealed record Judgement(
    TaskStatus Status,
    IReadOnlyList<Policy.Violation> Violations,
    IReadOnlyList<string> Notes,
    bool PatchApplicable,
    bool AppliesToHead);
