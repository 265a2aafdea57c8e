namespace SandboxRunner.Configuration;

/// <summary>
/// What one task may leave behind: its tree (checkout included), its largest file, the patch of its
/// change and its container's output. A task that passes one is stopped and ends <c>failed</c> with a
/// note naming the limit; the defaults come from <c>resource_policy</c> (see <c>ResourceProfiles</c>).
/// </summary>
public sealed record TaskLimits(long MaxTreeBytes, long MaxFiles, long MaxFileBytes, long MaxPatchBytes, long MaxLogBytes);

/// <summary>The <c>task_limits</c> object of <c>.mcp-codex.json</c>: each field set replaces the policy's default.</summary>
public sealed record TaskLimitOverrides
{
    public long? MaxTreeBytes { get; init; }
    public long? MaxFiles { get; init; }
    public long? MaxFileBytes { get; init; }
    public long? MaxPatchBytes { get; init; }
    public long? MaxLogBytes { get; init; }

    public TaskLimits Over(TaskLimits defaults) => new(
        MaxTreeBytes ?? defaults.MaxTreeBytes,
        MaxFiles ?? defaults.MaxFiles,
        MaxFileBytes ?? defaults.MaxFileBytes,
        MaxPatchBytes ?? defaults.MaxPatchBytes,
        MaxLogBytes ?? defaults.MaxLogBytes);
}
