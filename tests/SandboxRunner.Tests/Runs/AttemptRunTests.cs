using SandboxRunner.Configuration;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;
using SandboxRunner.Tests.Fakes;
using SandboxRunner.Verification;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>Tasks run with <c>attempts</c> against the fake engine: one sandbox and one branch per attempt, the task's result the best.</summary>
public sealed class AttemptRunTests
{
    /// <summary>Attempt k writes "attempt k" into src/app.txt; the verify command passes only for attempt 2's tree.</summary>
    private static async Task<RunnerTestBed> BedAsync()
    {
        var bed = await CreateAsync(c => c with { Verify = ["npm test"] });
        bed.Engine.Agent = (container, killed) => FakeAgents.Writes(("src/app.txt", $"attempt {container.Attempt}\n"))(container, killed);
        bed.Engine.Exec = (container, _, output, _) =>
        {
            var app = File.ReadAllText(container.PathInWorkspace("src/app.txt"));
            output(LogStream.Stdout, $"testing {app}");
            return Task.FromResult<long?>(app == "attempt 2\n" ? 0 : 1);
        };
        return bed;
    }

    [Fact]
    public async Task Each_attempt_runs_in_its_own_sandbox_on_its_own_branch_and_the_passing_one_is_the_tasks_result()
    {
        using var bed = await BedAsync();

        var result = Assert.Single((await bed.RunAsync(new RunRequest { RunId = "r", Tasks = [Ask("t") with { Attempts = 3 }] }, CancellationToken.None)).Results);

        Assert.Equal([1, 2, 3], bed.Engine.History.Where(c => !c.IsVerification).Select(c => c.Attempt ?? 0).Order());
        Assert.Equal((2, "sandbox/r/t/2", TaskStatus.Success), (result.BestAttempt, result.Branch, result.Status));
        Assert.Equal([2, 1, 3], result.Attempts!.Select(a => a.Attempt));
        foreach (var k in (int[])[1, 2, 3])
        {
            Assert.Equal($"attempt {k}\n", bed.Show($"sandbox/r/t/{k}", "src/app.txt"));
            var stored = await bed.Store.ReadResultAsync("r", "t", k, CancellationToken.None);
            Assert.Equal((k, k == 2 ? VerificationStatus.Passed : VerificationStatus.Failed), (stored!.Attempt, stored.Verification!.Status));
            Assert.True(File.Exists(bed.Store.PatchFile("r", "t", k)));
        }

        Assert.False(bed.BranchExists("sandbox/r/t"));
        Assert.Equal(2, (await bed.StoredResultAsync("r", "t")).BestAttempt);
        var record = await bed.Store.ReadRunAsync("r", CancellationToken.None);
        Assert.Equal((3, "sandbox/r/t/2"), (record!.Tasks[0].Attempts, record.Tasks[0].Branch));
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task Apply_takes_the_best_attempt_or_the_one_named()
    {
        using var bed = await BedAsync();
        await bed.RunAsync(new RunRequest { RunId = "r", Tasks = [Ask("t") with { Attempts = 3 }] }, CancellationToken.None);

        var named = await bed.Runner.ApplyAsync("r", "t", 3, CancellationToken.None);
        Assert.Equal(("sandbox/r/t/3", "attempt 3\n"), (named.Branch, File.ReadAllText(Path.Combine(bed.Path, "src", "app.txt"))));
        bed.Git("reset", "-q", "--hard");

        var best = await bed.Runner.ApplyAsync("r", "t", CancellationToken.None);
        Assert.Equal(("sandbox/r/t/2", "attempt 2\n"), (best.Branch, File.ReadAllText(Path.Combine(bed.Path, "src", "app.txt"))));
    }

    [Theory]
    [InlineData(0, "attempt: must be from 1 to 8 (got 0)")]
    [InlineData(9, "attempt: must be from 1 to 8 (got 9)")]
    public async Task Apply_refuses_an_attempt_out_of_range(int attempt, string problem)
    {
        using var bed = await BedAsync();
        await bed.RunAsync(new RunRequest { RunId = "r", Tasks = [Ask("t") with { Attempts = 2 }] }, CancellationToken.None);

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => bed.Runner.ApplyAsync("r", "t", attempt, CancellationToken.None));

        Assert.Contains(problem, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_refuses_an_attempt_of_a_task_that_ran_once()
    {
        using var bed = await BedAsync();
        await bed.RunAsync(new RunRequest { RunId = "r", Tasks = [Ask("t")] }, CancellationToken.None);

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => bed.Runner.ApplyAsync("r", "t", 1, CancellationToken.None));

        Assert.Contains("attempt: task 't' ran once; leave attempt out", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Progress_names_each_attempt_and_finishes_the_task_once_with_the_best_result()
    {
        using var bed = await BedAsync();
        var progress = new List<TaskProgress>();
        await bed.Runner.RunAsync(new RunRequest { Tasks = [Ask("t") with { Attempts = 2 }] }, new Collect(progress), CancellationToken.None).WaitAsync(Hang);

        var finished = Assert.Single(progress, p => p.Phase == TaskPhase.Finished);
        Assert.Equal(2, finished.Result!.BestAttempt);
        Assert.Contains(progress, p => p.Message.StartsWith("t#1: ", StringComparison.Ordinal));
        Assert.Contains(progress, p => p.Message.StartsWith("t#2: ", StringComparison.Ordinal) && p.State == "attempt finished");
    }

    [Fact]
    public async Task A_cancelled_run_gives_a_task_with_attempts_a_result_from_those_that_ran()
    {
        using var bed = await CreateAsync(c => c with { DefaultConcurrency = 1 });
        using var cancel = new CancellationTokenSource();
        bed.Engine.Agent = FakeAgents.WorksUntilKilled(c =>
        {
            c.WriteFile("src/app.txt", "partial\n");
            cancel.Cancel();
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => bed.RunAsync(new RunRequest { RunId = "r", Tasks = [Ask("t") with { Attempts = 3 }] }, cancel.Token));

        var result = await bed.StoredResultAsync("r", "t");
        Assert.Equal(TaskStatus.Cancelled, result.Status);
        Assert.Equal(3, result.Attempts!.Count);
        Assert.All(result.Attempts, a => Assert.Equal(TaskStatus.Cancelled, a.Status));
        Assert.Equal("partial\n", bed.Show($"sandbox/r/t/{result.BestAttempt}", "src/app.txt"));
        bed.AssertNothingLeft();
    }

    private sealed class Collect(List<TaskProgress> into) : IProgress<TaskProgress>
    {
        public void Report(TaskProgress value)
        {
            lock (into)
            {
                into.Add(value);
            }
        }
    }
}
