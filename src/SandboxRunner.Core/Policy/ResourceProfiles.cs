using SandboxRunner.Configuration;
using SandboxRunner.Boxes;

namespace SandboxRunner.Policy;

/// <summary>What each <c>resource_policy</c> gives one task container. The numbers are documented in docs/architecture.md.</summary>
public static class ResourceProfiles
{
    private const long GiB = 1024L * 1024 * 1024;

    public static ResourceLimits For(ResourcePolicy policy) => policy switch
    {
        ResourcePolicy.Conservative => new ResourceLimits(MemoryBytes: 2 * GiB, Cpus: 1.0, Pids: 256, TmpBytes: GiB / 2),
        ResourcePolicy.Normal => new ResourceLimits(MemoryBytes: 4 * GiB, Cpus: 2.0, Pids: 1024, TmpBytes: 2 * GiB),
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, null),
    };

    private const long MiB = 1024L * 1024;

    /// <summary>
    /// What a task may leave behind under each policy, before the config's <c>task_limits</c>. Sized so a
    /// 50k-file checkout and a 100 MB binary pass under either, while a runaway writer is stopped long
    /// before it fills a CI runner's disk.
    /// </summary>
    public static TaskLimits LimitsFor(ResourcePolicy policy, TaskLimitOverrides overrides) => overrides.Over(policy switch
    {
        ResourcePolicy.Conservative => new TaskLimits(MaxTreeBytes: 2 * GiB, MaxFiles: 250_000, MaxFileBytes: 256 * MiB, MaxPatchBytes: 512 * MiB, MaxLogBytes: 64 * MiB),
        ResourcePolicy.Normal => new TaskLimits(MaxTreeBytes: 8 * GiB, MaxFiles: 1_000_000, MaxFileBytes: 1 * GiB, MaxPatchBytes: 2 * GiB, MaxLogBytes: 256 * MiB),
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, null),
    });
}
