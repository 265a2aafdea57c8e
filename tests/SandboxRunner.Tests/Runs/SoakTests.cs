using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>Many tasks at once through the fake engine: whatever each one does, each ends with a result and leaves nothing.</summary>
public sealed class SoakTests
{
    private const int Runs = 5;
    private const int TasksPerRun = 40;
    private const int Concurrency = 8;
    private const string CancelledRun = "soak-4";

    [Fact]
    public async Task Two_hundred_tasks_across_concurrent_runs_each_end_with_a_result_and_leave_nothing_behind()
    {
        using var bed = await CreateAsync(c => c with { DefaultConcurrency = Concurrency, MaxTasksPerRun = TasksPerRun });
        var cancelledStarted = 0;
        var cancelledWorking = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var succeeds = FakeAgents.Writes(("src/soak.txt", "soaked\n"));
        var fails = FakeAgents.Turn(_ => { }, exitCode: 1);
        var blocks = FakeAgents.WorksUntilKilled(_ =>
        {
            if (Interlocked.Increment(ref cancelledStarted) == 3)
            {
                cancelledWorking.TrySetResult();
            }
        });
        bed.Engine.Agent = (c, killed) =>
            (c.RunId == CancelledRun ? blocks : int.Parse(c.TaskId![2..], System.Globalization.CultureInfo.InvariantCulture) % 3 == 0 ? fails : succeeds)(c, killed);

        using var cancel = new CancellationTokenSource();
        var runs = Enumerable.Range(0, Runs).Select(r => $"soak-{r}").ToList();
        var executions = runs.Select(runId => Record.ExceptionAsync(() => bed.RunAsync(
            new RunRequest { RunId = runId, Concurrency = Concurrency, Tasks = Enumerable.Range(0, TasksPerRun).Select(t => Ask($"t-{t}")).ToList() },
            runId == CancelledRun ? cancel.Token : CancellationToken.None))).ToList();
        await cancelledWorking.Task.WaitAsync(Hang);
        await cancel.CancelAsync();
        var thrown = await Task.WhenAll(executions).WaitAsync(Hang);

        Assert.Equal(runs.Select(r => r == CancelledRun), thrown.Select(e => e is OperationCanceledException));
        foreach (var runId in runs)
        {
            for (var t = 0; t < TasksPerRun; t++)
            {
                var result = await bed.StoredResultAsync(runId, $"t-{t}");
                var expected = runId == CancelledRun ? TaskStatus.Cancelled : t % 3 == 0 ? TaskStatus.Failed : TaskStatus.Success;
                Assert.True(expected == result.Status, $"{runId}/t-{t}: {result.Status}, expected {expected}: {result.NotesForManager}");
            }
        }

        Assert.InRange(bed.Engine.MaxRunning, 1, Concurrency);
        bed.AssertNothingLeft();
    }
}
