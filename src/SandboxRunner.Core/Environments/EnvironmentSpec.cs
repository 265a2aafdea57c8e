namespace SandboxRunner.Environments;

/// <summary>Whether setup commands reach the network: any host, or only the run's egress allowlist.</summary>
public enum SetupNetwork { Allow, Deny }

/// <summary>
/// The <c>environment</c> section of <c>.mcp-codex.json</c> (and each entry of <c>environments</c>): the
/// toolchain a task's box carries and the setup that runs once per cache key, not once per task.
/// Exactly one of <see cref="BaseImage"/> and <see cref="Dockerfile"/> is set.
/// </summary>
public sealed record EnvironmentSpec
{
    /// <summary>An image that has the toolchain (<c>node:22-bookworm</c>, a team's dev image); the runner layers Codex on top.</summary>
    public string? BaseImage { get; init; }

    /// <summary>A Dockerfile in the repository (relative path), built at the run's base commit as the base image.</summary>
    public string? Dockerfile { get; init; }

    /// <summary>Shell commands run in order in the repository root by <c>/bin/sh -c</c>; the first that fails fails setup.</summary>
    public IReadOnlyList<string> Setup { get; init; } = [];

    public SetupNetwork SetupNetwork { get; init; } = SetupNetwork.Allow;

    /// <summary>
    /// Globs (relative to the repository root) of the files setup sees and whose contents at the base commit key the
    /// setup cache; null (absent) means the ecosystems' manifests and lock files (<see cref="SetupKey.DefaultCacheKeys"/>).
    /// </summary>
    public IReadOnlyList<string>? CacheKeys { get; init; }

    /// <summary>The OCI runtime this environment's setup and tasks run under; null for the config's <c>runtime</c>.</summary>
    public string? Runtime { get; init; }

    /// <summary>The verify commands of this environment's tasks; null: the config's top-level <c>verify</c>. Not part of the setup key.</summary>
    public IReadOnlyList<string>? Verify { get; init; }

    /// <summary>Each verify command's deadline for this environment's tasks; null: the top level's.</summary>
    public int? VerifyTimeoutSec { get; init; }

    /// <summary>Globs of the files the verify commands depend on; null: the top level's.</summary>
    public IReadOnlyList<string>? VerifyInputs { get; init; }

    /// <summary>This level's verification settings, for <see cref="Verification.VerifyPlan.Resolve"/>.</summary>
    public Configuration.VerifyLevel VerifyLevel => new(Verify, VerifyTimeoutSec, VerifyInputs);
}
