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

        // A gateway made ahead of its run carries no run label: each run's gateway is the one its boxes joined, through
        // the namespace holder they share a network with. Each run has one, of its own, with one proxy of its own.
        var gateways = new[] { "net-a", "net-b" }.ToDictionary(run => run, run => Assert.Single(GatewaysJoinedBy(h, run)));
        Assert.NotEqual(gateways["net-a"], gateways["net-b"]);
        var proxies = gateways.Values.Select(g => Assert.Single(h.Engine.Specs, s => IsProxyOf(s.Value, g)).Key).ToList();
        Assert.Equal(2, proxies.Distinct().Count());

        // Any other proxy the backend made is the spare it holds for a next run: handed to neither of these.
        var others = h.Engine.Specs.Where(s => s.Value.Labels.GetValueOrDefault(Boxes.Labels.Role) == Boxes.Docker.DockerEgress.ProxyRole)
            .Select(s => s.Key).Except(proxies).ToList();
        var (spares, _) = await h.SparesAsync();
        Assert.All(others, p => Assert.Contains(p, spares));
    }

    /// <summary>The gateways whose network the boxes of <paramref name="runId"/> joined (each box joins a holder of one gateway).</summary>
    private static IReadOnlySet<string> GatewaysJoinedBy(RunnerHarness h, string runId) =>
        h.Engine.Specs.Values
            .Where(s => s.Labels.GetValueOrDefault(Boxes.Labels.Run) == runId && s.NetworkMode.StartsWith("container:", StringComparison.Ordinal))
            .Select(s => h.Engine.Specs[s.NetworkMode["container:".Length..]].Labels[Boxes.Docker.DockerEgress.GatewayLabel])
            .ToHashSet(StringComparer.Ordinal);

    private static bool IsProxyOf(Boxes.Docker.ContainerSpec spec, string gateway) =>
        spec.Labels.GetValueOrDefault(Boxes.Labels.Role) == Boxes.Docker.DockerEgress.ProxyRole
        && spec.Labels.GetValueOrDefault(Boxes.Docker.DockerEgress.GatewayLabel) == gateway;
}
