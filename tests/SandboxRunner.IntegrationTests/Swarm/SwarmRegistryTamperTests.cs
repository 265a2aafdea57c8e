using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// The registry under <c>allow</c> (a documented limit, docs/swarm.md): a box on a node reaches it like any host, and a
/// registry without authentication (the test's; the runner pushes with no credentials) lets it read every image and
/// write. What it cannot do is change what a later task runs: each service names the task image by the digest the
/// runner's push returned, so a tag pushed over in the registry is never pulled.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmRegistryTamperTests(SwarmFixture swarm)
{
    [Fact]
    public async Task An_allow_task_reads_and_writes_the_registry_but_a_task_image_tag_it_pushes_over_never_reaches_a_later_task()
    {
        await using var p = await SwarmPipeline.OpenAsync(swarm, "\"network_policy\": \"allow\", \"max_tasks_per_node\": 1, \"default_concurrency\": 2");
        var (host, port) = (swarm.RegistryOnBridge.Split(':')[0], swarm.RegistryOnBridge.Split(':')[1]);
        var startUpload = $"@run * exec 3<>/dev/tcp/{host}/{port} && printf 'POST /v2/sandbox-runner/fake-codex/blobs/uploads/ HTTP/1.0\\r\\nContent-Length: 0\\r\\n\\r\\n' >&3 && head -1 <&3";

        var catalog = $"@run * exec 3<>/dev/tcp/{host}/{port} && printf 'GET /v2/_catalog HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3 | tail -1";

        var hostile = Assert.Single((await p.RunAsync(new RunRequest { RunId = "tamper", Tasks = [SwarmPipeline.Task("upload", catalog, startUpload)] })).Results);

        Assert.True(hostile.Status == TaskStatus.Success, hostile.NotesForManager);
        Assert.Contains("\"sandbox-runner/fake-codex\"", hostile.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.Contains("202 Accepted", hostile.CommandsRun[1].OutputTail, StringComparison.Ordinal);

        // What such a box can do, done from here: the runner's tag for the task image now names another image (the
        // egress proxy's, which has no codex), and the worker no longer holds the task image, so it must pull.
        var published = await ((SwarmImages)swarm.Backend.Images).PublishAsync(DockerFixture.FakeCodexImage, CancellationToken.None);
        var proxyInRegistry = $"{swarm.Registry}/{ImageRecipe.EgressProxy().Tag}";
        HostCommand.Run("docker", ["tag", proxyInRegistry, published], "tagging another image under the task image's registry name");
        try
        {
            HostCommand.Run("docker", ["push", published], "pushing over the task image's tag in the test registry");
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

        // Later tasks of this runner (its pinned digest) on both nodes, then a new runner's (its own push puts the tag back).
        var steps = new[] { "@run 0 test -x /usr/local/bin/codex && echo fake-codex-ran", "@sleep 4" };
        var later = await p.RunAsync(new RunRequest { RunId = "later", Concurrency = 2, Tasks = [SwarmPipeline.Task("a", steps), SwarmPipeline.Task("b", steps)] });
        await using var next = await SwarmPipeline.OpenAsync(swarm, "\"network_policy\": \"allow\"");
        var fresh = await next.RunAsync(new RunRequest { RunId = "fresh", Tasks = [SwarmPipeline.Task("c", steps)] });

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), later.Results.Select(r => r.Node!).Order(StringComparer.Ordinal));
        foreach (var result in later.Results.Concat(fresh.Results))
        {
            Assert.True(result.Status == TaskStatus.Success, $"{result.TaskId} on {result.Node}: {result.Status}: {result.NotesForManager}");
            Assert.Contains("fake-codex-ran", result.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        }
    }
}
