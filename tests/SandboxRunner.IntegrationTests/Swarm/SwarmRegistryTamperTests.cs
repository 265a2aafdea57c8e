using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// The registry under <c>allow</c> (docs/swarm.md): a box on a node reaches it like any host. The test registry, like a
/// team's, wants a login, which the runner gives the engines and never a box: the box reads nothing there and writes
/// nothing. And whoever holds the login cannot change what a later task runs: each service names the task image by the
/// digest the runner's push returned, so a tag pushed over in the registry is never pulled.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmRegistryTamperTests(SwarmFixture swarm)
{
    [Fact]
    public async Task An_allow_task_can_neither_read_nor_write_the_registry_and_a_task_image_tag_pushed_over_never_reaches_a_later_task()
    {
        var (host, port) = (swarm.RegistryOnBridge.Split(':')[0], swarm.RegistryOnBridge.Split(':')[1]);
        var catalog = $"@run * exec 3<>/dev/tcp/{host}/{port} && printf 'GET /v2/_catalog HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3";
        var startUpload = $"@run * exec 3<>/dev/tcp/{host}/{port} && printf 'POST /v2/sandbox-runner/fake-codex/blobs/uploads/ HTTP/1.0\\r\\nContent-Length: 0\\r\\n\\r\\n' >&3 && head -1 <&3";
        TaskResult hostile;
        await using (var p = await SwarmPipeline.OpenAsync(swarm, "\"network_policy\": \"allow\""))
        {
            hostile = Assert.Single((await p.RunAsync(new RunRequest { RunId = "tamper", Tasks = [SwarmPipeline.Task("upload", catalog, startUpload)] })).Results);
        }

        Assert.True(hostile.Status == TaskStatus.Success, hostile.NotesForManager);
        Assert.Contains("401 Unauthorized", hostile.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.DoesNotContain("sandbox-runner/fake-codex", hostile.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.Contains("401 Unauthorized", hostile.CommandsRun[1].OutputTail, StringComparison.Ordinal);
        Assert.DoesNotContain(SwarmFixture.RegistryLogin.Password!, hostile.CommandsRun[0].OutputTail + hostile.CommandsRun[1].OutputTail, StringComparison.Ordinal);

        // A runner that pushed the task image before the tag is moved by someone with the login. The tag
        // now names another image (the egress proxy's, which has no codex), and the worker no longer holds the task
        // image, so a box there must pull it.
        await using var runner = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        var published = await ((SwarmImages)runner.Images).PublishAsync(DockerFixture.FakeCodexImage, CancellationToken.None);
        var proxyInRegistry = $"{swarm.Registry}/{ImageRecipe.EgressProxy().Tag}";
        HostCommand.Run("docker", ["tag", proxyInRegistry, published], "tagging another image under the task image's registry name");
        try
        {
            HostCommand.Run("docker", [.. swarm.LocalCliOptions, "push", published], "pushing over the task image's tag in the test registry");
        }
        finally
        {
            HostCommand.Run("docker", ["rmi", "--no-prune", published], "removing the local tag of the pushed-over image");
        }

        using (var worker = swarm.Worker.CreateClient())
        {
            var id = (await worker.Images.InspectImageAsync(published)).ID;
            await worker.Images.DeleteImageAsync(id, new Docker.DotNet.Models.ImageDeleteParameters { Force = true });
        }

        // Its later boxes, one on each node (a cap of one per node), then a new runner's task (its own push puts the tag back).
        await using (var site = await runner.OpenRunSiteAsync(new RunSiteSpec(new BoxScope("swarm-tamper-" + Guid.NewGuid().ToString("N")[..10]), "later", NetworkIntent.None), CancellationToken.None))
        {
            var boxes = new List<ITaskBox>();
            try
            {
                for (var i = 1; i <= 2; i++)
                {
                    boxes.Add(await site.CreateBoxAsync(Box($"later-{i}"), CancellationToken.None));
                }

                Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), boxes.Select(b => b.Node!).Order(StringComparer.Ordinal));
                foreach (var box in boxes)
                {
                    var output = new StringBuilder();
                    var exit = await box.RunAsync(TimeSpan.FromMinutes(2), (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, CancellationToken.None);
                    Assert.Equal(0, exit.ExitCode);
                    Assert.Equal("fake-codex-ran\n", output.ToString());
                }
            }
            finally
            {
                foreach (var box in boxes)
                {
                    await box.DisposeAsync();
                }
            }
        }

        await using var next = await SwarmPipeline.OpenAsync(swarm, "\"network_policy\": \"allow\"");
        var fresh = Assert.Single((await next.RunAsync(new RunRequest { RunId = "fresh", Tasks = [SwarmPipeline.Task("c", "@run 0 test -x /usr/local/bin/codex && echo fake-codex-ran")] })).Results);
        Assert.True(fresh.Status == TaskStatus.Success, $"on {fresh.Node}: {fresh.Status}: {fresh.NotesForManager}");
        Assert.Contains("fake-codex-ran", fresh.CommandsRun[0].OutputTail, StringComparison.Ordinal);
    }

    private static BoxSpec Box(string task) => new()
    {
        Image = DockerFixture.FakeCodexImage,
        Entrypoint = [],
        Command = ["bash", "-c", "test -x /usr/local/bin/codex && echo fake-codex-ran"],
        User = "65534:65534",
        WorkingDirectory = "/",
        Environment = new Dictionary<string, string>(),
        Limits = new ResourceLimits(MemoryBytes: 128L * 1024 * 1024, Cpus: 0.25, Pids: 64, TmpBytes: 8L * 1024 * 1024),
        Identity = new BoxIdentity(task),
    };
}
