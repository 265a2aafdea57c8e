using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Git;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;

namespace SandboxRunner.IntegrationTests;

/// <summary>A server killed outright cannot clean up; the next one does, by the owner label.</summary>
[Collection(DockerCollection.Name)]
public sealed class OrphanTests(DockerFixture docker)
{
    [Fact]
    public async Task A_new_server_removes_what_a_killed_one_left_and_leaves_the_living_ones_alone()
    {
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        var run = $"orphan-{Guid.NewGuid():N}"[..20];
        var dead = $"{Environment.MachineName}/{DeadPid()}";
        var alive = $"{Environment.MachineName}/{Environment.ProcessId}";
        var orphan = await CreateAsync(client, run, dead);
        var living = await CreateAsync(client, run, alive);
        await client.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = run, Labels = new Dictionary<string, string> { [Labels.Run] = run, [Labels.Owner] = dead } });
        using var repository = new TestRepository();
        try
        {
            using var workspace = new Workspace(repository.Path, docker.Engine, new GitCli(NullLogger<GitCli>.Instance), NullLoggerFactory.Instance);

            await workspace.GetRunnerAsync(CancellationToken.None);

            var left = await docker.Engine.ListContainersAsync(Labels.Run, run, CancellationToken.None);
            Assert.Equal([living], left);
            Assert.DoesNotContain(orphan, left);
            Assert.Empty(await docker.Engine.ListNetworksAsync(Labels.Run, run, CancellationToken.None));
        }
        finally
        {
            await docker.Engine.RemoveAsync(living, CancellationToken.None);
            await docker.Engine.RemoveAsync(orphan, CancellationToken.None);
            await docker.Engine.RemoveNetworkAsync(run, CancellationToken.None);
        }
    }

    private static async Task<string> CreateAsync(DockerClient client, string run, string owner) =>
        (await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerFixture.FakeCodexImage,
            Cmd = ["sleep", "300"],
            Labels = new Dictionary<string, string> { [Labels.Run] = run, [Labels.Owner] = owner },
        })).ID;

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
