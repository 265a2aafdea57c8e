using Microsoft.Extensions.DependencyInjection;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.Configuration;
using SandboxRunner.Host.Composition;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Runs;

namespace SandboxRunner.Tests.Host;

/// <summary>
/// The composition root the MCP server and every verb are made of chooses the backend from the repository's config, not
/// before it: a config that names the swarm gets the swarm backend. Nothing here contacts an engine.
/// </summary>
public sealed class CompositionBackendTests
{
    [Fact]
    public async Task The_server_and_the_verbs_run_a_config_that_names_the_swarm_on_the_swarm_backend()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        File.WriteAllText(Path.Combine(bed.Path, RunnerConfig.FileName), """{ "backend": "swarm", "registry": "localhost:5000", "network_policy": "none" }""");
        using var services = RunnerServices.Open(new HostSettings { Repo = bed.Path });

        var runner = await services.GetRequiredService<Workspace>().GetRunnerAsync(CancellationToken.None);

        Assert.Equal("localhost:5000", Assert.IsType<SwarmBackend>(runner.Backend).Options.Registry);
    }

    [Fact]
    public async Task The_server_and_the_verbs_run_a_config_without_backend_on_the_docker_backend()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        File.WriteAllText(Path.Combine(bed.Path, RunnerConfig.FileName), """{ "network_policy": "none" }""");
        using var services = RunnerServices.Open(new HostSettings { Repo = bed.Path });

        var runner = await services.GetRequiredService<Workspace>().GetRunnerAsync(CancellationToken.None);

        Assert.IsType<DockerBackend>(runner.Backend);
    }
}
