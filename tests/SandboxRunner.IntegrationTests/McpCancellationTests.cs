using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Platform;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// A client that gives up on run_codex_tasks cancels the request (<c>notifications/cancelled</c>): the
/// server must kill the task's container and keep what the task did. That the real container is gone within the
/// budget is checked here; the task ending cancelled with its work kept, in get_codex_run and the result resource,
/// is the in-process McpCancellationTests' (unit tests, fake engine).
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class McpCancellationTests(DockerFixture docker)
{
    private static readonly TimeSpan KillBudget = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Cancelling_the_call_removes_the_task_container_within_five_seconds()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = NewRunId("cancel");

        await CallAndCancelAfterTheWriteAsync(s, runId);
        IReadOnlyList<string> left = [];
        await Poll.UntilAsync(async _ => (left = await s.Containers.OfRunsAsync([runId])).Count == 0, TimeSpan.FromMilliseconds(100), KillBudget, CancellationToken.None);

        Assert.True(left.Count == 0, $"container(s) {string.Join(", ", left)} still there {KillBudget.TotalSeconds:F0} s after the cancellation");
    }

    /// <summary>Starts a task that writes a file and then sleeps, and cancels the call once the write is done.</summary>
    private static async Task CallAndCancelAfterTheWriteAsync(McpHarness s, string runId)
    {
        using var cancel = new CancellationTokenSource();
        var progress = new ProgressRecorder();
        var call = s.Server.Client.CallToolAsync(
            "run_codex_tasks",
            Run(runId, TaskArg("long", "@write src/partial.txt written before cancel\\n", "@run 0 echo wrote", "@sleep 300")),
            progress,
            cancellationToken: cancel.Token).AsTask();

        await progress.WaitForAsync(m => m.StartsWith("long: container ", StringComparison.Ordinal) && m.EndsWith(" started", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        await progress.WaitForAsync(m => m.StartsWith("long: ran ", StringComparison.Ordinal) && m.Contains("echo wrote", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.NotEmpty(await s.Containers.RunningTasksOfRunsAsync([runId]));
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }
}
