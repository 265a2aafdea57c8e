using System.Collections.Concurrent;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// Environments on the two-node swarm through the whole pipeline: setup runs on some node, its box is committed there,
/// pushed to the registry and taken by the manager (where the cache is keyed as on one engine), and tasks on both nodes
/// start from it. The setup writes a random stamp, so a test tells a reused setup from a fresh one.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmEnvironmentTests(SwarmFixture swarm)
{
    /// <summary>A setup whose output differs every time it runs, into an ignored folder of the repository and into HOME.</summary>
    private const string StampSetup = "mkdir -p deps && od -An -N8 -tx1 /dev/urandom | tr -d ' \\n' > deps/stamp && cp deps/stamp \"$HOME/.stamp\"";

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(5);

    /// <summary>The fake Codex image is the base (the fixture put it on the manager); setup under deny with no host allowed: plain-TCP engines refuse allow.</summary>
    private static string Fields(string setup = StampSetup) => $$"""
        "max_tasks_per_node": 2, "default_concurrency": 4, "network_allowlist": [],
        "environment": { "base_image": "{{DockerFixture.FakeCodexImage}}", "setup": [{{System.Text.Json.JsonSerializer.Serialize(setup)}}], "setup_network": "deny", "cache_keys": ["deps.lock"] }
        """;

    private static async Task<SwarmPipeline> OpenAsync(SwarmFixture swarm, string lockFile)
    {
        var p = await SwarmPipeline.OpenAsync(swarm, Fields());
        p.Repository.Write(".gitignore", "deps/\n");
        p.Repository.Write("deps.lock", lockFile);
        p.Repository.Git("add", "-A");
        p.Repository.Git("commit", "-qm", "environment");
        return p;
    }

    private static async Task<(RunResult Run, IReadOnlyList<string> Said)> RunAsync(SwarmPipeline p, string runId, string? baseRef, params TaskRequest[] tasks)
    {
        var said = new ConcurrentQueue<string>();
        var run = await p.RunAsync(new RunRequest { RunId = runId, BaseRef = baseRef, Concurrency = tasks.Length, Tasks = tasks }, progress => said.Enqueue(progress.Message))
            .WaitAsync(Bound);
        foreach (var result in run.Results.Where(r => r.TaskId != "tamper"))
        {
            Assert.True(result.Status == TaskStatus.Success, $"{result.TaskId}: {result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        }

        return (run, said.ToList());
    }

    private static bool Said(IReadOnlyList<string> said, string words) => said.Any(m => m.Contains(words, StringComparison.Ordinal));

    private static string Stamp(TaskResult result) => result.CommandsRun[0].OutputTail.Trim();

    [Fact]
    public async Task A_setup_built_once_on_a_node_reaches_tasks_on_both_nodes_and_the_next_run_reuses_it_untouched_by_a_task_that_overwrote_it()
    {
        await using var p = await OpenAsync(swarm, $"lock {Guid.NewGuid():N}\n");
        // Each task outlives the placement of the others, so the cap of two per node puts two on each node.
        var read = Enumerable.Range(1, 3).Select(i => SwarmPipeline.Task($"t{i}", "@run 0 cat deps/stamp; echo; cat ~/.stamp", "@sleep 6", $"@write src/t{i}.txt t{i}\\n")).ToList();
        var tamper = SwarmPipeline.Task("tamper", "@run 0 cat deps/stamp; echo; cat ~/.stamp", "@run 0 echo tampered > deps/stamp && echo tampered > ~/.stamp && rm -rf deps", "@sleep 6");

        var (first, saidFirst) = await RunAsync(p, "first", null, [.. read, tamper]);

        Assert.True(Said(saidFirst, "running setup") && !Said(saidFirst, "setup reused"), string.Join('\n', saidFirst));
        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), first.Results.Select(r => r.Node!).Distinct().Order(StringComparer.Ordinal));
        var stamps = first.Results.Select(Stamp).Distinct().ToList();
        var stamp = Assert.Single(stamps);
        Assert.Matches(@"^([0-9a-f]{16})\n\1$", stamp);
        foreach (var result in first.Results.Where(r => r.TaskId != "tamper"))
        {
            Assert.Equal([$"src/{result.TaskId}.txt"], result.FilesChanged);
        }

        var (second, saidSecond) = await RunAsync(p, "second", null, SwarmPipeline.Task("again", "@run 0 cat deps/stamp; echo; cat ~/.stamp"));

        Assert.True(Said(saidSecond, "setup reused") && !Said(saidSecond, "running setup"), string.Join('\n', saidSecond));
        Assert.Equal(stamp, Stamp(Assert.Single(second.Results)));
    }

    [Fact]
    public async Task Another_repository_with_the_same_setup_and_lock_file_runs_its_own_and_a_branch_runs_setup_never_feeds_the_default_branch()
    {
        var lockFile = $"lock {Guid.NewGuid():N}\n";
        await using var a = await OpenAsync(swarm, lockFile);
        await using var b = await OpenAsync(swarm, lockFile);
        var look = SwarmPipeline.Task("look", "@run 0 cat deps/stamp; echo; cat ~/.stamp");
        b.Repository.Git("checkout", "-qb", "agent-result");
        b.Repository.Write("tools/setup.sh", "echo an agent changed this\n");
        b.Repository.Git("add", "-A");
        b.Repository.Git("commit", "-qm", "an agent's change");
        b.Repository.Git("checkout", "-q", "-");

        var (fromA, _) = await RunAsync(a, "a", null, look);
        var (onBranch, saidBranch) = await RunAsync(b, "branch", "agent-result", look);
        var (onMain, saidMain) = await RunAsync(b, "main", null, look);

        Assert.True(Said(saidBranch, "running setup") && !Said(saidBranch, "setup reused"), "another repository must run its own setup: " + string.Join('\n', saidBranch));
        Assert.True(Said(saidMain, "running setup") && !Said(saidMain, "setup reused"), "a default-branch run must not reuse what a branch run built: " + string.Join('\n', saidMain));
        Assert.Equal(3, new[] { fromA, onBranch, onMain }.Select(r => Stamp(Assert.Single(r.Results))).Distinct().Count());
    }
}
