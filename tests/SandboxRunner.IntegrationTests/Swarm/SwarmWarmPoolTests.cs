using System.Text;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Platform;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// The swarm backend's warm boxes (<see cref="SwarmPool"/>): a task of a shape seen before takes a box placed and
/// waiting at its gate before the task was asked for; a box serves one task and goes with it; nothing of the task is in
/// any spec; idle boxes take no task place, sit on no network under <c>none</c>, and go with the backend or, when their
/// runner is gone, with any runner's orphan sweep.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmWarmPoolTests(SwarmFixture swarm) : IAsyncLifetime
{
    private readonly BoxScope _scope = new("swarm-warm-" + Guid.NewGuid().ToString("N")[..10]);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await swarm.Backend.RemoveRunAsync(_scope, "run-1", CancellationToken.None);

    private SwarmBackend Backend(int perNode = 2) => swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: perNode, WarmBoxes: SwarmOptions.DefaultWarmBoxes));

    private static BoxSpec Box(string script, string task, IReadOnlyDictionary<string, string>? environment = null) => new()
    {
        Image = DockerFixture.FakeCodexImage,
        Entrypoint = [],
        Command = ["bash", "-c", script],
        User = "65534:65534",
        WorkingDirectory = "/",
        Environment = environment ?? new Dictionary<string, string>(),
        Limits = new ResourceLimits(MemoryBytes: 128L * 1024 * 1024, Cpus: 0.25, Pids: 64, TmpBytes: 8L * 1024 * 1024),
        Identity = new BoxIdentity(task),
    };

    private static async Task<string> RunAsync(ITaskBox box)
    {
        var output = new StringBuilder();
        var exit = await box.RunAsync(TimeSpan.FromMinutes(2), (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, CancellationToken.None);
        Assert.True(exit.ExitCode == 0, output.ToString());
        return output.ToString();
    }

    /// <summary>A first (cold) box of the shape, run and gone, then a wait (bounded) until the pool holds one warm box per node.</summary>
    private async Task<IRunSite> WarmedSiteAsync(SwarmBackend backend, NetworkIntent network = NetworkIntent.None)
    {
        var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-1", network), CancellationToken.None);
        await using (var first = await site.CreateBoxAsync(Box("true", "cold"), CancellationToken.None))
        {
            Assert.False(((SwarmTaskBox)first).Warm, "the first box of a shape is cold");
            await RunAsync(first);
        }

        Assert.True(
            await Platform.Poll.UntilAsync(_ => Task.FromResult(backend.Pool.Policy.Idle.Count >= 2), TimeSpan.FromMilliseconds(200), TimeSpan.FromMinutes(2), CancellationToken.None),
            $"the pool did not warm a box on each node ({backend.Pool.Policy.Idle.Count} warm)");
        return site;
    }

    private async Task<ContainerInspectResponse?> ContainerAsync(SwarmBackend backend, string nodeId, string containerId)
    {
        var engine = (await backend.Nodes.EngineAsync(nodeId, CancellationToken.None))!;
        try
        {
            return await engine.Client.Containers.InspectContainerAsync(containerId);
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
    }

    [Fact]
    public async Task A_second_task_of_a_shape_takes_a_warm_box_placed_before_it_was_asked_for_and_relabelled_as_its_own()
    {
        await using var backend = Backend();
        await using var site = await WarmedSiteAsync(backend);
        using var manager = swarm.Manager.CreateClient();
        var asked = DateTime.UtcNow;

        await using var box = await site.CreateBoxAsync(Box("echo taken", "second"), CancellationToken.None);

        var taken = (SwarmTaskBox)box;
        Assert.True(taken.Warm);
        var service = await manager.Swarm.InspectServiceAsync(taken.Id);
        Assert.True(service.CreatedAt < asked, $"the service was created at {service.CreatedAt:O}, after the task asked at {asked:O}");
        Assert.Equal(("run-1", "second"), (service.Spec!.Labels![Labels.Run], service.Spec.Labels[Labels.Task]));
        Assert.Contains(await backend.FindBoxesAsync(_scope, "run-1", CancellationToken.None), b => b.Id == taken.Id);
        Assert.Equal("taken\n", await RunAsync(box));
        // The relabel left its task alone: the same container ran the command.
        Assert.Equal(taken.ContainerId, (await manager.Tasks.ListAsync(new TasksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [taken.Id] = true } } })).Single().Status!.ContainerStatus!.ContainerID);
    }

    [Fact]
    public async Task A_warm_box_serves_one_task_goes_with_it_and_the_next_task_sees_nothing_of_it()
    {
        await using var backend = Backend();
        await using var site = await WarmedSiteAsync(backend);
        using var manager = swarm.Manager.CreateClient();
        string firstService, firstContainer, firstNode;
        await using (var first = await site.CreateBoxAsync(Box("echo left-behind > /tmp/mark && echo $$ > /tmp/pid", "a"), CancellationToken.None))
        {
            var taken = (SwarmTaskBox)first;
            Assert.True(taken.Warm);
            (firstService, firstContainer, firstNode) = (taken.Id, taken.ContainerId, taken.NodeId);
            await RunAsync(first);
        }

        await Assert.ThrowsAsync<DockerApiException>(() => manager.Swarm.InspectServiceAsync(firstService));
        Assert.Null(await ContainerAsync(backend, firstNode, firstContainer));
        await using var second = await site.CreateBoxAsync(Box("ls /tmp; cat /tmp/mark 2>&1 || true", "b"), CancellationToken.None);

        Assert.NotEqual(firstService, second.Id);
        Assert.DoesNotContain("left-behind", await RunAsync(second), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_warm_box_under_none_is_on_no_network_while_it_waits_and_its_command_sees_loopback_only()
    {
        await using var backend = Backend();
        await using var site = await WarmedSiteAsync(backend);

        foreach (var idle in backend.Pool.Policy.Idle)
        {
            var container = await ContainerAsync(backend, idle.NodeId, idle.ContainerId);
            Assert.Empty(container!.NetworkSettings!.Networks ?? new Dictionary<string, EndpointSettings>());
        }

        await using var box = await site.CreateBoxAsync(Box("ls /sys/class/net; tail -n +2 /proc/net/route | wc -l", "hostile"), CancellationToken.None);
        Assert.True(((SwarmTaskBox)box).Warm);
        Assert.Equal("lo\n0\n", await RunAsync(box));
    }

    [Fact]
    public async Task A_tasks_environment_is_in_no_service_container_spec_or_file_only_in_its_own_boxs_processes()
    {
        const string secret = "sk-warm-secret-6f1c";
        await using var backend = Backend();
        await using var site = await WarmedSiteAsync(backend, NetworkIntent.Open);
        using var manager = swarm.Manager.CreateClient();

        // No gate folder (where a task file once was) and no key in what the box can write; `cat` ends at once: the command's input
        // is closed, though the gate's is not.
        await using var box = await site.CreateBoxAsync(
            Box("echo \"$OPENAI_API_KEY\"; grep -rlF -D skip \"$OPENAI_API_KEY\" /tmp /.sandbox-runner-gate 2>/dev/null; test -e /.sandbox-runner-gate && echo gate-volume; cat; echo end", "keyed",
                new Dictionary<string, string> { ["OPENAI_API_KEY"] = secret }),
            CancellationToken.None);
        var taken = (SwarmTaskBox)box;
        Assert.True(taken.Warm);
        var output = RunAsync(box);

        Assert.Equal($"{secret}\nend\n", await output);
        Assert.DoesNotContain(secret, JsonSerializer.Serialize(await manager.Swarm.InspectServiceAsync(taken.Id)), StringComparison.Ordinal);
        Assert.DoesNotContain(secret, JsonSerializer.Serialize(await ContainerAsync(backend, taken.NodeId, taken.ContainerId)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_per_node_cap_counts_a_taken_warm_box_and_never_an_idle_one()
    {
        await using var backend = Backend(perNode: 1);
        await using var site = await WarmedSiteAsync(backend);
        Assert.All(await backend.Nodes.ListAsync(CancellationToken.None), n => Assert.Equal(0, n.Boxes));

        await using var first = await site.CreateBoxAsync(Box("true", "first"), CancellationToken.None);
        var nodes = await backend.Nodes.ListAsync(CancellationToken.None);
        Assert.Equal(1, nodes.Single(n => n.Id == ((SwarmTaskBox)first).NodeId).Boxes);
        Assert.Equal(0, nodes.Single(n => n.Id != ((SwarmTaskBox)first).NodeId).Boxes);

        // The first node is full: the second task takes the other node's warm box.
        await using var second = await site.CreateBoxAsync(Box("true", "second"), CancellationToken.None);
        Assert.True(((SwarmTaskBox)second).Warm);
        Assert.NotEqual(first.Node, second.Node);
    }

    [Fact]
    public async Task A_task_asked_while_a_box_of_its_shape_is_being_made_gets_that_box_instead_of_a_second_one()
    {
        // A pool of one: the first (cold) box makes the shape want a box, and the second task asks at once, before it is made.
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 2, WarmBoxes: 1));
        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-1", NetworkIntent.None), CancellationToken.None);
        await using var first = await site.CreateBoxAsync(Box("true", "first"), CancellationToken.None);
        Assert.False(((SwarmTaskBox)first).Warm);
        // The refill plans its box after a look at the nodes; asked before that, the second task rightly goes cold (seen
        // under a loaded engine), so it asks once the box is planned and before it is made (a swarm create takes ~1 s).
        Assert.True(
            await Poll.UntilAsync(() => backend.Pool.Policy.Count == 1, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(10), CancellationToken.None),
            "the first cold box's refill planned no box");
        Assert.Empty(backend.Pool.Policy.Idle);

        await using var second = await site.CreateBoxAsync(Box("echo adopted", "second"), CancellationToken.None);

        Assert.True(((SwarmTaskBox)second).Warm, "the second task made a box of its own beside the one being made for its shape");
        Assert.Equal(0, backend.Pool.Policy.Count);
        Assert.Equal(new[] { first.Id, second.Id }.Order(StringComparer.Ordinal), (await backend.FindBoxesAsync(_scope, "run-1", CancellationToken.None)).Select(b => b.Id).Order(StringComparer.Ordinal));
        Assert.Equal("adopted\n", await RunAsync(second));
    }

    [Fact]
    public async Task Disposing_the_backend_removes_its_warm_boxes_from_every_node()
    {
        var backend = Backend();
        var idle = new List<WarmBox>();
        await using (var site = await WarmedSiteAsync(backend))
        {
            idle.AddRange(backend.Pool.Policy.Idle);
        }

        using var manager = swarm.Manager.CreateClient();
        using var worker = swarm.Worker.CreateClient();
        await backend.DisposeAsync();

        var warm = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Labels.Role}={SwarmPool.Role}"] = true, [$"{Labels.Owner}={Labels.CurrentOwner}"] = true } };
        Assert.Empty(await manager.Swarm.ListServicesAsync(new ServiceListParameters { Filters = warm }));
        foreach (var client in new[] { manager, worker })
        {
            Assert.Empty(await client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = warm }));
        }

        Assert.NotEmpty(idle);
    }

    /// <summary>
    /// Two backends in one process (two <c>RunnerSession</c>s, or two configs with another <c>max_tasks_per_node</c>)
    /// share the owner label: the one going must remove its own warm boxes only, never the containers of warm boxes the
    /// other handed to its tasks (a taken box's container keeps the pool's labels).
    /// </summary>
    [Fact]
    public async Task Disposing_one_backend_leaves_the_warm_boxes_another_backend_of_the_process_handed_to_its_tasks_running()
    {
        var going = Backend();
        await using (await WarmedSiteAsync(going))
        {
        }

        await using var staying = Backend();
        await using var site = await WarmedSiteAsync(staying);
        await using var box = await site.CreateBoxAsync(Box("sleep 8; echo survived", "other-backends-task"), CancellationToken.None);
        Assert.True(((SwarmTaskBox)box).Warm);
        var output = new StringBuilder();
        var run = box.RunAsync(TimeSpan.FromMinutes(2), (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2));

        await going.DisposeAsync();

        var exit = await run;
        Assert.True(exit.ExitCode == 0 && output.ToString() == "survived\n", $"the other backend's task ended with {exit.ExitCode}: {output}");
    }

    [Fact]
    public async Task The_orphan_sweep_removes_a_dead_runners_warm_boxes_and_their_containers()
    {
        using var manager = swarm.Manager.CreateClient();
        var dead = new Dictionary<string, string> { [Labels.Role] = SwarmPool.Role, [Labels.Owner] = $"{Environment.MachineName}/{DeadPid()}" };
        var image = await ((SwarmImages)swarm.Backend.Images).PinnedAsync(DockerFixture.FakeCodexImage, CancellationToken.None);
        var spec = ServiceSpecs.For(Box("true", "x"), "sandbox-runner-warm-dead" + Guid.NewGuid().ToString("N")[..8], image, new([], []), dead, [], [], warm: true);
        var id = (await manager.Swarm.CreateServiceAsync(new ServiceCreateParameters { Service = spec })).ID!;
        var task = await swarm.Backend.Services.WaitForContainerAsync(id, TimeSpan.FromMinutes(2), () => { }, CancellationToken.None);

        await swarm.Backend.RemoveOrphansAsync(_scope, CancellationToken.None);

        await Assert.ThrowsAsync<DockerApiException>(() => manager.Swarm.InspectServiceAsync(id));
        Assert.Null(await ContainerAsync(swarm.Backend, task.NodeID!, task.Status!.ContainerStatus!.ContainerID!));
    }

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
