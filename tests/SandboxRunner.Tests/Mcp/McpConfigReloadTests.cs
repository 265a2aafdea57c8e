using SandboxRunner.Platform;
using SandboxRunner.Tests.Fakes;
using SandboxRunner.Tests.Runs;
using static SandboxRunner.Tests.Mcp.InProcessServer;

namespace SandboxRunner.Tests.Mcp;

/// <summary>A running server picks up an edited <c>.mcp-codex.json</c> on its next call, and a run in progress is not disturbed.</summary>
public sealed class McpConfigReloadTests
{
    [Fact]
    public async Task An_edit_between_two_calls_is_seen_by_the_second_and_a_run_in_progress_goes_on()
    {
        await using var s = await InProcessServer.StartAsync("""{ "max_tasks_per_run": 2 }""");
        var go = new TaskCompletionSource();
        s.Engine.Agent = Gated(go.Task, FakeAgents.Writes(("src/slow.txt", "done")));
        var twoTasks = new Dictionary<string, object?> { ["dry_run"] = true, ["tasks"] = new[] { TaskArg("a"), TaskArg("b") } };
        await s.CallOkAsync("run_codex_tasks", twoTasks);
        await s.CallOkAsync("start_codex_run", Run("reload", TaskArg("slow")));
        Assert.True(await Poll.UntilAsync(() => s.Engine.RunningCount == 1, TimeSpan.FromMilliseconds(10), RunnerTestBed.Hang, CancellationToken.None), "the task container never ran");

        s.WriteConfig("""{ "max_tasks_per_run": 1 }""");
        var narrowed = await s.CallAsync("run_codex_tasks", twoTasks);

        Assert.True(narrowed.IsError, Text(narrowed));
        Assert.Contains("tasks: may list at most 1 tasks (max_tasks_per_run), got 2", Text(narrowed), StringComparison.Ordinal);

        s.WriteConfig("""{ "default_concurrency": 9 }""");
        var broken = await s.CallAsync("list_codex_runs");

        Assert.True(broken.IsError, Text(broken));
        Assert.Contains("default_concurrency: must be from 1 to 8 (got 9)", Text(broken), StringComparison.Ordinal);

        s.WriteConfig();
        go.SetResult();
        var final = await s.WaitForRunAsync("reload");

        Assert.Equal("finished", final.GetProperty("status").GetString());
        var task = Assert.Single(final.GetProperty("tasks").EnumerateArray());
        Assert.Equal("success", task.GetProperty("result").GetProperty("status").GetString());
        Assert.Contains("src/slow.txt", task.GetProperty("result").GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
    }
}
