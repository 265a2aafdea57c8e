using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.IntegrationTests.Remote;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Containment;

/// <summary>
/// Breach 1 of issue 21, on the Docker-in-Docker engine set up as the README's GitLab job had it (plain TCP,
/// <c>tcp://docker:2375</c>): a task or setup under <c>allow</c> sits on that engine's bridge, whose gateway
/// answers the API, and read a concurrent <c>deny</c> run's key out of its proxy's environment. Now <c>allow</c> is
/// refused there before anything is created, with the reason and the fix; the <c>deny</c> run beside it keeps its
/// result, and what an API holder can read of it (every container's configuration, the proxy's exported
/// filesystem) holds no key.
/// </summary>
[Collection(RemoteEngineCollection.Name)]
public sealed class RemoteEngineApiTests(RemoteEngineFixture remote)
{
    /// <summary>What the breach did: the gateway's port 2375, then every container's environment.</summary>
    private const string ReadTheApi =
        "@run * gw=$(awk 'NR>1 && $2==\"00000000\" { h=$3; printf \"%d.%d.%d.%d\", \"0x\" substr(h,7,2), \"0x\" substr(h,5,2), \"0x\" substr(h,3,2), \"0x\" substr(h,1,2) }' /proc/net/route); " +
        "exec 3<>/dev/tcp/$gw/2375 && printf 'GET /containers/json HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3";

    [Fact]
    public async Task Allow_on_the_plain_tcp_engine_is_refused_before_anything_is_created_naming_tls_and_deny()
    {
        await using var h = await remote.HarnessAsync(c => c with { NetworkPolicy = NetworkPolicy.Allow });

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => h.RunAsync(RunnerHarness.Task("reader", ReadTheApi, "@write src/a.txt a\\n")));

        var problem = Assert.Single(refused.Problems);
        Assert.Equal("network_policy", problem.Field);
        Assert.Contains("plain TCP", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("DOCKER_TLS_VERIFY=1", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("\"deny\"", problem.Rule, StringComparison.Ordinal);
        Assert.Empty(h.Engine.Specs);
    }

    [Fact]
    public async Task A_setup_with_the_network_on_the_plain_tcp_engine_is_refused_and_one_behind_the_proxy_runs()
    {
        var spec = new EnvironmentSpec { BaseImage = "debian:bookworm-slim", Setup = ["mkdir -p deps && echo v1 > deps/lib.txt"], CacheKeys = ["deps.lock"] };
        await using var h = await remote.HarnessAsync(c => c with { Environment = spec });
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => h.RunAsync(RunnerHarness.Task("t", "@message never")));
        Assert.Equal("environment.setup_network", Assert.Single(refused.Problems).Field);
        Assert.Empty(h.Engine.Specs);

        // The honest sibling: the same setup behind the run's own proxy (setup_network deny) sets up and runs.
        var behind = h.Runner.Config with { Environment = spec with { SetupNetwork = SetupNetwork.Deny } };
        using var runner = h.SecondRunner(behind);
        var result = Assert.Single((await runner.RunAsync(new RunRequest { Tasks = [RunnerHarness.Task("t", "@run 0 grep -q v1 deps/lib.txt", "@write src/t.txt t\\n")] }, null, CancellationToken.None)).Results);
        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
    }

    [Fact]
    public async Task A_deny_runs_key_is_in_no_container_configuration_or_exported_proxy_filesystem_and_the_run_keeps_its_result()
    {
        await using var victim = await HeldDenyRun.StartAsync(remote);
        var (proxy, _, _) = await victim.ProxyAsync();
        using var holder = ApiHolder.For(remote.Engine);

        var inConfiguration = await holder.LeaksInConfigurationAsync(LabelSelector.Of(Labels.Scope, victim.Harness.Scope), [HeldDenyRun.Key]);
        var inFilesystem = await holder.FilesystemHoldsAnyAsync(proxy, [HeldDenyRun.Key]);

        Assert.True(inConfiguration.Count == 0, string.Join("\n", inConfiguration));
        Assert.False(inFilesystem, "the proxy's exported filesystem holds the key");
        await victim.FinishAsync();
        Assert.StartsWith("GET /v1/from-the-victim ", Assert.Single(victim.KeyedModelRequests), StringComparison.Ordinal);
    }
}
