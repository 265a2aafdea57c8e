using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>One task that edits, adds and deletes files and exits 0, run once for all the facts below.</summary>
public sealed class SuccessfulTask : IAsyncLifetime
{
    internal RunnerTestBed Bed { get; private set; } = null!;
    public TaskResult Result { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Bed = await CreateAsync();
        Bed.Engine.Agent = FakeAgents.Turn(c =>
        {
            c.WriteFile("src/app.txt", "line 1\nline 2 changed\n");
            c.WriteFile("src/new.txt", "brand new\n");
            File.Delete(c.PathInWorkspace("docs/old.txt"));
        }, message: "Edited app.txt, added new.txt, removed old.txt.");
        Result = Assert.Single((await Bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None)).Results);
    }

    public Task DisposeAsync()
    {
        Bed.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class SuccessfulTaskTests(SuccessfulTask task) : IClassFixture<SuccessfulTask>
{
    [Fact]
    public void It_ends_success_with_an_applicable_patch()
    {
        Assert.Equal(TaskStatus.Success, task.Result.Status);
        Assert.Equal(0, task.Result.ExitCode);
        Assert.True(task.Result.PatchApplicable);
        Assert.Empty(task.Result.Violations);
    }

    [Fact]
    public void Files_changed_are_read_from_the_tree_edits_additions_and_deletions_alike()
    {
        Assert.Equal(["docs/old.txt", "src/app.txt", "src/new.txt"], task.Result.FilesChanged.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_patch_file_holds_every_change()
    {
        var patch = File.ReadAllText(task.Result.PatchFile!);
        Assert.Contains("+line 2 changed", patch, StringComparison.Ordinal);
        Assert.Contains("+brand new", patch, StringComparison.Ordinal);
        Assert.Contains("deleted file mode", patch, StringComparison.Ordinal);
        Assert.Equal(patch, task.Result.Patch);
    }

    [Fact]
    public void The_tree_is_kept_on_branch_sandbox_run_task()
    {
        Assert.Equal("sandbox/r1/t1", task.Result.Branch);
        Assert.Equal("brand new\n", task.Bed.Show("sandbox/r1/t1", "src/new.txt"));
        Assert.Equal("line 1\nline 2 changed\n", task.Bed.Show("sandbox/r1/t1", "src/app.txt"));
        Assert.Empty(task.Bed.Git("ls-tree", "--name-only", "sandbox/r1/t1", "docs/").Trim());
    }

    [Fact]
    public void The_summary_is_codexs_last_message_read_from_the_container()
    {
        Assert.Equal("Edited app.txt, added new.txt, removed old.txt.", task.Result.Summary);
    }

    [Fact]
    public void The_users_working_tree_is_not_touched()
    {
        Assert.Equal("", task.Bed.Git("status", "--porcelain"));
        Assert.Equal(task.Bed.BaseCommit, task.Bed.Git("rev-parse", "HEAD").Trim());
    }

    [Fact]
    public void Nothing_is_left_in_the_engine_or_under_the_task_trees()
    {
        task.Bed.AssertNothingLeft();
        Assert.Equal(1, task.Bed.Engine.CreatedCount);
    }
}

/// <summary>A run cancelled while its task works, run once for all the facts below.</summary>
public sealed class CancelledTask : IAsyncLifetime
{
    internal RunnerTestBed Bed { get; private set; } = null!;
    public Exception? Thrown { get; private set; }

    public async Task InitializeAsync()
    {
        Bed = await CreateAsync();
        var working = new TaskCompletionSource<FakeContainer>(TaskCreationOptions.RunContinuationsAsynchronously);
        Bed.Engine.Agent = FakeAgents.WorksUntilKilled(c => c.WriteFile("src/partial.txt", "half done\n"), working);
        using var cancel = new CancellationTokenSource();
        var run = Bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, cancel.Token);
        await working.Task.WaitAsync(Hang);
        await cancel.CancelAsync();
        Thrown = await Record.ExceptionAsync(() => run);
    }

    public Task DisposeAsync()
    {
        Bed.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class CancelledTaskTests(CancelledTask task) : IClassFixture<CancelledTask>
{
    [Fact]
    public void The_run_call_ends_cancelled()
    {
        Assert.IsAssignableFrom<OperationCanceledException>(task.Thrown);
    }

    [Fact]
    public async Task A_cancelled_task_ends_cancelled_with_its_container_killed()
    {
        var result = await task.Bed.StoredResultAsync("r1", "t1");
        Assert.Equal(TaskStatus.Cancelled, result.Status);
        Assert.Equal(FakeEngine.KilledExitCode, Assert.Single(task.Bed.Engine.History).ExitCode);
    }

    [Fact]
    public async Task A_cancelled_task_keeps_its_work_on_its_branch()
    {
        var result = await task.Bed.StoredResultAsync("r1", "t1");
        Assert.Equal(["src/partial.txt"], result.FilesChanged);
        Assert.Equal("half done\n", task.Bed.Show("sandbox/r1/t1", "src/partial.txt"));
    }

    [Fact]
    public async Task The_run_record_says_cancelled_and_names_the_tasks_branch()
    {
        var record = await task.Bed.Store.ReadRunAsync("r1", CancellationToken.None);
        Assert.Equal(RunState.Cancelled, record!.Status);
        var recorded = Assert.Single(record.Tasks);
        Assert.Equal(TaskStatus.Cancelled, recorded.Status);
        Assert.Equal("sandbox/r1/t1", recorded.Branch);
    }

    [Fact]
    public void Nothing_is_left_in_the_engine_or_under_the_task_trees()
    {
        task.Bed.AssertNothingLeft();
    }
}

public sealed class TaskEndTests
{
    [Fact]
    public async Task A_non_zero_exit_fails_the_task_and_still_keeps_its_work()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Turn(c => c.WriteFile("src/tried.txt", "attempt\n"), exitCode: 3);

        var result = Assert.Single((await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("codex exited with code 3", result.NotesForManager, StringComparison.Ordinal);
        Assert.Equal("attempt\n", bed.Show("sandbox/r1/t1", "src/tried.txt"));
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_failed_turn_fails_the_task_even_when_codex_exits_0()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = (c, _) =>
        {
            c.Stdout(CodexJsonl.ThreadStarted());
            c.Stdout(CodexJsonl.TurnFailed("We're currently experiencing high demand"));
            return Task.FromResult(0L);
        };

        var result = Assert.Single((await bed.RunAsync(Ask("t1"))).Results);

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains("turn failed", result.NotesForManager, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_task_past_its_deadline_is_killed_and_ends_timeout_with_its_work_kept()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.WorksUntilKilled(c => c.WriteFile("src/slow.txt", "started\n"));

        var result = Assert.Single((await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1") with { TimeoutSec = 10 }] }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Timeout, result.Status);
        Assert.Null(result.ExitCode);
        Assert.Equal(FakeEngine.KilledExitCode, Assert.Single(bed.Engine.History).ExitCode);
        Assert.Equal("started\n", bed.Show("sandbox/r1/t1", "src/slow.txt"));
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_task_that_changes_nothing_has_no_branch_and_no_patch()
    {
        using var bed = await CreateAsync();

        var result = Assert.Single((await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None)).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Empty(result.FilesChanged);
        Assert.Null(result.Branch);
        Assert.Null(result.PatchFile);
        Assert.False(bed.BranchExists("sandbox/r1/t1"));
    }
}
