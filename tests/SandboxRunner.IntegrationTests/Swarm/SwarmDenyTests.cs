using System.Text;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// <c>network_policy: deny</c> on a real two-node swarm, at the backend's seam (sites and boxes, as the contract drives
/// them): the run's proxy is a service on the run's internal overlay, the credential a swarm secret only it mounts.
/// Two servers of the test's own on this machine, one allowlisted and one "outside", reached from the nodes through
/// the local bridge's gateway.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmDenyTests(SwarmFixture swarm) : IAsyncLifetime
{
    private const string Key = "sk-swarm-proxy-held-0123456789abcdef";

    // The bracket keeps a pattern from matching the command that carries it.
    private const string KeyPattern = "sk-swarm-proxy-held-0123456789abcde[f]";
    private readonly BoxScope _scope = new("swarm-deny-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly HostHttpServer _allowedServer = new("allowed-body");
    private readonly HostHttpServer _outsideServer = new("outside-body");
    private string _gateway = "";

    private string Allowed => $"{_gateway}:{_allowedServer.Port}";

    private string Outside => $"{_gateway}:{_outsideServer.Port}";

    public async Task InitializeAsync()
    {
        using var local = EngineConnection.FromProcess().CreateClient();
        _gateway = await HostBridge.GatewayAsync(local);
    }

    public async Task DisposeAsync()
    {
        foreach (var run in new[] { "run-1", "run-2" })
        {
            await swarm.Backend.RemoveRunAsync(_scope, run, CancellationToken.None);
        }

        await _allowedServer.DisposeAsync();
        await _outsideServer.DisposeAsync();
    }

    private EgressSpec Egress => new(ImageRecipe.EgressProxy().Tag, [Allowed], new ModelRoute($"http://{Allowed}/v1", Key));

    private Task<IRunSite> DenySiteAsync(ITaskBackend backend, string run = "run-1") =>
        backend.OpenRunSiteAsync(new RunSiteSpec(_scope, run, NetworkIntent.Allowlist, Egress), CancellationToken.None);

    private static BoxSpec Box(string script, string task) => new()
    {
        Image = DockerFixture.FakeCodexImage,
        Entrypoint = [],
        Command = ["bash", "-c", script],
        User = "65534:65534",
        WorkingDirectory = "/",
        Environment = new Dictionary<string, string>(),
        Limits = new ResourceLimits(MemoryBytes: 128L * 1024 * 1024, Cpus: 0.25, Pids: 64, TmpBytes: 8L * 1024 * 1024),
        Identity = new BoxIdentity(task),
    };

    private static async Task<(long? ExitCode, string Stdout)> RunAsync(ITaskBox box)
    {
        var stdout = new StringBuilder();
        var exit = await box.RunAsync(
            TimeSpan.FromMinutes(2), (stream, chunk) => { if (stream == LogStream.Stdout) { stdout.Append(Encoding.UTF8.GetString(chunk)); } }, null, CancellationToken.None, CancellationToken.None);
        return (exit.ExitCode, stdout.ToString());
    }

    /// <summary>Bash functions a box script uses: a request through the forward proxy, and a direct connection.</summary>
    private const string Tools = """
        via() { (exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'GET http://%s/ HTTP/1.0\r\n\r\n' "$1" >&3 && cat <&3) 2>&1 | grep -aE '^HTTP/|-body' | tr -d '\r' | sed "s|^|$2: |"; }
        direct() { if timeout 5 bash -c "exec 3<>/dev/tcp/${1%:*}/${1#*:}" 2>/dev/null; then echo "$2: reached"; else echo "$2: unreachable"; fi; }

        """;

    [Fact]
    public async Task A_box_on_either_node_reaches_the_allowlisted_host_through_the_proxy_and_nothing_else()
    {
        // A cap of one per node puts the two boxes on different nodes; the proxy takes no task's place.
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        var site = await DenySiteAsync(backend);
        var since = DateTimeOffset.UtcNow;
        var script = Tools + $"""
            via {Allowed} allowed; via {Outside} outside; direct {Outside} direct-outside; direct {Allowed} direct-allowed
            getent hosts example.com >/dev/null && echo "dns: answered" || echo "dns: none"
            getent hosts sandbox-proxy >/dev/null && echo "proxy-name: resolves" || echo "proxy-name: missing"
            """;
        try
        {
            var boxes = new List<ITaskBox>();
            try
            {
                for (var i = 1; i <= 2; i++)
                {
                    boxes.Add(await site.CreateBoxAsync(Box(script, $"t{i}"), CancellationToken.None));
                }

                Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(), boxes.Select(b => b.Node).Order());
                foreach (var box in boxes)
                {
                    var (exitCode, stdout) = await RunAsync(box);

                    Assert.Equal(0, exitCode);
                    Assert.Contains("allowed: allowed-body", stdout, StringComparison.Ordinal);
                    Assert.Contains("outside: HTTP/1.1 403", stdout, StringComparison.Ordinal);
                    Assert.DoesNotContain("outside-body", stdout, StringComparison.Ordinal);
                    Assert.Contains("direct-outside: unreachable", stdout, StringComparison.Ordinal);
                    Assert.Contains("direct-allowed: unreachable", stdout, StringComparison.Ordinal);
                    Assert.Contains("dns: none", stdout, StringComparison.Ordinal);
                    Assert.Contains("proxy-name: resolves", stdout, StringComparison.Ordinal);
                    Assert.Equal([Outside], await site.RefusedHostsAsync(box, since, CancellationToken.None));
                }
            }
            finally
            {
                foreach (var box in boxes)
                {
                    await box.DisposeAsync();
                }
            }
        }
        finally
        {
            await site.DisposeAsync();
        }

        Assert.Null(site.TeardownError);
        Assert.Empty(_outsideServer.Requests);
        Assert.Equal(2, _allowedServer.Requests.Count);

        // A run's teardown: its site, then whatever still carries its labels.
        await backend.RemoveRunAsync(_scope, "run-1", CancellationToken.None);
        Assert.Empty(await LeftAsync());
    }

    [Fact]
    public async Task The_key_reaches_the_model_endpoint_through_the_proxy_and_no_box_nor_any_spec_or_environment_the_engines_show()
    {
        await using var site = await DenySiteAsync(swarm.Backend);
        await using var box = await site.CreateBoxAsync(Box($"""
            echo "env: $(env | grep -c '{KeyPattern}')"
            grep -rls '{KeyPattern}' / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null | sed 's|^|found: |'
            cat /run/secrets/sandbox-proxy >/dev/null 2>&1 && echo "secret: read" || echo "secret: unreadable"
            ls /run/secrets >/dev/null 2>&1 && echo "secrets-folder: present" || echo "secrets-folder: absent"
            (exec 3<>/dev/tcp/sandbox-proxy/8080 && printf 'GET /responses HTTP/1.0\r\nAuthorization: Bearer placeholder\r\n\r\n' >&3 && cat <&3) | grep -a -- '-body' | sed 's|^|model: |'
            """, "key"), CancellationToken.None);

        var (exitCode, stdout) = await RunAsync(box);

        Assert.Equal(0, exitCode);
        Assert.Contains("env: 0", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("found: ", stdout, StringComparison.Ordinal);
        Assert.Contains("secret: unreadable", stdout, StringComparison.Ordinal);
        Assert.Contains("secrets-folder: absent", stdout, StringComparison.Ordinal);
        Assert.Contains("model: allowed-body", stdout, StringComparison.Ordinal);
        var request = Assert.Single(_allowedServer.Requests);
        Assert.StartsWith("GET /v1/responses ", request, StringComparison.Ordinal);
        Assert.Contains($"Authorization: Bearer {Key}", request, StringComparison.Ordinal);
        Assert.DoesNotContain("placeholder", request, StringComparison.Ordinal);

        // What a holder of the manager's API reads: services, tasks, secrets; and of each node's API: the containers.
        using var manager = swarm.Manager.CreateClient();
        var services = await manager.Swarm.ListServicesAsync(new ServiceListParameters { Filters = Filter() });
        Assert.Equal(2, services.Count);
        var tasks = await manager.Tasks.ListAsync(new TasksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = services.ToDictionary(s => s.ID, _ => true) },
        });
        var secret = Assert.Single(await manager.Secrets.ListAsync(), s => s.Spec?.Labels is { } l && l.TryGetValue(Labels.Scope, out var scope) && scope == _scope.Repository);
        var inspected = await manager.Secrets.InspectAsync(secret.ID);
        Assert.True(inspected.Spec!.Data is not { Length: > 0 });
        var shown = new List<string> { JsonSerializer.Serialize(services), JsonSerializer.Serialize(tasks), JsonSerializer.Serialize(inspected) };
        var containers = 0;
        foreach (var task in tasks.Where(t => t.Status?.ContainerStatus?.ContainerID is { Length: > 0 }))
        {
            using var node = await NodeClientAsync(manager, task.NodeID!);
            var container = await node.Containers.InspectContainerAsync(task.Status!.ContainerStatus!.ContainerID!);
            shown.Add(JsonSerializer.Serialize(container.Config));
            shown.Add(JsonSerializer.Serialize(container.HostConfig));
            containers++;
        }

        Assert.Equal(2, containers);
        Assert.All(shown, text => Assert.DoesNotContain(Key, text, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_runs_sites_each_see_their_own_proxy_and_cannot_reach_the_other()
    {
        await using var first = await DenySiteAsync(swarm.Backend, "run-1");
        await using var second = await DenySiteAsync(swarm.Backend, "run-2");
        using var manager = swarm.Manager.CreateClient();
        var (firstProxy, secondProxy) = (await ProxyAddressAsync(manager, "run-1"), await ProxyAddressAsync(manager, "run-2"));
        await using var box = await first.CreateBoxAsync(Box(Tools + $"""
            echo "resolved: $(getent hosts sandbox-proxy | cut -d' ' -f1)"
            direct {secondProxy}:3128 other-forward; direct {secondProxy}:8080 other-model; direct {firstProxy}:3128 own-forward
            """, "peek"), CancellationToken.None);

        var (exitCode, stdout) = await RunAsync(box);

        Assert.Equal(0, exitCode);
        Assert.NotEqual(firstProxy, secondProxy);
        Assert.Contains($"resolved: {firstProxy}\n", stdout, StringComparison.Ordinal);
        Assert.Contains("other-forward: unreachable", stdout, StringComparison.Ordinal);
        Assert.Contains("other-model: unreachable", stdout, StringComparison.Ordinal);
        Assert.Contains("own-forward: reached", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Removing_the_run_takes_its_proxy_secret_and_networks_from_the_swarm_and_both_nodes()
    {
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        var site = await DenySiteAsync(backend);
        var boxes = new List<ITaskBox>();
        for (var i = 1; i <= 2; i++)
        {
            boxes.Add(await site.CreateBoxAsync(Box("sleep 600", $"t{i}"), CancellationToken.None));
        }

        foreach (var box in boxes)
        {
            await box.StartAsync(CancellationToken.None);
        }

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(), boxes.Select(b => b.Node).Order());
        Assert.NotEmpty(await LeftAsync(now: true));

        await backend.RemoveRunAsync(_scope, "run-1", CancellationToken.None);

        Assert.Empty(await LeftAsync());
        foreach (var box in boxes)
        {
            await box.DisposeAsync();
        }

        await site.DisposeAsync();
        Assert.Null(site.TeardownError);
    }

    [Fact]
    public async Task The_orphan_sweep_removes_the_proxy_secret_and_networks_a_dead_runner_left()
    {
        var dead = new Dictionary<string, string>(Labels.For(_scope, "run-1", new BoxIdentity(null))) { [Labels.Owner] = $"{Environment.MachineName}/{DeadPid()}" };
        using var manager = swarm.Manager.CreateClient();
        var left = new SwarmEgress(swarm.Backend, manager, (SwarmImages)swarm.Backend.Images, Egress, dead);
        await left.StartAsync(CancellationToken.None);
        Assert.Equal(["secret", "service"], (await LeftAsync(now: true)).Select(l => l.Split(' ')[0]).Where(k => k is "secret" or "service").Order());
        Assert.Contains($"network {left.InternalNetwork} on the manager", await LeftAsync(now: true));

        await swarm.Backend.RemoveOrphansAsync(_scope, CancellationToken.None);

        Assert.Empty(await LeftAsync());
    }

    private Dictionary<string, IDictionary<string, bool>> Filter() =>
        new() { ["label"] = new Dictionary<string, bool> { [$"{Labels.Scope}={_scope.Repository}"] = true } };

    /// <summary>
    /// What of this test's scope is on the swarm (services, secrets, networks) or on either node's engine (networks,
    /// containers). A node's own copy of an overlay (listed by its engine, the manager's too) goes once its last task
    /// there has, a moment after the swarm's removal: unless <paramref name="now"/>, the look is repeated until nothing
    /// is left (a bounded wait, not a timing).
    /// </summary>
    private async Task<IReadOnlyList<string>> LeftAsync(bool now = false)
    {
        using var manager = swarm.Manager.CreateClient();
        using var worker = swarm.Worker.CreateClient();
        List<string> found = [];
        await Platform.Poll.UntilAsync(
            async ct =>
            {
                found = [];
                found.AddRange((await manager.Swarm.ListServicesAsync(new ServiceListParameters { Filters = Filter() }, ct)).Select(s => $"service {s.Spec!.Name}"));
                found.AddRange((await manager.Secrets.ListAsync(ct))
                    .Where(s => s.Spec?.Labels is { } l && l.TryGetValue(Labels.Scope, out var scope) && scope == _scope.Repository).Select(s => $"secret {s.Spec!.Name}"));
                foreach (var (name, client) in new[] { ("manager", manager), ("worker", worker) })
                {
                    found.AddRange((await client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = Filter() }, ct)).Select(n => $"network {n.Name} on the {name}"));
                    found.AddRange((await client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Filter() }, ct)).Select(c => $"container ({c.State}: {c.Status}) {c.Names?.FirstOrDefault()} on the {name}"));
                }

                return now || found.Count == 0;
            },
            TimeSpan.FromMilliseconds(250),
            TimeSpan.FromSeconds(30),
            CancellationToken.None);
        return found;
    }

    private async Task<string> ProxyAddressAsync(DockerClient manager, string run)
    {
        var service = Assert.Single(await manager.Swarm.ListServicesAsync(new ServiceListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Labels.Scope}={_scope.Repository}"] = true, [$"{Labels.Run}={run}"] = true, [$"{Labels.Role}={SwarmEgress.Role}"] = true } },
        }));
        var task = Assert.Single(await manager.Tasks.ListAsync(new TasksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [service.ID] = true } },
        }));
        var network = service.Spec!.TaskTemplate!.Networks!.First(n => n.Aliases?.Contains(SwarmEgress.ProxyAlias) == true).Target;
        var attachment = task.NetworksAttachments!.First(a => a.Network?.ID == network || a.Network?.Spec?.Name == network);
        return attachment.Addresses![0].Split('/')[0];
    }

    private async Task<DockerClient> NodeClientAsync(DockerClient manager, string nodeId)
    {
        var name = (await manager.Swarm.InspectNodeAsync(nodeId)).Description?.Hostname;
        return name == swarm.WorkerNodeName ? swarm.Worker.CreateClient() : swarm.Manager.CreateClient();
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
