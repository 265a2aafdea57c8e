using System.Text.Json;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// <c>network_policy: allow</c> through the whole pipeline on the two-node swarm, whose engines verify TLS clients (as
/// the config chooses it, through the server's composition): tasks on both nodes reach hosts on this machine directly
/// and their results say <c>allow</c>; the model key reaches the task's environment as under local <c>allow</c>; a setup
/// under <c>setup_network: allow</c> fetches what it needs directly. The two servers are the test's own on this
/// machine, reached from the nodes through the local bridge's gateway.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmPipelineAllowTests(SwarmFixture swarm) : IAsyncLifetime
{
    // A variable of this test's own: the runner reads the key from the process environment, and no other test reads this name.
    private const string KeyVariable = "SANDBOX_RUNNER_SWARM_PIPELINE_ALLOW_KEY";
    private const string Key = "sk-swarm-pipeline-allow-0123456789abcdef";

    // The bracket keeps the pattern from matching the prompt file that carries it.
    private const string KeyPattern = "^sk-swarm-pipeline-allow-0123456789abcde[f]$";
    private readonly HostHttpServer _allowedServer = new("allowed-body");
    private readonly HostHttpServer _outsideServer = new("outside-body");
    private string _gateway = "";

    private string Allowed => $"{_gateway}:{_allowedServer.Port}";

    private string Outside => $"{_gateway}:{_outsideServer.Port}";

    public async Task InitializeAsync()
    {
        using var local = EngineConnection.FromProcess().CreateClient();
        _gateway = await HostBridge.GatewayAsync(local);
        Environment.SetEnvironmentVariable(KeyVariable, Key);
    }

    public async Task DisposeAsync()
    {
        Environment.SetEnvironmentVariable(KeyVariable, null);
        await _allowedServer.DisposeAsync();
        await _outsideServer.DisposeAsync();
    }

    /// <summary>The local policy tests' direct request, printing the body (or nothing when the connection fails).</summary>
    private static string Direct(string target) =>
        $"@run * timeout 10 bash -c 'exec 3<>/dev/tcp/{target.Replace(':', '/')} && printf \"GET / HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3' | grep -a -- -body";

    [Fact]
    public async Task Allow_tasks_on_both_nodes_reach_any_host_directly_and_their_results_say_allow()
    {
        // A cap of one per node puts the two tasks on different nodes.
        await using var p = await SwarmPipeline.OpenAsync(swarm, "\"network_policy\": \"allow\", \"max_tasks_per_node\": 1, \"default_concurrency\": 2");
        var steps = new[] { Direct(Allowed), Direct(Outside), "@write src/done.txt done\\n", "@sleep 4" };

        var run = await p.RunAsync(new RunRequest { RunId = "allow", Concurrency = 2, Tasks = [SwarmPipeline.Task("a", steps), SwarmPipeline.Task("b", steps)] });

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), run.Results.Select(r => r.Node!).Order(StringComparer.Ordinal));
        foreach (var result in run.Results)
        {
            Assert.True(result.Status == TaskStatus.Success, $"{result.TaskId}: {result.Status}: {result.NotesForManager}");
            Assert.Equal("allowed-body", result.CommandsRun[0].OutputTail.Trim());
            Assert.Equal("outside-body", result.CommandsRun[1].OutputTail.Trim());
            Assert.Equal(["src/done.txt"], result.FilesChanged);
            var network = Assert.IsType<NetworkReport>(result.Network);
            Assert.Equal("allow", network.Policy);
            Assert.Empty(network.RefusedHosts);
        }

        Assert.Equal(2, _allowedServer.Requests.Count);
        Assert.Equal(2, _outsideServer.Requests.Count);
    }

    [Fact]
    public async Task Under_allow_the_model_key_reaches_the_tasks_environment_as_on_one_engine()
    {
        await using var p = await SwarmPipeline.OpenAsync(
            swarm, $"\"network_policy\": \"allow\", \"model_api_key_env\": \"{KeyVariable}\", \"env_passthrough\": [\"{KeyVariable}\"]");

        var result = Assert.Single((await p.RunAsync(new RunRequest
        {
            RunId = "key",
            Tasks = [SwarmPipeline.Task("key", $"@run * printenv {KeyVariable} | grep -c '{KeyPattern}'")],
        })).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
        Assert.Equal("1", result.CommandsRun[0].OutputTail.Trim());
        Assert.Equal("allow", result.Network!.Policy);
        Assert.DoesNotContain(Key, JsonSerializer.Serialize(result), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_setup_under_setup_network_allow_fetches_directly_and_the_tasks_on_both_nodes_start_from_what_it_fetched()
    {
        var fetch = $"mkdir -p deps && timeout 10 bash -c 'exec 3<>/dev/tcp/{Allowed.Replace(':', '/')} && printf \"GET / HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3' | grep -a -- -body > deps/fetched";
        await using var p = await SwarmPipeline.OpenAsync(swarm, $$"""
            "max_tasks_per_node": 1, "default_concurrency": 2,
            "environment": { "base_image": "{{DockerFixture.FakeCodexImage}}", "setup": [{{JsonSerializer.Serialize(fetch)}}], "setup_network": "allow", "cache_keys": ["deps.lock"] }
            """);
        p.Repository.Write(".gitignore", "deps/\n");
        p.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        p.Repository.Git("add", "-A");
        p.Repository.Git("commit", "-qm", "environment");
        var steps = new[] { "@run 0 cat deps/fetched", Direct(Outside), "@sleep 4" };

        var run = await p.RunAsync(new RunRequest { RunId = "setup-allow", Concurrency = 2, Tasks = [SwarmPipeline.Task("a", steps), SwarmPipeline.Task("b", steps)] });

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), run.Results.Select(r => r.Node!).Order(StringComparer.Ordinal));
        foreach (var result in run.Results)
        {
            Assert.True(result.Status == TaskStatus.Success, $"{result.TaskId}: {result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
            Assert.Equal("allowed-body", result.CommandsRun[0].OutputTail.Trim());

            // The tasks themselves run under the config's network_policy (none): setup's network is setup's alone.
            Assert.NotEqual(0, result.CommandsRun[1].ExitCode);
            Assert.Equal("none", result.Network!.Policy);
        }

        Assert.Single(_allowedServer.Requests);
        Assert.Empty(_outsideServer.Requests);
    }
}
