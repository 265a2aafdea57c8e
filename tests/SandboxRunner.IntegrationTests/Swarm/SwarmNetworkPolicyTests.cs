using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// <c>network_policy: allow</c> and <c>none</c> on the two-node swarm, with the local network policy tests' two servers on
/// this machine (reached from the nodes through the local bridge's gateway): an open site's boxes on both nodes reach any
/// host (the backend's seam), <c>none</c> tasks reach none (the pipeline). The swarm's engines verify TLS clients, so the
/// pipeline runs <c>allow</c> there (<see cref="SwarmPipelineAllowTests"/>); a runner that reaches the same swarm over
/// plain TCP (a relay in front of the manager, as <c>DOCKER_HOST=tcp://…</c> without <c>DOCKER_TLS_VERIFY</c> would)
/// would reach the node engines the same way, so there it refuses <c>allow</c>, a model key in the task's environment or
/// not, and <c>setup_network: allow</c>, naming the worker's engine, before anything is created.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmNetworkPolicyTests(SwarmFixture swarm) : IAsyncLifetime
{
    private readonly BoxScope _scope = new("swarm-allow-" + Guid.NewGuid().ToString("N")[..10]);
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
        await swarm.Backend.RemoveRunAsync(_scope, "allow", CancellationToken.None);
        await _allowedServer.DisposeAsync();
        await _outsideServer.DisposeAsync();
    }

    /// <summary>The local policy tests' direct request, printing the body (or nothing when the connection fails).</summary>
    private static string Direct(string target) =>
        $"@run * timeout 10 bash -c 'exec 3<>/dev/tcp/{target.Replace(':', '/')} && printf \"GET / HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3'";

    [Fact]
    public async Task An_open_sites_boxes_on_both_nodes_reach_any_host_directly()
    {
        // A cap of one per node puts the two boxes on different nodes.
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "allow", NetworkIntent.Open), CancellationToken.None);
        var script = $"for t in {Allowed} {Outside}; do timeout 10 bash -c \"exec 3<>/dev/tcp/${{t%:*}}/${{t#*:}} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3\" | grep -a -- -body; done";
        var boxes = new List<ITaskBox>();
        try
        {
            for (var i = 1; i <= 2; i++)
            {
                boxes.Add(await site.CreateBoxAsync(new BoxSpec
                {
                    Image = DockerFixture.FakeCodexImage,
                    Entrypoint = [],
                    Command = ["bash", "-c", script],
                    User = "65534:65534",
                    WorkingDirectory = "/",
                    Environment = new Dictionary<string, string>(),
                    Limits = new ResourceLimits(MemoryBytes: 128L * 1024 * 1024, Cpus: 0.25, Pids: 64, TmpBytes: 8L * 1024 * 1024),
                    Identity = new BoxIdentity($"t{i}"),
                }, CancellationToken.None));
            }

            Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(), boxes.Select(b => b.Node).Order());
            foreach (var box in boxes)
            {
                var stdout = new StringBuilder();
                var exit = await box.RunAsync(
                    TimeSpan.FromMinutes(2), (stream, chunk) => { if (stream == LogStream.Stdout) { stdout.Append(Encoding.UTF8.GetString(chunk)); } }, null, CancellationToken.None, CancellationToken.None);

                Assert.Equal(0, exit.ExitCode);
                Assert.Equal("allowed-body\noutside-body\n", stdout.ToString());
            }
        }
        finally
        {
            foreach (var box in boxes)
            {
                await box.DisposeAsync();
            }
        }

        Assert.Equal(2, _allowedServer.Requests.Count);
        Assert.Equal(2, _outsideServer.Requests.Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\"env_passthrough\": [\"CODEX_API_KEY\"], ")]
    public async Task Allow_on_a_swarm_reached_over_plain_tcp_is_refused_before_anything_is_created_naming_the_node_engine(string credential)
    {
        await using var relay = new EngineRelay(swarm.Manager);
        await using var p = await SwarmPipeline.OpenAsync(swarm, credential + "\"network_policy\": \"allow\"", relay.Connection);

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => p.RunAsync(new RunRequest { RunId = "allow", Tasks = [SwarmPipeline.Task("t", "@message never")] }));

        var problem = Assert.Single(refused.Problems);
        Assert.Equal("network_policy", problem.Field);
        Assert.Contains($"the engine of swarm node '{swarm.WorkerNodeName}' answers plain TCP at {swarm.Worker.Endpoint}", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("TLS", problem.Rule, StringComparison.Ordinal);
        Assert.Empty(await swarm.Backend.FindBoxesAsync(new BoxScope(p.Scope), null, CancellationToken.None));
    }

    [Fact]
    public async Task A_setup_under_allow_on_such_a_swarm_is_refused_naming_its_setup_network()
    {
        await using var relay = new EngineRelay(swarm.Manager);
        await using var p = await SwarmPipeline.OpenAsync(
            swarm, $"\"environment\": {{ \"base_image\": \"{DockerFixture.FakeCodexImage}\", \"setup\": [\"true\"], \"setup_network\": \"allow\", \"cache_keys\": [] }}", relay.Connection);

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => p.RunAsync(new RunRequest { RunId = "setup-allow", Tasks = [SwarmPipeline.Task("t", "@message never")] }));

        var problem = Assert.Single(refused.Problems);
        Assert.Equal("environment.setup_network", problem.Field);
        Assert.Contains("plain TCP", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public async Task None_tasks_on_both_nodes_reach_no_host()
    {
        await using var p = await SwarmPipeline.OpenAsync(swarm, "\"max_tasks_per_node\": 1, \"default_concurrency\": 2");
        var probe = new[] { Direct(Allowed), Direct(Outside), "@run * getent hosts example.com || echo no-dns", "@sleep 4" };

        var run = await p.RunAsync(new RunRequest { RunId = "none", Concurrency = 2, Tasks = [SwarmPipeline.Task("n1", probe), SwarmPipeline.Task("n2", probe)] });

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), run.Results.Select(r => r.Node!).Order(StringComparer.Ordinal));
        foreach (var result in run.Results)
        {
            Assert.True(result.Status == TaskStatus.Success, $"{result.TaskId}: {result.Status}: {result.NotesForManager}");
            Assert.NotEqual(0, result.CommandsRun[0].ExitCode);
            Assert.NotEqual(0, result.CommandsRun[1].ExitCode);
            Assert.DoesNotContain("-body", result.CommandsRun[0].OutputTail + result.CommandsRun[1].OutputTail, StringComparison.Ordinal);
            Assert.Contains("no-dns", result.CommandsRun[2].OutputTail, StringComparison.Ordinal);
            Assert.Equal("none", result.Network!.Policy);
        }

        Assert.Empty(_allowedServer.Requests);
        Assert.Empty(_outsideServer.Requests);
    }
}
