using System.Text.Json;
using ModelContextProtocol.Protocol;
using SandboxRunner.Platform;
using SandboxRunner.Tests.Fakes;
using SandboxRunner.Tests.Runs;
using static SandboxRunner.Tests.Mcp.InProcessServer;

namespace SandboxRunner.Tests.Mcp;

/// <summary>
/// A client that gives up on run_codex_tasks cancels the request (<c>notifications/cancelled</c>): the server kills
/// the task's container and keeps what the task did (in process, with the fake engine; that Docker removes the real
/// container within its budget is McpCancellationTests' in the integration suite).
/// </summary>
public sealed class McpCancellationTests
{
    [Fact]
    public async Task A_cancelled_call_leaves_the_task_cancelled_with_the_file_it_wrote_in_get_codex_run()
    {
        await using var s = await InProcessServer.StartAsync();

        await CallAndCancelAfterTheWriteAsync(s, "cancel1");
        var view = await s.WaitForRunAsync("cancel1");

        Assert.Equal("cancelled", view.GetProperty("status").GetString());
        var task = Assert.Single(view.GetProperty("tasks").EnumerateArray());
        Assert.Equal("finished", task.GetProperty("state").GetString());
        var result = task.GetProperty("result");
        Assert.Equal("cancelled", result.GetProperty("status").GetString());
        Assert.Equal(["src/partial.txt"], result.GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
        Assert.True(await Poll.UntilAsync(() => s.Engine.LiveCount == 0, TimeSpan.FromMilliseconds(10), RunnerTestBed.Hang, CancellationToken.None), "the task's container is still there");
    }

    [Fact]
    public async Task A_cancelled_calls_result_resource_says_cancelled_and_keeps_the_patch_of_what_was_written()
    {
        await using var s = await InProcessServer.StartAsync();

        await CallAndCancelAfterTheWriteAsync(s, "cancel2");
        await s.WaitForRunAsync("cancel2");
        var contents = await s.Client.ReadResourceAsync("sandbox-runner://runs/cancel2/tasks/long/result");

        using var result = JsonDocument.Parse(Assert.IsType<TextResourceContents>(Assert.Single(contents.Contents)).Text);
        Assert.Equal("cancelled", result.RootElement.GetProperty("status").GetString());
        Assert.Equal(["src/partial.txt"], result.RootElement.GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
        Assert.Contains("+written before cancel", result.RootElement.GetProperty("patch").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Starts a task that writes a file and then works until killed, and cancels the call once the write is done.</summary>
    private static async Task CallAndCancelAfterTheWriteAsync(InProcessServer s, string runId)
    {
        s.Engine.Agent = FakeAgents.WorksUntilKilled(c =>
        {
            c.Stdout(CodexJsonl.TurnStarted());
            c.WriteFile("src/partial.txt", "written before cancel\n");
            c.Stdout(CodexJsonl.CommandCompleted("echo wrote", output: "wrote\n"));
        });
        using var cancel = new CancellationTokenSource();
        var progress = new ProgressRecorder();
        var call = s.Client.CallToolAsync("run_codex_tasks", Run(runId, TaskArg("long")), progress, cancellationToken: cancel.Token).AsTask();

        await progress.WaitForAsync(m => m.StartsWith("long: container ", StringComparison.Ordinal) && m.EndsWith(" started", StringComparison.Ordinal));
        await progress.WaitForAsync(m => m.StartsWith("long: ran ", StringComparison.Ordinal) && m.Contains("echo wrote", StringComparison.Ordinal));
        Assert.Equal(1, s.Engine.RunningCount);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }
}
