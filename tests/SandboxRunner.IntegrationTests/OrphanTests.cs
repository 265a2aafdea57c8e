using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Git;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests;

/// <summary>A server killed outright cannot clean up; the next one does, by the owner label.</summary>
[Collection(DockerCollection.Name)]
public sealed class OrphanTests(DockerFixture docker)
{
    [Fact]
    public async Task A_new_server_removes_what_a_killed_one_of_its_repository_left_and_leaves_living_and_foreign_ones_alone()
    {
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        using var repository = new TestRepository();
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var scope = Labels.ScopeOf((await HostRepository.OpenAsync(git, repository.Path, CancellationToken.None)).CommonDir);
        var run = $"orphan-{Guid.NewGuid():N}"[..20];
        var dead = $"{Environment.MachineName}/{DeadPid()}";
        var alive = $"{Environment.MachineName}/{Environment.ProcessId}";
        var orphan = await CreateAsync(client, scope, run, dead);
        var living = await CreateAsync(client, scope, run, alive);

        // Same run id, another repository, also orphaned: that repository's next server is its owner.
        var foreign = await CreateAsync(client, "0123456789ab", run, dead);
        await client.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = run, Labels = new Dictionary<string, string> { [Labels.Scope] = scope, [Labels.Run] = run, [Labels.Owner] = dead },
        });
        try
        {
            using var workspace = new Workspace(repository.Path, docker.Engine.Backend, git, NullLoggerFactory.Instance);

            await workspace.RecoverAtStartAsync(CancellationToken.None);

            var left = await docker.Engine.ListContainersAsync(Labels.Run, run, CancellationToken.None);
            Assert.Equal(new[] { living, foreign }.Order(), left.Order());
            Assert.Empty(await docker.Engine.ListNetworksAsync(Labels.Run, run, CancellationToken.None));
        }
        finally
        {
            foreach (var id in (string[])[living, orphan, foreign])
            {
                await docker.Engine.RemoveAsync(id, CancellationToken.None);
            }

            await docker.Engine.RemoveNetworkAsync(run, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Opening_the_runner_for_a_tool_call_or_an_image_build_removes_nothing()
    {
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        using var repository = new TestRepository();
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var scope = Labels.ScopeOf((await HostRepository.OpenAsync(git, repository.Path, CancellationToken.None)).CommonDir);
        var run = $"orphan-{Guid.NewGuid():N}"[..20];
        var orphan = await CreateAsync(client, scope, run, $"{Environment.MachineName}/{DeadPid()}");
        try
        {
            using var workspace = new Workspace(repository.Path, docker.Engine.Backend, git, NullLoggerFactory.Instance);

            await workspace.GetRunnerAsync(CancellationToken.None);

            Assert.Equal([orphan], await docker.Engine.ListContainersAsync(Labels.Run, run, CancellationToken.None));
        }
        finally
        {
            await docker.Engine.RemoveAsync(orphan, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_new_server_removes_the_probe_a_killed_process_left_which_carries_no_repository_or_run()
    {
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        using var repository = new TestRepository();
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var mark = $"probe-{Guid.NewGuid():N}"[..20];
        var labels = new Dictionary<string, string> { [Labels.Role] = Labels.HostFilesProbeRole, [Labels.Owner] = $"{Environment.MachineName}/{DeadPid()}", ["test.mark"] = mark };
        var probe = (await client.Containers.CreateContainerAsync(new CreateContainerParameters { Image = DockerFixture.FakeCodexImage, Cmd = ["true"], Labels = labels })).ID;
        try
        {
            using var workspace = new Workspace(repository.Path, docker.Engine.Backend, git, NullLoggerFactory.Instance);

            await workspace.RecoverAtStartAsync(CancellationToken.None);

            Assert.Empty(await docker.Engine.ListContainersAsync("test.mark", mark, CancellationToken.None));
        }
        finally
        {
            await docker.Engine.RemoveAsync(probe, CancellationToken.None);
        }
    }

    private static async Task<string> CreateAsync(DockerClient client, string scope, string run, string owner) =>
        (await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerFixture.FakeCodexImage,
            Cmd = ["sleep", "300"],
            Labels = new Dictionary<string, string> { [Labels.Scope] = scope, [Labels.Run] = run, [Labels.Owner] = owner },
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
