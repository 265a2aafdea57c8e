using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>
/// Every network policy as it must hold whatever runtime the tasks run under: <c>deny</c> (<see cref="DenyNetworkContract"/>,
/// and it refuses at once instead of letting a connection hang), <c>allow</c> and <c>none</c>. Run under runc by
/// <see cref="NetworkPolicyTests"/> and under gVisor by Gvisor/GvisorNetworkPolicyTests.
/// </summary>
public abstract class NetworkPolicyContract(IEngineUnderTest target) : DenyNetworkContract(target)
{
    [Fact]
    public async Task Deny_refuses_fast_instead_of_hanging()
    {
        await using var h = await DenyAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "fast", "@run * time (exec 3<>/dev/tcp/10.255.255.1/443) 2>&1; time (exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'CONNECT example.com:443 HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3) 2>&1"))).Results);

        Assert.Contains("403", result.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"real\s+0m[1-9]", result.CommandsRun[0].OutputTail);
        Assert.InRange(result.DurationMs, 0, 30_000);
    }

    [Fact]
    public async Task Allow_reaches_any_host()
    {
        await using var h = await Target.HarnessAsync(c => c with { NetworkPolicy = NetworkPolicy.Allow });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("allow", Direct(Allowed), Direct(Outside)))).Results);

        Assert.Contains("allowed-body", result.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.Contains("outside-body", result.CommandsRun[1].OutputTail, StringComparison.Ordinal);
        Assert.Equal("allow", result.Network!.Policy);
    }

    [Fact]
    public async Task None_leaves_only_loopback()
    {
        await using var h = await Target.HarnessAsync(c => c with { NetworkPolicy = NetworkPolicy.None });

        // The kernel's own list of interfaces: gVisor has no /sys/class/net.
        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("none", "@run 0 tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '", Direct(Allowed)))).Results);

        Assert.Equal("lo", result.CommandsRun[0].OutputTail.Trim());
        Assert.NotEqual(0, result.CommandsRun[1].ExitCode);
        Assert.Empty(AllowedServer.Requests);
    }
}
