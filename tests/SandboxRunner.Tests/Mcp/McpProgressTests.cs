using System.Text.RegularExpressions;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Mcp.InProcessServer;

namespace SandboxRunner.Tests.Mcp;

/// <summary>
/// A client that passes a progress token hears how each task gets on while run_codex_tasks blocks (in process, with
/// the fake engine). The SDK's client dispatches notifications concurrently and drops the ones it handles after the
/// response, so these tests order messages by their progress number and only rely on notifications sent while
/// another task still runs (McpStdioTests checks the raw stream, trailing ones included).
/// </summary>
public sealed partial class McpProgressTests
{
    [Fact]
    public async Task Run_codex_tasks_reports_queued_started_each_command_and_finished_naming_the_task_while_it_runs()
    {
        await using var s = await InProcessServer.StartAsync();
        var slow = new TaskCompletionSource();
        s.Engine.Agent = FakeAgents.ByTask(new Dictionary<string, FakeAgent>
        {
            ["greet"] = FakeAgents.Turn(c =>
            {
                c.Stdout(CodexJsonl.CommandCompleted("echo hi", output: "hi\n"));
                c.Stdout(CodexJsonl.CommandCompleted("echo bye", output: "bye\n"));
            }),
            ["slow"] = Gated(slow.Task, FakeAgents.Succeeds()),
        });
        var progress = new ProgressRecorder();

        var call = s.Client.CallToolAsync("run_codex_tasks", Run("progress", TaskArg("greet"), TaskArg("slow")), progress).AsTask();
        await progress.WaitForAsync(m => m == "greet: success: 0 file(s) changed");
        var completedWhenGreetFinished = call.IsCompleted;
        slow.SetResult();
        var result = await call.WaitAsync(Runs.RunnerTestBed.Hang);

        Assert.False(completedWhenGreetFinished, "greet's progress arrived only after the call had returned");
        Assert.NotEqual(true, result.IsError);
        var messages = progress.Messages.ToList();
        var queued = messages.IndexOf("greet: queued");
        var started = messages.FindIndex(m => StartedMessage().IsMatch(m));
        var hi = messages.FindIndex(m => m.StartsWith("greet: ran ", StringComparison.Ordinal) && m.Contains("echo hi", StringComparison.Ordinal) && m.EndsWith("(exit 0)", StringComparison.Ordinal));
        var bye = messages.FindIndex(m => m.StartsWith("greet: ran ", StringComparison.Ordinal) && m.Contains("echo bye", StringComparison.Ordinal) && m.EndsWith("(exit 0)", StringComparison.Ordinal));
        var finished = messages.IndexOf("greet: success: 0 file(s) changed");
        var all = string.Join(" | ", messages);
        Assert.True(queued >= 0, all);
        Assert.True(started > queued, all);
        Assert.True(hi > started, all);
        Assert.True(bye > hi, all);
        Assert.True(finished > bye, all);
    }

    [Fact]
    public async Task Every_progress_message_of_a_run_names_its_task_and_carries_its_own_progress_number()
    {
        await using var s = await InProcessServer.StartAsync();
        s.Engine.Agent = FakeAgents.ByTask(new Dictionary<string, FakeAgent>
        {
            ["one"] = FakeAgents.Turn(c => c.Stdout(CodexJsonl.CommandCompleted("echo one", output: "one\n"))),
            ["two"] = FakeAgents.Turn(c => c.Stdout(CodexJsonl.CommandCompleted("echo two", output: "two\n"))),
        });
        var progress = new ProgressRecorder();

        var result = await s.Client.CallToolAsync("run_codex_tasks", Run("progress2", TaskArg("one"), TaskArg("two")), progress).AsTask().WaitAsync(Runs.RunnerTestBed.Hang);

        Assert.NotEqual(true, result.IsError);
        Assert.All(progress.Messages, m => Assert.True(m.StartsWith("one: ", StringComparison.Ordinal) || m.StartsWith("two: ", StringComparison.Ordinal), m));
        Assert.Contains(progress.Messages, m => m.StartsWith("one: ran", StringComparison.Ordinal) && m.Contains("echo one", StringComparison.Ordinal));
        Assert.Contains(progress.Messages, m => m.StartsWith("two: ran", StringComparison.Ordinal) && m.Contains("echo two", StringComparison.Ordinal));
        Assert.Equal(progress.Numbers.Count, progress.Numbers.Distinct().Count());
    }

    [GeneratedRegex(@"^greet: container [0-9a-f]{12} started$")]
    private static partial Regex StartedMessage();
}
