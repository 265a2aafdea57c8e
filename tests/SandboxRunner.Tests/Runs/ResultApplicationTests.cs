using SandboxRunner.Configuration;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// Applying a task's branch: ids are checked first, the stored result decides what there is to apply, and the
/// branch is judged again (its recorded paths and the current config's) before anything touches the working tree.
/// </summary>
public sealed class ResultApplicationTests
{
    [Fact]
    public async Task Every_bad_argument_is_named_at_once_with_its_rule()
    {
        using var bed = await CreateAsync();

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => Application(bed).ApplyAsync("../up", "a b", 0, CancellationToken.None));

        Assert.Equal(["attempt", "run_id", "task_id"], refusal.Problems.Select(p => p.Field).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_task_without_a_result_is_refused_naming_the_run_and_the_task()
    {
        using var bed = await CreateAsync();

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => Application(bed).ApplyAsync("r1", "t1", null, CancellationToken.None));

        Assert.Contains("run 'r1' has no finished task 't1'", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_task_that_changed_nothing_applies_nothing_and_says_so()
    {
        using var bed = await CreateAsync();
        await bed.Store.EnsureExcludedAsync(CancellationToken.None);
        await bed.Store.WriteResultAsync("r1", new TaskResult { TaskId = "t1", Status = TaskStatus.Success }, CancellationToken.None);

        var outcome = await Application(bed).ApplyAsync("r1", "t1", null, CancellationToken.None);

        Assert.True(outcome.Applied);
        Assert.Equal("the task changed nothing; there is nothing to apply", outcome.Message);
        Assert.Equal("", bed.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task Naming_an_attempt_of_a_task_that_ran_once_is_refused()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("src/app.txt", "changed\n"));
        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => Application(bed).ApplyAsync("r1", "t1", 2, CancellationToken.None));

        Assert.Equal("attempt", Assert.Single(refusal.Problems).Field);
        Assert.Equal("", bed.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task A_task_that_failed_on_violations_is_refused_whatever_its_branch_holds()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("src/app.txt", "changed\n"));
        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);
        var stored = await bed.StoredResultAsync("r1", "t1");
        await bed.Store.WriteResultAsync("r1", stored with
        {
            Status = TaskStatus.Failed,
            Violations = [SandboxRunner.Policy.Violation.ForPath("path_not_allowed", "src/app.txt", "not in allowed_paths")],
        }, CancellationToken.None);

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => Application(bed).ApplyAsync("r1", "t1", null, CancellationToken.None));

        Assert.Contains(stored.Branch!, refusal.Message, StringComparison.Ordinal);
        Assert.Equal("", bed.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task The_paths_recorded_for_the_task_bind_its_branch_even_when_the_config_allows_more()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("src/app.txt", "changed\n"));
        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);
        var record = (await bed.Store.ReadRunAsync("r1", CancellationToken.None))!;
        await bed.Store.WriteRunAsync(record with { Tasks = [record.Tasks[0] with { AllowedPaths = ["docs/**"] }] }, CancellationToken.None);

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => Application(bed).ApplyAsync("r1", "t1", null, CancellationToken.None));

        Assert.Contains("src/app.txt", refusal.Message, StringComparison.Ordinal);
        Assert.Equal("", bed.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task A_branch_the_current_config_still_allows_is_brought_into_the_working_tree_and_index()
    {
        using var bed = await CreateAsync();
        bed.Engine.Agent = FakeAgents.Writes(("src/app.txt", "changed\n"));
        await bed.RunAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);

        var outcome = await Application(bed, bed.Config with { DefaultAllowedPaths = ["src/**"] }).ApplyAsync("r1", "t1", null, CancellationToken.None);

        Assert.True(outcome.Applied);
        Assert.Equal("M  src/app.txt", bed.Git("status", "--porcelain").TrimEnd());
    }

    private static ResultApplication Application(RunnerTestBed bed, RunnerConfig? config = null) =>
        new(bed.Host, config ?? bed.Config, bed.Store, bed.GitCli);
}
