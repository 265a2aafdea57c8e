using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>
/// <c>setup_network: deny</c> in a run whose tasks have the network (<c>network_policy: allow</c>, so the run has no
/// egress proxy): the setup's box goes behind an allowlist site of its own, opened for it on the backend and gone
/// when setup ends. Real engine, real proxy; the setup records what it saw and the task reads the record.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class SetupNetworkTests(DockerFixture docker)
{
    [Fact]
    public async Task A_deny_setup_in_a_run_without_egress_runs_behind_a_proxy_of_its_own_and_cannot_go_around_it()
    {
        var spec = new EnvironmentSpec
        {
            BaseImage = "debian:bookworm-slim",
            SetupNetwork = SetupNetwork.Deny,
            CacheKeys = ["deps.lock"],
            Setup =
            [
                "mkdir -p deps && echo \"$HTTPS_PROXY\" > deps/proxy.txt",
                "bash -c 'if (exec 3<>/dev/tcp/1.1.1.1/80) 2>/dev/null; then echo reached > deps/direct.txt; fi'",
            ],
        };
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec, NetworkPolicy = NetworkPolicy.Allow });
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "look", "@run 0 grep -qx http://sandbox-proxy:3128 deps/proxy.txt", "@run 1 test -e deps/direct.txt", "@message looked"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal([0, 1], result.CommandsRun.Select(c => c.ExitCode));
    }
}
