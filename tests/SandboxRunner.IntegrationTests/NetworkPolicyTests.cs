using Docker.DotNet;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// network_policy held at the container network level. Two servers of the test's own on this machine: one
/// allowlisted, one "outside". Containers reach the machine through the docker0 gateway.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class NetworkPolicyTests(DockerFixture docker) : IAsyncLifetime
{
    private const string Key = "sk-test-proxy-held-0123456789abcdef";
    private readonly HostHttpServer _allowed = new("allowed-body");
    private readonly HostHttpServer _outside = new("outside-body");
    private string _gateway = "";

    public async Task InitializeAsync()
    {
        _gateway = await docker.HostGatewayAsync();
    }

    public async Task DisposeAsync()
    {
        await _allowed.DisposeAsync();
        await _outside.DisposeAsync();
    }

    private string Allowed => $"{_gateway}:{_allowed.Port}";

    private string Outside => $"{_gateway}:{_outside.Port}";

    private Task<RunnerHarness> DenyAsync() => RunnerHarness.CreateAsync(
        docker,
        c => c with
        {
            NetworkPolicy = NetworkPolicy.Deny,
            NetworkAllowlist = [Allowed],
            ModelBaseUrl = $"http://{Allowed}/v1",
            EnvPassthrough = ["CODEX_API_KEY"],
        },
        name => name == "CODEX_API_KEY" ? Key : null);

    /// <summary>A bash step that sends one request through the forward proxy and prints the status line and body.</summary>
    private static string ViaProxy(string target) =>
        $"@run * exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'GET http://{target}/ HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3 | grep -aE '^HTTP/|-body'";

    private static string Direct(string target) =>
        $"@run * exec 3<>/dev/tcp/{target.Replace(':', '/')} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3";

    [Fact]
    public async Task Deny_reaches_the_allowlisted_endpoint_through_the_proxy_and_nothing_else()
    {
        await using var h = await DenyAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("deny", ViaProxy(Allowed), ViaProxy(Outside), Direct(Outside), Direct(Allowed)))).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Contains("allowed-body", result.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.Contains("403", result.CommandsRun[1].OutputTail, StringComparison.Ordinal);
        Assert.DoesNotContain("outside-body", result.Evidence, StringComparison.Ordinal);
        Assert.NotEqual(0, result.CommandsRun[2].ExitCode);
        Assert.NotEqual(0, result.CommandsRun[3].ExitCode);
        Assert.Empty(_outside.Requests);
    }

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
    public async Task Deny_resolves_no_names_but_the_proxy()
    {
        await using var h = await DenyAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("dns", "@run * getent hosts example.com", "@run * getent hosts sandbox-proxy"))).Results);

        Assert.NotEqual(0, result.CommandsRun[0].ExitCode);
        Assert.Equal(0, result.CommandsRun[1].ExitCode);
    }

    [Fact]
    public async Task Deny_keeps_the_key_out_of_the_container_while_the_model_endpoint_receives_it()
    {
        await using var h = await DenyAsync();
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        IList<string>? env = null;
        h.Engine.ContainerStarted += id =>
        {
            if (h.Engine.Specs.TryGetValue(id, out var spec) && spec.Image == DockerFixture.FakeCodexImage)
            {
                env = client.Containers.InspectContainerAsync(id).GetAwaiter().GetResult().Config!.Env;
            }
        };

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "key",
            // The bracket keeps the pattern itself (it is in the prompt file) from matching.
            "@run * env | grep -c 'sk-test-proxy-held-0123456789abcde[f]'",
            "@run * grep -rls 'sk-test-proxy-held-0123456789abcde[f]' / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev",
            "@run 0 exec 3<>/dev/tcp/sandbox-proxy/8080 && printf 'GET /responses HTTP/1.0\\r\\nAuthorization: Bearer placeholder\\r\\n\\r\\n' >&3 && cat <&3"))).Results);

        Assert.Equal("0", result.CommandsRun[0].OutputTail.Trim());
        Assert.Equal("", result.CommandsRun[1].OutputTail.Trim());
        Assert.Contains("allowed-body", result.CommandsRun[2].OutputTail, StringComparison.Ordinal);
        var request = Assert.Single(_allowed.Requests);
        Assert.StartsWith("GET /v1/responses ", request, StringComparison.Ordinal);
        Assert.Contains($"Authorization: Bearer {Key}", request, StringComparison.Ordinal);
        Assert.DoesNotContain("placeholder", request, StringComparison.Ordinal);
        Assert.NotNull(env);
        Assert.DoesNotContain(env, e => e.Contains(Key, StringComparison.Ordinal));
        Assert.DoesNotContain(env, e => e.StartsWith("CODEX_API_KEY=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Deny_reports_the_effective_policy_and_the_hosts_it_refused()
    {
        await using var h = await DenyAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("refused", ViaProxy(Outside), ViaProxy(Allowed)))).Results);

        var network = Assert.IsType<NetworkReport>(result.Network);
        Assert.Equal("deny", network.Policy);
        Assert.Equal([Allowed], network.Allowlist);
        Assert.Equal([Outside], network.RefusedHosts);
    }

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
        var proxies = h.Engine.Specs.Values.Where(s => s.Labels.GetValueOrDefault(Sandbox.Labels.Role) == "egress").ToList();
        Assert.Equal(2, proxies.Count);
        Assert.Equal(2, proxies.Select(p => p.Labels[Sandbox.Labels.Run]).Distinct().Count());
    }

    [Fact]
    public async Task Allow_reaches_any_host()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { NetworkPolicy = NetworkPolicy.Allow });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("allow", Direct(Allowed), Direct(Outside)))).Results);

        Assert.Contains("allowed-body", result.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.Contains("outside-body", result.CommandsRun[1].OutputTail, StringComparison.Ordinal);
        Assert.Equal("allow", result.Network!.Policy);
    }

    [Fact]
    public async Task None_leaves_only_loopback()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { NetworkPolicy = NetworkPolicy.None });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("none", "@run 0 ls /sys/class/net", Direct(Allowed)))).Results);

        Assert.Equal("lo", result.CommandsRun[0].OutputTail.Trim());
        Assert.NotEqual(0, result.CommandsRun[1].ExitCode);
        Assert.Empty(_allowed.Requests);
    }
}
