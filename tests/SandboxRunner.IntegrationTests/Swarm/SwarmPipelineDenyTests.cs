using SandboxRunner.Boxes.Docker;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// <c>network_policy: deny</c> through the whole pipeline on the two-node swarm, as the config chooses it: the task
/// reaches the allowlisted host only through the run's proxy, a host outside the allowlist is refused and named in the
/// result as on one engine, the model key stays with the proxy, and nothing is left on either node. The two servers are
/// the test's own on this machine, reached from the nodes through the local bridge's gateway.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmPipelineDenyTests(SwarmFixture swarm) : IAsyncLifetime
{
    // A variable of this test's own: the runner reads the key from the process environment, and no other test reads this name.
    private const string KeyVariable = "SANDBOX_RUNNER_SWARM_PIPELINE_DENY_KEY";
    private const string Key = "sk-swarm-pipeline-held-0123456789abcdef";

    // The bracket keeps the pattern from matching the prompt file that carries it.
    private const string KeyPattern = "sk-swarm-pipeline-held-0123456789abcde[f]";
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
        // The file names the allowlisted server as the model endpoint: the host agrees, as a user of another endpoint would.
        Environment.SetEnvironmentVariable(Auth.ModelEndpointRule.Variable, $"http://{Allowed}/v1");
    }

    public async Task DisposeAsync()
    {
        Environment.SetEnvironmentVariable(KeyVariable, null);
        Environment.SetEnvironmentVariable(Auth.ModelEndpointRule.Variable, null);
        await _allowedServer.DisposeAsync();
        await _outsideServer.DisposeAsync();
    }

    private string DenyFields(string extra = "") => $$"""
        "network_policy": "deny", "network_allowlist": ["{{Allowed}}"], "model_base_url": "http://{{Allowed}}/v1",
        "model_api_key_env": "{{KeyVariable}}", "env_passthrough": ["{{KeyVariable}}"]{{extra}}
        """;

    private static string ViaProxy(string target) =>
        $"@run * exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'GET http://{target}/ HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3 | grep -aE '^HTTP/|-body'";

    private static string Direct(string target) =>
        $"@run * timeout 5 bash -c 'exec 3<>/dev/tcp/{target.Replace(':', '/')}' && echo direct-reached";

    [Fact]
    public async Task Tasks_on_both_nodes_reach_the_allowlisted_host_through_the_proxy_and_the_result_names_the_outside_host_it_refused()
    {
        // A cap of one per node puts the two tasks on different nodes.
        await using var p = await SwarmPipeline.OpenAsync(swarm, DenyFields(", \"max_tasks_per_node\": 1, \"default_concurrency\": 2"));
        var steps = new[] { ViaProxy(Allowed), ViaProxy(Outside), Direct(Outside), Direct(Allowed), "@run * getent hosts example.com", "@write src/done.txt done\\n" };

        var run = await p.RunAsync(new RunRequest { RunId = "deny", Concurrency = 2, Tasks = [SwarmPipeline.Task("a", steps), SwarmPipeline.Task("b", steps)] });

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), run.Results.Select(r => r.Node!).Order(StringComparer.Ordinal));
        foreach (var result in run.Results)
        {
            Assert.True(result.Status == TaskStatus.Success, $"{result.TaskId}: {result.Status}: {result.NotesForManager}");
            Assert.Contains("allowed-body", result.CommandsRun[0].OutputTail, StringComparison.Ordinal);
            Assert.Contains("403", result.CommandsRun[1].OutputTail, StringComparison.Ordinal);
            Assert.DoesNotContain("outside-body", result.Evidence, StringComparison.Ordinal);
            Assert.NotEqual(0, result.CommandsRun[2].ExitCode);
            Assert.NotEqual(0, result.CommandsRun[3].ExitCode);
            Assert.NotEqual(0, result.CommandsRun[4].ExitCode);
            Assert.Equal(["src/done.txt"], result.FilesChanged);
            var network = Assert.IsType<NetworkReport>(result.Network);
            Assert.Equal("deny", network.Policy);
            Assert.Equal([Allowed], network.Allowlist);
            Assert.Equal([Outside], network.RefusedHosts);
        }

        Assert.Empty(_outsideServer.Requests);
        Assert.Equal(2, _allowedServer.Requests.Count);
    }

    [Fact]
    public async Task The_key_reaches_the_model_endpoint_through_the_proxy_and_never_the_tasks_environment_or_files()
    {
        await using var p = await SwarmPipeline.OpenAsync(swarm, DenyFields());

        var result = Assert.Single((await p.RunAsync(new RunRequest
        {
            RunId = "key",
            Tasks =
            [
                SwarmPipeline.Task(
                    "key",
                    $"@run * env | grep -c '{KeyPattern}'",
                    $"@run * env | grep -c '^{KeyVariable}='",
                    $"@run * grep -rls '{KeyPattern}' / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev",
                    "@run * ls /run/secrets && echo secrets-folder-present",
                    "@run 0 exec 3<>/dev/tcp/sandbox-proxy/8080 && printf 'GET /responses HTTP/1.0\\r\\nAuthorization: Bearer placeholder\\r\\n\\r\\n' >&3 && cat <&3"),
            ],
        })).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
        Assert.Equal("0", result.CommandsRun[0].OutputTail.Trim());
        Assert.Equal("0", result.CommandsRun[1].OutputTail.Trim());
        Assert.Equal("", result.CommandsRun[2].OutputTail.Trim());
        Assert.DoesNotContain("secrets-folder-present", result.CommandsRun[3].OutputTail, StringComparison.Ordinal);
        Assert.Contains("allowed-body", result.CommandsRun[4].OutputTail, StringComparison.Ordinal);
        var request = Assert.Single(_allowedServer.Requests);
        Assert.StartsWith("GET /v1/responses ", request, StringComparison.Ordinal);
        Assert.Contains($"Authorization: Bearer {Key}", request, StringComparison.Ordinal);
        Assert.DoesNotContain("placeholder", request, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, System.Text.Json.JsonSerializer.Serialize(result), StringComparison.Ordinal);
    }
}
