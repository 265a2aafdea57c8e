using System.Diagnostics;
using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Platform;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests;

/// <summary>start_codex_run, get_codex_run, list_codex_runs and cancel_codex_run: runs longer than a client's tool timeout.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpBackgroundRunTests(DockerFixture docker)
{
    [Fact]
    public async Task Start_codex_run_returns_the_run_id_at_once_with_no_results()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = NewRunId("bg");

        var clock = Stopwatch.StartNew();
        var started = await s.Server.CallOkAsync("start_codex_run", Run(runId, TaskArg("slow", "@sleep 8", "@message done")));
        var elapsed = clock.Elapsed;

        Assert.Equal(runId, started.GetProperty("run_id").GetString());
        Assert.Equal(0, started.GetProperty("results").GetArrayLength());
        Assert.True(elapsed < TimeSpan.FromSeconds(6), $"start_codex_run took {elapsed.TotalSeconds:F1} s: it waited for the task");
        await s.Server.WaitForRunAsync(runId, TimeSpan.FromSeconds(90));
    }

    [Fact]
    public async Task Get_codex_run_shows_the_tasks_queued_or_running_and_then_finished_with_their_results()
    {
        await using var s = await McpHarness.StartAsync(docker, """{ "default_concurrency": 1 }""");
        var runId = NewRunId("bg");
        await s.Server.CallOkAsync("start_codex_run", Run(
            runId,
            TaskArg("first", "@write first.txt 1", "@sleep 3", "@message first done"),
            TaskArg("second", "@write second.txt 2", "@sleep 3", "@message second done")));

        var states = new List<(string Run, string First, string Second)>();
        var final = await s.Server.WaitForRunAsync(runId, TimeSpan.FromSeconds(90), view =>
        {
            var tasks = view.GetProperty("tasks").EnumerateArray().ToDictionary(t => t.GetProperty("task_id").GetString()!, t => t.GetProperty("state").GetString()!);
            states.Add((view.GetProperty("status").GetString()!, tasks["first"], tasks["second"]));
        });

        var history = string.Join(" ; ", states);
        Assert.Equal("running", states[0].Run);
        Assert.Contains(states, v => v.Run == "running" && (v.First == "queued" || v.Second == "queued"));
        Assert.Contains(states, v => v.Run == "running" && (v.First == "running" || v.Second == "running"));
        Assert.True(states.All(v => v.Run is "running" or "finished"), history);
        Assert.Equal("finished", final.GetProperty("status").GetString());
        foreach (var task in final.GetProperty("tasks").EnumerateArray())
        {
            var id = task.GetProperty("task_id").GetString();
            Assert.Equal("finished", task.GetProperty("state").GetString());
            var result = task.GetProperty("result");
            Assert.Equal("success", result.GetProperty("status").GetString());
            Assert.Equal([$"{id}.txt"], result.GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
            Assert.Equal($"{id} done", result.GetProperty("summary").GetString());
        }
    }

    [Fact]
    public async Task List_codex_runs_includes_a_background_run_while_its_tasks_run()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = NewRunId("bg");
        await s.Server.CallOkAsync("start_codex_run", Run(runId, TaskArg("slow", "@sleep 4", "@message done")));
        await WaitUntilAsync(
            async () => (await s.Server.CallOkAsync("get_codex_run", new() { ["run_id"] = runId })).GetProperty("tasks")[0].GetProperty("state").GetString() == "running",
            TimeSpan.FromSeconds(60));

        var list = await s.Server.CallOkAsync("list_codex_runs");

        var listed = Find(list, runId);
        Assert.Equal("running", listed.GetProperty("status").GetString());
        await s.Server.WaitForRunAsync(runId, TimeSpan.FromSeconds(90));
    }

    [Fact]
    public async Task List_codex_runs_includes_a_background_run_after_it_finished()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = NewRunId("bg");
        await s.Server.CallOkAsync("start_codex_run", Run(runId, TaskArg("quick", "@message done")));
        await s.Server.WaitForRunAsync(runId, TimeSpan.FromSeconds(90));

        var list = await s.Server.CallOkAsync("list_codex_runs");

        Assert.Equal("finished", Find(list, runId).GetProperty("status").GetString());
    }

    [Fact]
    public async Task List_codex_runs_includes_a_run_as_soon_as_start_codex_run_has_returned()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runIds = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var runId = NewRunId("bg");
            runIds.Add(runId);
            await s.Server.CallOkAsync("start_codex_run", Run(runId, TaskArg("slow", "@sleep 2")));

            var list = await s.Server.CallOkAsync("list_codex_runs");

            Assert.Equal("running", Find(list, runId).GetProperty("status").GetString());
        }

        foreach (var runId in runIds)
        {
            await s.Server.WaitForRunAsync(runId, TimeSpan.FromSeconds(90));
        }
    }

    [Fact]
    public async Task A_run_finished_earlier_is_listed_and_read_back_from_disk_after_the_server_restarts()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var earlier = NewRunId("earlier");
        await s.Server.CallOkAsync("run_codex_tasks", Run(earlier, TaskArg("kept", "@write kept.txt kept\\n", "@message kept it")));

        await s.RestartAsync();
        var list = await s.Server.CallOkAsync("list_codex_runs");
        var view = await s.Server.CallOkAsync("get_codex_run", new() { ["run_id"] = earlier });

        Assert.Equal("finished", Find(list, earlier).GetProperty("status").GetString());
        Assert.Equal("finished", view.GetProperty("status").GetString());
        var task = Assert.Single(view.GetProperty("tasks").EnumerateArray());
        Assert.Equal("finished", task.GetProperty("state").GetString());
        Assert.Equal("success", task.GetProperty("result").GetProperty("status").GetString());
        Assert.Equal(["kept.txt"], task.GetProperty("result").GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal("kept it", task.GetProperty("result").GetProperty("summary").GetString());
    }

    [Fact]
    public async Task List_codex_runs_puts_the_newest_run_first()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var older = NewRunId("older");
        var newer = NewRunId("newer");
        await s.Server.CallOkAsync("run_codex_tasks", Run(older, TaskArg("a", "@message a")));
        await s.Server.CallOkAsync("run_codex_tasks", Run(newer, TaskArg("b", "@message b")));

        var list = await s.Server.CallOkAsync("list_codex_runs");

        Assert.Equal([newer, older], list.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("run_id").GetString()));
    }

    [Fact]
    public async Task Cancel_codex_run_ends_the_running_tasks_of_a_background_run_cancelled()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = NewRunId("bgcancel");
        await s.Server.CallOkAsync("start_codex_run", Run(
            runId,
            TaskArg("a", "@write a.txt a", "@sleep 300"),
            TaskArg("b", "@write b.txt b", "@sleep 300")));
        await WaitUntilAsync(
            async () => (await s.Server.CallOkAsync("get_codex_run", new() { ["run_id"] = runId })).GetProperty("tasks").EnumerateArray()
                .All(t => t.GetProperty("state").GetString() == "running"),
            TimeSpan.FromSeconds(60));
        await WaitUntilAsync(async () => (await s.Containers.RunningTasksOfRunsAsync([runId])).Count == 2, TimeSpan.FromSeconds(30));

        var cancelling = await s.Server.CallOkAsync("cancel_codex_run", new() { ["run_id"] = runId });
        var final = await s.Server.WaitForRunAsync(runId, TimeSpan.FromSeconds(60));

        Assert.Equal(runId, cancelling.GetProperty("run_id").GetString());
        Assert.Equal("cancelling", cancelling.GetProperty("status").GetString());
        Assert.Equal("cancelled", final.GetProperty("status").GetString());
        Assert.All(final.GetProperty("tasks").EnumerateArray(), t =>
        {
            Assert.Equal("finished", t.GetProperty("state").GetString());
            Assert.Equal("cancelled", t.GetProperty("result").GetProperty("status").GetString());
        });
        Assert.Empty(await s.Containers.OfRunsAsync([runId]));
    }

    [Fact]
    public async Task Cancel_codex_run_of_a_finished_run_is_a_tool_error()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = NewRunId("done");
        await s.Server.CallOkAsync("run_codex_tasks", Run(runId, TaskArg("a", "@message a")));

        var result = await s.Server.CallAsync("cancel_codex_run", new() { ["run_id"] = runId });

        Assert.True(result.IsError);
        Assert.Contains($"run_id: '{runId}' is not running", Text(result), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("get_codex_run", "run_id: no run 'no-such-run' in this repository")]
    [InlineData("cancel_codex_run", "run_id: 'no-such-run' is not running in this server")]
    public async Task An_unknown_run_is_a_tool_error_naming_run_id(string tool, string expected)
    {
        await using var s = await McpHarness.StartAsync(docker);

        var result = await s.Server.CallAsync(tool, new() { ["run_id"] = "no-such-run" });

        Assert.True(result.IsError);
        var text = Text(result);
        Assert.Contains(expected, text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
    }

    private static JsonElement Find(JsonElement list, string runId) =>
        Assert.Single(list.GetProperty("runs").EnumerateArray(), r => r.GetProperty("run_id").GetString() == runId);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout) =>
        Assert.True(await Poll.UntilAsync(_ => condition(), TimeSpan.FromMilliseconds(100), timeout, CancellationToken.None), $"condition not met within {timeout}");
}
