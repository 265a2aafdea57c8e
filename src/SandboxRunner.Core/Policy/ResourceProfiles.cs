using SandboxRunner.Configuration;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Policy;

/// <summary>What each <c>resource_policy</c> gives one task container. The numbers are documented in the README.</summary>
public static class ResourceProfiles
{
    private const long GiB = 1024L * 1024 * 1024;

    public static ResourceLimits For(ResourcePolicy policy) => policy switch
    {
        ResourcePolicy.Conservative => new ResourceLimits(MemoryBytes: 2 * GiB, Cpus: 1.0, Pids: 256, TmpBytes: GiB / 2),
        ResourcePolicy.Normal => new ResourceLimits(MemoryBytes: 4 * GiB, Cpus: 2.0, Pids: 1024, TmpBytes: 2 * GiB),
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, null),
    };
}
