using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// network_policy held at the container network level on the host engine: the checks every runtime must pass
/// (<see cref="NetworkPolicyContract"/>, with its two servers on this machine, reached through the docker0
/// gateway), and those that do not depend on the runtime.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class NetworkPolicyTests(DockerFixture docker) : NetworkPolicyContract(docker)
{
    [Fact]
    public async Task A_proxy_log_of_a_hundred_refused_hosts_is_read_whole()
    {
        // Past ~4 KB the proxy log's archive read once failed and took the task's result with it.
        await using var h = await DenyAsync();
        var many = "@run * for i in $(seq 1 100); do exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'GET http://h%s.refused.invalid/ HTTP/1.0\\r\\n\\r\\n' $i >&3 && cat <&3 >/dev/null; exec 3<&-; done";

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("many", "@write src/a.txt a\\n", many))).Results);

        Assert.Equal(100, result.Network!.RefusedHosts.Count);
        Assert.Contains("h100.refused.invalid", result.Network.RefusedHosts);
        Assert.Equal(["src/a.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task Several_runs_at_once_each_get_their_own_network_and_proxy()
    {
        await using var h = await DenyAsync();
        RunRequest Run(string id) => new() { RunId = id, Tasks = [RunnerHarness.Task("t", ViaProxy(Allowed))] };

        var runs = await Task.WhenAll(h.RunAsync(Run("net-a"), CancellationToken.None), h.RunAsync(Run("net-b"), CancellationToken.None));

        Assert.All(runs, r => Assert.Contains("allowed-body", r.Results[0].CommandsRun[0].OutputTail, StringComparison.Ordinal));
        var proxies = h.Engine.Specs.Values.Where(s => s.Labels.GetValueOrDefault(Boxes.Labels.Role) == "egress").ToList();
        Assert.Equal(2, proxies.Count);
        Assert.Equal(2, proxies.Select(p => p.Labels[Boxes.Labels.Run]).Distinct().Count());
    }
}
