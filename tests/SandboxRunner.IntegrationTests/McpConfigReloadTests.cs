using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>A running server picks up an edited <c>.mcp-codex.json</c> on its next call, and a run in progress is not disturbed.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpConfigReloadTests(DockerFixture docker)
{
    [Fact]
    public async Task An_edit_between_two_calls_is_seen_by_the_second_and_a_run_in_progress_goes_on()
    {
        await using var s = await McpHarness.StartAsync(docker, """{ "max_tasks_per_run": 2 }""");
        var runId = McpServerProcess.NewRunId("reload");
        var twoTasks = new Dictionary<string, object?>
        {
            ["dry_run"] = true,
            ["tasks"] = new[] { McpServerProcess.TaskArg("a", "@message a"), McpServerProcess.TaskArg("b", "@message b") },
        };
        await s.Server.CallOkAsync("run_codex_tasks", twoTasks);
        await s.Server.CallOkAsync("start_codex_run", McpServerProcess.Run(runId, McpServerProcess.TaskArg("slow", "@sleep 4", "@write src/slow.txt done", "@message slow")));
        await s.WaitForRunningTaskAsync(runId);

        McpServerProcess.WriteConfig(s.Repository, """{ "max_tasks_per_run": 1 }""");
        var narrowed = await s.Server.CallAsync("run_codex_tasks", twoTasks);

        Assert.True(narrowed.IsError, McpServerProcess.Text(narrowed));
        Assert.Contains("tasks: may list at most 1 tasks (max_tasks_per_run), got 2", McpServerProcess.Text(narrowed), StringComparison.Ordinal);

        McpServerProcess.WriteConfig(s.Repository, """{ "default_concurrency": 9 }""");
        var broken = await s.Server.CallAsync("list_codex_runs");

        Assert.True(broken.IsError, McpServerProcess.Text(broken));
        Assert.Contains("default_concurrency: must be from 1 to 8 (got 9)", McpServerProcess.Text(broken), StringComparison.Ordinal);

        McpServerProcess.WriteConfig(s.Repository);
        var final = await s.Server.WaitForRunAsync(runId, TimeSpan.FromSeconds(90));

        Assert.Equal("finished", final.GetProperty("status").GetString());
        var task = Assert.Single(final.GetProperty("tasks").EnumerateArray());
        Assert.Equal("success", task.GetProperty("result").GetProperty("status").GetString());
        Assert.Contains("src/slow.txt", task.GetProperty("result").GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
    }
}
