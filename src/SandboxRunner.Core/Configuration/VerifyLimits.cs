namespace SandboxRunner.Configuration;

/// <summary>
/// The bounds of the verification fields (<c>verify</c>, <c>verify_timeout_sec</c>, <c>verify_inputs</c>), where the
/// config is read; the verification itself (Verification/) takes them from here, so the config needs nothing of it.
/// </summary>
public static class VerifyLimits
{
    public const int DefaultTimeoutSec = 600;
    public const int MinTimeoutSec = 10;
    public const int MaxTimeoutSec = 3600;

    /// <summary>At most this many verify commands at any level.</summary>
    public const int MaxCommands = 20;

    /// <summary>At most this many bytes (UTF-8) per verify command, as for setup commands.</summary>
    public const int MaxCommandBytes = 8 * 1024;

    /// <summary>At most this many <c>verify_inputs</c> globs at any level.</summary>
    public const int MaxInputs = 200;
}

/// <summary>One level's <c>verify</c>, <c>verify_timeout_sec</c> and <c>verify_inputs</c>; null where the level does not set one.</summary>
public sealed record VerifyLevel(IReadOnlyList<string>? Commands, int? TimeoutSec, IReadOnlyList<string>? Inputs);
