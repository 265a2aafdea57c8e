using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>Run ids, stored runs, and bringing a result into the working tree.</summary>
public sealed class RunLifecycleTests
{
    [Fact]
    public async Task A_run_id_whose_branches_survive_its_run_folder_is_refused_naming_run_id()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("src/new.txt", "new\n"));
        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);
        Directory.Delete(bed.Store.RunFolder("r1"), recursive: true);

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t2")] }, CancellationToken.None));

        Assert.Equal("run_id", Assert.Single(refusal.Problems).Field);
        Assert.Equal(1, bed.Engine.CreatedCount);
    }

    [Fact]
    public async Task A_run_id_already_stored_is_refused_naming_run_id()
    {
        using var bed = await CreateAsync();
        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None));

        Assert.Equal("run_id", Assert.Single(refusal.Problems).Field);
    }

    [Fact]
    public async Task A_run_whose_image_is_missing_is_refused_before_anything_is_created()
    {
        using var bed = await CreateAsync(c => c with { Image = "fake:absent" });

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(Ask("t1")));

        Assert.Equal("image", Assert.Single(refusal.Problems).Field);
        Assert.Equal(0, bed.Engine.CreatedCount);
    }

    [Fact]
    public async Task A_clean_branch_is_applied_to_the_working_tree_and_index()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("src/app.txt", "applied\n"));
        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);

        var outcome = await bed.Runner.ApplyAsync("r1", "t1", CancellationToken.None);

        Assert.True(outcome.Applied);
        Assert.Equal("applied\n", File.ReadAllText(Path.Combine(bed.Path, "src/app.txt")));
        Assert.Equal("M  src/app.txt", bed.Git("status", "--porcelain").TrimEnd());
    }

    [Fact]
    public async Task Applying_a_branch_that_breaks_the_current_policy_is_refused_and_leaves_the_working_tree_alone()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("docs/x.md", "# fine when it ran\n"));
        var ran = Assert.Single((await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None)).Results);
        Assert.Equal(TaskStatus.Success, ran.Status);

        // The server restarted with a narrower config: the stored verdict predates it.
        var narrowed = bed.NewRunner(bed.Config with { DefaultAllowedPaths = ["src/**"] });
        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => narrowed.ApplyAsync("r1", "t1", CancellationToken.None));

        Assert.Contains("docs/x.md", refusal.Message, StringComparison.Ordinal);
        Assert.Equal("", bed.Git("status", "--porcelain"));
        Assert.False(File.Exists(Path.Combine(bed.Path, "docs/x.md")));
    }

    [Fact]
    public async Task Applying_a_task_with_violations_is_refused_and_names_its_branch()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("docs/x.md", "# outside\n"));
        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1") with { AllowedPaths = ["src/**"] }] }, CancellationToken.None);

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => bed.Runner.ApplyAsync("r1", "t1", CancellationToken.None));

        Assert.Contains("sandbox/r1/t1", refusal.Message, StringComparison.Ordinal);
        Assert.Equal("", bed.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task A_corrupt_run_json_is_listed_with_its_problem_and_does_not_hide_the_other_runs()
    {
        using var bed = await CreateAsync();
        await bed.RunAsync(new RunRequest { RunId = "good", Tasks = [Ask("t1")] }, CancellationToken.None);
        bed.Write(".codex-runs/bad/run.json", "{ \"run_id\": \"bad\", \"status\": ");

        var runs = await bed.Runner.ListRunsAsync(CancellationToken.None);

        var good = Assert.Single(runs, r => r.RunId == "good");
        Assert.Equal((RunState.Finished, null), (good.Status, good.Problem));
        var bad = Assert.Single(runs, r => r.RunId == "bad");
        Assert.Contains("run.json", bad.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tree_whose_container_never_started_is_recovered_cancelled_with_nothing_harvested()
    {
        using var bed = await CreateAsync();
        await bed.Store.WriteRunAsync(new RunRecord
        {
            RunId = "r-early", Status = RunState.Running, BaseRef = "HEAD", BaseCommit = bed.BaseCommit, StartedAt = DateTimeOffset.UtcNow,
            Tasks = [new RunTaskRecord("t1", TaskStatus.Queued, null)],
        }, CancellationToken.None);
        var worktree = await Worktree.CreateAsync(
            bed.GitCli, bed.Host, TaskTreeLayout.TaskFolder(bed.Host, "r-early", "t1"), bed.BaseCommit, UnixOwner.ForSandbox(), CancellationToken.None);
        await File.WriteAllTextAsync(TaskTreeLayout.OwnerFile(bed.Host, "r-early"), InterruptedRun.DeadOwner);

        // No started marker: whatever is in the tree is the checkout's, not an agent's.
        await File.WriteAllTextAsync(Path.Combine(worktree.WorkPath, "src", "app.txt"), "half-written checkout\n");

        Assert.Equal(["r-early"], await bed.NewRunner(bed.Config).RecoverInterruptedAsync(CancellationToken.None));

        var result = await bed.StoredResultAsync("r-early", "t1");
        Assert.Equal((TaskStatus.Cancelled, null), (result.Status, result.Branch));
        Assert.False(bed.BranchExists("sandbox/r-early/t1"));
        Assert.Empty(bed.TaskFolders());
    }

    [Fact]
    public async Task A_finished_run_is_stored_finished_with_each_tasks_status_and_branch()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.ByTask(new Dictionary<string, FakeAgent>
        {
            ["edits"] = FakeAgents.Writes(("src/new.txt", "new\n")),
            ["fails"] = FakeAgents.Turn(_ => { }, exitCode: 1),
        });

        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("edits"), Ask("fails")] }, CancellationToken.None);

        var record = await bed.Store.ReadRunAsync("r1", CancellationToken.None);
        Assert.Equal(RunState.Finished, record!.Status);
        Assert.Equal(
            [("edits", TaskStatus.Success, (string?)"sandbox/r1/edits"), ("fails", TaskStatus.Failed, null)],
            record.Tasks.Select(t => (t.TaskId, t.Status, t.Branch)));
        bed.AssertNothingLeft();
    }
}

/// <summary>
/// What a server killed mid-task leaves on disk, built by hand: run.json still running, the task's tree
/// with its changes (one outside the task's paths), and an owner file naming a process that is gone. A
/// new server then starts on the repository.
/// </summary>
public sealed class InterruptedRun : IAsyncLifetime
{
    public const string RunId = "r-dead";
    public const string TaskId = "t1";

    internal RunnerTestBed Bed { get; private set; } = null!;
    public IReadOnlyList<string> Recovered { get; private set; } = [];

    /// <summary>A machine/pid owner no process has: pids never reach pid_max.</summary>
    public static string DeadOwner => $"{Environment.MachineName}/{int.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim(), System.Globalization.CultureInfo.InvariantCulture) + 1}";

    public async Task InitializeAsync()
    {
        Bed = await CreateAsync();
        await Bed.Store.WriteRunAsync(new RunRecord
        {
            RunId = RunId,
            Status = RunState.Running,
            BaseRef = "HEAD",
            BaseCommit = Bed.BaseCommit,
            StartedAt = DateTimeOffset.UtcNow,
            Tasks = [new RunTaskRecord(TaskId, TaskStatus.Queued, null) { AllowedPaths = ["src/**"], AllowedCommands = [], TimeoutSec = 60 }],
        }, CancellationToken.None);
        var worktree = await Worktree.CreateAsync(
            Bed.GitCli, Bed.Host, TaskTreeLayout.TaskFolder(Bed.Host, RunId, TaskId), Bed.BaseCommit, UnixOwner.ForSandbox(), CancellationToken.None);
        await File.WriteAllTextAsync(TaskTreeLayout.OwnerFile(Bed.Host, RunId), DeadOwner);

        // The agent had started: the tree holds its work.
        await File.WriteAllTextAsync(TaskTreeLayout.StartedMarker(worktree.Folder), "container-of-the-dead-server");
        Directory.CreateDirectory(Path.Combine(worktree.WorkPath, "docs"));
        await File.WriteAllTextAsync(Path.Combine(worktree.WorkPath, "src", "app.txt"), "line 1\nline 2 before the crash\n");
        await File.WriteAllTextAsync(Path.Combine(worktree.WorkPath, "docs", "x.md"), "# outside src\n");

        // What the dead server left running in the engine, and what a live one runs there.
        Bed.Engine.Owner = DeadOwner;
        await Bed.Engine.CreateAsync(Spec(Bed.Scope, RunId), CancellationToken.None);
        await Bed.Engine.CreateNetworkAsync("sandbox-runner-dead", true, new Dictionary<string, string> { [Labels.Scope] = Bed.Scope }, CancellationToken.None);
        Bed.Engine.Owner = Labels.CurrentOwner;
        LiveContainer = await Bed.Engine.CreateAsync(Spec(Bed.Scope, "r-live"), CancellationToken.None);

        Recovered = await Bed.NewRunner(Bed.Config).RecoverInterruptedAsync(CancellationToken.None);
    }

    public string LiveContainer { get; private set; } = "";

    internal static ContainerSpec Spec(string scope, string runId) => new()
    {
        Image = Image,
        Command = ["true"],
        User = "1000:1000",
        WorkingDirectory = "/",
        Environment = new Dictionary<string, string>(),
        Mounts = [],
        Labels = Labels.For(scope, runId, TaskId),
        Limits = new ResourceLimits(1 << 30, 1, 64, 1 << 20),
    };

    public Task DisposeAsync()
    {
        Bed.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class RecoveryTests(InterruptedRun run) : IClassFixture<InterruptedRun>
{
    [Fact]
    public void The_run_of_a_dead_server_is_recovered()
    {
        Assert.Equal([InterruptedRun.RunId], run.Recovered);
    }

    [Fact]
    public async Task A_recovered_task_ends_cancelled_with_a_result_on_disk()
    {
        var result = await run.Bed.StoredResultAsync(InterruptedRun.RunId, InterruptedRun.TaskId);
        Assert.Equal(TaskStatus.Cancelled, result.Status);
        Assert.Contains("interrupted", result.NotesForManager, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_recovered_task_is_judged_by_the_paths_recorded_for_it()
    {
        var result = await run.Bed.StoredResultAsync(InterruptedRun.RunId, InterruptedRun.TaskId);
        var violation = Assert.Single(result.Violations, v => v.Kind == ViolationKind.PathNotAllowed);
        Assert.Equal("docs/x.md", violation.Path);
        Assert.False(result.PatchApplicable);
    }

    [Fact]
    public async Task A_recovered_task_is_not_charged_with_git_settings_its_agent_never_touched()
    {
        var result = await run.Bed.StoredResultAsync(InterruptedRun.RunId, InterruptedRun.TaskId);
        Assert.DoesNotContain(result.Violations, v => v.Kind == ViolationKind.GitDirectory);
    }

    [Fact]
    public async Task A_recovered_tasks_tree_is_kept_on_its_branch()
    {
        var result = await run.Bed.StoredResultAsync(InterruptedRun.RunId, InterruptedRun.TaskId);
        Assert.Equal("sandbox/r-dead/t1", result.Branch);
        Assert.Equal("line 1\nline 2 before the crash\n", run.Bed.Show("sandbox/r-dead/t1", "src/app.txt"));
        Assert.Equal("# outside src\n", run.Bed.Show("sandbox/r-dead/t1", "docs/x.md"));
    }

    [Fact]
    public async Task The_run_record_says_interrupted_with_the_tasks_outcome()
    {
        var record = await run.Bed.Store.ReadRunAsync(InterruptedRun.RunId, CancellationToken.None);
        Assert.Equal(RunState.Interrupted, record!.Status);
        Assert.Equal((TaskStatus.Cancelled, "sandbox/r-dead/t1"), (record.Tasks[0].Status, record.Tasks[0].Branch));
    }

    [Fact]
    public void The_recovered_tree_and_its_owner_file_are_gone()
    {
        Assert.False(Directory.Exists(TaskTreeLayout.RunFolder(run.Bed.Host, InterruptedRun.RunId)));
    }

    [Fact]
    public async Task What_the_dead_server_left_in_the_engine_is_removed_and_what_a_live_one_runs_is_not()
    {
        Assert.Equal([run.LiveContainer], await run.Bed.Engine.ListContainersAsync(Labels.Scope, run.Bed.Scope, CancellationToken.None));
        Assert.Equal(0, run.Bed.Engine.NetworkCount);
    }
}
