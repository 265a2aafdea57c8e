using System.Text;
using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests;

/// <summary>Nothing is lost: results, patches and logs on disk, trees on branches, before anything is torn down.</summary>
[Collection(DockerCollection.Name)]
public sealed class PersistenceTests(DockerFixture docker)
{
    [Fact]
    public async Task Result_patch_and_logs_can_be_read_back_from_the_run_folder()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);

        var run = await h.RunAsync(RunnerHarness.Task("kept", "@write src/kept.txt kept\\n", "@run 0 echo to stdout", "@stderr to stderr", "@message Kept."));

        var result = Assert.Single(run.Results);
        var folder = Path.Combine(h.Repository.Path, ".codex-runs", run.RunId);
        var task = Path.Combine(folder, "tasks", "kept");
        Assert.Equal(result.WorkspacePath, task);
        var stored = JsonSerializer.Deserialize<TaskResult>(File.ReadAllBytes(Path.Combine(task, "result.json")))!;
        Assert.Equal(JsonSerializer.Serialize(result), JsonSerializer.Serialize(stored));
        Assert.Equal(Encoding.UTF8.GetBytes(result.Patch), File.ReadAllBytes(Path.Combine(task, "task.patch")));
        Assert.Contains("\"type\":\"turn.completed\"", File.ReadAllText(Path.Combine(task, "events.jsonl")), StringComparison.Ordinal);
        Assert.Contains("to stdout", File.ReadAllText(Path.Combine(task, "stdout.log")), StringComparison.Ordinal);
        Assert.Contains("to stderr", File.ReadAllText(Path.Combine(task, "stderr.log")), StringComparison.Ordinal);

        var record = JsonSerializer.Deserialize<RunRecord>(File.ReadAllBytes(Path.Combine(folder, "run.json")))!;
        Assert.Equal((RunState.Finished, run.BaseCommit), (record.Status, record.BaseCommit));
        var recorded = Assert.Single(record.Tasks);
        Assert.Equal(("kept", TaskStatus.Success, $"sandbox/{run.RunId}/kept"), (recorded.TaskId, recorded.Status, recorded.Branch));

        // The task's policy is recorded, so a task recovered after a crash is judged by the rules it ran under.
        Assert.Equal(["**"], recorded.AllowedPaths!);

        // The run folder never shows up as untracked work.
        Assert.Equal("", h.Repository.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task The_tree_lands_on_a_branch_plain_git_can_merge_without_touching_the_users_checkout()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);
        h.Repository.Write("uncommitted.txt", "user's own work in progress\n");
        var headBefore = h.Repository.Git("rev-parse", "HEAD").Trim();

        var run = await h.RunAsync(RunnerHarness.Task(
            "branchy", "@write src/new.txt new\\n", "@append src/app.txt line 3\\n", "@delete docs/old.txt", "@binary assets/blob.bin 64", "@message Branch me."));

        var result = Assert.Single(run.Results);
        Assert.Equal($"sandbox/{run.RunId}/branchy", result.Branch);
        Assert.Equal("main", h.Repository.Git("branch", "--show-current").Trim());
        Assert.Equal(headBefore, h.Repository.Git("rev-parse", "HEAD").Trim());
        Assert.Equal("?? uncommitted.txt\n", h.Repository.Git("status", "--porcelain"));
        Assert.Equal(run.BaseCommit, h.Repository.Git("rev-parse", $"{result.Branch}^").Trim());
        // The commit message is the runner's own: nothing the agent wrote (escapes included) reaches it.
        Assert.StartsWith("branchy: harvested by sandbox-runner", h.Repository.Git("log", "-1", "--format=%B", result.Branch!), StringComparison.Ordinal);

        // The branch holds exactly the patch.
        Assert.Equal(result.Patch, h.Repository.Git("diff", "--binary", "--full-index", "--no-renames", run.BaseCommit, result.Branch!));

        h.Repository.Git("merge", "-q", "--ff-only", result.Branch!);
        Assert.Equal("new\n", File.ReadAllText(Path.Combine(h.Repository.Path, "src", "new.txt")));
        Assert.False(File.Exists(Path.Combine(h.Repository.Path, "docs", "old.txt")));
    }

    [Fact]
    public async Task A_patch_that_conflicts_with_newer_work_on_head_is_flagged()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);
        var baseCommit = h.Repository.BaseCommit;
        h.Repository.Write("src/app.txt", "rewritten on main\n");
        h.Repository.Git("commit", "-qam", "newer work");

        var result = Assert.Single((await h.RunAsync(new RunRequest
        {
            BaseRef = baseCommit,
            Tasks = [RunnerHarness.Task("stale", "@write src/app.txt rewritten by the task\\n")],
        }, CancellationToken.None)).Results);

        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
        Assert.False(result.AppliesToHead);
        Assert.Contains("HEAD", result.ApplyCheckLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Old_runs_are_pruned_but_unmerged_branches_are_kept()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { MaxRunsRetained = 2 });

        var merged = await h.RunAsync(new RunRequest { RunId = "r1-merged", Tasks = [RunnerHarness.Task("t", "@write src/one.txt 1")] }, CancellationToken.None);
        h.Repository.Git("merge", "-q", "--ff-only", $"sandbox/{merged.RunId}/t");
        await h.RunAsync(new RunRequest { RunId = "r2-unmerged", BaseRef = h.Repository.BaseCommit, Tasks = [RunnerHarness.Task("t", "@write src/two.txt 2")] }, CancellationToken.None);
        await Task.Delay(20);
        await h.RunAsync(new RunRequest { RunId = "r3", Tasks = [RunnerHarness.Task("t", "@write src/three.txt 3")] }, CancellationToken.None);
        await Task.Delay(20);
        await h.RunAsync(new RunRequest { RunId = "r4", Tasks = [RunnerHarness.Task("t", "@write src/four.txt 4")] }, CancellationToken.None);

        var runs = Directory.GetDirectories(Path.Combine(h.Repository.Path, ".codex-runs")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(["r3", "r4"], runs);
        var branches = h.Repository.Git("branch", "--list", "sandbox/*", "--format=%(refname:short)").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["sandbox/r2-unmerged/t", "sandbox/r3/t", "sandbox/r4/t"], branches.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_cancelled_task_keeps_what_it_produced_on_disk()
    {
        await using var h = await RunnerHarness.CreateAsync(docker);
        using var cancel = new CancellationTokenSource();
        h.Engine.ContainerStarted += _ => cancel.CancelAfter(TimeSpan.FromSeconds(2));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            h.RunAsync(new RunRequest { RunId = "cancelled-run", Tasks = [RunnerHarness.Task("slow", "@write src/partial.txt partial\\n", "@sleep 300")] }, cancel.Token));

        var stored = await h.Store.ReadResultAsync("cancelled-run", "slow", CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal(TaskStatus.Cancelled, stored.Status);
        Assert.Equal(["src/partial.txt"], stored.FilesChanged);
        Assert.Equal(RunState.Cancelled, (await h.Store.ReadRunAsync("cancelled-run", CancellationToken.None))!.Status);
        Assert.Equal("sandbox/cancelled-run/slow", stored.Branch);
    }

    [Fact]
    public async Task A_dry_run_checks_the_image_and_creates_nothing()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Image = "sandbox-runner/no-such-image:never" });

        var error = await Assert.ThrowsAsync<Configuration.InvalidInputException>(() =>
            h.RunAsync(new RunRequest { DryRun = true, Tasks = [RunnerHarness.Task("a", "x")] }, CancellationToken.None));

        Assert.Contains(error.Problems, p => p.Field == "image" && p.Rule.Contains("no-such-image", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(h.Repository.Path, ".codex-runs")));
    }
}
