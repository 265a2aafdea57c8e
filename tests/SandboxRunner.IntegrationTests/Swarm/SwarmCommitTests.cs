using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// A box committed on the swarm, at the backend's seam: made on the worker's engine, it becomes the manager's image
/// under the runner's tag with the same id, and boxes on either node start from it, pinned to its digest, so a tag
/// moved in the registry afterwards (anyone who can push there: a task under <c>allow</c> that reaches it) is never
/// what a node runs. Removing it removes its copies on the nodes.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmCommitTests(SwarmFixture swarm) : IAsyncLifetime
{
    private readonly BoxScope _scope = new("swarm-commit-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly string _tag = $"sandbox-runner-test/commit:{Guid.NewGuid():N}";
    private readonly List<string> _localTags = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await swarm.Backend.RemoveRunAsync(_scope, "commit", CancellationToken.None);
        await swarm.Backend.Images.DeleteAsync(_tag, CancellationToken.None);
        using var local = EngineConnection.FromProcess().CreateClient();
        foreach (var tag in _localTags)
        {
            await local.Images.DeleteImageAsync(tag, new ImageDeleteParameters { NoPrune = true });
        }
    }

    private static BoxSpec Box(string image, string script, string task) => new()
    {
        Image = image,
        Entrypoint = [],
        Command = ["bash", "-c", script],
        User = "65534:65534",
        WorkingDirectory = "/",
        Environment = new Dictionary<string, string>(),
        Limits = new ResourceLimits(MemoryBytes: 128L * 1024 * 1024, Cpus: 0.25, Pids: 64, TmpBytes: 8L * 1024 * 1024),
        Identity = new BoxIdentity(task),
        ReadOnlyRoot = false,
    };

    private static async Task<string> RunAsync(ITaskBox box)
    {
        var stdout = new StringBuilder();
        var exit = await box.RunAsync(
            TimeSpan.FromMinutes(2), (stream, chunk) => { if (stream == LogStream.Stdout) { stdout.Append(Encoding.UTF8.GetString(chunk)); } }, null, CancellationToken.None, CancellationToken.None);
        Assert.Equal(0, exit.ExitCode);
        return stdout.ToString();
    }

    /// <summary>Two boxes of <paramref name="image"/> (a cap of one per node puts one on each node), each printing <c>/var/tmp/made</c>.</summary>
    private async Task<IReadOnlyList<(string? Node, string Stdout)>> ReadOnBothNodesAsync(IRunSite site, string image, string task)
    {
        var boxes = new List<ITaskBox>();
        try
        {
            for (var i = 1; i <= 2; i++)
            {
                boxes.Add(await site.CreateBoxAsync(Box(image, "cat /var/tmp/made", $"{task}{i}"), CancellationToken.None));
            }

            var read = new List<(string?, string)>();
            foreach (var box in boxes)
            {
                read.Add((box.Node, await RunAsync(box)));
            }

            return read;
        }
        finally
        {
            foreach (var box in boxes)
            {
                await box.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_box_committed_on_the_worker_becomes_the_managers_image_and_boxes_on_both_nodes_run_it_even_after_its_registry_tag_is_moved()
    {
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "commit", NetworkIntent.None), CancellationToken.None);
        var stamp = $"made {Guid.NewGuid():N}";
        string id;
        var makers = new List<ITaskBox>();
        try
        {
            for (var i = 1; i <= 2; i++)
            {
                makers.Add(await site.CreateBoxAsync(Box(DockerFixture.FakeCodexImage, $"echo '{stamp}' > /var/tmp/made", $"make{i}"), CancellationToken.None));
            }

            var onWorker = Assert.Single(makers, b => b.Node == swarm.WorkerNodeName);
            await RunAsync(onWorker);
            id = await onWorker.CommitAsync(new ImageCommit(_tag, new Dictionary<string, string> { [Labels.Scope] = _scope.Repository! }, ["ENTRYPOINT []", "CMD []"]), CancellationToken.None);
        }
        finally
        {
            foreach (var box in makers)
            {
                await box.DisposeAsync();
            }
        }

        var facts = await backend.Images.InspectAsync(_tag, CancellationToken.None);
        Assert.Equal(id, facts?.Id);
        Assert.Equal(_scope.Repository, facts!.Labels[Labels.Scope]);
        using var worker = swarm.Worker.CreateClient();
        var published = $"{swarm.Registry}/sandbox-runner-test/commit:{id.Replace("sha256:", "", StringComparison.Ordinal)[..16]}";
        Assert.Equal([published], (await worker.Images.InspectImageAsync(id)).RepoTags);

        var first = await ReadOnBothNodesAsync(site, _tag, "read");
        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(), first.Select(r => r.Node).Order());
        Assert.All(first, r => Assert.Equal(stamp + "\n", r.Stdout));

        // Someone who can push to the registry moves the tag to another image, and the worker forgets its copy, so it must pull.
        await MoveRegistryTagAsync(published);
        await worker.Images.DeleteImageAsync(published, new ImageDeleteParameters { NoPrune = true });
        var second = await ReadOnBothNodesAsync(site, _tag, "again");
        Assert.All(second, r => Assert.Equal(stamp + "\n", r.Stdout));

        await backend.Images.DeleteAsync(_tag, CancellationToken.None);
        Assert.Null(await backend.Images.InspectAsync(_tag, CancellationToken.None));
        // Gone from both engines, the worker's copy pulled by digest included.
        await Assert.ThrowsAsync<DockerImageNotFoundException>(() => worker.Images.InspectImageAsync(id));
        using var manager = swarm.Manager.CreateClient();
        await Assert.ThrowsAsync<DockerImageNotFoundException>(() => manager.Images.InspectImageAsync(id));
    }

    /// <summary>Pushes the egress proxy image (any other image) from this machine's engine under <paramref name="published"/>.</summary>
    private async Task MoveRegistryTagAsync(string published)
    {
        using var local = EngineConnection.FromProcess().CreateClient();
        var colon = published.LastIndexOf(':');
        await local.Images.TagImageAsync(ImageRecipe.EgressProxy().Tag, new ImageTagParameters { RepositoryName = published[..colon], Tag = published[(colon + 1)..] });
        _localTags.Add(published);
        string? error = null;
        await local.Images.PushImageAsync(published[..colon], new ImagePushParameters { Tag = published[(colon + 1)..] }, SwarmFixture.RegistryLogin, new Reported(m => error ??= m.Error?.Message));
        Assert.Null(error);
    }

    private sealed class Reported(Action<JSONMessage> report) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => report(value);
    }
}
