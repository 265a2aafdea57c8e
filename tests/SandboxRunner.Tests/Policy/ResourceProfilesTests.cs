using SandboxRunner.Configuration;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Tests.Policy;

/// <summary>The limits each <c>resource_policy</c> gives one task container (documented in docs/architecture.md).</summary>
public sealed class ResourceProfilesTests
{
    private const long GiB = 1024L * 1024 * 1024;

    [Fact]
    public void Conservative_is_2_GiB_1_cpu_256_pids_and_half_a_GiB_of_tmp()
    {
        Assert.Equal(new ResourceLimits(MemoryBytes: 2 * GiB, Cpus: 1.0, Pids: 256, TmpBytes: GiB / 2), ResourceProfiles.For(ResourcePolicy.Conservative));
    }

    [Fact]
    public void Normal_is_4_GiB_2_cpus_1024_pids_and_2_GiB_of_tmp()
    {
        Assert.Equal(new ResourceLimits(MemoryBytes: 4 * GiB, Cpus: 2.0, Pids: 1024, TmpBytes: 2 * GiB), ResourceProfiles.For(ResourcePolicy.Normal));
    }

    [Fact]
    public void Normal_gives_at_least_as_much_as_conservative_on_every_axis()
    {
        var conservative = ResourceProfiles.For(ResourcePolicy.Conservative);
        var normal = ResourceProfiles.For(ResourcePolicy.Normal);

        Assert.True(normal.MemoryBytes >= conservative.MemoryBytes, "memory");
        Assert.True(normal.Cpus >= conservative.Cpus, "cpus");
        Assert.True(normal.Pids >= conservative.Pids, "pids");
        Assert.True(normal.TmpBytes >= conservative.TmpBytes, "tmp");
    }

    [Theory]
    [InlineData(ResourcePolicy.Conservative)]
    [InlineData(ResourcePolicy.Normal)]
    public void Every_limit_is_positive(ResourcePolicy policy)
    {
        var limits = ResourceProfiles.For(policy);

        Assert.True(limits.MemoryBytes > 0 && limits.Cpus > 0 && limits.Pids > 0 && limits.TmpBytes > 0, limits.ToString());
    }

    [Theory]
    [InlineData(ResourcePolicy.Conservative)]
    [InlineData(ResourcePolicy.Normal)]
    public void Tmp_fits_in_memory(ResourcePolicy policy)
    {
        // tmpfs pages are charged to the container's memory limit.
        var limits = ResourceProfiles.For(policy);

        Assert.True(limits.TmpBytes < limits.MemoryBytes, limits.ToString());
    }

    [Fact]
    public void Every_policy_has_a_profile()
    {
        Assert.All(Enum.GetValues<ResourcePolicy>(), policy => Assert.NotNull(ResourceProfiles.For(policy)));
    }

    [Fact]
    public void Undefined_policy_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ResourceProfiles.For((ResourcePolicy)99));
    }
}
