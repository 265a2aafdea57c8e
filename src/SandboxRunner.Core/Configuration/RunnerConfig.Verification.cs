
namespace SandboxRunner.Configuration;

/// <summary>The verification fields (issue 22): commands the runner runs itself after each task's agent has ended.</summary>
public sealed partial record RunnerConfig
{
    /// <summary><c>verify</c>: shell commands run in order in a fresh container of the task's image with the task's tree; empty: no verification.</summary>
    public IReadOnlyList<string> Verify { get; init; } = [];

    /// <summary><c>verify_timeout_sec</c>: each verify command's own deadline.</summary>
    public int VerifyTimeoutSec { get; init; } = VerifyLimits.DefaultTimeoutSec;

    /// <summary><c>verify_inputs</c>: globs of the files the verify commands depend on; a task's change to one is reported.</summary>
    public IReadOnlyList<string> VerifyInputs { get; init; } = Configuration.VerifyInputs.Defaults;

    /// <summary>This level's verification settings (the farthest level the verification resolves).</summary>
    public VerifyLevel VerifyLevel => new(Verify, VerifyTimeoutSec, VerifyInputs);
}
