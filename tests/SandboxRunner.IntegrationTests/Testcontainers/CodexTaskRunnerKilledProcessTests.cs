using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Platform;
using SandboxRunner.Testcontainers;

namespace SandboxRunner.IntegrationTests.Testcontainers;

/// <summary>
/// A real test process that uses the module (tests/SandboxRunner.ModuleProcess), killed with SIGKILL while its task
/// runs: nothing of it is disposed, so its containers and network stay in the engine until the next runner's start
/// removes them, and only them.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class CodexTaskRunnerKilledProcessTests(DockerFixture docker)
{
    /// <summary>Long enough for a start on a loaded machine; reaching it fails the test, it never decides a verdict.</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_test_process_killed_mid_task_leaves_its_containers_and_network_to_the_next_start_which_removes_them_and_nothing_else()
    {
        using var repository = new TestRepository();
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        var name = $"sr-tc-killed-{Guid.NewGuid():N}"[..28];
        // Beside the killed process's: a living test process's container (this one's), and a killed server's
        // (runner labels only) that its own restart recovers; the module's sweep must leave both alone.
        var living = await CreateAsync(client, name + "-live", new() { [SessionLabels.Owner] = Labels.CurrentOwner, [Labels.Owner] = Labels.CurrentOwner });
        var deadServer = $"{Environment.MachineName}/{DeadPid()}";
        var server = await CreateAsync(client, name + "-server", new() { [Labels.Owner] = deadServer });
        using var process = StartModuleProcess(repository.Path);
        var killed = LabelSelector.Of(SessionLabels.Owner, $"{Environment.MachineName}/{process.Id}");
        try
        {
            using var hang = new CancellationTokenSource(Hang);
            if (await process.StandardOutput.ReadLineAsync(hang.Token) is null)
            {
                // Its stderr is read only once it has ended: a running process's never ends.
                Assert.Fail($"module-process ended before starting its run:\n{await process.StandardError.ReadToEndAsync(hang.Token)}");
            }

            var task = await Poll.ForAsync(
                async ct => await docker.Engine.ListContainersAsync(killed.And(Labels.Task, "sleeps"), ct) is [var first, ..] ? first : null,
                TimeSpan.FromMilliseconds(100), Hang, hang.Token);
            Assert.True(task is not null, "the killed process's task container never appeared");

            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(hang.Token);

            // Nothing removed them yet: the process had no chance to.
            Assert.Contains(task, await docker.Engine.ListContainersAsync(killed, CancellationToken.None));
            Assert.NotEmpty(await docker.Engine.ListNetworksAsync(killed, CancellationToken.None));

            await using (var next = new CodexTaskRunnerBuilder().WithRepository(repository.Path).WithScriptedModel().Build())
            {
                await next.StartAsync(hang.Token);
            }

            Assert.Empty(await docker.Engine.ListContainersAsync(killed, CancellationToken.None));
            Assert.Empty(await docker.Engine.ListNetworksAsync(killed, CancellationToken.None));
            var left = (await client.Containers.ListContainersAsync(new ContainersListParameters { All = true })).Select(c => c.ID).ToList();
            Assert.Contains(living, left);
            Assert.Contains(server, left);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await docker.Engine.RemoveAsync(living, CancellationToken.None);
            await docker.Engine.RemoveAsync(server, CancellationToken.None);
            foreach (var container in await docker.Engine.ListContainersAsync(killed, CancellationToken.None))
            {
                await docker.Engine.RemoveAsync(container, CancellationToken.None);
            }

            foreach (var network in await docker.Engine.ListNetworksAsync(killed, CancellationToken.None))
            {
                await docker.Engine.RemoveNetworkAsync(network, CancellationToken.None);
            }
        }
    }

    /// <summary><c>dotnet module-process.dll REPOSITORY</c>: a runner under deny with one scripted task that sleeps; prints the run id.</summary>
    private static Process StartModuleProcess(string repository)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "module-process.dll"));
        psi.ArgumentList.Add(repository);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return Process.Start(psi)!;
    }

    private static async Task<string> CreateAsync(DockerClient client, string name, Dictionary<string, string> labels) =>
        (await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = name, Image = DockerFixture.FakeCodexImage, Cmd = ["true"], Labels = labels,
        })).ID;

    /// <summary>A pid that no process of this machine has: one just exited.</summary>
    private static int DeadPid()
    {
        using var process = Process.Start("true")!;
        process.WaitForExit();
        return process.Id;
    }
}
