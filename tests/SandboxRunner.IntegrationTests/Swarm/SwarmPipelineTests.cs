using SandboxRunner.Policy;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// The whole task pipeline (plan, worktree, box, copy transport, harvest, judge, keep) on the two-node swarm, chosen
/// by the repository's config as the server and the command line choose it: results as on one engine, each naming
/// the node that ran it, and nothing left on any node afterwards.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmPipelineTests(SwarmFixture swarm)
{
    [Fact]
    public async Task Eight_tasks_spread_over_both_nodes_and_each_result_names_its_node_with_its_patch_judged_as_on_one_engine()
    {
        await using var p = await SwarmPipeline.OpenAsync(swarm, "\"max_tasks_per_node\": 4, \"default_concurrency\": 8");
        // Each task outlives the placement of all eight, so the cap of four keeps the second four off a full node.
        var tasks = Enumerable.Range(1, 8).Select(i => SwarmPipeline.Task($"t{i}", $"@write src/t{i}.txt made by t{i}\\n", "@sleep 8", $"@message t{i} done")).ToArray();

        var run = await p.RunAsync(new RunRequest { RunId = "spread", Concurrency = 8, Tasks = tasks });

        Assert.Equal(8, run.Results.Count);
        foreach (var result in run.Results)
        {
            Assert.True(result.Status == TaskStatus.Success, $"{result.TaskId}: {result.Status}: {result.NotesForManager}");
            Assert.Equal([$"src/{result.TaskId}.txt"], result.FilesChanged);
            Assert.Contains($"+made by {result.TaskId}", result.Patch, StringComparison.Ordinal);
            Assert.True(result.PatchApplicable, result.ApplyCheckLog);
            Assert.Equal($"{result.TaskId} done", result.Summary);
            Assert.Equal($"made by {result.TaskId}\n", p.Repository.Git("show", $"{result.Branch}:src/{result.TaskId}.txt"));
            Assert.Empty(result.Violations);
            Assert.Contains(result.Node, new[] { swarm.ManagerNodeName, swarm.WorkerNodeName });
        }

        Assert.Equal(new[] { swarm.ManagerNodeName, swarm.WorkerNodeName }.Order(StringComparer.Ordinal), run.Results.Select(r => r.Node!).Distinct().Order(StringComparer.Ordinal));
        var stored = await (await p.Workspace.GetRunnerAsync(CancellationToken.None)).ReadResultAsync("spread", "t1", CancellationToken.None);
        Assert.Equal(run.Results.Single(r => r.TaskId == "t1").Node, stored!.Node);
    }

    [Fact]
    public async Task A_hostile_agents_writes_outside_its_paths_symlinks_out_of_its_tree_and_an_oversized_file_come_back_judged_as_violations()
    {
        await using var p = await SwarmPipeline.OpenAsync(
            swarm, "\"default_allowed_paths\": [\"src/**\"], \"default_concurrency\": 4, \"task_limits\": { \"max_file_bytes\": 16777216 }");

        var run = await p.RunAsync(new RunRequest
        {
            RunId = "hostile",
            Concurrency = 4,
            Tasks =
            [
                SwarmPipeline.Task("out", "@write src/ok.txt fine", "@write secrets/leak.txt x"),
                SwarmPipeline.Task("link", "@symlink src/pw /etc/passwd", "@symlink src/up ../../outside", "@symlink src/in app.txt"),
                SwarmPipeline.Task("big", "@write src/note.txt note\\n", "@run 0 head -c 40000000 /dev/zero > src/huge.bin"),
                SwarmPipeline.Task("good", "@write src/fine.txt fine\\n"),
            ],
        });
        var results = run.Results.ToDictionary(r => r.TaskId);

        var outside = results["out"];
        Assert.Equal(TaskStatus.Failed, outside.Status);
        Assert.Equal((ViolationKind.PathNotAllowed, "secrets/leak.txt"), Assert.Single(outside.Violations, v => v.Kind == ViolationKind.PathNotAllowed) is var v1 ? (v1.Kind, v1.Path) : default);
        Assert.Contains("+++ b/secrets/leak.txt", outside.Patch, StringComparison.Ordinal);
        Assert.False(outside.PatchApplicable);

        var link = results["link"];
        Assert.Equal(TaskStatus.Failed, link.Status);
        Assert.Equal(["src/pw", "src/up"], link.Violations.Where(v => v.Kind == ViolationKind.SymlinkEscape).Select(v => v.Path).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(link.Violations, v => v.Path == "src/in");

        var big = results["big"];
        Assert.Equal(TaskStatus.Failed, big.Status);
        Assert.Contains(big.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Path == "src/huge.bin" && v.Rule.Contains("max_file_bytes", StringComparison.Ordinal));
        Assert.Contains("src/note.txt", big.FilesChanged);
        Assert.DoesNotContain("src/huge.bin", big.FilesChanged);

        Assert.True(results["good"].Status == TaskStatus.Success, results["good"].NotesForManager);
        Assert.All(run.Results, r => Assert.NotNull(r.Node));
    }

    [Fact]
    public async Task A_node_that_dies_mid_run_fails_only_the_tasks_it_ran_and_names_the_node()
    {
        await using var p = await SwarmPipeline.OpenAsync(swarm, "\"max_tasks_per_node\": 1, \"default_concurrency\": 2");
        var started = new HashSet<string>();
        var bothStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var steps = new[] { "@write src/early.txt early\\n", "@sleep 25", "@write src/late.txt late\\n" };

        var running = p.RunAsync(
            new RunRequest { RunId = "nodeloss", Concurrency = 2, Tasks = [SwarmPipeline.Task("a", steps), SwarmPipeline.Task("b", steps)] },
            progress =>
            {
                if (progress.Phase == TaskPhase.Started)
                {
                    lock (started)
                    {
                        if (started.Add(progress.TaskId) && started.Count == 2)
                        {
                            bothStarted.TrySetResult();
                        }
                    }
                }
            });
        await bothStarted.Task.WaitAsync(TimeSpan.FromMinutes(3));
        await swarm.PauseWorkerAsync();
        RunResult run;
        try
        {
            run = await running;
        }
        finally
        {
            await swarm.ResumeWorkerAsync();
        }

        var lost = Assert.Single(run.Results, r => r.Node == swarm.WorkerNodeName);
        var kept = Assert.Single(run.Results, r => r.Node == swarm.ManagerNodeName);
        Assert.Equal(TaskStatus.Failed, lost.Status);
        Assert.Contains($"swarm node '{swarm.WorkerNodeName}'", lost.NotesForManager, StringComparison.Ordinal);
        Assert.True(kept.Status == TaskStatus.Success, kept.NotesForManager);
        Assert.Equal(["src/early.txt", "src/late.txt"], kept.FilesChanged.Order(StringComparer.Ordinal));

        // The run's teardown could not reach the dead node; once it is back, a removal by label (a cancel, the next
        // server's orphan sweep) takes what the lost box left there, which the pipeline's disposal then checks.
        await (await p.Workspace.GetRunnerAsync(CancellationToken.None)).RemoveRunLeftoversAsync("nodeloss", CancellationToken.None);
    }

    [Fact]
    public async Task A_command_line_killed_mid_run_leaves_services_the_next_runner_finds_by_label_removes_and_recovers_the_run_from()
    {
        await using var p = await SwarmPipeline.OpenAsync(swarm, "\"default_concurrency\": 2");
        var tasksFile = Path.Combine(p.Repository.Path, "..", $"tasks-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(tasksFile, """
            { "run_id": "killed", "concurrency": 2, "tasks": [
              { "task_id": "a", "prompt": "@write src/a.txt a\n@sleep 120" },
              { "task_id": "b", "prompt": "@write src/b.txt b\n@sleep 120" } ] }
            """);
        var scope = new SandboxRunner.Boxes.BoxScope(p.Scope);
        try
        {
            // The command line chooses the swarm from the config, with DOCKER_HOST naming the manager.
            await using (var cli = Cli.CliProcess.Start(p.Repository.Path, ["run", tasksFile], SwarmFixture.EnvironmentFor(swarm.Manager)))
            {
                var running = await Platform.Poll.UntilAsync(
                    async ct => (await swarm.Backend.FindBoxesAsync(scope, "killed", ct)).Count(b => b.Running) == 2, TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(3), CancellationToken.None);
                Assert.True(running, $"the command line's two tasks did not start on the swarm: {string.Join("\n", cli.StderrLines)}");
                System.Diagnostics.Process.GetProcessById(cli.Id).Kill(entireProcessTree: true);
                await cli.WaitAsync(TimeSpan.FromMinutes(1));
            }

            Assert.Equal(2, (await swarm.Backend.FindBoxesAsync(scope, "killed", CancellationToken.None)).Count);

            await p.Workspace.RecoverAtStartAsync(CancellationToken.None);

            Assert.Equal(["killed"], await p.Workspace.Recovered);
            Assert.Empty(await swarm.Backend.FindBoxesAsync(scope, "killed", CancellationToken.None));
            var runner = await p.Workspace.GetRunnerAsync(CancellationToken.None);
            Assert.Equal(RunState.Interrupted, (await runner.GetRunAsync("killed", CancellationToken.None))!.Status);
            foreach (var task in new[] { "a", "b" })
            {
                Assert.Equal(TaskStatus.Cancelled, (await runner.ReadResultAsync("killed", task, CancellationToken.None))!.Status);
            }
        }
        finally
        {
            File.Delete(tasksFile);
        }
    }
}
