using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

/// <summary>The process's runs in progress: what cancel, wait and shutdown promise, whichever runner started a run.</summary>
public sealed class RunRegistryTests
{
    private readonly RunRegistry _runs = new();

    [Fact]
    public void A_registered_run_is_active_until_it_removes_itself_at_the_end_of_its_teardown()
    {
        var run = _runs.Register(Run("r1"), _ => new TaskCompletionSource<RunResult>().Task);

        Assert.True(_runs.IsActive("r1"));
        _runs.Remove(run);
        Assert.False(_runs.IsActive("r1"));
    }

    [Fact]
    public void A_run_id_already_active_is_refused_and_the_first_run_keeps_running()
    {
        var first = _runs.Register(Run("r1"), _ => new TaskCompletionSource<RunResult>().Task);
        var started = false;

        var refusal = Assert.Throws<InvalidInputException>(() => _runs.Register(Run("r1"), _ => { started = true; return Ended("r1"); }));

        Assert.Equal("run_id", Assert.Single(refusal.Problems).Field);
        Assert.False(started);
        Assert.True(_runs.IsActive("r1"));
        Assert.False(first.Cancellation.IsCancellationRequested);
    }

    [Fact]
    public void Cancelling_a_run_that_is_not_active_here_says_so()
    {
        Assert.False(_runs.Cancel("elsewhere"));
    }

    [Fact]
    public void Cancelling_one_run_cancels_only_its_own_token()
    {
        var one = _runs.Register(Run("one"), _ => new TaskCompletionSource<RunResult>().Task);
        var other = _runs.Register(Run("other"), _ => new TaskCompletionSource<RunResult>().Task);

        Assert.True(_runs.Cancel("one"));

        Assert.True(one.Cancellation.IsCancellationRequested);
        Assert.False(other.Cancellation.IsCancellationRequested);
    }

    [Fact]
    public void Cancel_all_asks_every_run_to_stop()
    {
        var runs = new[] { "a", "b", "c" }.Select(id => _runs.Register(Run(id), _ => new TaskCompletionSource<RunResult>().Task)).ToList();

        _runs.CancelAll();

        Assert.All(runs, run => Assert.True(run.Cancellation.IsCancellationRequested));
    }

    [Fact]
    public async Task Shutdown_cancels_every_run_and_returns_only_when_each_has_ended()
    {
        var ended = new List<string>();
        foreach (var id in new[] { "a", "b" })
        {
            _runs.Register(Run(id), run => EndsWhenCancelledAsync(run, ended));
        }

        await _runs.ShutdownAsync(CancellationToken.None);

        Assert.Equal(["a", "b"], ended.Order(StringComparer.Ordinal));
        Assert.False(_runs.IsActive("a") || _runs.IsActive("b"));
    }

    [Fact]
    public async Task A_run_that_failed_does_not_fail_the_shutdown_or_a_wait_for_it()
    {
        _runs.Register(Run("broken"), _ => Task.FromException<RunResult>(new InvalidOperationException("the engine went away")));

        await _runs.WaitForAsync("broken", CancellationToken.None);
        await _runs.ShutdownAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Waiting_for_a_run_not_active_here_returns_at_once()
    {
        await _runs.WaitForAsync("gone", CancellationToken.None);
    }

    [Fact]
    public async Task Waiting_for_a_run_returns_once_it_has_ended()
    {
        var end = new TaskCompletionSource<RunResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _runs.Register(Run("r1"), _ => end.Task);

        var waiting = _runs.WaitForAsync("r1", CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        end.SetResult(new RunResult { RunId = "r1", BaseCommit = "c", Results = [] });

        await waiting;
    }

    [Fact]
    public async Task A_waiter_that_gives_up_is_cancelled_and_the_run_goes_on()
    {
        _runs.Register(Run("r1"), _ => new TaskCompletionSource<RunResult>().Task);
        using var giveUp = new CancellationTokenSource();
        await giveUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _runs.WaitForAsync("r1", giveUp.Token));
        Assert.True(_runs.IsActive("r1"));
    }

    private async Task<RunResult> EndsWhenCancelledAsync(ActiveRun run, List<string> ended)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (run.Cancellation.Token.Register(() => cancelled.TrySetResult()))
        {
            await cancelled.Task;
        }

        lock (ended)
        {
            ended.Add(run.Plan.RunId);
        }

        _runs.Remove(run);
        return new RunResult { RunId = run.Plan.RunId, BaseCommit = "c", Results = [] };
    }

    private static Task<RunResult> Ended(string runId) => Task.FromResult(new RunResult { RunId = runId, BaseCommit = "c", Results = [] });

    private static ActiveRun Run(string runId) => new(
        new RunPlan(runId, "HEAD", new string('a', 40), 1, ResourcePolicy.Normal, [new TaskPlan("t", "p", ["**"], [], TimeSpan.FromMinutes(1))], false, SandboxMode.WorkspaceWrite),
        DateTimeOffset.UnixEpoch, null);
}

/// <summary>A run's results as its store writes them: what its record is built from at the end.</summary>
public sealed class RunResultsTests
{
    [Fact]
    public async Task A_result_is_kept_once_it_is_on_disk_and_only_for_its_own_run()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        var results = new RunResults("r1");
        var store = new RunStore(bed.Host, results);

        await store.WriteResultAsync("r1", new TaskResult { TaskId = "t1", Status = SandboxRunner.Runs.TaskStatus.Success }, CancellationToken.None);
        await store.WriteResultAsync("r1", new TaskResult { TaskId = "t2", Attempt = 2, Status = SandboxRunner.Runs.TaskStatus.Failed }, CancellationToken.None);
        await store.WriteResultAsync("other", new TaskResult { TaskId = "t3", Status = SandboxRunner.Runs.TaskStatus.Success }, CancellationToken.None);

        Assert.Equal(SandboxRunner.Runs.TaskStatus.Success, results.Of("t1")?.Status);
        Assert.Equal(SandboxRunner.Runs.TaskStatus.Failed, results.Of("t2", 2)?.Status);
        Assert.Null(results.Of("t2"));
        Assert.Null(results.Of("t3"));
        Assert.NotNull(await bed.Store.ReadResultAsync("r1", "t1", CancellationToken.None));
    }
}
