using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>What only a cluster shows: placement over nodes under the per-node cap, and a node that dies mid-run.</summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmClusterTests(SwarmFixture swarm) : IAsyncLifetime
{
    private readonly BoxScope _scope = new("swarm-" + Guid.NewGuid().ToString("N")[..10]);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await swarm.Backend.RemoveRunAsync(_scope, "run-1", CancellationToken.None);

    private static BoxSpec Box(string script, string task) => new()
    {
        Image = DockerFixture.FakeCodexImage,
        Entrypoint = [],
        Command = ["sh", "-c", script],
        User = "65534:65534",
        WorkingDirectory = "/",
        Environment = new Dictionary<string, string>(),
        Limits = new ResourceLimits(MemoryBytes: 128L * 1024 * 1024, Cpus: 0.25, Pids: 64, TmpBytes: 8L * 1024 * 1024),
        Identity = new BoxIdentity(task),
    };

    [Fact]
    public async Task Eight_boxes_under_a_cap_of_four_per_node_spread_over_both_nodes_and_each_names_its_node()
    {
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 4));
        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-1", NetworkIntent.None), CancellationToken.None);

        var boxes = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => site.CreateBoxAsync(Box("echo done", $"t{i}"), CancellationToken.None)));
        try
        {
            var exits = await Task.WhenAll(boxes.Select(b => b.RunAsync(TimeSpan.FromMinutes(2), (_, _) => { }, null, CancellationToken.None, CancellationToken.None)));

            Assert.All(exits, exit => Assert.Equal(0, exit.ExitCode));
            var perNode = boxes.GroupBy(b => b.Node).ToDictionary(g => g.Key ?? "(none)", g => g.Count());
            Assert.Equal(new Dictionary<string, int> { [swarm.ManagerNodeName] = 4, [swarm.WorkerNodeName] = 4 }, perNode);
            var found = await backend.FindBoxesAsync(_scope, "run-1", CancellationToken.None);
            Assert.Equal(boxes.Select(b => (b.Id, b.Node)).Order(), found.Select(f => (f.Id, f.Node)).Order());
        }
        finally
        {
            foreach (var box in boxes)
            {
                await box.DisposeAsync();
            }
        }

        Assert.Empty(await backend.FindBoxesAsync(_scope, "run-1", CancellationToken.None));
    }

    [Fact]
    public async Task Boxes_asked_for_at_once_beyond_the_cap_wait_for_a_place_and_the_next_takes_the_place_a_box_frees()
    {
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-1", NetworkIntent.None), CancellationToken.None);

        var asked = Enumerable.Range(1, 3).Select(i => site.CreateBoxAsync(Box("echo done", $"t{i}"), CancellationToken.None)).ToList();
        var made = new List<ITaskBox>();
        try
        {
            while (asked.Count(a => a.IsCompleted) < 2)
            {
                await Task.WhenAny(asked.Where(a => !a.IsCompleted));
            }

            // Both places are taken: the third is still waiting a while later (swarm places a box within about a second).
            await Task.Delay(TimeSpan.FromSeconds(4));
            made.AddRange(asked.Where(a => a.IsCompleted).Select(a => a.Result));
            Assert.True(made.Count == 2, "a third box was made while both nodes were at their cap of one");
            Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), made.Select(b => b.Node!).Order(StringComparer.Ordinal));
            var waiting = asked.Single(a => !a.IsCompleted);

            var freed = made[0];
            await freed.DisposeAsync();
            var third = await waiting.WaitAsync(TimeSpan.FromMinutes(1));
            made.Add(third);

            Assert.Equal(freed.Node, third.Node);
        }
        finally
        {
            foreach (var box in made)
            {
                await box.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_box_on_either_node_runs_with_no_capability_no_new_privileges_a_read_only_root_and_its_limits()
    {
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-1", NetworkIntent.None), CancellationToken.None);
        const string probe = "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes; id -u; touch /probe 2>/dev/null || echo read-only; grep ' /tmp ' /proc/mounts | cut -d' ' -f4";
        await using var first = await site.CreateBoxAsync(Box(probe, "probe-1"), CancellationToken.None);
        await using var second = await site.CreateBoxAsync(Box(probe, "probe-2"), CancellationToken.None);

        foreach (var box in new[] { first, second })
        {
            var seen = new StringBuilder();
            await box.RunAsync(TimeSpan.FromMinutes(1), (_, chunk) => seen.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, CancellationToken.None);
            var lines = seen.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

            Assert.Equal(
                ["CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "64", (128L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), "65534", "read-only"],
                lines[..7]);
            Assert.Contains("size=8192k", lines[7], StringComparison.Ordinal);
        }

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), new[] { first.Node!, second.Node! }.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_node_that_dies_mid_run_fails_only_its_own_box_with_an_error_naming_the_node()
    {
        await using var backend = swarm.BackendWith(new SwarmOptions(MaxTasksPerNode: 1));
        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(_scope, "run-1", NetworkIntent.None), CancellationToken.None);
        await using var first = await site.CreateBoxAsync(Box("echo started; sleep 20; echo finished", "survivor"), CancellationToken.None);
        await using var second = await site.CreateBoxAsync(Box("echo started; sleep 20; echo finished", "victim"), CancellationToken.None);
        var (onWorker, onManager) = first.Node == swarm.WorkerNodeName ? (first, second) : (second, first);
        Assert.Equal((swarm.WorkerNodeName, swarm.ManagerNodeName), (onWorker.Node, onManager.Node));
        var survivorOutput = new StringBuilder();
        using var workerStarted = new SemaphoreSlim(0);

        var survivor = onManager.RunAsync(TimeSpan.FromMinutes(2), (_, chunk) => survivorOutput.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, CancellationToken.None);
        var victim = onWorker.RunAsync(TimeSpan.FromMinutes(2), (_, _) => { }, () => workerStarted.Release(), CancellationToken.None, CancellationToken.None);
        await workerStarted.WaitAsync();
        await swarm.PauseWorkerAsync();
        try
        {
            var lost = await Assert.ThrowsAsync<InvalidOperationException>(() => victim);
            var exit = await survivor;

            Assert.Contains(swarm.WorkerNodeName, lost.Message, StringComparison.Ordinal);
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal("started\nfinished\n", survivorOutput.ToString());
            Assert.Contains(swarm.WorkerNodeName, (await Assert.ThrowsAsync<InvalidOperationException>(() => onWorker.ReadFileAsync("/etc/hostname", 1024, CancellationToken.None))).Message, StringComparison.Ordinal);
        }
        finally
        {
            await swarm.ResumeWorkerAsync();
        }
    }
}
