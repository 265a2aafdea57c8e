using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>
/// <c>network_policy: deny</c> as it must hold on any engine: two servers of the test's own on this machine,
/// one allowlisted, one "outside", reached through the engine's way to this machine. Run on the host engine
/// by <see cref="NetworkPolicyTests"/> and on a second engine (copy transport) by Remote/RemoteNetworkPolicyTests.
/// </summary>
public abstract class DenyNetworkContract(IEngineUnderTest target) : IAsyncLifetime
{
    protected const string Key = "sk-test-proxy-held-0123456789abcdef";
    private string _gateway = "";

    protected IEngineUnderTest Target { get; } = target;

    protected HostHttpServer AllowedServer { get; } = new("allowed-body");

    protected HostHttpServer OutsideServer { get; } = new("outside-body");

    protected string Allowed => $"{_gateway}:{AllowedServer.Port}";

    protected string Outside => $"{_gateway}:{OutsideServer.Port}";

    public async Task InitializeAsync() => _gateway = await Target.HostGatewayAsync();

    public async Task DisposeAsync()
    {
        await AllowedServer.DisposeAsync();
        await OutsideServer.DisposeAsync();
    }

    protected Task<RunnerHarness> DenyAsync() => Target.HarnessAsync(
        c => c with
        {
            NetworkPolicy = NetworkPolicy.Deny,
            NetworkAllowlist = [Allowed],
            ModelBaseUrl = $"http://{Allowed}/v1",
            EnvPassthrough = ["CODEX_API_KEY"],
        },
        name => name == "CODEX_API_KEY" ? Key : null);

    /// <summary>A bash step that sends one request through the forward proxy and prints the status line and body.</summary>
    protected static string ViaProxy(string target) =>
        $"@run * exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'GET http://{target}/ HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3 | grep -aE '^HTTP/|-body'";

    protected static string Direct(string target) =>
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
        Assert.Empty(OutsideServer.Requests);
    }

    [Fact]
    public async Task Deny_holds_for_the_verify_commands_they_reach_the_allowlisted_endpoint_and_nothing_else()
    {
        await using var h = await DenyAsync();
        string Proxied(string target, string expect) =>
            $"bash -c 'exec 3<>/dev/tcp/sandbox-proxy/3128 && printf \"GET http://{target}/ HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3' | grep -aE '{expect}'";

        var result = Assert.Single((await h.RunAsync(new RunRequest
        {
            Tasks =
            [
                RunnerHarness.Task("verify", "@write src/checked.txt checked\\n", "@message done") with
                {
                    Verify =
                    [
                        Proxied(Allowed, "allowed-body"),
                        Proxied(Outside, "^HTTP/1.. 403"),
                        $"! timeout 5 bash -c 'exec 3<>/dev/tcp/{Outside.Replace(':', '/')}' && echo direct-refused",
                        "! getent hosts example.com && echo no-dns",
                    ],
                },
            ],
        }, CancellationToken.None)).Results);

        Assert.True(result.Verification!.Status == SandboxRunner.Verification.VerificationStatus.Passed,
            $"{result.Verification.Reason}\n{string.Join("\n", result.Verification.Commands.Select(c => $"{c.Command}: {c.OutputTail}"))}");
        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Empty(OutsideServer.Requests);
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
        using var client = Target.Engine.Connection.CreateClient();
        IList<string>? env = null;
        h.Engine.ContainerStarted += id =>
        {
            if (h.Engine.Specs.TryGetValue(id, out var spec) && spec.Image == DockerFixture.FakeCodexImage && spec.Labels.GetValueOrDefault(Boxes.Labels.Role) is null)
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
        var request = Assert.Single(AllowedServer.Requests);
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
}
