using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// A server killed while attempt 2 of a task was being verified: attempt 1 had finished (verified), attempt 3 had
/// not started. A new server recovers each attempt and gives the task its result.
/// </summary>
public sealed class InterruptedAttempts : IAsyncLifetime
{
    public const string RunId = "r-attempts";

    internal RunnerTestBed Bed { get; private set; } = null!;

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
            Tasks = [new RunTaskRecord("t", TaskStatus.Queued, null) { AllowedPaths = ["**"], AllowedCommands = [], TimeoutSec = 60, Verify = ["npm test"], Attempts = 3 }],
        }, CancellationToken.None);
        await Bed.Store.WriteResultAsync(RunId, new TaskResult
        {
            TaskId = "t",
            Attempt = 1,
            Status = TaskStatus.Success,
            PatchBytes = 40,
            FilesChanged = ["src/app.txt"],
            Branch = "sandbox/r-attempts/t/1",
            Verification = new VerificationReport { Status = VerificationStatus.Passed, Commands = [new VerifyCommandReport("npm test", VerificationStatus.Passed, 0, 5, "ok")] },
        }, CancellationToken.None);

        var second = await Worktree.CreateAsync(Bed.GitCli, Bed.Host, TaskTreeLayout.TaskFolder(Bed.Host, RunId, "t", 2), Bed.BaseCommit, UnixOwner.ForSandbox(), CancellationToken.None);
        await File.WriteAllTextAsync(TaskTreeLayout.StartedMarker(second.Folder), "container");
        await File.WriteAllTextAsync(TaskTreeLayout.VerifyingMarker(second.Folder), "");
        await File.WriteAllTextAsync(Path.Combine(second.WorkPath, "src", "app.txt"), "attempt 2\n");
        await File.WriteAllTextAsync(TaskTreeLayout.OwnerFile(Bed.Host, RunId), InterruptedRun.DeadOwner);

        await Bed.NewRunner(Bed.Config).RecoverInterruptedAsync(CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        Bed.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class AttemptRecoveryTests(InterruptedAttempts run) : IClassFixture<InterruptedAttempts>
{
    [Fact]
    public async Task The_attempt_being_verified_is_recovered_with_its_work_and_a_verification_that_says_it_was_interrupted()
    {
        var second = await run.Bed.Store.ReadResultAsync(InterruptedAttempts.RunId, "t", 2, CancellationToken.None);

        Assert.Equal((TaskStatus.Cancelled, 2, "sandbox/r-attempts/t/2"), (second!.Status, second.Attempt, second.Branch));
        Assert.Equal(VerificationStatus.NotRun, second.Verification!.Status);
        Assert.Contains("while the task was being verified", second.Verification.Reason, StringComparison.Ordinal);
        Assert.Equal("attempt 2\n", run.Bed.Show("sandbox/r-attempts/t/2", "src/app.txt"));
    }

    [Fact]
    public async Task The_attempt_that_never_started_is_cancelled_with_nothing_to_keep()
    {
        var third = await run.Bed.Store.ReadResultAsync(InterruptedAttempts.RunId, "t", 3, CancellationToken.None);

        Assert.Equal((TaskStatus.Cancelled, (string?)null), (third!.Status, third.Branch));
        Assert.Equal(VerificationStatus.NotRun, third.Verification!.Status);
    }

    [Fact]
    public async Task The_task_gets_its_best_attempts_result_and_the_run_says_interrupted()
    {
        var result = await run.Bed.StoredResultAsync(InterruptedAttempts.RunId, "t");

        Assert.Equal((1, TaskStatus.Success, "sandbox/r-attempts/t/1"), (result.BestAttempt, result.Status, result.Branch));
        Assert.Equal([1, 2, 3], result.Attempts!.Select(a => a.Attempt));
        var record = await run.Bed.Store.ReadRunAsync(InterruptedAttempts.RunId, CancellationToken.None);
        Assert.Equal((RunState.Interrupted, TaskStatus.Success), (record!.Status, record.Tasks[0].Status));
        Assert.False(Directory.Exists(TaskTreeLayout.RunFolder(run.Bed.Host, InterruptedAttempts.RunId)));
    }
}
