using System.Text;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// <c>network_policy: none</c> on the swarm: a box starts on the backend's parking overlay and is taken off it before
/// its command runs, so the command has loopback and nothing else, as <c>--network none</c> gives locally.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmNoneNetworkTests(SwarmFixture swarm) : IAsyncLifetime
{
    // What a hostile command tries: each address, by TCP, with the error bash reports.
    private const string Probe = """
        echo "interfaces: $(ls /sys/class/net | tr '\n' ' ')"
        echo "routes: $(tail -n +2 /proc/net/route | wc -l)"
        for target in $TARGETS; do
          if out=$(timeout 5 bash -c "exec 3<>/dev/tcp/${target%:*}/${target#*:}" 2>&1); then echo "$target: connected"; else echo "$target: ${out:-timed out}"; fi
        done
        """;

    private readonly BoxScope _scope = new("swarm-none-" + Guid.NewGuid().ToString("N")[..10]);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var run in new[] { "run-1", "run-2" })
        {
            await swarm.Backend.RemoveRunAsync(_scope, run, CancellationToken.None);
        }
    }

    private static BoxSpec Box(string script, string task, IReadOnlyDictionary<string, string>? environment = null) => new()
    {
        Image = DockerFixture.FakeCodexImage,
        Entrypoint = [],
        Command = ["bash", "-c", script],
        User = "65534:65534",
        WorkingDirectory = "/",
        Environment = environment ?? new Dictionary<string, string>(),
        Limits = new ResourceLimits(MemoryBytes: 128L * 1024 * 1024, Cpus: 0.25, Pids: 64, TmpBytes: 8L * 1024 * 1024),
        Identity = new BoxIdentity(task),
    };

    private static async Task<string> RunAsync(ITaskBox box)
    {
        var output = new StringBuilder();
        var exit = await box.RunAsync(TimeSpan.FromMinutes(2), (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, CancellationToken.None);
        Assert.Equal(0, exit.ExitCode);
        return output.ToString();
    }

    [Fact]
    public async Task A_box_under_none_on_either_node_has_loopback_only_and_reaches_neither_another_runs_box_nor_its_nodes_engine_nor_the_outside()
    {
        // One place per node: the two none boxes land one on each.
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        await using var other = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-2", NetworkIntent.Open), CancellationToken.None);
        await using var target = await other.CreateBoxAsync(Box("sleep 60", "target"), CancellationToken.None);
        var targetRun = target.RunAsync(TimeSpan.FromMinutes(2), (_, _) => { }, null, CancellationToken.None, CancellationToken.None);
        var bridge = await BridgeOfAsync(backend, (SwarmTaskBox)target);
        var targets = $"{bridge.IPAddress}:80 {bridge.Gateway}:2376 1.1.1.1:443";
        await target.KillAsync(CancellationToken.None);
        await targetRun;

        // The probe itself sees what an open box reaches: the port of the node's engine (TLS) at its bridge's gateway.
        await using (var control = await other.CreateBoxAsync(Box(Probe, "control", new Dictionary<string, string> { ["TARGETS"] = $"{bridge.Gateway}:2376" }), CancellationToken.None))
        {
            Assert.Contains($"{bridge.Gateway}:2376: connected", await RunAsync(control), StringComparison.Ordinal);
        }

        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-1", NetworkIntent.None), CancellationToken.None);
        await using var first = await site.CreateBoxAsync(Box(Probe, "hostile-1", new Dictionary<string, string> { ["TARGETS"] = targets }), CancellationToken.None);
        await using var second = await site.CreateBoxAsync(Box(Probe, "hostile-2", new Dictionary<string, string> { ["TARGETS"] = targets }), CancellationToken.None);
        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), new[] { first.Node, second.Node }.Order(StringComparer.Ordinal));
        foreach (var box in new[] { (SwarmTaskBox)first, (SwarmTaskBox)second })
        {
            var engine = (await backend.Nodes.EngineAsync(box.NodeId, CancellationToken.None))!;
            Assert.Empty((await engine.Client.Containers.InspectContainerAsync(box.ContainerId)).NetworkSettings!.Networks ?? new Dictionary<string, EndpointSettings>());

            var output = await RunAsync(box);

            Assert.Contains("interfaces: lo \n", output, StringComparison.Ordinal);
            Assert.Contains("routes: 0\n", output, StringComparison.Ordinal);
            foreach (var address in targets.Split(' '))
            {
                Assert.Contains($"{address}: bash: connect: Network is unreachable", output, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task The_parking_network_is_one_per_backend_and_goes_when_the_backend_is_disposed()
    {
        using var manager = swarm.Manager.CreateClient();
        var backend = swarm.BackendWith(new SwarmOptions());
        string parking;
        try
        {
            parking = backend.ParkingNetwork;
            await using var first = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-1", NetworkIntent.None), CancellationToken.None);
            await using var second = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-2", NetworkIntent.None), CancellationToken.None);
            await using (var box = await first.CreateBoxAsync(Box("true", "t1"), CancellationToken.None))
            {
                await RunAsync(box);
            }

            await using (var box = await second.CreateBoxAsync(Box("true", "t2"), CancellationToken.None))
            {
                await RunAsync(box);
            }

            Assert.Single(await NetworksNamedAsync(manager, parking));
            Assert.Empty(await manager.Networks.ListNetworksAsync(new NetworksListParameters { Filters = ScopeFilter() }));
        }
        finally
        {
            await backend.DisposeAsync();
        }

        // The swarm drops it at once; the manager node's own copy (it ran a box) a moment later: a bounded look, not a timing.
        Assert.True(
            await Platform.Poll.UntilAsync(async ct => (await NetworksNamedAsync(manager, parking, ct)).Count == 0, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30), CancellationToken.None),
            $"the parking network {parking} is still listed after the backend was disposed");
    }

    [Fact]
    public async Task The_orphan_sweep_removes_the_parking_network_of_a_runner_that_is_gone()
    {
        using var manager = swarm.Manager.CreateClient();
        var name = "sandbox-runner-park-test" + Guid.NewGuid().ToString("N")[..8];
        await manager.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = name,
            Driver = "overlay",
            Internal = true,
            Labels = new Dictionary<string, string> { [Labels.Role] = SwarmParking.Role, [Labels.Owner] = $"{Environment.MachineName}/{DeadPid()}" },
        });

        await swarm.Backend.RemoveOrphansAsync(_scope, CancellationToken.None);

        Assert.True(
            await Platform.Poll.UntilAsync(async ct => (await NetworksNamedAsync(manager, name, ct)).Count == 0, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30), CancellationToken.None),
            $"the dead runner's parking network {name} is still listed after the sweep");
    }

    private static async Task<IList<NetworkResponse>> NetworksNamedAsync(Docker.DotNet.DockerClient client, string name, CancellationToken cancellationToken = default) =>
        (await client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [name] = true } } }, cancellationToken))
        .Where(n => n.Name == name).ToList();

    private Dictionary<string, IDictionary<string, bool>> ScopeFilter() =>
        new() { ["label"] = new Dictionary<string, bool> { [$"{Labels.Scope}={_scope.Repository}"] = true } };

    private static async Task<EndpointSettings> BridgeOfAsync(SwarmBackend backend, SwarmTaskBox box)
    {
        var engine = (await backend.Nodes.EngineAsync(box.NodeId, CancellationToken.None))!;
        return (await engine.Client.Containers.InspectContainerAsync(box.ContainerId)).NetworkSettings!.Networks!["bridge"];
    }

    private static int DeadPid()
    {
        for (var pid = 4_000_000; ; pid++)
        {
            if (!Directory.Exists($"/proc/{pid}"))
            {
                return pid;
            }
        }
    }
}
